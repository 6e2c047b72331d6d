"""Question sets, metrics, reports and tuning; the ``djkb eval`` commands."""

__all__ = ["cli"]
