"""Writing study materials (an outline and a quiz) as Markdown or a Word document, answer key at the end."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .messages import NO_OUTLINE, QUIZ_KIND_LABELS, doc_type_label

if TYPE_CHECKING:
    from .study import QuizItem, StudyOutline


def _options_line(item: QuizItem) -> str:
    return "　".join(f"{letter}. {opt}" for letter, opt in zip("ABCD", item.options))


def answer_text(item: QuizItem) -> str:
    """Return the answer as the key prints it: ``B. 一年`` for a choice, the term for a blank."""
    return f"{item.answer_letter}. {item.answer}" if item.kind == "choice" else item.answer


def to_markdown(outline: StudyOutline | None, quiz: Sequence[QuizItem] = ()) -> str:
    """Return the outline, the questions and the answer key as Markdown."""
    lines: list[str] = []
    topic = outline.topic if outline else ""
    lines.append(f"# 学习材料：{topic}" if topic else "# 学习材料")
    if outline is not None:
        lines += ["", "## 一、要点提纲", ""]
        if not outline.groups:
            lines.append(f"（{NO_OUTLINE}）")
        for g in outline.groups:
            lines += [f"### 《{g.doc_title}》（{doc_type_label(g.doc_type)}）", ""]
            for p in g.points:
                where = p.source.article or p.source.heading
                lines.append(f"- {p.text}" + (f"（{where}）" if where else ""))
            lines.append("")
    if quiz:
        lines += ["## 二、练习题", ""]
        for n, item in enumerate(quiz, 1):
            lines.append(f"{n}. 【{QUIZ_KIND_LABELS[item.kind]}】{item.question}")
            if item.kind == "choice":
                lines.append(f"   {_options_line(item)}")
            lines.append("")
        lines += ["## 三、参考答案", ""]
        for n, item in enumerate(quiz, 1):
            lines.append(f"{n}. {answer_text(item)}　——出处：{item.source.label()}：“{item.sentence}”")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def to_docx(outline: StudyOutline | None, quiz: Sequence[QuizItem], path: Path) -> Path:
    """Write the outline, the questions and the answer key to a .docx file at ``path`` and return the path."""
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    # Word picks East Asian glyphs from the eastAsia font slot, not from font.name.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    topic = outline.topic if outline else ""
    doc.add_heading(f"学习材料：{topic}" if topic else "学习材料", level=0)
    if outline is not None:
        doc.add_heading("一、要点提纲", level=1)
        if not outline.groups:
            doc.add_paragraph(f"（{NO_OUTLINE}）")
        for g in outline.groups:
            doc.add_heading(f"《{g.doc_title}》（{doc_type_label(g.doc_type)}）", level=2)
            for p in g.points:
                where = p.source.article or p.source.heading
                doc.add_paragraph(p.text + (f"（{where}）" if where else ""), style="List Bullet")
    if quiz:
        doc.add_heading("二、练习题", level=1)
        for n, item in enumerate(quiz, 1):
            doc.add_paragraph(f"{n}. 【{QUIZ_KIND_LABELS[item.kind]}】{item.question}")
            if item.kind == "choice":
                doc.add_paragraph(_options_line(item))
        doc.add_heading("三、参考答案", level=1)
        for n, item in enumerate(quiz, 1):
            doc.add_paragraph(f"{n}. {answer_text(item)}　——出处：{item.source.label()}：“{item.sentence}”")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
