"""A first start that does not wait: the corpus is ingested in a background thread while the app already answers.

Regulations go first (a ``regulations`` folder under the corpus, when there is one), so that the questions cadres
ask most are answerable within a minute; each committed batch is visible to the next question.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from kb.errors import DjkbError

from . import messages as msg
from .limits import hide_paths

FIRST_FOLDERS = ("regulations",)


@dataclass(frozen=True)
class ImportState:
    """Where the background import stands (``total`` 0: none was started)."""

    running: bool = False
    done: int = 0
    total: int = 0
    name: str = ""
    added: int = 0
    failed: int = 0
    seconds: float = 0.0
    error: str = ""

    def message(self) -> str:
        """Return the line the app shows: progress, the outcome, or '' when no import was started."""
        if self.running:
            return msg.import_progress(self.done, self.total, self.name)
        if self.error:
            return msg.import_failed(self.error)
        if self.total:
            return msg.import_done(self.added, self.failed, self.seconds)
        return ""


def ordered_paths(corpus: Path) -> list[Path]:
    """Return what to ingest, in order: the corpus's regulations folder first, then the whole corpus."""
    first = [corpus / name for name in FIRST_FOLDERS if (corpus / name).is_dir()]
    return [*first, corpus]


class BackgroundImport:
    """One import of ``paths`` into ``kb`` in a daemon thread; ``state`` says how far it is."""

    def __init__(self, kb, paths: list[Path], max_bytes: int):
        self.kb = kb
        self.paths = paths
        self.max_bytes = max_bytes
        self._state = ImportState()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> ImportState:
        with self._lock:
            return self._state

    def _set(self, **changes) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)

    def start(self) -> BackgroundImport:
        self._set(running=True)
        self._thread = threading.Thread(target=self._run, name="djkb-import", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        from ingest.pipeline import collect_files, ingest

        started = time.perf_counter()
        # One count for the whole import: the later, whole-corpus pass skips what the first pass stored.
        total = len(collect_files([self.paths[-1]])[0]) if self.paths else 0
        base = 0
        self._set(total=total)
        try:
            for i, path in enumerate(self.paths):
                first_pass = i < len(self.paths) - 1

                def progress(name: str, n: int, _of: int, base=base, first_pass=first_pass) -> None:
                    done = base + n if first_pass else max(self.state.done, n)
                    self._set(done=min(done, total), name=name)

                report = ingest(self.kb, [path], progress=progress, max_bytes=self.max_bytes)
                if first_pass:
                    base += len(report.added) + len(report.updated) + len(report.unchanged)
                self._set(added=self.state.added + len(report.added), failed=len(report.failures))
        except DjkbError as exc:
            self._set(error=hide_paths(str(exc)))
        except Exception as exc:  # noqa: BLE001  (a background thread has no caller to raise to)
            logging.getLogger(__name__).exception("background import failed")
            self._set(error=f"{type(exc).__name__}: {hide_paths(str(exc))[:200]}")
        finally:
            self._set(running=False, done=total if not self.state.error else self.state.done,
                      seconds=time.perf_counter() - started)
