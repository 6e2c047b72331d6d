"""The knowledge base's own records on disk: a manifest of documents and one JSON file per document.

Writes go to a temporary file and are renamed into place, so a crash leaves either the old or the new file.
The manifest is the commit point: a document exists once the manifest names it.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import KnowledgeBaseBusy
from .schema import Audit, Chunk, Document

MANIFEST_VERSION = 1


def write_json_atomic(path: Path, obj) -> None:
    """Write ``obj`` as UTF-8 JSON to ``path`` via a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class DocEntry:
    """What the manifest records of one stored document."""

    doc_id: str
    title: str
    doc_type: str
    content_hash: str
    sources: tuple[str, ...]
    chunk_ids: tuple[str, ...]
    articles: int
    audit: Audit
    ingested_at: str
    chars: int = 0
    date: str | None = None
    issuer: str | None = None
    pipeline: str = ""
    edition: str | None = None
    effective_date: str | None = None

    @classmethod
    def from_json(cls, d: dict) -> DocEntry:
        d = dict(d)
        audit = d.pop("audit")
        audit["article_gaps"] = tuple(audit.get("article_gaps", ()))
        return cls(audit=Audit(**audit), sources=tuple(d.pop("sources")), chunk_ids=tuple(d.pop("chunk_ids")), **d)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Manifest:
    """Documents by id, the embedding model, and a generation counter bumped on every commit."""

    documents: dict[str, DocEntry] = field(default_factory=dict)
    model: dict | None = None
    generation: int = 0

    def doc_for_source(self, source: str) -> DocEntry | None:
        """Return the document stored from ``source``, if any."""
        for entry in self.documents.values():
            if source in entry.sources:
                return entry
        return None

    def chunk_ids(self) -> set[str]:
        return {cid for e in self.documents.values() for cid in e.chunk_ids}


class Catalog:
    """Manifest and per-document files under one knowledge-base directory."""

    def __init__(self, kb_dir: Path):
        self.kb_dir = Path(kb_dir)
        self.manifest_path = self.kb_dir / "manifest.json"
        self.docs_dir = self.kb_dir / "docs"

    def load(self) -> Manifest:
        """Return the committed manifest (empty if there is none yet)."""
        if not self.manifest_path.exists():
            return Manifest()
        raw = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return Manifest(
            documents={k: DocEntry.from_json(v) for k, v in raw.get("documents", {}).items()},
            model=raw.get("model"), generation=raw.get("generation", 0),
        )

    def stamp(self) -> tuple[int, int] | None:
        """Return (mtime_ns, size) of the manifest, which changes with every commit; None before the first."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def commit(self, manifest: Manifest) -> None:
        """Make ``manifest`` the committed state, bumping its generation."""
        manifest.generation += 1
        write_json_atomic(self.manifest_path, {
            "version": MANIFEST_VERSION, "generation": manifest.generation, "model": manifest.model,
            "documents": {k: v.to_json() for k, v in sorted(manifest.documents.items())},
        })

    def doc_path(self, doc_id: str) -> Path:
        return self.docs_dir / f"{doc_id}.json"

    def write_doc(self, doc: Document, chunks: list[Chunk], tokens: list[list[str]]) -> None:
        """Store a document's text, chunks and lexical tokens."""
        write_json_atomic(self.doc_path(doc.doc_id), {
            "document": asdict(doc), "chunks": [asdict(c) for c in chunks], "tokens": tokens,
        })

    def read_doc(self, doc_id: str) -> tuple[Document, list[Chunk], list[list[str]]]:
        """Return a stored document, its chunks and their tokens."""
        raw = json.loads(self.doc_path(doc_id).read_text(encoding="utf-8"))
        chunks = [Chunk(**{**c, "heading_path": tuple(c["heading_path"])}) for c in raw["chunks"]]
        return Document(**raw["document"]), chunks, raw["tokens"]

    def remove_doc_file(self, doc_id: str) -> None:
        self.doc_path(doc_id).unlink(missing_ok=True)

    def stray_doc_files(self, manifest: Manifest) -> list[str]:
        """Return ids of document files that no committed document owns (left by a crash)."""
        if not self.docs_dir.exists():
            return []
        return [p.stem for p in self.docs_dir.glob("*.json") if p.stem not in manifest.documents]

    @contextmanager
    def write_lock(self) -> Iterator[None]:
        """Hold the knowledge base's exclusive write lock; raise KnowledgeBaseBusy if another process has it."""
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        with open(self.kb_dir / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise KnowledgeBaseBusy(f"知识库 {self.kb_dir} 正被另一个进程写入（如 djkb ingest），请稍后再试") from exc
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
