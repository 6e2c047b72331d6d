"""The web app's event handlers: each turns component values into one engine call and its result into what to show.

The engine (bot/service.py) knows nothing of Gradio; these adapters only add Gradio's ``skip`` and toasts.
Refusals and errors of the 知识库 tab go to its status line: raising would mark every output (the table too) as
failed.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from pathlib import Path

import gradio as gr

from kb.errors import DjkbError
from kb.schema import Answer

from . import limits
from . import messages as msg
from . import views
from .reports import load_report
from .materials import StudyMaterials, StudyRequest
from .answer import turn_for
from .service import Service

DOC_ORDER = {"regulation": 0, "other": 1, "speech": 2}


def doc_choices(rows: list[dict]) -> list[tuple[str, str]]:
    """Return (label, id) pairs of the stored documents for a dropdown, regulations first, 全部文档 on top."""
    ordered = sorted(rows, key=lambda r: (DOC_ORDER.get(r["doc_type"], 3), r["title"]))
    return [(msg.ALL_DOCS, "")] + [(msg.doc_label(r), r["doc_id"]) for r in ordered]


def doc_table(rows: list[dict]):
    """Return the 知识库 tab's table of documents as a DataFrame with the Chinese headers."""
    import pandas as pd

    return pd.DataFrame(views.doc_table_rows(rows), columns=list(msg.DOC_HEADERS))


def _skip(n: int = 1) -> tuple:
    return tuple(gr.skip() for _ in range(n))


log = logging.getLogger(__name__)


def shown(exc: Exception) -> str:
    """Return what a web user sees of ``exc``: a DjkbError's Chinese message without server paths, else a generic
    Chinese line (the traceback goes to the server log only)."""
    if isinstance(exc, DjkbError):
        return limits.hide_paths(str(exc))
    if limits.store_down(exc):
        return msg.STORE_DOWN + "；请联系管理员检查 Chroma 服务。"
    log.exception("unexpected error in a web request")
    return msg.INTERNAL_ERROR


@contextmanager
def user_errors() -> Iterator[None]:
    """Show any error to the user (or API client) as a Gradio error with a Chinese message and no traceback."""
    try:
        yield
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001  (nothing but a Chinese line may reach a user)
        raise gr.Error(shown(exc), print_exception=False) from None


def _failure(exc: Exception) -> str:
    """Show ``exc`` as a warning toast and return it as an escaped status line."""
    text = shown(exc)
    gr.Warning(text)
    return views.failure(text)


def client_of(request: gr.Request | None) -> str:
    """Return the client's address, the key of its password strikes and unlock."""
    client = getattr(request, "client", None)
    return getattr(client, "host", "") or ""


def purge(paths, folder: str | None = None) -> None:
    """Delete Gradio's temporary copies of uploaded files (only inside Gradio's upload folder)."""
    from gradio.utils import get_upload_folder

    root = Path(folder or get_upload_folder()).resolve()
    for p in paths or []:
        path = Path(p).resolve()
        if root in path.parents:
            path.unlink(missing_ok=True)
            try:
                path.parent.rmdir()  # Gradio keeps each file in a folder of its own
            except OSError:
                pass


def _ingest_progress(progress):
    """Return the engine's progress callback drawing Gradio's progress bar."""
    return lambda name, i, total: progress((i, total), desc=msg.importing(name))


class Handlers:
    """The app's events over one Service."""

    def __init__(self, service: Service):
        self.service = service

    # ---- 问答 -----------------------------------------------------------------------------------------------

    def respond(self, message, chat, history, doc_type, doc, in_force=True) -> Iterator[tuple]:
        """Stream the answer into the chat, then show its citation cards and remember the turn."""
        try:
            message = limits.question(message)
        except DjkbError as exc:
            gr.Warning(str(exc))  # the question stays in its box, to be shortened
            yield _skip(4)
            return
        chat = list(chat or []) + [{"role": "user", "content": escape(message)},
                                   {"role": "assistant", "content": msg.SEARCHING}]
        yield chat, views.cards_placeholder(msg.SEARCHING), *_skip(), ""
        answer = None
        try:
            for part in self.service.stream(message, list(history or []), doc_type or "", doc or "", in_force):
                if isinstance(part, Answer):
                    answer = part
                else:
                    chat[-1] = {"role": "assistant", "content": views.answer_message(part)}
                    yield chat, *_skip(3)
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            chat[-1] = {"role": "assistant", "content": _failure(exc)}
            yield chat, views.cards_placeholder(), *_skip(2)
            return
        chat[-1] = {"role": "assistant", "content": views.final_message(answer)}
        yield chat, self.cards(answer, message), list(history or []) + [turn_for(answer)], _skip()[0]

    def cards(self, answer: Answer, question: str) -> str:
        """Return the citation cards of an answer (the nearest passages on a refusal) with their contexts."""
        shown = [c.chunk for c in answer.citations] or [h.chunk for h in answer.related]
        words = self.service.query_words(answer.rewritten_query or question)
        return views.answer_cards(answer, words, self.service.contexts(shown))

    @staticmethod
    def clear() -> tuple:
        """Empty the chat, the remembered turns and the cards."""
        return [], [], views.cards_placeholder()

    # ---- 学习材料 -------------------------------------------------------------------------------------------

    def study(self, topic, n, seed) -> tuple:
        """Show the outline and quiz of a topic and keep them, so that 导出 writes what is shown."""
        try:
            materials = self.service.study(StudyRequest.of(topic, n, seed))
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            return f"<p class='djkb-refused'>{_failure(exc)}</p>", _skip()[0]
        return views.study_html(materials.outline, materials.quiz), materials

    @staticmethod
    def no_downloads() -> tuple[None, None, None]:
        """Clear the previous topic's downloads before new materials are made."""
        return None, None, None

    def export(self, topic, n, seed, shown: StudyMaterials | None) -> tuple[str, str, str]:
        """Write the shown materials (made again when the inputs changed) as Markdown, .docx and .xlsx."""
        with user_errors():
            request = StudyRequest.of(topic, n, seed)
            materials = shown if shown is not None and shown.request == request else self.service.study(request)
            return tuple(str(p) for p in self.service.export(materials))

    # ---- 知识库 ---------------------------------------------------------------------------------------------

    def documents(self) -> tuple:
        """Return the table and both document dropdowns, fresh."""
        rows = self.service.documents()
        choices = doc_choices(rows)
        return doc_table(rows), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices[1:], value=None)

    def unlock(self, password, request: gr.Request) -> tuple:
        """Check the admin password typed into its box; on success let this client pick files to upload."""
        try:
            self.service.authorize(password, client_of(request))
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            return _failure(exc), gr.File(interactive=False)
        return views.success(msg.UNLOCKED), gr.File(interactive=True)

    def upload(self, paths, password, request: gr.Request, progress=gr.Progress()) -> tuple:  # noqa: B008
        """Store and ingest the chosen files; show one line per file and the JSON detail, then clear the picker.

        Gradio's temporary copies are deleted whatever happens."""
        pairs = [(Path(p), Path(p).name) for p in (paths or [])]
        try:
            outcomes = self.service.upload(pairs, password, progress=_ingest_progress(progress),
                                           client=client_of(request))
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            return _failure(exc), {"ok": False, "error": shown(exc), "files": []}, *_skip(3), None
        finally:
            purge(paths)
        lines = [(msg.OK if o.ok else msg.FAILED) + f"{o.name}：{o.message}" for o in outcomes]
        detail = {"ok": all(o.ok for o in outcomes), "files": [o.to_dict() for o in outcomes]}
        return "\n".join(f"- {escape(x)}" for x in lines), detail, *self.documents(), None

    def delete(self, doc_id, password, request: gr.Request) -> tuple:
        try:
            message = self.service.delete(doc_id or "", password, client=client_of(request))
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            return _failure(exc), *_skip(3)
        return views.success(message), *self.documents()

    def set_status(self, doc_id, status, password) -> tuple:
        """Override (or clear) the chosen document's edition status."""
        try:
            message = self.service.set_status(doc_id or "", status or None, password)
        except DjkbError as exc:
            return _failure(exc), *_skip(3)
        return views.success(message), *self.documents()

    def compare(self, old, new) -> tuple:
        """Show two editions compared article by article, with the .docx to download."""
        with user_errors():
            result, docx = self.service.compare(old or "", new or "")
        return views.compare_html(result), str(docx)

    def reingest(self, source, password, request: gr.Request, progress=gr.Progress()) -> tuple:  # noqa: B008
        try:
            report = self.service.reingest(source, password, progress=_ingest_progress(progress),
                                           client=client_of(request))
        except Exception as exc:  # noqa: BLE001  (shown as one Chinese line)
            return _failure(exc), {"ok": False, "error": shown(exc)}, *_skip(3)
        return escape(limits.hide_paths(msg.ingest_summary(report))), limits.hide_paths_in(report.to_dict()), \
            *self.documents()

    def import_status(self) -> tuple:
        """Return the background import's line, and stop the timer once the import has ended."""
        state = self.service.import_state()
        return gr.Markdown(escape(state.message()), visible=bool(state.total)), gr.Timer(active=state.running)

    # ---- 评测 -----------------------------------------------------------------------------------------------

    def eval_page(self) -> str:
        """Return the latest evaluation report as the 评测 tab's Markdown."""
        return views.report_page(load_report(self.service.reports_dir))

    def load(self) -> tuple:
        """Fill the page when it opens: the report, the table and the dropdowns."""
        return self.eval_page(), *self.documents()
