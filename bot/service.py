"""The web app's engine without the UI: one opened knowledge base, its searcher and answerer, and the admin actions.

The Gradio layer (bot/app.py) and the named API endpoints both call these methods; every change to the
knowledge base checks the write policy here, so no endpoint can skip it.
"""
from __future__ import annotations

import math
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.config import DEFAULT_HOST, Settings
from kb.errors import DjkbError, KnowledgeBaseBusy, NotFound
from kb.retrieve import Filters, Searcher
from kb.schema import DOC_TYPES, Answer, Chunk, Document, Hit

from .answer import Answerer
from .rewrite import Turn
from .uploads import UPLOADS_DIR, Access, access_policy, authorize, safe_filename, store_upload, upload_problem
from .views import Context, context_window

Progress = Callable[[str, int, int], None]
DOC_TYPE_CHOICES = (("全部类型", ""), ("党内法规", "regulation"), ("讲话与学习材料", "speech"), ("其他文件", "other"))
SOURCES = ("uploads", "corpus")
MAX_CACHED_DOCS = 16
COMMON_IDF = math.log(20)  # the BM25 idf of a word found in 5% of the passages


def default_reports_dir() -> Path:
    """Return evals/reports beside the evals package, where ``djkb eval`` writes its reports."""
    import evals

    return Path(evals.__file__).resolve().with_name("reports")


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

    def __init__(self, settings: Settings, *, host: str = DEFAULT_HOST, searcher: Searcher | None = None,
                 reports_dir: Path | None = None, llm=None):
        from kb.base import KnowledgeBase

        self.settings = settings
        self.searcher = searcher or Searcher(KnowledgeBase.open(settings))
        if llm is None:
            from .llm import ChatClient

            llm = ChatClient.from_settings(settings)  # None unless an OpenAI-compatible endpoint is configured
        self.answerer = Answerer(self.searcher, llm=llm)
        self.access: Access = access_policy(settings.admin_password, host)
        self.reports_dir = Path(reports_dir) if reports_dir else default_reports_dir()
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
        raise NotFound(f"知识库中没有文档 {doc}（在“知识库”页或 /documents 查看文档及其 ID）")

    def filters(self, doc_type: str | None = None, doc: str | None = None) -> Filters:
        """Return search filters for a document type ('' for all) and a document id or title; raises DjkbError."""
        doc_type = (doc_type or "").strip()
        if doc_type and doc_type not in DOC_TYPES:
            raise DjkbError(f"未知文档类型 {doc_type!r}（可选：{', '.join(DOC_TYPES)}）")
        doc_id = self.resolve_doc(doc)
        return Filters(doc_types=(doc_type,) if doc_type else (), doc_ids=(doc_id,) if doc_id else ())

    def doc_choices(self) -> list[tuple[str, str]]:
        """Return (label, id) pairs of the stored documents for a dropdown, regulations first."""
        order = {"regulation": 0, "other": 1, "speech": 2}
        entries = sorted(self.manifest().documents.values(), key=lambda e: (order.get(e.doc_type, 3), e.title))
        return [("全部文档", "")] + [(e.title, e.doc_id) for e in entries]

    def documents(self) -> list[dict]:
        """Return one row per stored document: id, title, type, counts, audit, sources."""
        rows = []
        for e in sorted(self.manifest().documents.values(), key=lambda e: (e.doc_type, e.title)):
            rows.append({
                "doc_id": e.doc_id, "title": e.title, "doc_type": e.doc_type, "chunks": len(e.chunk_ids),
                "articles": e.articles, "chars": e.chars, "audit": e.audit.summary(), "audit_ok": e.audit.ok,
                "date": e.date, "sources": [Path(s).name for s in e.sources], "ingested_at": e.ingested_at,
            })
        return rows

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

    def ask(self, question: str, doc_type: str = "", doc: str = "") -> Answer:
        """Return the answer to ``question``; raises DjkbError."""
        return self.answerer.ask(question, filters=self.filters(doc_type, doc))

    def stream(self, question: str, turns: Sequence[Turn], doc_type: str = "", doc: str = "") -> Iterator[str | Answer]:
        """Yield the growing answer text, then the Answer; raises DjkbError."""
        yield from self.answerer.stream(question, turns, self.filters(doc_type, doc))

    def search(self, query: str, k: int = 10, doc_type: str = "", doc: str = "", mode: str = "hybrid") -> list[Hit]:
        """Return hits for ``query``; raises DjkbError."""
        return self.searcher.search(query, k=max(1, min(int(k), 100)), mode=mode, filters=self.filters(doc_type, doc))

    # ---- study materials -----------------------------------------------------------------------------------

    @staticmethod
    def _topic(topic: str | None) -> str:
        topic = (topic or "").strip()
        if not topic:
            raise DjkbError("请输入学习主题，例如“民主生活会”或“预备党员”")
        return topic

    def outline(self, topic: str, doc_type: str = "", doc: str = ""):
        """Return the StudyOutline of ``topic``; raises DjkbError for an empty topic or a bad filter."""
        from .study import outline

        return outline(self.searcher, self._topic(topic), filters=self.filters(doc_type, doc))

    def quiz(self, topic: str, n: int = 10, seed: int = 0, doc_type: str = "", doc: str = ""):
        """Return up to ``n`` (1–30) QuizItems on ``topic``; raises DjkbError for an empty topic or a bad filter."""
        from .study import make_quiz

        return make_quiz(self.searcher, self._topic(topic), n=max(1, min(int(n), 30)), seed=int(seed),
                         filters=self.filters(doc_type, doc))

    def study(self, topic: str, n: int = 10, seed: int = 0, doc_type: str = "", doc: str = ""):
        """Return (outline, quiz) for ``topic``; raises DjkbError for an empty topic or a bad filter."""
        return self.outline(topic, doc_type, doc), self.quiz(topic, n, seed, doc_type, doc)

    def export(self, outline, quiz) -> tuple[Path, Path]:
        """Write the study materials as Markdown and .docx into a fresh folder; return both paths."""
        from .export import to_docx, to_markdown

        folder = Path(tempfile.mkdtemp(prefix="study-", dir=self.export_dir))
        stem = safe_filename(f"学习材料-{outline.topic}") if outline else "学习材料"
        md = folder / f"{stem}.md"
        md.write_text(to_markdown(outline, quiz), encoding="utf-8")
        return md, to_docx(outline, quiz, folder / f"{stem}.docx")

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
            raise DjkbError("请先选择要上传的文件")
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
        for s in report.added:
            take(s, "added", f"已导入：《{titles.get(s, Path(s).stem)}》")
        for s in report.updated:
            take(s, "updated", f"已更新：《{titles.get(s, Path(s).stem)}》")
        for s in report.unchanged:
            take(s, "unchanged", f"内容未变（《{titles.get(s, Path(s).stem)}》已在知识库中）")
        for path, same in report.duplicates:
            take(source_key(Path(path)), "duplicate", f"与已有文件 {Path(same).name} 内容相同，只保存一份")
        for path, reason in report.failures:
            key = source_key(Path(path))
            if key in paths:
                take(key, "failed", f"导入失败：{reason}")
                paths[key].unlink(missing_ok=True)  # keep the uploads folder to what the knowledge base holds
        for key, indices in stored.items():
            for i in indices:
                outcomes.setdefault(i, FileOutcome(safe_filename(files[i][1]), paths[key].name, "failed",
                                                   "导入结果未知，请在文档列表中核对"))

    def delete(self, doc: str, password: str | None = None) -> str:
        """Remove a document (by id or title) and its uploaded file; return a Chinese message.

        Raises PermissionDenied, NotFound or KnowledgeBaseBusy.
        """
        from ingest.pipeline import remove

        authorize(self.access, self.settings.admin_password, password)
        doc_id = self.resolve_doc(doc)
        if doc_id is None:
            raise DjkbError("请先选择要删除的文档")
        with self._write_lock:
            entry = remove(self.kb, doc_id)
            uploads = self.uploads_dir.resolve()
            for s in entry.sources:
                p = Path(s)
                if p.parent == uploads:
                    p.unlink(missing_ok=True)  # else a later re-ingest of the uploads folder would bring it back
        self._changed()
        return f"已删除：《{entry.title}》（{len(entry.chunk_ids)} 个片段）"

    def reingest(self, source: str = "uploads", password: str | None = None, progress: Progress | None = None):
        """Ingest the uploads folder or the corpus folder again (incremental); return the IngestReport.

        Raises PermissionDenied, KnowledgeBaseBusy or DjkbError for an unknown or missing source.
        """
        from ingest.pipeline import ingest

        authorize(self.access, self.settings.admin_password, password)
        if source not in SOURCES:
            raise DjkbError(f"未知的导入来源 {source!r}（可选：uploads 上传目录，corpus 语料目录）")
        folder = self.uploads_dir if source == "uploads" else Path(self.settings.corpus)
        if not folder.is_dir():
            raise DjkbError(f"目录不存在：{folder}" + ("（还没有上传过文件）" if source == "uploads" else
                                                   "（请设置 DJKB_CORPUS）"))
        with self._write_lock:
            report = ingest(self.kb, [folder], progress=progress, max_bytes=self.settings.max_upload_mb * 2**20)
        self._changed()
        return report


def report_summary(report) -> str:
    """Return a one-paragraph Chinese summary of an IngestReport, failures listed per file."""
    lines = [f"新增 {len(report.added)} 篇，更新 {len(report.updated)} 篇，未变 {len(report.unchanged)} 篇，"
             f"重复 {len(report.duplicates)} 篇，失败 {len(report.failures)} 篇；用时 {report.seconds:.1f} 秒。"]
    lines += [f"- 失败：{Path(p).name}：{r}" for p, r in report.failures]
    return "\n".join(lines)
