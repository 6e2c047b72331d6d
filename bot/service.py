"""The web app's engine, without any UI: one opened knowledge base, its searcher and answerer, and the admin actions.

The Gradio layer (bot/app.py and bot/handlers.py) and the named API endpoints (bot/api.py) all call these
methods; every change to the knowledge base checks the write policy here, so no endpoint can skip it. The
texts it returns come from bot/messages.py.
"""
from __future__ import annotations

import functools
import math
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kb.config import DEFAULT_HOST, Settings
from kb.errors import DjkbError, NotFound
from kb.progress import Progress
from kb.retrieve import Filters, Searcher
from kb.schema import DOC_TYPES, Answer, Chunk, Document, Hit

from . import limits
from . import messages as msg
from .answer import Answerer
from .batching import batching
from .background import BackgroundImport, ImportState, ordered_paths
from .context import Context, context_window
from .guard import Throttle
from .materials import StudyMaterials, StudyRequest
from .rewrite import Turn
from .uploads import (
    UPLOADS_DIR,
    Access,
    PermissionDenied,
    Stored,
    access_policy,
    authorize,
    safe_filename,
    store_upload,
    upload_problem,
)

if TYPE_CHECKING:
    from .study import Quiz, StudyOutline

SOURCES = ("uploads", "corpus")
MAX_CACHED_DOCS = 16
COMMON_IDF = math.log(20)  # the BM25 idf of a word found in 5% of the passages


def document_rows(manifest, statuses=None, full_paths: bool = False) -> list[dict]:
    """Return one row per stored document of a Manifest: id, title, type, counts, audit, date, source file names
    (``full_paths``: paths), and the edition fields (edition, effective date, status and its links, cited title)."""
    from .editions import edition_fields

    return [{
        "doc_id": e.doc_id, "title": e.title, "doc_type": e.doc_type, "chunks": len(e.chunk_ids),
        "articles": e.articles, "chars": e.chars, "audit": e.audit.summary(), "audit_ok": e.audit.ok,
        "date": e.date, "issuer": e.issuer, "sources": [s if full_paths else Path(s).name for s in e.sources],
        "ingested_at": e.ingested_at, **edition_fields(e, (statuses or {}).get(e.doc_id)),
    } for e in sorted(manifest.documents.values(), key=lambda e: (e.doc_type, e.title))]


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one uploaded file."""

    name: str
    stored_as: str | None
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status in ("added", "updated", "unchanged", "duplicate")

    def to_dict(self) -> dict:
        return {"name": self.name, "stored_as": self.stored_as, "status": self.status, "ok": self.ok,
                "message": self.message}


class Service:
    """One knowledge base served to the web app."""

    def __init__(self, settings: Settings, *, host: str = DEFAULT_HOST, searcher: Searcher | None = None, llm=None):
        from kb.base import KnowledgeBase

        self.settings = settings
        self.searcher = searcher or Searcher(KnowledgeBase.open(settings))
        # Concurrent questions share one embedding pass (bot/batching.py); ingest calls pass straight through.
        self.searcher.kb.embedder = batching(self.searcher.kb.embedder)
        if llm is None:
            from .llm import ChatClient

            llm = ChatClient.from_settings(settings)  # None unless an OpenAI-compatible endpoint is configured
        self.answerer = Answerer(self.searcher, llm=llm)
        self.throttle = Throttle()
        self.importer: BackgroundImport | None = None
        self.access: Access = access_policy(settings.admin_password, host)
        self.reports_dir = Path(settings.reports_dir)
        self.uploads_dir = Path(settings.kb_dir) / UPLOADS_DIR
        self._write_lock = threading.Lock()
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._docs_lock = threading.Lock()

    def prepare_checks(self) -> threading.Thread:
        """Start building the off-topic check and the article questions' index in the background and return the
        thread, so that the first question need not wait for them: the check's 2,249 questions took 26.7 s to embed
        on 2 cores the first time (then 0.3 s, from the vector cache)."""
        def build() -> None:
            self.searcher.off_topic
            self.searcher.asked()

        thread = threading.Thread(target=build, name="djkb-domain-check", daemon=True)
        thread.start()
        return thread

    @functools.cached_property
    def export_dir(self) -> Path:
        """Return the folder of this service's downloads, made on first export and removed with the service."""
        folder = Path(tempfile.mkdtemp(prefix="djkb-export-"))
        weakref.finalize(self, shutil.rmtree, folder, True)
        return folder

    @property
    def kb(self):
        return self.searcher.kb

    # ---- reading -------------------------------------------------------------------------------------------

    def fresh(self):
        """Return the searcher, reloaded first if the knowledge base changed (Searcher.refresh holds its own lock).

        Searches read vectors from memory, so only a reload needs the Chroma server; while a reload fails, the state
        loaded before is served with a notice (see _noted).
        """
        self.searcher.refresh()
        return self.searcher

    def manifest(self):
        """Return the current manifest, reloading the searcher first if the knowledge base changed."""
        return self.fresh().manifest

    def resolve_doc(self, doc: str | None) -> str | None:
        """Return the id of the document named by id or exact title; raises NotFound."""
        doc = limits.optional_text(doc, "doc")
        if not doc:
            return None
        docs = self.manifest().documents
        if doc in docs:
            return doc
        for e in docs.values():
            if e.title == doc:
                return e.doc_id
        raise NotFound(msg.unknown_doc(doc))

    def filters(self, doc_type: str | None = None, doc: str | None = None, in_force: bool = True) -> Filters:
        """Return search filters for a document type ('' for all), a document id or title and the 现行有效 switch;
        raises DjkbError."""
        doc_type = limits.optional_text(doc_type, "doc_type")
        if doc_type and doc_type not in DOC_TYPES:
            raise DjkbError(msg.unknown_doc_type(doc_type, DOC_TYPES))
        doc_id = self.resolve_doc(doc)
        return Filters(doc_types=(doc_type,) if doc_type else (), doc_ids=(doc_id,) if doc_id else (),
                       in_force=in_force is not False)

    def documents(self) -> list[dict]:
        """Return one row per stored document (see ``document_rows``)."""
        return document_rows(self.manifest(), self.searcher.statuses())

    def set_status(self, doc: str, status: str | None, password: str | None = None) -> str:
        """Override a document's status (None or '' clears it); return the message.

        Raises PermissionDenied or NotFound."""
        from .editions import set_status

        self.authorize(password)
        if not (doc or "").strip():
            raise DjkbError(msg.NO_DOC_CHOSEN_STATUS)
        return set_status(Path(self.settings.kb_dir), doc, status or None)

    def chunk(self, chunk_id: str) -> Chunk:
        """Return a stored passage by id; raises NotFound."""
        chunk_id = limits.optional_text(chunk_id, "chunk_id")
        chunk = self.fresh().chunks.get(chunk_id)
        if chunk is None:
            raise NotFound(msg.unknown_chunk(chunk_id))
        return chunk

    def document(self, doc_id: str) -> Document:
        """Return a stored document with its full text (a few recently used ones are cached)."""
        with self._docs_lock:
            if doc_id in self._docs:
                self._docs.move_to_end(doc_id)
                return self._docs[doc_id]
        doc, _, _ = self.kb.catalog.read_doc(doc_id)
        with self._docs_lock:
            self._docs[doc_id] = doc
            while len(self._docs) > MAX_CACHED_DOCS:
                self._docs.popitem(last=False)
        return doc

    def context(self, chunk: Chunk) -> Context | None:
        """Return the chunk's article (or the chunk) inside its document, with text on either side."""
        try:
            doc = self.document(chunk.doc_id)
        except (OSError, ValueError, KeyError):
            return None
        start, end = chunk.char_start, chunk.char_end
        if chunk.article:
            parts = self.searcher.article_chunks(chunk.doc_id, chunk.article)
            if parts:
                start, end = min(c.char_start for c in parts), max(c.char_end for c in parts)
        if not (0 <= start < end <= len(doc.text)):
            return None
        return context_window(doc.text, start, end)

    def contexts(self, chunks: Sequence[Chunk]) -> dict[str, Context]:
        out = {}
        for c in chunks:
            ctx = self.context(c)
            if ctx is not None:
                out[c.chunk_id] = ctx
        return out

    def query_words(self, query: str) -> list[str]:
        """Return the query's words worth highlighting: long ones and those in under 5% of passages.

        Words such as 党员 occur in a large share of passages; marking them everywhere would hide the useful marks.
        """
        words = dict.fromkeys(self.searcher.tokenizer.query(query))
        return [w for w in words if len(w) >= 3 or self.searcher.token_weight(w) >= COMMON_IDF]

    def _noted(self, answer: Answer) -> Answer:
        """Return ``answer`` with the notices that apply now (changes not loaded, import still running) appended."""
        error = self.searcher.reload_error
        notes: tuple[str, ...] = () if error is None else \
            (msg.STORE_DOWN_STALE if limits.store_down(error) else msg.RELOAD_FAILED,)
        state = self.import_state()
        if state.running:
            notes += (msg.still_importing(state.done, state.total),)
        notes = tuple(n for n in (answer.notice, *notes) if n)
        return replace(answer, notice="；".join(notes)) if notes else answer

    def ask(self, question: str, doc_type: str = "", doc: str = "", in_force: bool = True) -> Answer:
        """Return the answer to ``question``."""
        question, filters = limits.question(question), self.filters(doc_type, doc, in_force)
        self.fresh()
        return self._noted(self.answerer.ask(question, filters=filters))

    def stream(self, question: str, turns: Sequence[Turn], doc_type: str = "", doc: str = "",
               in_force: bool = True) -> Iterator[str | Answer]:
        """Yield the growing answer text, then the Answer; raises DjkbError."""
        question, filters = limits.question(question), self.filters(doc_type, doc, in_force)
        self.fresh()
        for part in self.answerer.stream(question, turns, filters):
            yield self._noted(part) if isinstance(part, Answer) else part

    def search(self, query: str, k: int = 10, doc_type: str = "", doc: str = "", mode: str = "hybrid") -> list[Hit]:
        """Return hits for ``query``; raises DjkbError."""
        query, k = limits.question(query, "查询"), limits.integer(k, "k", 1, limits.MAX_TOP_K, default=10)
        mode, filters = limits.optional_text(mode, "mode") or "hybrid", self.filters(doc_type, doc)
        return self.fresh().search(query, k=k, mode=mode, filters=filters)

    # ---- study materials -----------------------------------------------------------------------------------

    def outline(self, topic: str, doc_type: str = "", doc: str = "") -> StudyOutline:
        """Return the StudyOutline of ``topic``; raises DjkbError for an empty topic or a bad filter."""
        from .study import outline

        return outline(self.searcher, StudyRequest.of(topic).topic, filters=self.filters(doc_type, doc))

    def quiz(self, topic: str, n: int = 10, seed: int = 0, doc_type: str = "", doc: str = "",
             outline: StudyOutline | None = None) -> Quiz:
        """Return up to ``n`` (1–30) QuizItems on ``topic`` (drawn from ``outline`` when given); raises DjkbError."""
        from .study import make_quiz

        request = StudyRequest.of(topic, n, seed)
        return make_quiz(self.searcher, request.topic, n=request.n, seed=request.seed,
                         filters=self.filters(doc_type, doc), outline_=outline)

    def study(self, request: StudyRequest) -> StudyMaterials:
        """Return the outline and the quiz drawn from it, over the whole knowledge base."""
        outline = self.outline(request.topic)
        return StudyMaterials(request, outline, self.quiz(request.topic, request.n, request.seed, outline=outline))

    def export(self, materials: StudyMaterials) -> tuple[Path, Path, Path]:
        """Write the study materials as Markdown, .docx and an .xlsx question bank into a fresh folder."""
        from .export import to_docx, to_markdown, to_xlsx

        folder = Path(tempfile.mkdtemp(prefix="study-", dir=self.export_dir))
        topic = materials.request.topic
        stem = safe_filename(f"学习材料-{topic}")
        outline, quiz = materials.outline, materials.quiz
        md = folder / f"{stem}.md"
        md.write_text(to_markdown(outline, quiz, quiz.shortfall), encoding="utf-8")
        return (md, to_docx(outline, quiz, folder / f"{stem}.docx", quiz.shortfall),
                to_xlsx(quiz, folder / f"{safe_filename(f'题库-{topic}')}.xlsx", f"题库：{topic}"))

    def compare(self, old: str, new: str):
        """Return the comparison of two editions (ids, titles or a quoted edition) and its .docx; raises DjkbError."""
        from .compare import compare_editions, to_docx

        if not (old or "").strip() or not (new or "").strip():
            raise DjkbError(msg.NO_EDITIONS_CHOSEN)
        result = compare_editions(Path(self.settings.kb_dir), old, new)
        folder = Path(tempfile.mkdtemp(prefix="compare-", dir=self.export_dir))
        return result, to_docx(result, folder / f"{safe_filename('条文对照')}.docx")

    # ---- changing the knowledge base -----------------------------------------------------------------------

    def _changed(self) -> None:
        with self._docs_lock:
            self._docs.clear()
        self.fresh()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the app's write lock; a lost Chroma server becomes one Chinese message (nothing was changed)."""
        with self._write_lock:
            try:
                self.kb.store.count()  # ask Chroma first: a removal commits before it deletes vectors
                yield
            except Exception as exc:
                if limits.store_down(exc):
                    raise DjkbError(msg.STORE_DOWN_WRITE) from exc
                raise

    def authorize(self, password: str | None, client: str = "") -> None:
        """Raise PermissionDenied unless a change is allowed: the write policy, then the password (throttled)."""
        if not self.access.writable or not self.access.needs_password:
            return authorize(self.access, self.settings.admin_password, password)
        wait = self.throttle.wait_left(client)
        if wait > 0:
            raise PermissionDenied(msg.wait_after_wrong_password(wait))
        try:
            authorize(self.access, self.settings.admin_password, password)
        except PermissionDenied:
            self.throttle.failed(client)
            raise
        self.throttle.succeeded(client)

    def upload_refusal(self, client: str) -> str | None:
        """Return why ``client`` may not send files now (Chinese), or None: checked before Gradio stores them."""
        if not self.access.writable:
            return msg.UPLOAD_READ_ONLY
        if self.access.needs_password and not self.throttle.unlocked(client):
            return msg.UPLOAD_LOCKED
        return None

    def upload(self, files: Sequence[tuple[Path, str]], password: str | None = None,
               progress: Progress | None = None, client: str = "") -> list[FileOutcome]:
        """Store and ingest uploaded ``(temporary path, original name)`` pairs; one outcome per file.

        Raises PermissionDenied (nothing stored), KnowledgeBaseBusy or DjkbError (too many files, Chroma away).
        """
        self.authorize(password, client)
        if not files:
            raise DjkbError(msg.NO_FILES)
        if len(files) > limits.MAX_FILES_PER_REQUEST:
            raise DjkbError(msg.too_many_files(len(files), limits.MAX_FILES_PER_REQUEST))
        outcomes: dict[int, FileOutcome] = {}
        with self._writing():
            kept: dict[str, Stored] = {}
            try:
                self._store_and_ingest(files, outcomes, progress, kept)
            except BaseException:
                for stored in kept.values():
                    stored.undo()  # nothing was ingested: leave the uploads folder as it was
                raise
        self._changed()
        return [outcomes[i] for i in range(len(files))]

    def _store_and_ingest(self, files, outcomes: dict[int, FileOutcome], progress: Progress | None,
                          kept: dict[str, Stored]) -> None:
        """Check and store each file (into ``kept``), ingest the stored ones, and fill ``outcomes`` by file index."""
        from ingest.pipeline import ingest, source_key
        from ingest.readers import SUPPORTED_SUFFIXES

        max_bytes = self.settings.max_upload_mb * 2**20
        stored: dict[str, list[int]] = {}
        for i, (src, name) in enumerate(files):
            src, display = Path(src), safe_filename(name)
            size = src.stat().st_size if src.is_file() else 0
            problem = upload_problem(display, size, max_bytes, SUPPORTED_SUFFIXES)
            if problem:
                outcomes[i] = FileOutcome(display, None, "rejected", problem)
                continue
            key = source_key(self.uploads_dir / display)
            if key not in kept:
                kept[key] = store_upload(src, display, self.uploads_dir)
            stored.setdefault(key, []).append(i)
        if stored:
            report = ingest(self.kb, [k.path for k in kept.values()], progress=progress, max_bytes=max_bytes)
            self._record(report, stored, kept, files, outcomes)
            kept.clear()

    def _record(self, report, stored, kept: dict[str, Stored], files, outcomes) -> None:
        """Turn an IngestReport into one outcome per uploaded file; a failed file leaves the uploads folder as it was."""
        from ingest.pipeline import source_key

        def take(source: str, status: str, message: str) -> None:
            for i in stored.get(source, ()):
                outcomes[i] = FileOutcome(safe_filename(files[i][1]), kept[source].path.name, status, message)

        titles = {s: e.title for e in self.kb.catalog.load().documents.values() for s in e.sources}
        for status, sources in (("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged)):
            for s in sources:
                take(s, status, msg.upload_outcome(status, title=titles.get(s, Path(s).stem)))
        for path, same in report.duplicates:
            take(source_key(Path(path)), "duplicate", msg.upload_outcome("duplicate", same=Path(same).name))
        failed = {source_key(Path(path)): reason for path, reason in report.failures}
        for key, reason in failed.items():
            if key in kept:
                take(key, "failed", msg.upload_outcome("failed", reason=limits.hide_paths(reason)))
        for key, item in kept.items():
            item.undo() if key in failed else item.keep()
            for i in stored[key]:
                outcomes.setdefault(i, FileOutcome(safe_filename(files[i][1]), item.path.name, "failed",
                                                   msg.UNKNOWN_OUTCOME))

    def delete(self, doc: str, password: str | None = None, client: str = "") -> str:
        """Remove a document (by id or title) and its uploaded file; return a Chinese message.

        Raises PermissionDenied, NotFound or KnowledgeBaseBusy.
        """
        from ingest.pipeline import remove

        self.authorize(password, client)
        doc_id = self.resolve_doc(doc)
        if doc_id is None:
            raise DjkbError(msg.NO_DOC_CHOSEN)
        with self._writing():
            entry = remove(self.kb, doc_id)
            uploads = self.uploads_dir.resolve()
            for s in entry.sources:
                p = Path(s)
                if p.parent == uploads:
                    p.unlink(missing_ok=True)  # else a later re-ingest of the uploads folder would bring it back
        self._changed()
        return msg.deleted(entry.title, len(entry.chunk_ids))

    def reingest(self, source: str = "uploads", password: str | None = None, progress: Progress | None = None,
                 client: str = ""):
        """Ingest the uploads folder or the corpus folder again (incremental); return the IngestReport.

        Raises PermissionDenied, KnowledgeBaseBusy or DjkbError for an unknown or missing source.
        """
        from ingest.pipeline import ingest

        self.authorize(password, client)
        source = limits.optional_text(source, "source") or "uploads"
        if source not in SOURCES:
            raise DjkbError(msg.unknown_source(source))
        folder = self.uploads_dir if source == "uploads" else Path(self.settings.corpus)
        if not folder.is_dir():
            raise DjkbError(msg.missing_folder(folder, source))
        with self._writing():
            report = ingest(self.kb, [folder], progress=progress, max_bytes=self.settings.max_upload_mb * 2**20)
        self._changed()
        return report

    # ---- first start ---------------------------------------------------------------------------------------

    def start_import(self, corpus: Path) -> BackgroundImport:
        """Ingest ``corpus`` (regulations first) in the background while the app serves; see bot/background.py."""
        corpus = Path(corpus)
        if not corpus.is_dir():
            raise DjkbError(msg.missing_folder(corpus, "corpus"))
        self.importer = BackgroundImport(self.kb, ordered_paths(corpus), self.settings.max_upload_mb * 2**20).start()
        return self.importer

    def import_state(self) -> ImportState:
        return self.importer.state if self.importer is not None else ImportState()
