"""The web app's engine, without any UI: one opened knowledge base, its searcher and answerer, and the admin actions.

The Gradio layer (bot/app.py and bot/handlers.py) and the named API endpoints (bot/api.py) all call these
methods; every change to the knowledge base checks the write policy here, so no endpoint can skip it. The
texts it returns come from bot/messages.py.
"""
from __future__ import annotations

import math
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kb.config import DEFAULT_HOST, Settings
from kb.errors import DjkbError, KnowledgeBaseBusy, NotFound
from kb.progress import Progress
from kb.retrieve import Filters, Searcher
from kb.schema import DOC_TYPES, Answer, Chunk, Document, Hit

from . import messages as msg
from .answer import Answerer
from .context import Context, context_window
from .rewrite import Turn
from .uploads import (
    UPLOADS_DIR,
    Access,
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
MAX_QUIZ = 30
COMMON_IDF = math.log(20)  # the BM25 idf of a word found in 5% of the passages


@dataclass(frozen=True)
class StudyRequest:
    """What study materials were asked for: a topic, how many quiz items, and the seed that picks them."""

    topic: str
    n: int = 10
    seed: int = 0

    @classmethod
    def of(cls, topic: str | None, n: float | None = 10, seed: float | None = 0) -> StudyRequest:
        """Return the request with the topic stripped and ``n`` clamped to 1–30; raises DjkbError for no topic."""
        topic = (topic or "").strip()
        if not topic:
            raise DjkbError(msg.EMPTY_TOPIC)
        return cls(topic, max(1, min(int(n or 10), MAX_QUIZ)), int(seed or 0))


@dataclass(frozen=True)
class StudyMaterials:
    """An outline and a quiz made for one request (the app keeps them to export what it shows)."""

    request: StudyRequest
    outline: StudyOutline
    quiz: Quiz


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


def turn_for(answer: Answer) -> Turn:
    """Return what a follow-up may refer to: the stand-alone query and the first citation's document and article."""
    first = answer.citations[0].chunk if answer.citations else None
    return Turn(answer.rewritten_query or answer.query, first.doc_title if first else None,
                first.article if first else None)


class Service:
    """One knowledge base served to the web app."""

    def __init__(self, settings: Settings, *, host: str = DEFAULT_HOST, searcher: Searcher | None = None, llm=None):
        from kb.base import KnowledgeBase

        self.settings = settings
        self.searcher = searcher or Searcher(KnowledgeBase.open(settings))
        if llm is None:
            from .llm import ChatClient

            llm = ChatClient.from_settings(settings)  # None unless an OpenAI-compatible endpoint is configured
        self.answerer = Answerer(self.searcher, llm=llm)
        self.access: Access = access_policy(settings.admin_password, host)
        self.reports_dir = Path(settings.reports_dir)
        self.uploads_dir = Path(settings.kb_dir) / UPLOADS_DIR
        self.export_dir = Path(tempfile.mkdtemp(prefix="djkb-export-"))
        self._write_lock = threading.Lock()
        self._docs: OrderedDict[str, Document] = OrderedDict()
        self._docs_lock = threading.Lock()

    @property
    def kb(self):
        return self.searcher.kb

    # ---- reading -------------------------------------------------------------------------------------------

    def manifest(self):
        """Return the current manifest, reloading the searcher first if the knowledge base changed."""
        self.searcher.refresh()
        return self.searcher.manifest

    def resolve_doc(self, doc: str | None) -> str | None:
        """Return the id of the document named by id or exact title; raises NotFound."""
        doc = (doc or "").strip()
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
        doc_type = (doc_type or "").strip()
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

        authorize(self.access, self.settings.admin_password, password)
        if not (doc or "").strip():
            raise DjkbError(msg.NO_DOC_CHOSEN_STATUS)
        return set_status(Path(self.settings.kb_dir), doc, status or None)

    def chunk(self, chunk_id: str) -> Chunk:
        """Return a stored passage by id; raises NotFound."""
        chunk = self.searcher.chunks.get(chunk_id)
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

    def ask(self, question: str, doc_type: str = "", doc: str = "", in_force: bool = True) -> Answer:
        """Return the answer to ``question``; raises DjkbError."""
        return self.answerer.ask(question, filters=self.filters(doc_type, doc, in_force))

    def stream(self, question: str, turns: Sequence[Turn], doc_type: str = "", doc: str = "",
               in_force: bool = True) -> Iterator[str | Answer]:
        """Yield the growing answer text, then the Answer; raises DjkbError."""
        yield from self.answerer.stream(question, turns, self.filters(doc_type, doc, in_force))

    def search(self, query: str, k: int = 10, doc_type: str = "", doc: str = "", mode: str = "hybrid") -> list[Hit]:
        """Return hits for ``query``; raises DjkbError."""
        return self.searcher.search(query, k=max(1, min(int(k), 100)), mode=mode, filters=self.filters(doc_type, doc))

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
        self.searcher.refresh()

    def upload(self, files: Sequence[tuple[Path, str]], password: str | None = None,
               progress: Progress | None = None) -> list[FileOutcome]:
        """Store and ingest uploaded ``(temporary path, original name)`` pairs; one outcome per file.

        Raises PermissionDenied (nothing stored) or KnowledgeBaseBusy.
        """
        authorize(self.access, self.settings.admin_password, password)
        if not files:
            raise DjkbError(msg.NO_FILES)
        max_bytes = self.settings.max_upload_mb * 2**20
        outcomes: dict[int, FileOutcome] = {}
        with self._write_lock:
            before = set(self.uploads_dir.iterdir()) if self.uploads_dir.is_dir() else set()
            try:
                self._store_and_ingest(files, max_bytes, outcomes, progress)
            except KnowledgeBaseBusy:
                for p in set(self.uploads_dir.iterdir()) - before:
                    p.unlink(missing_ok=True)  # nothing was ingested: leave the uploads folder as it was
                raise
        self._changed()
        return [outcomes[i] for i in range(len(files))]

    def _store_and_ingest(self, files, max_bytes: int, outcomes: dict[int, FileOutcome],
                          progress: Progress | None) -> None:
        """Check and store each file, ingest the stored ones, and fill ``outcomes`` by file index."""
        from ingest.pipeline import ingest, source_key
        from ingest.readers import SUPPORTED_SUFFIXES

        stored: dict[str, list[int]] = {}
        paths: dict[str, Path] = {}
        for i, (src, name) in enumerate(files):
            src, display = Path(src), safe_filename(name)
            size = src.stat().st_size if src.is_file() else 0
            problem = upload_problem(display, size, max_bytes, SUPPORTED_SUFFIXES)
            if problem:
                outcomes[i] = FileOutcome(display, None, "rejected", problem)
                continue
            path = store_upload(src, display, self.uploads_dir)
            stored.setdefault(source_key(path), []).append(i)
            paths[source_key(path)] = path
        if stored:
            report = ingest(self.kb, list(paths.values()), progress=progress, max_bytes=max_bytes)
            self._record(report, stored, paths, files, outcomes)

    def _record(self, report, stored, paths, files, outcomes) -> None:
        """Turn an IngestReport into one outcome per uploaded file; a failed file is removed from the uploads folder."""
        from ingest.pipeline import source_key

        def take(source: str, status: str, message: str) -> None:
            for i in stored.get(source, ()):
                outcomes[i] = FileOutcome(safe_filename(files[i][1]), paths[source].name, status, message)

        titles = {s: e.title for e in self.kb.catalog.load().documents.values() for s in e.sources}
        for status, sources in (("added", report.added), ("updated", report.updated), ("unchanged", report.unchanged)):
            for s in sources:
                take(s, status, msg.upload_outcome(status, title=titles.get(s, Path(s).stem)))
        for path, same in report.duplicates:
            take(source_key(Path(path)), "duplicate", msg.upload_outcome("duplicate", same=Path(same).name))
        for path, reason in report.failures:
            key = source_key(Path(path))
            if key in paths:
                take(key, "failed", msg.upload_outcome("failed", reason=reason))
                paths[key].unlink(missing_ok=True)  # keep the uploads folder to what the knowledge base holds
        for key, indices in stored.items():
            for i in indices:
                outcomes.setdefault(i, FileOutcome(safe_filename(files[i][1]), paths[key].name, "failed",
                                                   msg.UNKNOWN_OUTCOME))

    def delete(self, doc: str, password: str | None = None) -> str:
        """Remove a document (by id or title) and its uploaded file; return a Chinese message.

        Raises PermissionDenied, NotFound or KnowledgeBaseBusy.
        """
        from ingest.pipeline import remove

        authorize(self.access, self.settings.admin_password, password)
        doc_id = self.resolve_doc(doc)
        if doc_id is None:
            raise DjkbError(msg.NO_DOC_CHOSEN)
        with self._write_lock:
            entry = remove(self.kb, doc_id)
            uploads = self.uploads_dir.resolve()
            for s in entry.sources:
                p = Path(s)
                if p.parent == uploads:
                    p.unlink(missing_ok=True)  # else a later re-ingest of the uploads folder would bring it back
        self._changed()
        return msg.deleted(entry.title, len(entry.chunk_ids))

    def reingest(self, source: str = "uploads", password: str | None = None, progress: Progress | None = None):
        """Ingest the uploads folder or the corpus folder again (incremental); return the IngestReport.

        Raises PermissionDenied, KnowledgeBaseBusy or DjkbError for an unknown or missing source.
        """
        from ingest.pipeline import ingest

        authorize(self.access, self.settings.admin_password, password)
        if source not in SOURCES:
            raise DjkbError(msg.unknown_source(source))
        folder = self.uploads_dir if source == "uploads" else Path(self.settings.corpus)
        if not folder.is_dir():
            raise DjkbError(msg.missing_folder(folder, source))
        with self._write_lock:
            report = ingest(self.kb, [folder], progress=progress, max_bytes=self.settings.max_upload_mb * 2**20)
        self._changed()
        return report

