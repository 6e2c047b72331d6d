"""Files into structured chunks: readers, structure, chunking, and the crash-safe pipeline."""

__all__ = ["maintenance", "pipeline", "readers"]
