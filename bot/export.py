"""Study materials as Markdown, a Word handout (title page, outline, questions, page break, answer key) and an
.xlsx question bank in the column layout exam and 学习 platforms import."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .messages import NO_OUTLINE, doc_type_label

if TYPE_CHECKING:
    from .outline import StudyOutline
    from .quiz import QuizItem

from .quiz import KIND_LABELS

AUTHOR = "党建知识库（djkb）"
BANK_COLUMNS = ("题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "出处")


def _title(outline: StudyOutline | None) -> str:
    return f"学习材料：{outline.topic}" if outline and outline.topic else "学习材料"


def sources_of(outline: StudyOutline | None, quiz: Sequence[QuizItem]) -> list[str]:
    """Return the cited documents' titles, outline order first."""
    titles = [g.doc_title for g in outline.groups] if outline else []
    return list(dict.fromkeys(titles + [i.source.doc_title for i in quiz]))


def _options_line(item: QuizItem) -> str:
    return "　".join(f"{letter}. {opt}" for letter, opt in zip("ABCD", item.options))


def explanation(item: QuizItem) -> str:
    """Return the key's explanation: the source and its verbatim (true) sentence."""
    return f"依据{item.source.label()}：“{item.sentence}”"


def outline_lines(outline: StudyOutline) -> list[tuple[int, str]]:
    """Return (level, text) lines of the outline: 2 document, 3 chapter, 0 point."""
    out: list[tuple[int, str]] = []
    for g in outline.groups:
        edition = f"（{g.edition}）" if g.edition else ""
        out.append((2, f"《{g.doc_title}》{edition}（{doc_type_label(g.doc_type)}）"))
        stages = g.stages()
        for chapter, points in stages:
            if chapter and len(stages) > 1:
                out.append((3, chapter))
            out += [(0, ("★ " if p.pinned else "") + p.text + (f"（{p.source.where}）" if p.source.where else ""))
                    for p in points]
    return out


def to_markdown(outline: StudyOutline | None, quiz: Sequence[QuizItem] = (), shortfall: str = "") -> str:
    """Return the outline, the questions and the answer key as Markdown."""
    lines = [f"# {_title(outline)}", "", f"日期：{dt.date.today().isoformat()}　来源：" + "；".join(
        f"《{t}》" for t in sources_of(outline, quiz))]
    if outline is not None:
        lines += ["", "## 一、要点提纲", ""]
        if not outline.groups:
            lines.append(f"（{NO_OUTLINE}）")
        for level, text in outline_lines(outline):
            lines += [f"{'#' * (level + 1)} {text}", ""] if level else [f"- {text}"]
    if quiz:
        lines += ["", "## 二、练习题", ""] + ([f"> {shortfall}", ""] if shortfall else [])
        for n, item in enumerate(quiz, 1):
            lines.append(f"{n}. 【{KIND_LABELS[item.kind]}】{item.question}")
            if item.options:
                lines.append(f"   {_options_line(item)}")
        lines += ["", "## 三、参考答案", ""]
        lines += [f"{n}. {item.key()}　——{explanation(item)}" for n, item in enumerate(quiz, 1)]
    return "\n".join(lines).rstrip() + "\n"


def to_docx(outline: StudyOutline | None, quiz: Sequence[QuizItem], path: Path, shortfall: str = "") -> Path:
    """Write a Word handout to ``path``: title page, outline, questions, page break, answer key."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml.ns import qn

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    # Word picks East Asian glyphs from the eastAsia font slot, not from font.name.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.core_properties.title, doc.core_properties.author = _title(outline), AUTHOR
    doc.core_properties.last_modified_by = AUTHOR
    doc.add_heading(_title(outline), level=0)
    doc.add_paragraph(f"日期：{dt.date.today().isoformat()}")
    doc.add_paragraph("来源：" + "；".join(f"《{t}》" for t in sources_of(outline, quiz)))
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    if outline is not None:
        doc.add_heading("一、要点提纲", level=1)
        if not outline.groups:
            doc.add_paragraph(f"（{NO_OUTLINE}）")
        for level, text in outline_lines(outline):
            doc.add_heading(text, level=level) if level else doc.add_paragraph(text, style="List Bullet")
    if quiz:
        doc.add_heading("二、练习题", level=1)
        if shortfall:
            doc.add_paragraph(shortfall)
        for n, item in enumerate(quiz, 1):
            doc.add_paragraph(f"{n}. 【{KIND_LABELS[item.kind]}】{item.question}")
            if item.options:
                doc.add_paragraph(_options_line(item))
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        doc.add_heading("三、参考答案", level=1)
        for n, item in enumerate(quiz, 1):
            doc.add_paragraph(f"{n}. {item.key()}　——{explanation(item)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def bank_rows(quiz: Sequence[QuizItem]) -> list[tuple[str, ...]]:
    """Return the question bank's rows under BANK_COLUMNS (判断 answers 正确/错误; 多选 letters like ACD)."""
    rows = []
    for item in quiz:
        options = list(item.options) + [""] * (4 - len(item.options))
        answer = item.answer_letter if item.kind in ("single", "multi") else item.answer
        rows.append((KIND_LABELS[item.kind], item.question, *options[:4], answer, explanation(item),
                     item.source.label()))
    return rows


def to_xlsx(quiz: Sequence[QuizItem], path: Path, title: str = "题库") -> Path:
    """Write the question bank to an .xlsx file at ``path`` and return the path."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "题库"
    ws.append(BANK_COLUMNS)
    for row in bank_rows(quiz):
        ws.append(row)
    wb.properties.title, wb.properties.creator = title, AUTHOR
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(str(path))
    return path
