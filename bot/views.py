"""HTML for the web app: citation cards with highlighted words, passages in context, study materials, eval reports.

Rendering only: what to show comes from the engine (bot/service.py) and the labels from bot/messages.py.

Every piece of stored text goes through html.escape before any markup is added, so a document that
contains ``<script>`` shows it as text.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from kb.schema import Answer, Chunk

from . import messages as msg
from .context import Context
from .export import outline_lines
from .quiz import KIND_LABELS
from .reports import EvalReport

if TYPE_CHECKING:
    from .study import QuizItem, StudyOutline

CSS = """
.djkb-cards {display: flex; flex-direction: column; gap: 10px;}
.djkb-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-secondary);}
.djkb-card-head {font-size: 0.95em; margin-bottom: 6px;}
.djkb-n {font-weight: 700; color: var(--color-accent); margin-right: 4px;}
.djkb-path {color: var(--body-text-color-subdued); margin-left: 4px;}
.djkb-badge {display: inline-block; font-size: 0.8em; padding: 0 6px; border-radius: 4px;
  background: #fde68a; color: #78350f; margin-right: 4px;}
.djkb-passage {white-space: pre-wrap; line-height: 1.7; max-height: 16em; overflow-y: auto;}
.djkb-ctx summary {cursor: pointer; color: var(--color-accent); margin-top: 6px;}
.djkb-ctx-body {white-space: pre-wrap; line-height: 1.7; max-height: 28em; overflow-y: auto; font-size: 0.95em;
  border-top: 1px dashed var(--border-color-primary); margin-top: 6px; padding-top: 6px;}
.djkb-ctx-body .djkb-here {background: #dbeafe; color: inherit;}
.djkb-card mark {background: #fde047; color: inherit; padding: 0 1px;}
.djkb-refused {font-weight: 700; color: #b91c1c; margin-bottom: 6px;}
.djkb-study h3 {margin-top: 14px;}
.djkb-study li {line-height: 1.7; margin: 4px 0;}
.djkb-src {color: var(--body-text-color-subdued); font-size: 0.9em;}
.djkb-cmp del {color: #b91c1c;} .djkb-cmp ins {color: #1d4ed8;}
.djkb-cmp p {white-space: pre-wrap; line-height: 1.7;}
"""


def match_spans(text: str, words: Iterable[str]) -> list[tuple[int, int]]:
    """Return sorted, non-overlapping spans of ``text`` where ``words`` occur, longer words first."""
    taken: list[tuple[int, int]] = []
    lowered = text.lower()
    for w in sorted({w.lower() for w in words if len(w) >= 2}, key=lambda w: (-len(w), w)):
        start = lowered.find(w)
        while start >= 0:
            end = start + len(w)
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
            start = lowered.find(w, end)
    return sorted(taken)


def highlight(text: str, words: Iterable[str], tag: str = "mark") -> str:
    """Return ``text`` escaped, with the occurrences of ``words`` wrapped in ``<mark>``."""
    out, pos = [], 0
    for s, e in match_spans(text, words):
        out.append(escape(text[pos:s]))
        out.append(f"<{tag}>{escape(text[s:e])}</{tag}>")
        pos = e
    out.append(escape(text[pos:]))
    return "".join(out)


def context_html(ctx: Context, words: Iterable[str]) -> str:
    """Return the context as HTML, the passage marked as ``djkb-here``."""
    words = list(words)
    return ("<div class='djkb-ctx-body'>" + ("…" if ctx.clipped_start else "") + escape(ctx.before)
            + "<mark class='djkb-here'>" + highlight(ctx.focus, words) + "</mark>"
            + escape(ctx.after) + ("…" if ctx.clipped_end else "") + "</div>")


def card_html(n: int | None, chunk: Chunk, words: Sequence[str], context: Context | None, related: bool = False) -> str:
    """Return one citation card: document, heading path, highlighted passage and an expandable context."""
    badge = "<span class='djkb-badge'>可能相关</span>" if related else ""
    num = f"<span class='djkb-n'>[{n}]</span>" if n is not None else ""
    path = f"<span class='djkb-path'>{escape(chunk.heading)}</span>" if chunk.heading else ""
    head = f"<div class='djkb-card-head'>{badge}{num}<b>{escape(chunk.cited_as)}</b>{path}</div>"
    body = f"<div class='djkb-passage'>{highlight(chunk.text, words)}</div>"
    more = ""
    if context is not None:
        label = "查看本条全文及上下文" if chunk.article else "查看原文上下文"
        more = f"<details class='djkb-ctx'><summary>{label}</summary>{context_html(context, words)}</details>"
    return f"<div class='djkb-card' data-chunk='{escape(chunk.chunk_id)}'>{head}{body}{more}</div>"


def answer_cards(answer: Answer, words: Sequence[str], contexts: dict[str, Context]) -> str:
    """Return the cards beside an answer: its citations, or on a refusal the nearest passages as 可能相关."""
    if answer.refused:
        head = f"<div class='djkb-refused'>{msg.NO_EVIDENCE}。{escape(answer.reason or '')}</div>"
        cards = [card_html(None, h.chunk, words, contexts.get(h.chunk.chunk_id), related=True) for h in answer.related]
        return f"<div class='djkb-cards'>{head}{''.join(cards)}</div>"
    cards = [card_html(c.n, c.chunk, words, contexts.get(c.chunk.chunk_id)) for c in answer.citations]
    return f"<div class='djkb-cards'>{''.join(cards)}</div>"


_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[^)]*)?\)")


def plain_text(text: str) -> str:
    """Return stored text escaped for the chat's Markdown: a link ``[文字](地址)`` shows as ``文字（地址）`` (its
    address in sight), and what is left of link syntax cannot form one."""
    text = _MD_LINK.sub(lambda m: f"{m.group(1)}（{m.group(2)}）" if m.group(2) else m.group(1), text)
    return escape(text).replace("](", "]\\(")


def answer_message(answer: Answer | str, rewritten: str | None = None, query: str | None = None) -> str:
    """Return the chat message for an answer (or its growing text), escaped, with ``（理解为：…）`` when rewritten."""
    text = answer if isinstance(answer, str) else answer.answer
    prefix = msg.rewritten(plain_text(rewritten)) + "\n\n" if rewritten and query and rewritten != query else ""
    if isinstance(answer, Answer) and answer.refused:
        tail = msg.RELATED_TAIL if answer.related else ""
        return prefix + f"{msg.NO_EVIDENCE}。" + plain_text(answer.reason or "") + tail
    return prefix + plain_text(text)


def final_message(answer: Answer) -> str:
    """Return the chat message for a finished answer, its notice (if any) appended."""
    text = answer_message(answer, answer.rewritten_query, answer.query)
    text += "".join(f"\n\n**{escape(n.text)}**" for n in answer.notices)
    return text + ("\n\n" + msg.notice(answer.notice) if answer.notice else "")


def cards_placeholder(text: str = "") -> str:
    return f"<div class='djkb-cards'>{escape(text)}</div>"


def failure(text: str) -> str:
    """Return a failure as the escaped status line ``【失败】…``."""
    return msg.FAILED + escape(text)


def success(text: str) -> str:
    return msg.OK + escape(text)


def study_html(outline: StudyOutline | None, quiz: Sequence[QuizItem]) -> str:
    """Return the outline and the quiz (answers folded away) as escaped HTML."""
    parts = ["<div class='djkb-study'>"]
    if outline is not None:
        parts.append(f"<h2>要点提纲：{escape(outline.topic)}</h2>")
        if not outline.groups:
            parts.append(f"<p>{msg.NO_OUTLINE}</p>")
        for level, text in outline_lines(outline):
            parts.append(f"<h{level + 1}>{escape(text)}</h{level + 1}>" if level else f"<p>• {escape(text)}</p>")
    if quiz:
        shortfall = getattr(quiz, "shortfall", "")
        parts.append("<h2>练习题</h2>" + (f"<p class='djkb-refused'>{escape(shortfall)}</p>" if shortfall else "") + "<ol>")
        for item in quiz:
            opts = ""
            if item.options:
                opts = "<br>" + "　".join(f"{k}. {escape(o)}" for k, o in zip("ABCD", item.options))
            parts.append(f"<li>【{KIND_LABELS[item.kind]}】{escape(item.question)}{opts}</li>")
        parts.append("</ol><details><summary>参考答案</summary><ol>")
        for item in quiz:
            src = escape(item.source.label())
            parts.append(f"<li>{escape(item.key())} <span class='djkb-src'>——{src}</span></li>")
        parts.append("</ol></details>")
    parts.append("</div>")
    return "".join(parts)


def compare_html(result) -> str:
    """Return a bot.compare.Comparison as HTML: the summary, then each changed, added, deleted or moved article."""
    from kb.compare import summary

    from .compare import row_title

    head = "；".join(f"{k} {v}" for k, v in summary(result.pairs).items())
    parts = [f"<div class='djkb-cmp'><h3>{escape(result.old.name)} → {escape(result.new.name)}</h3><p>{head}</p>"]
    tags = {"equal": "{}", "delete": "<del>{}</del>", "insert": "<ins>{}</ins>"}
    for p in result.pairs:
        if p.kind == "未变" and not p.renumbered:
            continue
        runs = p.diff if p.kind == "修改" else (("delete" if p.kind == "删除" else "insert" if p.kind == "新增" else "equal",
                                                (p.new or p.old).text),)
        body = "".join(tags[op].format(escape(text)) for op, text in runs)
        parts.append(f"<h4>{escape(row_title(p))}</h4><p>{body}</p>")
    return "".join(parts) + "</div>"


def doc_table_rows(rows: Sequence[dict]) -> list[list]:
    """Return the 知识库 table's cells for document rows, in the order of ``messages.DOC_HEADERS``."""
    return [[r["doc_id"], msg.doc_label(r), msg.doc_type_label(r["doc_type"]), r["chunks"], r["articles"], r["chars"],
             r["audit"], "、".join(r["sources"]), r["ingested_at"]] for r in rows]


def report_page(report: EvalReport | None, file_url: str = "gradio_api/file=") -> str:
    """Return the 评测 tab's Markdown: report.md with chart links to the app's file route, unlinked charts appended."""
    if report is None:
        return msg.NO_REPORT
    names = {p.name for p in report.charts}
    linked: set[str] = set()

    def link(m: re.Match) -> str:
        if m.group(2) in names:
            linked.add(m.group(2))
            return f"![{m.group(1)}]({file_url}{quote(str(report.directory / m.group(2)))})"
        return m.group(0)

    text = _IMAGE.sub(link, report.markdown)
    extra = [f"![{p.stem}]({file_url}{quote(str(p))})" for p in report.charts if p.name not in linked]
    body = text.rstrip() + ("\n\n" + "\n\n".join(extra) if extra else "") + "\n"
    return f"**报告目录**：`{report.directory.name}`\n\n" + body


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s/]+\.png)\)")
