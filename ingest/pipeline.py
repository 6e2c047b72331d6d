"""Ingest files into a knowledge base: read, structure, chunk, embed, store; incremental and crash-safe."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from kb.base import KnowledgeBase
from kb.catalog import DocEntry, Manifest
from kb.embedding import model_fingerprint
from kb.errors import NotFound, ReadError
from kb.lexical import BM25Index, get_tokenizer
from kb.schema import Chunk, Document

from .chunker import chunk_document, pipeline_version
from .readers import SUPPORTED_SUFFIXES, read_file
from .structure import make_document

EMBED_BATCH_CHUNKS = 64
Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    """What an ingest did, for the CLI summary and the app."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    chunks_added: int = 0
    chars: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    recovered: int = 0

    def to_dict(self) -> dict:
        return {
            "added": self.added, "updated": self.updated, "unchanged": len(self.unchanged),
            "duplicates": [{"path": p, "same_as": s} for p, s in self.duplicates],
            "failures": [{"path": p, "reason": r} for p, r in self.failures],
            "chunks_added": self.chunks_added, "chars": self.chars,
            "seconds": round(self.seconds, 3), "embed_seconds": round(self.embed_seconds, 3),
            "recovered": self.recovered,
        }


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Return the files under ``paths`` (folders walked recursively, hidden files skipped) and missing paths."""
    files, missing = [], []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and not any(part.startswith(".") for part in f.relative_to(p).parts)))
        elif p.is_file():
            files.append(p)
        else:
            missing.append((str(p), "路径不存在"))
    seen, unique = set(), []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, missing


def source_key(path: Path) -> str:
    """Return the identity under which a file is recorded: its absolute path."""
    return str(Path(path).resolve())


def recover(kb: KnowledgeBase, manifest: Manifest) -> int:
    """Make store, files and manifest agree after a crash; return how many repairs were made.

    Chunks no committed document owns are deleted; a document whose chunks are missing from the store is
    dropped from the manifest, so the next ingest stores it again.
    """
    owned = manifest.chunk_ids()
    stored = kb.store.ids()
    orphans = stored - owned
    kb.store.delete(sorted(orphans))
    broken = [d for d, e in manifest.documents.items() if not set(e.chunk_ids) <= stored]
    for doc_id in broken:
        kb.store.delete(manifest.documents.pop(doc_id).chunk_ids)
        kb.catalog.remove_doc_file(doc_id)
    strays = kb.catalog.stray_doc_files(manifest)
    for doc_id in strays:
        kb.catalog.remove_doc_file(doc_id)
    if broken:
        kb.catalog.commit(manifest)
    return len(orphans) + len(broken) + len(strays)


def _entry(doc: Document, chunks: list[Chunk], audit, source: str) -> DocEntry:
    return DocEntry(
        doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type, content_hash=doc.content_hash,
        sources=(source,), chunk_ids=tuple(c.chunk_id for c in chunks), articles=audit.articles, audit=audit,
        ingested_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), chars=len(doc.text),
        date=doc.date, issuer=doc.issuer, pipeline=pipeline_version(doc),
        edition=doc.edition, effective_date=doc.effective_date,
    )


def _detach(manifest: Manifest, source: str) -> None:
    """Remove ``source`` from the document that holds it, and the document itself if no source is left."""
    entry = manifest.doc_for_source(source)
    if entry is None:
        return
    rest = tuple(s for s in entry.sources if s != source)
    if rest:
        manifest.documents[entry.doc_id] = replace(entry, sources=rest)
    else:
        del manifest.documents[entry.doc_id]


def _purge(kb: KnowledgeBase, manifest: Manifest, entries: Sequence[DocEntry | None]) -> None:
    """Delete what ``entries`` stored that the committed ``manifest`` no longer owns: chunks, then files."""
    owned = manifest.chunk_ids()
    for e in entries:
        if e is None:
            continue
        kb.store.delete([cid for cid in e.chunk_ids if cid not in owned])
        if e.doc_id not in manifest.documents:
            kb.catalog.remove_doc_file(e.doc_id)


def rebuild_lexical(kb: KnowledgeBase, manifest: Manifest) -> BM25Index:
    """Rebuild and save the BM25 index from the stored token lists (tokenizing happened at ingest)."""
    ids, tokens = [], []
    for doc_id in sorted(manifest.documents):
        _, chunks, doc_tokens = kb.catalog.read_doc(doc_id)
        ids.extend(c.chunk_id for c in chunks)
        tokens.extend(doc_tokens)
    index = BM25Index.build(ids, tokens)
    index.save(Path(kb.settings.kb_dir) / "bm25", manifest.generation)
    return index


@dataclass(frozen=True)
class _Pending:
    source: str
    doc: Document
    chunks: list[Chunk]
    tokens: list[list[str]]
    entry: DocEntry
    is_update: bool


def _read(path: Path, source: str, max_bytes: int) -> Document:
    """Return the structured document of one file; raises ReadError with the reason."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ReadError(f"不支持的文件类型 {path.suffix or '（无扩展名）'}（支持：{' '.join(SUPPORTED_SUFFIXES)}）")
    text = read_file(path, max_bytes=max_bytes)
    try:
        return make_document(text, source, path.name)
    except Exception as exc:  # a parser bug must not stop the batch or lose earlier work
        raise ReadError(f"解析失败（内部错误）：{type(exc).__name__}: {exc}") from exc


def _store_batch(kb: KnowledgeBase, manifest: Manifest, batch: Sequence[_Pending], report: IngestReport) -> None:
    """Embed and store a batch of documents, then commit them in one manifest write."""
    t0 = time.perf_counter()
    chunks = [c for p in batch for c in p.chunks]
    vectors = kb.embedder.embed_passages([c.embedding_text() for c in chunks])
    report.embed_seconds += time.perf_counter() - t0
    for p in batch:
        kb.catalog.write_doc(p.doc, p.chunks, p.tokens)
    kb.store.upsert(chunks, vectors)
    replaced: list[DocEntry | None] = []
    for p in batch:
        replaced.append(manifest.doc_for_source(p.source))
        _detach(manifest, p.source)
        entry = p.entry
        if p.doc.doc_id in manifest.documents:  # re-chunked under a new pipeline: keep its other names
            entry = replace(entry, sources=manifest.documents[p.doc.doc_id].sources + (p.source,))
        manifest.documents[p.doc.doc_id] = entry
        (report.updated if p.is_update else report.added).append(p.source)
        report.chunks_added += len(p.chunks)
    kb.catalog.commit(manifest)
    _purge(kb, manifest, replaced)


def ingest(kb: KnowledgeBase, paths: Sequence[Path], *, progress: Progress | None = None,
           max_bytes: int = 50 * 2**20) -> IngestReport:
    """Ingest files and folders into ``kb``; a bad file is reported and the batch goes on.

    Raises KnowledgeBaseBusy if another process is writing the same knowledge base.
    """
    started = time.perf_counter()
    report = IngestReport()
    files, missing = collect_files(paths)
    report.failures.extend(missing)
    tokenizer = get_tokenizer(str(kb.settings.user_dict) if kb.settings.user_dict else None)
    with kb.catalog.write_lock():
        manifest = kb.catalog.load()
        report.recovered = recover(kb, manifest)
        manifest.model = model_fingerprint(kb.embedder)
        pending: list[_Pending] = []

        def flush() -> None:
            if pending:
                _store_batch(kb, manifest, pending, report)
                pending.clear()

        for i, path in enumerate(files, 1):
            if progress:
                progress(path.name, i, len(files))
            source = source_key(path)
            try:
                doc = _read(path, source, max_bytes)
            except ReadError as exc:
                report.failures.append((str(path), str(exc)))
                continue
            report.chars += len(doc.text)
            current = manifest.doc_for_source(source)
            if current is not None and current.doc_id == doc.doc_id and current.pipeline == pipeline_version(doc):
                report.unchanged.append(source)
                continue
            if any(p.doc.doc_id == doc.doc_id for p in pending):
                flush()  # its twin must be committed before this name can join it
            twin = manifest.documents.get(doc.doc_id)
            if twin is not None and twin is not current:
                report.duplicates.append((str(path), twin.sources[0]))
                _detach(manifest, source)
                manifest.documents[doc.doc_id] = replace(twin, sources=twin.sources + (source,))
                kb.catalog.commit(manifest)
                _purge(kb, manifest, [current])
                continue
            chunks, audit = chunk_document(doc)
            tokens = [tokenizer(c.embedding_text()) for c in chunks]
            pending.append(_Pending(source, doc, chunks, tokens, _entry(doc, chunks, audit, source), current is not None))
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS:
                flush()
        flush()
        if report.added or report.updated or report.recovered or report.duplicates:
            rebuild_lexical(kb, manifest)
    report.seconds = time.perf_counter() - started
    return report


def remove(kb: KnowledgeBase, target: str) -> DocEntry:
    """Remove the document with id ``target``, or the file name ``target`` from its document; raises NotFound.

    A document stored under several names (identical content) stays until its last name is removed.
    Returns the entry as it was before the removal.
    """
    with kb.catalog.write_lock():
        manifest = kb.catalog.load()
        entry = manifest.documents.get(target)
        if entry is not None:
            del manifest.documents[entry.doc_id]
        else:
            entry = manifest.doc_for_source(source_key(Path(target)))
            if entry is None:
                raise NotFound(f"知识库中没有文档 {target}（用 `djkb docs` 查看文档及其 ID）")
            _detach(manifest, source_key(Path(target)))
        kb.catalog.commit(manifest)
        _purge(kb, manifest, [entry])
        rebuild_lexical(kb, manifest)
    return entry


def reindex(kb: KnowledgeBase, *, progress: Progress | None = None) -> int:
    """Re-embed every stored chunk with ``kb``'s current model; return the number of chunks."""
    from kb.store import COLLECTION, ChunkStore, open_client

    with kb.catalog.write_lock():
        manifest = kb.catalog.load()
        client = open_client(Path(kb.settings.kb_dir), kb.settings.chroma_url)
        try:
            client.delete_collection(COLLECTION)
        except Exception:
            pass  # nothing to drop
        # From here until the commit below, the manifest names chunks the store lacks; a crash is repaired by
        # recover(), which drops those documents so that the next ingest stores them again.
        kb.store = ChunkStore(client, model_fingerprint(kb.embedder))
        total = 0
        ids = sorted(manifest.documents)
        for i, doc_id in enumerate(ids, 1):
            if progress:
                progress(doc_id, i, len(ids))
            _, chunks, _ = kb.catalog.read_doc(doc_id)
            kb.store.upsert(chunks, kb.embedder.embed_passages([c.embedding_text() for c in chunks]))
            total += len(chunks)
        manifest.model = model_fingerprint(kb.embedder)
        kb.catalog.commit(manifest)
    return total
