"""Exceptions raised by djkb; messages are Chinese-first and name the next step."""
from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class DjkbError(Exception):
    """Base class for every error djkb reports to a user."""


class ReadError(DjkbError):
    """A file could not be read or decoded; nothing from it was stored."""


class UnsupportedFileType(ReadError):
    """The file's type has no reader."""


class ModelMismatch(DjkbError):
    """The knowledge base was built with another embedding model."""


class ModelUnavailable(DjkbError):
    """The embedding model cannot be loaded offline."""


class KnowledgeBaseEmpty(DjkbError):
    """A search was asked of a knowledge base with no documents."""


class KnowledgeBaseBusy(DjkbError):
    """Another process holds the knowledge base's write lock."""


class NotFound(DjkbError):
    """A document or chunk that was named does not exist."""


class LLMError(DjkbError):
    """The OpenAI-compatible endpoint failed or answered nonsense."""


class CatalogCorrupt(DjkbError):
    """The knowledge base's catalog cannot be read; `djkb repair` rebuilds it."""


class DiskFull(DjkbError):
    """A write failed for lack of disk space; what was committed before is intact."""


# Errors of SQLite, Chroma's compactor and the OS that mean the disk (or quota) is full.
_FULL = re.compile(r"No space left|disk is full|database or disk is full|Disk quota exceeded|SQLITE_FULL", re.I)
_COMPACTION = re.compile(r"compaction", re.I)
# Below this much free space a failed Chroma compaction is taken to be a full disk.
_LOW_SPACE_BYTES = 64 * 2**20


def is_disk_full(exc: BaseException, directory: Path | None = None) -> bool:
    """Return whether ``exc`` (or what caused it) says the disk is full."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(exc)
        if _FULL.search(text):
            return True
        if _COMPACTION.search(text) and directory is not None and _free_bytes(directory) < _LOW_SPACE_BYTES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _free_bytes(directory: Path) -> int:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return 0


def disk_full_message(directory: Path) -> str:
    return (f"磁盘空间不足，写入知识库 {directory} 失败：本次未完成的写入已撤销，此前已提交的文档完好，检索与问答照常可用。"
            "请清理磁盘空间后重新运行本次操作（如 djkb ingest）")


@contextmanager
def disk_errors(directory: Path) -> Iterator[None]:
    """Turn an error that means the disk is full into DiskFull with one clear message."""
    try:
        yield
    except DjkbError:
        raise
    except Exception as exc:
        if is_disk_full(exc, Path(directory)):
            raise DiskFull(disk_full_message(Path(directory))) from exc
        raise
