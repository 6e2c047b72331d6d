"""Ingest files into a knowledge base: read, structure, chunk, embed, store; incremental and crash-safe."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from kb.base import KnowledgeBase
from kb.catalog import DocEntry, Manifest
from kb.embedding import model_fingerprint
from kb.errors import DiskFull, NotFound, ReadError, disk_errors
from kb.lexical import get_tokenizer
from kb.schema import Chunk, Document
from kb.sentence_index import SentenceVectors, model_tag, sentence_units, unit_text

from .chunker import chunk_document, up_to_date
from .maintenance import make_entry, rebuild_lexical, recover, undo_interrupted
from .readers import SUPPORTED_SUFFIXES, read_file
from .structure import make_document

# Documents are embedded together, in one length-sorted call, once their chunks reach a limit, and committed by one
# manifest write. The limit starts at EMBED_FIRST_CHUNKS, so the first documents are searchable (and safe) soon, and
# doubles per batch up to EMBED_BATCH_CHUNKS: fewer calls, and batches cut from a wider range of lengths carry less
# padding; a crash loses at most one batch of work (the kill -9 test still sees a first commit before the end).
EMBED_FIRST_CHUNKS = 64
EMBED_BATCH_CHUNKS = 512
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
        elif p.is_symlink() and not p.exists():
            missing.append((str(p), "符号链接指向的文件不存在（失效的链接）"))
        elif p.exists():
            missing.append((str(p), "不是普通文件或文件夹（如管道、设备或套接字），无法导入"))
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
    for e in entries:
        if e is None:
            continue
        current = manifest.documents.get(e.doc_id)  # chunk ids start with their document's id: no other owns them
        owned = set(current.chunk_ids) if current else set()
        kb.store.delete([cid for cid in e.chunk_ids if cid not in owned])
        if current is None:
            kb.catalog.remove_doc_file(e.doc_id)


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
    """Embed and store a batch of documents, then commit them in one catalog transaction."""
    touched = [p.doc.doc_id for p in batch] + [e.doc_id for p in batch if (e := manifest.doc_for_source(p.source))]
    kb.catalog.intend(touched)
    t0 = time.perf_counter()
    chunks = [c for p in batch for c in p.chunks]
    units = [sentence_units(p.chunks) for p in batch]
    by_id = {c.chunk_id: c for c in chunks}
    # one call, so chunks and sentences share the length-sorted batches
    texts = [c.embedding_text() for c in chunks] + [unit_text(by_id[c], s, e) for u in units for c, s, e in u]
    everything = kb.embedder.embed_passages(texts)
    vectors, rest = everything[:len(chunks)], everything[len(chunks):]
    report.embed_seconds += time.perf_counter() - t0
    tag = model_tag(model_fingerprint(kb.embedder))
    for p, u in zip(batch, units):
        sentences = SentenceVectors.of(tag, u, rest[:len(u)]) if u else None
        rest = rest[len(u):]
        kb.catalog.write_doc(p.doc, p.chunks, p.tokens, p.entry, sentences)
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
    kb.catalog.settle(touched)


def _join_twin(kb: KnowledgeBase, manifest: Manifest, twin: DocEntry, current: DocEntry | None, source: str) -> None:
    """Record ``source`` as one more name of ``twin`` (identical content), dropping what it held before."""
    _detach(manifest, source)
    if current is not None:
        kb.catalog.intend([current.doc_id])
    manifest.documents[twin.doc_id] = replace(twin, sources=twin.sources + (source,))
    kb.catalog.commit(manifest)
    _purge(kb, manifest, [current])
    kb.catalog.settle([current.doc_id] if current else [])


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
    with kb.catalog.write_lock(), _undo_on_failure(kb):
        manifest = kb.catalog.load()
        report.recovered = recover(kb, manifest).total
        manifest.model = model_fingerprint(kb.embedder)
        pending: list[_Pending] = []
        limit = [EMBED_FIRST_CHUNKS]

        def flush() -> None:
            if pending:
                _store_batch(kb, manifest, pending, report)
                pending.clear()
                limit[0] = min(2 * limit[0], EMBED_BATCH_CHUNKS)

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
            if any(p.doc.doc_id == doc.doc_id for p in pending):
                flush()  # its twin must be committed before this name can join it, or be judged against it
            current = manifest.doc_for_source(source)
            if current is not None and current.doc_id == doc.doc_id and up_to_date(current.pipeline, doc):
                report.unchanged.append(source)
                continue
            twin = manifest.documents.get(doc.doc_id)
            if twin is not None and twin is not current:
                _join_twin(kb, manifest, twin, current, source)
                report.duplicates.append((str(path), twin.sources[0]))
                continue
            chunks, audit = chunk_document(doc)
            tokens = [tokenizer(c.embedding_text()) for c in chunks]
            pending.append(_Pending(source, doc, chunks, tokens, make_entry(doc, chunks, audit, source),
                                    current is not None))
            if sum(len(p.chunks) for p in pending) >= limit[0]:
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
    with kb.catalog.write_lock(), _undo_on_failure(kb):
        manifest = kb.catalog.load()
        recover(kb, manifest)
        entry = manifest.documents.get(target)
        if entry is not None:
            del manifest.documents[entry.doc_id]
        else:
            entry = manifest.doc_for_source(source_key(Path(target)))
            if entry is None:
                raise NotFound(f"知识库中没有文档 {target}（用 `djkb docs` 查看文档及其 ID）")
            _detach(manifest, source_key(Path(target)))
        kb.catalog.intend([entry.doc_id])
        kb.catalog.commit(manifest)
        _purge(kb, manifest, [entry])
        kb.catalog.settle([entry.doc_id])
        rebuild_lexical(kb, manifest)
    return entry


@contextmanager
def _undo_on_failure(kb: KnowledgeBase) -> Iterator[None]:
    """Report a full disk as DiskFull and undo the interrupted write at once, where the disk still allows it."""
    try:
        with disk_errors(kb.settings.kb_dir):
            yield
    except DiskFull:
        undo_interrupted(kb)
        raise
