"""The progress callback every long job takes: ``progress(item name, items done, items in all)``."""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
