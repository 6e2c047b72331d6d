"""Comparing two stored editions for the interfaces: resolve the two documents (or a quoted edition), align them,
and render the result as text, JSON and a .docx for trainers."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from kb.catalog import Catalog
from kb.compare import Article, Pair, articles_of, compare, summary
from kb.editions import edition_asked, edition_year, regulation_key, without_edition
from kb.errors import NotFound
from kb.grammar import article_number
from kb.status import cite_title

from .editions import find_entry
from .export import AUTHOR


@dataclass(frozen=True)
class Edition:
    """One side of a comparison: its cited name, its articles, and whether they are only the quoted ones."""

    name: str
    articles: tuple[Article, ...]
    partial: bool = False


@dataclass(frozen=True)
class Comparison:
    old: Edition
    new: Edition
    pairs: tuple[Pair, ...]
    seconds: float

    def to_dict(self) -> dict:
        return {"old": self.old.name, "new": self.new.name, "new_partial": self.new.partial,
                "summary": summary(self.pairs), "seconds": round(self.seconds, 4),
                "pairs": [p.to_dict() for p in self.pairs]}


def _quoted(catalog: Catalog, spec: str) -> Edition:
    """Return the edition ``spec`` (《标题》（2023年修订）) as quoted in study notes; raises NotFound."""
    ask = edition_asked(spec)
    # 《标题》（2023年修订） without its edition leaves empty brackets behind
    title = regulation_key(without_edition(spec, ask).replace("（）", "").replace("()", ""))
    manifest = catalog.load()
    found: dict[str, Article] = {}
    name = spec
    for e in manifest.documents.values():
        if e.doc_type == "speech" and f"《{title}》" in e.title:
            for c in catalog.read_doc(e.doc_id)[1]:
                if c.quotes and regulation_key(c.quotes) == title and (ask is None or ask.year is None
                                                                      or edition_year(c.edition) == ask.year):
                    found.setdefault(c.article or "", articles_of([c])[0])
                    name = cite_title(c.quotes, c.edition)
    if not found:
        raise NotFound(f"知识库中没有文档或引文 {spec}（用 `djkb docs` 查看文档及其 ID）")
    ordered = sorted(found.values(), key=lambda a: article_number(a.label) or (0, 0))
    return Edition(name + "（引文）", tuple(ordered), partial=True)


def load_edition(kb_dir: Path, spec: str) -> Edition:
    """Return a stored document (id, title or cited title) or a quoted edition as one side; raises NotFound."""
    catalog = Catalog(Path(kb_dir))
    try:
        entry = find_entry(catalog.load(), spec)
    except NotFound:
        return _quoted(catalog, spec)
    _, chunks, _ = catalog.read_doc(entry.doc_id)
    return Edition(cite_title(entry.title, entry.edition), tuple(articles_of(chunks)))


def compare_editions(kb_dir: Path, old: str, new: str) -> Comparison:
    """Return the comparison of two editions named as ``djkb compare`` takes them."""
    a, b = load_edition(kb_dir, old), load_edition(kb_dir, new)
    started = time.perf_counter()
    pairs = compare(a.articles, b.articles, new_partial=b.partial)
    return Comparison(a, b, tuple(pairs), time.perf_counter() - started)


def row_title(p: Pair) -> str:
    """Return a row's heading: ``第十条 → 第十一条（修改）``."""
    labels = " → ".join(x for x in ((p.old.label if p.old else ""), (p.new.label if p.new else "")) if x)
    if p.kind == "未变" and p.renumbered:
        return f"{labels}（未变，序号改变）"
    return f"{labels}（{p.kind}）"


def to_text(c: Comparison, show_unchanged: bool = False) -> str:
    """Return the comparison as text: a summary line, then each changed row with its marked diff."""
    counts = summary(c.pairs)
    lines = [f"{c.old.name} → {c.new.name}：" + "，".join(f"{k} {v}" for k, v in counts.items())
             + (f"（新版本只有引文 {len(c.new.articles)} 条，未引用的条文不算删除）" if c.new.partial else "")]
    for p in c.pairs:
        if p.kind == "未变" and not (show_unchanged or p.renumbered):
            continue
        body = p.marked() if p.kind == "修改" else (p.new or p.old).text if p.kind != "未变" else ""
        lines.append(row_title(p) + (f"\n    {body}" if body else ""))
    return "\n".join(lines)


def to_docx(c: Comparison, path: Path) -> Path:
    """Write the comparison as a Word document: summary, then each row, deletions struck through in red and
    insertions underlined in blue."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import RGBColor

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    title = f"条文对照：{c.old.name} 与 {c.new.name}"
    doc.core_properties.title, doc.core_properties.author = title, AUTHOR
    doc.add_heading(title, level=0)
    doc.add_paragraph("；".join(f"{k} {v} 条" for k, v in summary(c.pairs).items()))
    for p in c.pairs:
        if p.kind == "未变" and not p.renumbered:
            continue
        doc.add_heading(row_title(p), level=2)
        para = doc.add_paragraph()
        runs = p.diff if p.kind == "修改" else (("equal", (p.new or p.old).text),)
        for op, text in runs:
            run = para.add_run(text)
            if op == "delete" or p.kind == "删除":
                run.font.strike, run.font.color.rgb = True, RGBColor(0xB9, 0x1C, 0x1C)
            elif op == "insert" or p.kind == "新增":
                run.font.underline, run.font.color.rgb = True, RGBColor(0x1D, 0x4E, 0xD8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path
