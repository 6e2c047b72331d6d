"""A content-addressed cache of passage vectors beside the model, so a second knowledge base of the same texts (a
test KB, a rebuilt or reindexed one) embeds nothing it has embedded before."""
from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=20).digest()


@dataclass(frozen=True)
class VectorCache:
    """Vectors of one model and vector family, keyed by a hash of the passage text; a broken cache is only a miss."""

    path: Path
    dim: int

    @classmethod
    def for_model(cls, folder: Path, name: str, family: str, dim: int) -> VectorCache:
        """Return the cache in ``folder`` of ``name``'s vectors of ``family`` (other families' vectors never mix in)."""
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}-{family}")
        return cls(Path(folder) / f"{slug}.sqlite", dim)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")
        return con

    def embed(self, texts: list[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Return one vector per text: cached ones as stored, the rest from ``compute`` (then stored)."""
        keys = [_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        try:
            with self._connect() as con:
                for i in range(0, len(keys), 500):
                    part = keys[i:i + 500]
                    rows = con.execute(f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})", part)
                    found.update((k, np.frombuffer(v, np.float32)) for k, v in rows if len(v) == 4 * self.dim)
        except sqlite3.Error:
            found = {}
        missing = sorted({i for i, k in enumerate(keys) if k not in found})
        if missing:
            computed = np.asarray(compute([texts[i] for i in missing]), dtype=np.float32)
            fresh = {keys[i]: computed[j] for j, i in enumerate(missing)}
            found.update(fresh)
            try:
                with self._connect() as con:
                    con.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)", [(k, v.tobytes()) for k, v in fresh.items()])
            except sqlite3.Error:
                pass  # a read-only or full disk costs only the reuse, never the ingest
        return np.stack([found[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)


class RecentQueries:
    """The vectors of the last few queries, so that search and the checks after it embed a question once."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray], kept: int = 64):
        self._embed, self._kept = embed, kept
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the app answers from several threads

    def __call__(self, text: str) -> np.ndarray:
        vector = self._vectors.get(text)
        if vector is None:
            vector = self._embed([text])[0]
            with self._lock:
                while len(self._vectors) >= self._kept:
                    self._vectors.pop(next(iter(self._vectors)))
                self._vectors[text] = vector
        return vector
