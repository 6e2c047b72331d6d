"""Keeping a knowledge base whole: recovery after a crash, ``djkb repair``, re-embedding under a new vector
collection (``djkb reindex``), and the lexical index rebuild."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from kb.base import KnowledgeBase
from kb.catalog import DEFAULT_COLLECTION, DocEntry, Manifest, StoredDoc
from kb.embedding import fingerprint_conflict, model_fingerprint
from kb.errors import CatalogCorrupt, disk_errors
from kb.lexical import BM25Index, gram_index
from kb.schema import Chunk, Document
from kb.sentence_index import SentenceVectors, model_tag, sentence_units, unit_text
from kb.store import ChunkStore

from .chunker import audit, chunk_document, pipeline_version

Progress = Callable[[str, int, int], None]
# Chunks embedded per call while re-embedding: large enough to keep the model busy, small enough to show progress.
REINDEX_BATCH_CHUNKS = 64


@dataclass
class Repairs:
    """What recovery or repair changed, by kind."""

    orphans: int = 0  # stored chunks no committed document owns, deleted
    reembedded: int = 0  # chunks of committed documents missing from the store, embedded again
    uncommitted: int = 0  # per-document files of a write that never committed, deleted
    lost: int = 0  # committed documents whose per-document file was gone, dropped
    adopted: int = 0  # documents rebuilt into the catalog from their files
    collections: int = 0  # leftover vector collections of an older generation, dropped
    unembedded: int = 0  # missing chunks left alone because the current model is not the store's

    @property
    def total(self) -> int:
        """The number of repairs made (missing vectors left for `djkb reindex` are not among them)."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != "unembedded")


def make_entry(doc: Document, chunks: list[Chunk], doc_audit, source: str, pipeline: str | None = None,
               ingested_at: str | None = None) -> DocEntry:
    """Return the catalog entry of a document stored from ``source``."""
    return DocEntry(
        doc_id=doc.doc_id, title=doc.title, doc_type=doc.doc_type, content_hash=doc.content_hash,
        sources=(source,), chunk_ids=tuple(c.chunk_id for c in chunks), articles=doc_audit.articles, audit=doc_audit,
        ingested_at=ingested_at or datetime.now(timezone.utc).isoformat(timespec="seconds"), chars=len(doc.text),
        date=doc.date, issuer=doc.issuer, pipeline=pipeline_version(doc) if pipeline is None else pipeline,
        edition=doc.edition, effective_date=doc.effective_date,
    )


def _entry_from_file(kb: KnowledgeBase, doc_id: str) -> DocEntry:
    """Return the entry a per-document file records, or one rebuilt from its text and chunks (older files)."""
    record = kb.catalog.read_record(doc_id)
    if "entry" in record:
        return DocEntry.from_json(record["entry"])
    doc, chunks, _ = kb.catalog.read_doc(doc_id)
    current = [c.chunk_id for c in chunk_document(doc)[0]]
    mtime = datetime.fromtimestamp(kb.catalog.doc_path(doc_id).stat().st_mtime, timezone.utc)
    # An entry whose chunks the current pipeline would not make again is re-chunked by the next ingest.
    pipeline = pipeline_version(doc) if current == [c.chunk_id for c in chunks] else ""
    return make_entry(doc, chunks, audit(doc, chunks), doc.source, pipeline, mtime.isoformat(timespec="seconds"))


def _settle_entry(kb: KnowledgeBase, manifest: Manifest, doc_id: str, adopt: bool, reps: Repairs) -> None:
    """Make ``doc_id``'s catalog entry agree with its per-document file, or drop whichever cannot stand."""
    entry = manifest.documents.get(doc_id)
    exists = kb.catalog.doc_path(doc_id).exists()
    if entry is None:
        if not exists:
            return
        try:
            found = _entry_from_file(kb, doc_id) if adopt else None
        except (OSError, ValueError, KeyError, TypeError):
            found = None
        if found is not None and not any(manifest.doc_for_source(s) for s in found.sources):
            manifest.documents[doc_id] = found
            reps.adopted += 1
        else:
            kb.catalog.remove_doc_file(doc_id)
            reps.uncommitted += 1
        return
    try:
        in_file = tuple(c["chunk_id"] for c in kb.catalog.read_record(doc_id)["chunks"])
        found = _entry_from_file(kb, doc_id) if in_file != entry.chunk_ids else entry
    except (OSError, ValueError, KeyError, TypeError):
        del manifest.documents[doc_id]  # the text is gone: nothing can be served or embedded again
        reps.lost += 1
        return
    if found.chunk_ids != entry.chunk_ids:
        # An interrupted re-chunking (a new pipeline) replaced the file: finish it under every committed name.
        names = entry.sources + tuple(s for s in found.sources if s not in entry.sources)
        manifest.documents[doc_id] = DocEntry(**{**found.__dict__, "sources": names})


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _reconcile(kb: KnowledgeBase, manifest: Manifest, doc_ids: Iterable[str], stored: set[str],
               adopt: bool = False) -> Repairs:
    """Make the catalog, the files and the store agree for ``doc_ids``; ``stored`` holds their chunks in the store."""
    reps = Repairs()
    doc_ids = sorted(set(doc_ids))
    before = manifest.documents.changed.copy()
    # Newest files first: of two versions of one source file, the later one is adopted.
    for doc_id in sorted(doc_ids, key=lambda d: -_mtime(kb.catalog.doc_path(d))) if adopt else doc_ids:
        _settle_entry(kb, manifest, doc_id, adopt, reps)
    owned = {cid for d in doc_ids if d in manifest.documents for cid in manifest.documents[d].chunk_ids}
    orphans = sorted(stored - owned)
    kb.store.delete(orphans)
    reps.orphans = len(orphans)
    current = model_fingerprint(kb.embedder)
    same_model = manifest.model is None or fingerprint_conflict(manifest.model, current, "") is None
    missing: list[Chunk] = []
    for doc_id in doc_ids:
        if doc_id in manifest.documents and not set(manifest.documents[doc_id].chunk_ids) <= stored:
            missing.extend(c for c in kb.catalog.read_doc(doc_id)[1] if c.chunk_id not in stored)
    if missing and same_model:
        for i in range(0, len(missing), REINDEX_BATCH_CHUNKS):
            part = missing[i:i + REINDEX_BATCH_CHUNKS]
            kb.store.upsert(part, kb.embedder.embed_passages([c.embedding_text() for c in part]))
        reps.reembedded = len(missing)
    else:
        reps.unembedded = len(missing)
    if manifest.documents.changed - before:
        if manifest.model is None:
            manifest.model = model_fingerprint(kb.embedder)
        kb.catalog.commit(manifest)
    return reps


def _drop_leftover_collections(kb: KnowledgeBase, manifest: Manifest) -> int:
    """Drop vector collections of older generations; keep the current one and an unfinished reindex's target."""
    keep = {manifest.collection, (manifest.reindex or {}).get("collection")}
    names = [getattr(c, "name", c) for c in kb.store.client.list_collections()]
    leftovers = [n for n in names if n.startswith(DEFAULT_COLLECTION) and n not in keep]
    for name in leftovers:
        kb.store.client.delete_collection(name)
    return len(leftovers)


def recover(kb: KnowledgeBase, manifest: Manifest) -> Repairs:
    """Finish or undo what an interrupted write left, looking only at the documents its journal names.

    A committed document whose file is intact is never dropped: its missing chunks are embedded again (or, when the
    current model is not the store's, counted in ``unembedded`` for `djkb reindex` to redo).
    """
    intents = kb.catalog.intents()
    reps = Repairs()
    if intents:
        reps = _reconcile(kb, manifest, intents, kb.store.ids_of(sorted(intents)))
        kb.catalog.settle(intents)
    reps.collections = _drop_leftover_collections(kb, manifest)
    return reps


def repair(kb: KnowledgeBase, progress: Progress | None = None) -> Repairs:
    """Rebuild the catalog if it is damaged, then check every document against its file and the store.

    Holds the write lock. Nothing whose text survives is deleted: a lost catalog is rebuilt from the per-document
    files, missing vectors are embedded again, and the lexical index is rebuilt.
    """
    with kb.catalog.write_lock(), disk_errors(kb.settings.kb_dir):
        try:
            manifest = kb.catalog.load()
            rebuilt = False
        except CatalogCorrupt:
            # A reader may have seen any earlier generation: start above every count of commits there can have been.
            manifest = Manifest(collection=_best_collection(kb), generation=int(time.time()))
            rebuilt = True
        if rebuilt:
            kb.catalog.create(manifest)
        kb.store = ChunkStore(kb.store.client, manifest.model or model_fingerprint(kb.embedder), manifest.collection)
        if progress:
            progress("向量库", 1, 2)
        stored = kb.store.ids()
        doc_ids = set(manifest.documents) | set(kb.catalog.doc_files())
        reps = _reconcile(kb, manifest, doc_ids, stored, adopt=rebuilt)
        kb.catalog.settle()
        reps.collections = _drop_leftover_collections(kb, manifest)
        if rebuilt and not reps.adopted:
            kb.catalog.commit(manifest)
        rebuild_lexical(kb, kb.catalog.load())
        if progress:
            progress("词法索引", 2, 2)
    return reps


def _best_collection(kb: KnowledgeBase) -> str:
    """Return the vector collection to keep when the catalog that named it is lost: the fullest of this model's."""
    best, size = DEFAULT_COLLECTION, -1
    for col in kb.store.client.list_collections():
        name = getattr(col, "name", col)
        col = kb.store.client.get_collection(name) if isinstance(col, str) else col
        if name.startswith(DEFAULT_COLLECTION) and (col.metadata or {}).get("embed_model") == kb.embedder.name:
            if col.count() > size:
                best, size = name, col.count()
    return best


def rebuild_lexical(kb: KnowledgeBase, manifest: Manifest) -> BM25Index:
    """Rebuild and save the BM25 indexes: of words, from the stored token lists (tokenizing happened at ingest), and
    of character bigrams."""
    chunks, tokens = [], []
    for doc_id in sorted(manifest.documents):
        _, doc_chunks, doc_tokens = kb.catalog.read_doc(doc_id)
        chunks.extend(doc_chunks)
        tokens.extend(doc_tokens)
    index = BM25Index.build([c.chunk_id for c in chunks], tokens)
    index.save(Path(kb.settings.kb_dir) / "bm25", manifest.generation)
    gram_index(chunks).save(Path(kb.settings.kb_dir) / "grams", manifest.generation)
    return index


def _renew_sentences(kb: KnowledgeBase, stored: StoredDoc, entry: DocEntry, tag: str) -> None:
    """Rewrite a document's sentence vectors with ``kb``'s model, unless they are already its."""
    units = sentence_units(stored.chunks)
    if not units or (stored.sentences is not None and stored.sentences.model == tag):
        return
    by_id = {c.chunk_id: c for c in stored.chunks}
    vectors = kb.embedder.embed_passages([unit_text(by_id[c], s, e) for c, s, e in units])
    kb.catalog.write_doc(stored.document, stored.chunks, stored.tokens, entry, SentenceVectors.of(tag, units, vectors))


def _embed_into(store: ChunkStore, kb: KnowledgeBase, chunks: Sequence[Chunk]) -> None:
    store.upsert(list(chunks), kb.embedder.embed_passages([c.embedding_text() for c in chunks]))


def reindex(kb: KnowledgeBase, *, progress: Progress | None = None) -> int:
    """Re-embed every stored chunk with ``kb``'s current model into a new collection; return the number of chunks.

    The old collection keeps serving until the new one is complete and committed; an interrupted run is resumed by
    the next, which skips the chunks already in the new collection.
    """
    with kb.catalog.write_lock(), disk_errors(kb.settings.kb_dir):
        manifest = kb.catalog.load()
        recover(kb, manifest)
        fp = model_fingerprint(kb.embedder)
        target = manifest.reindex
        if target and fingerprint_conflict(target["model"], fp, "") is not None:
            _delete_collection(kb, target["collection"])
            target = None
        if target is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
            target = {"collection": f"{DEFAULT_COLLECTION}-{stamp}-g{manifest.generation + 1}", "model": fp}
            manifest.reindex = target
            kb.catalog.commit(manifest)
        new = ChunkStore(kb.store.client, fp, target["collection"])
        done = new.ids()
        total, pending = 0, []
        ids = sorted(manifest.documents)
        for i, doc_id in enumerate(ids, 1):
            if progress:
                progress(doc_id, i, len(ids))
            stored = kb.catalog.read_stored(doc_id)
            _renew_sentences(kb, stored, manifest.documents[doc_id], model_tag(fp))
            chunks = stored.chunks
            total += len(chunks)
            pending.extend(c for c in chunks if c.chunk_id not in done)
            if len(pending) >= REINDEX_BATCH_CHUNKS:
                _embed_into(new, kb, pending)
                pending = []
        if pending:
            _embed_into(new, kb, pending)
        old = manifest.collection
        manifest.collection, manifest.model, manifest.reindex = target["collection"], fp, None
        kb.catalog.commit(manifest)
        kb.store = new
        _delete_collection(kb, old)
    return total


def _delete_collection(kb: KnowledgeBase, name: str) -> None:
    try:
        kb.store.client.delete_collection(name)
    except Exception:  # noqa: BLE001 - already gone; recover() drops any leftover later
        pass


def undo_interrupted(kb: KnowledgeBase) -> None:
    """After a failed write, undo what its journal names at once if the disk allows; else the next write will."""
    try:
        recover(kb, kb.catalog.load())
    except Exception:  # noqa: BLE001 - best effort: the journal keeps the work for the next write
        pass

