"""The knowledge base's own records on disk: a SQLite catalog of documents and one JSON file per document.

The catalog (``catalog.sqlite``) is the commit point: a document exists once a committed transaction names it, and a
commit writes only the rows of the documents that changed. A write first names the documents it will touch in the
catalog's journal, so recovery after a crash looks at those alone. Per-document files go to a temporary file and
are renamed into place, so a crash leaves either the old or the new file.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import tempfile
from sys import intern
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import CatalogCorrupt, KnowledgeBaseBusy
from .schema import Audit, Chunk, Document
from .sentence_index import SentenceVectors

CATALOG_VERSION = 2
CATALOG_FILE = "catalog.sqlite"
LEGACY_MANIFEST = "manifest.json"  # version 1: every document in one JSON file, rewritten on each commit
LEGACY_VERSION = 1
DEFAULT_COLLECTION = "djkb_chunks"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE journal (doc_id TEXT PRIMARY KEY);
"""
# SQLite's file change counter (header bytes 24-27) grows with every committed write in rollback-journal mode.
_COUNTER = slice(24, 28)
# Interned on reading: strings that chunks share, and each chunk's id, which both BM25 indexes hold too (interning the
# catalog's copies as well left a searcher 74 MiB larger at 10× the corpus, so they are not).
_SHARED = ("chunk_id", "doc_id", "doc_title", "doc_type", "source", "article", "date", "issuer")
_CORRUPT = re.compile(r"no such table|malformed|not a database|no such column")


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
    """What the catalog records of one stored document."""

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


class DocTable(dict):
    """Documents by id that remember which ids changed since the last commit and which document holds each source."""

    def __init__(self, entries: Iterable[tuple[str, DocEntry]] = ()):
        super().__init__()
        self.by_source: dict[str, str] = {}
        self.changed: set[str] = set()
        for doc_id, entry in entries:
            self[doc_id] = entry
        self.changed.clear()

    def __setitem__(self, doc_id: str, entry: DocEntry) -> None:
        if doc_id in self:
            self._unindex(self[doc_id])
        super().__setitem__(doc_id, entry)
        self.by_source.update(dict.fromkeys(entry.sources, doc_id))
        self.changed.add(doc_id)

    def __delitem__(self, doc_id: str) -> None:
        self._unindex(self[doc_id])
        super().__delitem__(doc_id)
        self.changed.add(doc_id)

    def pop(self, doc_id: str, *default):
        if doc_id not in self:
            if default:
                return default[0]
            raise KeyError(doc_id)
        entry = self[doc_id]
        del self[doc_id]
        return entry

    def _unindex(self, entry: DocEntry) -> None:
        for s in entry.sources:
            if self.by_source.get(s) == entry.doc_id:
                del self.by_source[s]

    def _unsupported(self, *args, **kwargs):
        raise TypeError("DocTable changes one document at a time")

    update = setdefault = popitem = clear = _unsupported


@dataclass
class Manifest:
    """The committed state: documents by id, the embedding model, the vector collection and a generation counter.

    ``reindex`` names the collection an unfinished ``djkb reindex`` was filling (and its model), so a rerun resumes.
    """

    documents: DocTable = field(default_factory=DocTable)
    model: dict | None = None
    generation: int = 0
    collection: str = DEFAULT_COLLECTION
    reindex: dict | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.documents, DocTable):
            self.documents = DocTable(self.documents.items())

    def doc_for_source(self, source: str) -> DocEntry | None:
        """Return the document stored from ``source``, if any."""
        doc_id = self.documents.by_source.get(source)
        return self.documents[doc_id] if doc_id is not None else None

    def chunk_ids(self) -> set[str]:
        return {cid for e in self.documents.values() for cid in e.chunk_ids}


def _meta(manifest: Manifest) -> dict[str, str]:
    return {"version": str(CATALOG_VERSION), "generation": str(manifest.generation),
            "model": json.dumps(manifest.model, ensure_ascii=False), "collection": manifest.collection,
            "reindex": json.dumps(manifest.reindex, ensure_ascii=False)}


@dataclass(frozen=True)
class StoredDoc:
    """A per-document file: the document, its chunks, their lexical tokens and its sentence vectors, if any."""

    document: Document
    chunks: list[Chunk]
    tokens: list[list[str]]
    sentences: SentenceVectors | None = None


class Catalog:
    """The SQLite catalog and the per-document files under one knowledge-base directory."""

    def __init__(self, kb_dir: Path):
        self.kb_dir = Path(kb_dir)
        self.path = self.kb_dir / CATALOG_FILE
        self.legacy_path = self.kb_dir / LEGACY_MANIFEST
        self.docs_dir = self.kb_dir / "docs"

    def _corrupt(self, detail: str) -> CatalogCorrupt:
        return CatalogCorrupt(
            f"知识库 {self.kb_dir} 的目录文件已损坏或不完整（{detail}）。请运行 `djkb repair`："
            "它根据各文档文件（docs/*.json）与向量库重建目录，不会删除任何文档")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection to the existing catalog in one transaction; corruption raises CatalogCorrupt."""
        try:
            # mode=rw: a catalog that vanished must not come back as an empty one.
            uri = self.path.resolve().as_uri() + "?mode=rw"
            with closing(sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)) as conn:
                conn.execute("BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _CORRUPT.search(str(exc)):
                raise  # a full disk or a lock, not damage
            raise self._corrupt(f"{CATALOG_FILE}: {exc}") from exc

    def load(self) -> Manifest:
        """Return the committed state (empty if there is none yet); an old ``manifest.json`` is migrated first.

        Raises CatalogCorrupt when the catalog cannot be read, naming ``djkb repair``.
        """
        if not self.path.exists():
            if not self.legacy_path.exists():
                return Manifest()
            legacy = self._load_legacy()
            try:
                self.create(legacy)
                self.legacy_path.rename(self.legacy_path.with_name(LEGACY_MANIFEST + ".v1"))
            except (OSError, sqlite3.Error):
                return legacy  # a read-only or full disk still serves the old format
        with self._db() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            rows = conn.execute("SELECT doc_id, entry FROM documents").fetchall()
        version = meta.get("version", "")
        if not version.isdigit() or not meta.get("generation", "").isdigit():
            raise self._corrupt("缺少版本信息")
        if int(version) > CATALOG_VERSION:
            raise CatalogCorrupt(f"知识库 {self.kb_dir} 的格式版本 {version} 高于本程序支持的 {CATALOG_VERSION}，"
                                 "请升级 djkb 后再打开")
        try:
            documents = DocTable((d, DocEntry.from_json(json.loads(e))) for d, e in rows)
        except (ValueError, TypeError, KeyError) as exc:
            raise self._corrupt(f"文档记录无法解析：{exc}") from exc
        return Manifest(documents=documents, model=json.loads(meta["model"]), generation=int(meta["generation"]),
                        collection=meta.get("collection", DEFAULT_COLLECTION), reindex=json.loads(meta["reindex"]))

    def _load_legacy(self) -> Manifest:
        try:
            raw = json.loads(self.legacy_path.read_text(encoding="utf-8"))
            if raw.get("version") != LEGACY_VERSION:
                raise self._corrupt(f"{LEGACY_MANIFEST} 的版本 {raw.get('version')} 无法识别")
            documents = {k: DocEntry.from_json(v) for k, v in raw.get("documents", {}).items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise self._corrupt(f"{LEGACY_MANIFEST}: {exc}") from exc
        return Manifest(documents=DocTable(documents.items()), model=raw.get("model"),
                        generation=raw.get("generation", 0))

    def create(self, manifest: Manifest) -> None:
        """Write ``manifest`` as a whole new catalog, replacing any (migration and repair)."""
        self.kb_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=CATALOG_FILE + ".", suffix=".tmp", dir=self.kb_dir)
        os.close(fd)
        try:
            with closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO meta VALUES (?, ?)", _meta(manifest).items())
                conn.executemany("INSERT INTO documents VALUES (?, ?)", (
                    (d, json.dumps(e.to_json(), ensure_ascii=False)) for d, e in manifest.documents.items()))
                conn.execute("COMMIT")
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)
        manifest.documents.changed.clear()

    def stamp(self) -> bytes | None:
        """Return a token that changes with every commit (SQLite's change counter); None before the first."""
        try:
            with open(self.path, "rb") as f:
                return f.read(100)[_COUNTER] + os.fstat(f.fileno()).st_ino.to_bytes(8, "little")
        except FileNotFoundError:
            return None

    def commit(self, manifest: Manifest) -> int:
        """Make ``manifest`` the committed state, writing only the changed documents, and bump its generation.

        Returns the number of document rows written or deleted.
        """
        if not self.path.exists():
            self.create(Manifest(model=manifest.model, collection=manifest.collection))
        changed = manifest.documents.changed
        with self._db() as conn:
            conn.executemany("INSERT OR REPLACE INTO documents VALUES (?, ?)", (
                (d, json.dumps(manifest.documents[d].to_json(), ensure_ascii=False))
                for d in changed if d in manifest.documents))
            conn.executemany("DELETE FROM documents WHERE doc_id = ?", ((d,) for d in changed
                                                                       if d not in manifest.documents))
            meta = _meta(manifest)
            meta["generation"] = str(manifest.generation + 1)
            conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        manifest.generation += 1
        written = len(changed)
        changed.clear()
        return written

    def intend(self, doc_ids: Iterable[str]) -> None:
        """Record in the journal that a write is about to touch ``doc_ids`` (before it touches them)."""
        ids = [(d,) for d in set(doc_ids)]
        if not ids:
            return
        if not self.path.exists():
            self.create(Manifest())
        with self._db() as conn:
            conn.executemany("INSERT OR IGNORE INTO journal VALUES (?)", ids)

    def intents(self) -> set[str]:
        """Return the documents that an unfinished write named in the journal."""
        if not self.path.exists():
            return set()
        with self._db() as conn:
            return {d for (d,) in conn.execute("SELECT doc_id FROM journal")}

    def settle(self, doc_ids: Iterable[str] | None = None) -> None:
        """Clear ``doc_ids`` (all when None) from the journal once their write is complete."""
        if not self.path.exists():
            return
        with self._db() as conn:
            if doc_ids is None:
                conn.execute("DELETE FROM journal")
            else:
                conn.executemany("DELETE FROM journal WHERE doc_id = ?", ((d,) for d in set(doc_ids)))

    def doc_path(self, doc_id: str) -> Path:
        return self.docs_dir / f"{doc_id}.json"

    def write_doc(self, doc: Document, chunks: list[Chunk], tokens: list[list[str]],
                  entry: DocEntry | None = None, sentences: SentenceVectors | None = None) -> None:
        """Store a document's text, chunks, lexical tokens, sentence vectors and catalog entry (from which
        `djkb repair` rebuilds)."""
        record = {"document": asdict(doc), "chunks": [asdict(c) for c in chunks], "tokens": tokens}
        if entry is not None:
            record["entry"] = entry.to_json()
        if sentences is not None:
            record["sentences"] = sentences.to_json()
        write_json_atomic(self.doc_path(doc.doc_id), record)

    def read_record(self, doc_id: str) -> dict:
        """Return a per-document file as stored."""
        return json.loads(self.doc_path(doc_id).read_text(encoding="utf-8"))

    def read_doc(self, doc_id: str) -> tuple[Document, list[Chunk], list[list[str]]]:
        """Return a stored document, its chunks and their tokens."""
        stored = self.read_stored(doc_id)
        return stored.document, stored.chunks, stored.tokens

    def read_stored(self, doc_id: str) -> StoredDoc:
        """Return everything a per-document file holds, from one read.

        Tokens and the strings chunks share (title, source, headings) are interned: a searcher keeps them all, and
        one copy per distinct word instead of one per occurrence cut what it holds of the corpus's files from 94 MB
        to 20 MB (4,857 chunks).
        """
        raw = self.read_record(doc_id)
        chunks = [Chunk(**{**c, **{k: intern(c[k]) for k in _SHARED if isinstance(c.get(k), str)},
                           "heading_path": tuple(intern(h) for h in c["heading_path"])}) for c in raw["chunks"]]
        sentences = SentenceVectors.from_json(raw["sentences"]) if raw.get("sentences") else None
        return StoredDoc(Document(**raw["document"]), chunks, [[intern(t) for t in tokens] for tokens in raw["tokens"]],
                         sentences)

    def remove_doc_file(self, doc_id: str) -> None:
        self.doc_path(doc_id).unlink(missing_ok=True)

    def doc_files(self) -> list[str]:
        """Return the ids of every per-document file."""
        if not self.docs_dir.exists():
            return []
        return sorted(p.stem for p in self.docs_dir.glob("*.json"))

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
