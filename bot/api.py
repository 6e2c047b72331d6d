"""The app's named JSON endpoints (/ask /search /outline /quiz /documents /context /delete /reingest /eval_report).

Plain methods over the engine, free of any UI: bot/app.py registers each under its own name.
"""
from __future__ import annotations

from kb.schema import Answer

from . import messages as msg
from .limits import hide_paths, hide_paths_in
from .reports import load_report
from .service import Service

ENDPOINTS = ("ask", "search", "outline", "quiz", "documents", "context", "delete", "reingest", "eval_report")
CONCURRENT = frozenset({"ask", "search", "context"})  # read-only and quick: several may run at once


def answer_json(answer: Answer) -> dict:
    """Return an answer as JSON, with the nearest passages when it refuses (as `djkb ask --json` prints it)."""
    d = answer.to_dict()
    if answer.refused:
        d["related"] = [h.to_dict() for h in answer.related]
    return d


class Api:
    """The JSON endpoints over one Service; each raises DjkbError with a Chinese message."""

    def __init__(self, service: Service):
        self.service = service

    def ask(self, question: str, doc_type: str = "", doc: str = "") -> dict:
        """Answer a question with citations (the JSON of `djkb ask --json`)."""
        return answer_json(self.service.ask(question, doc_type, doc))

    def search(self, query: str, k: int = 10, doc_type: str = "", doc: str = "", mode: str = "hybrid") -> list[dict]:
        """Return the best passages for a query (the JSON of `djkb search --json`)."""
        return [h.to_dict() for h in self.service.search(query, k, doc_type, doc, mode)]

    def outline(self, topic: str, doc_type: str = "", doc: str = "") -> dict:
        """Return the key requirements on a topic, grouped by document (regulations first)."""
        return self.service.outline(topic, doc_type, doc).to_dict()

    def quiz(self, topic: str, n: int = 10, seed: int = 0, doc_type: str = "", doc: str = "") -> list[dict]:
        """Return quiz items (单选, 多选, 判断, 填空) on a topic, with answers and sources."""
        return [item.to_dict() for item in self.service.quiz(topic, n, seed, doc_type, doc)]

    def documents(self) -> list[dict]:
        """List the stored documents with their statistics and audit results."""
        return self.service.documents()

    def context(self, chunk_id: str) -> dict:
        """Return a passage's whole article (or section) with the document text around it."""
        chunk = self.service.chunk(chunk_id)
        ctx = self.service.context(chunk)
        around = ctx.to_dict() if ctx else {"before": "", "focus": chunk.text, "after": ""}
        return {"chunk_id": chunk_id, "doc_title": chunk.doc_title, "heading_path": chunk.heading,
                "article": chunk.article, **around}

    def delete(self, doc: str, password: str = "", client: str = "") -> dict:
        """Delete a document by id or title (needs the admin password when one is set)."""
        return {"ok": True, "message": self.service.delete(doc, password, client=client)}

    def reingest(self, source: str = "uploads", password: str = "", client: str = "") -> dict:
        """Ingest the uploads folder ('uploads') or the corpus folder ('corpus') again, incrementally."""
        report = self.service.reingest(source, password, client=client)
        return {"ok": True, "message": hide_paths(msg.ingest_summary(report)), "report": hide_paths_in(report.to_dict())}

    def eval_report(self) -> dict:
        """Return the latest evaluation report (report.md, metrics, chart names)."""
        report = load_report(self.service.reports_dir)
        return report.to_dict() if report else {"found": False, "message": msg.NO_REPORT}
