"""Question sets: one JSON object a line, validated on load with the line number and field of each error."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.errors import DjkbError

KINDS: tuple[str, ...] = ("lookup", "paraphrase", "colloquial", "keyword", "article", "speech", "multi", "followup",
                          "refuse")
REQUIRED = ("id", "question", "kind", "doc", "article", "evidence")
OPTIONAL = ("doc2", "article2", "evidence2", "history", "why", "answer")
REFUSE_WHY = ("missing-doc", "not-stated", "edition", "off-topic")
DEFAULT_SET = Path(__file__).with_name("datasets") / "dev.jsonl"


class DatasetError(DjkbError):
    """A question set that cannot be used: unreadable file, bad JSON or a bad field."""


@dataclass(frozen=True)
class Gold:
    """One place an answer must come from: a corpus file, its article label (if any) and a verbatim quote."""

    doc: str
    evidence: str
    article: str | None = None


@dataclass(frozen=True)
class Question:
    """One evaluation question with zero (refuse) or more gold places."""

    id: str
    question: str
    kind: str
    gold: tuple[Gold, ...] = ()
    history: tuple[str, ...] = ()
    why: str | None = None
    answer: str | None = None

    @property
    def answerable(self) -> bool:
        return self.kind != "refuse"

    @property
    def docs(self) -> tuple[str, ...]:
        """Return the gold documents' paths, without repeats."""
        return tuple(dict.fromkeys(g.doc for g in self.gold))

    def to_json(self) -> dict:
        """Return the one-line JSON form this question was read from."""
        row: dict = {"id": self.id, "question": self.question, "kind": self.kind,
                     "doc": None, "article": None, "evidence": None}
        for i, g in enumerate(self.gold[:2]):
            suffix = "" if i == 0 else "2"
            row.update({f"doc{suffix}": g.doc, f"article{suffix}": g.article, f"evidence{suffix}": g.evidence})
        if self.history:
            row["history"] = list(self.history)
        row.update({k: v for k, v in (("why", self.why), ("answer", self.answer)) if v})
        return row


def _str(row: dict, name: str, where: str, *, nullable: bool) -> str | None:
    value = row.get(name)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}：字段 {name} 应为非空字符串{'或 null' if nullable else ''}，实为 {value!r}")
    return value


def parse_question(row: object, where: str) -> Question:
    """Return the question in one decoded JSON line; raises DatasetError naming ``where`` and the field."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}：应为 JSON 对象")
    missing = [f for f in REQUIRED if f not in row]
    if missing:
        raise DatasetError(f"{where}：缺少字段 {', '.join(missing)}")
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise DatasetError(f"{where}：未知字段 {', '.join(unknown)}（可用字段：{', '.join(REQUIRED + OPTIONAL)}）")
    qid = _str(row, "id", where, nullable=False)
    question = _str(row, "question", where, nullable=False)
    kind = row["kind"]
    if kind not in KINDS:
        raise DatasetError(f"{where}：字段 kind 的值 {kind!r} 不在 {', '.join(KINDS)} 之中")
    places = []
    for suffix in ("", "2"):
        doc = _str(row, "doc" + suffix, where, nullable=True)
        evidence = _str(row, "evidence" + suffix, where, nullable=True)
        article = _str(row, "article" + suffix, where, nullable=True)
        if (doc is None) != (evidence is None):
            raise DatasetError(f"{where}：字段 doc{suffix} 与 evidence{suffix} 须同时给出或同时为 null")
        if doc is None and article is not None:
            raise DatasetError(f"{where}：字段 article{suffix} 给出了，但 doc{suffix} 为 null")
        if doc is not None:
            if Path(doc).is_absolute() or ".." in Path(doc).parts:
                raise DatasetError(f"{where}：字段 doc{suffix} 应为相对语料根目录的路径，实为 {doc!r}")
            places.append(Gold(doc=doc, evidence=evidence, article=article))
    if kind == "refuse" and places:
        raise DatasetError(f"{where}：kind 为 refuse 的问题，doc 与 evidence 应为 null")
    if kind != "refuse" and not places:
        raise DatasetError(f"{where}：kind 为 {kind} 的问题须给出 doc 与 evidence")
    if kind == "multi" and len(places) < 2:
        raise DatasetError(f"{where}：kind 为 multi 的问题须给出 doc2 与 evidence2")
    history = row.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, str) and h.strip() for h in history):
        raise DatasetError(f"{where}：字段 history 应为非空字符串的列表，实为 {history!r}")
    if kind == "followup" and not history:
        raise DatasetError(f"{where}：kind 为 followup 的问题须给出 history")
    return Question(id=qid, question=question, kind=kind, gold=tuple(places), history=tuple(history),
                    why=_str(row, "why", where, nullable=True), answer=_str(row, "answer", where, nullable=True))


def parse_lines(lines: Iterable[str], name: str = "<问题集>") -> list[Question]:
    """Return the questions in JSONL ``lines``; raises DatasetError with the line number of the first bad line."""
    out: list[Question] = []
    seen: dict[str, int] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name} 第 {n} 行"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}：不是合法 JSON（{exc.msg}，第 {exc.colno} 列）") from exc
        q = parse_question(row, where)
        if q.id in seen:
            raise DatasetError(f"{where}：id {q.id!r} 与第 {seen[q.id]} 行重复")
        seen[q.id] = n
        out.append(q)
    return out


def load_questions(path: Path) -> list[Question]:
    """Return the questions of a JSONL file; raises DatasetError for a missing file or a bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"无法读取问题集 {path}：{exc.strerror or exc}") from exc
    return parse_lines(text.splitlines(), str(path))


def dump_questions(questions: Iterable[Question]) -> str:
    """Return questions as JSONL text (UTF-8, one object a line)."""
    return "".join(json.dumps(q.to_json(), ensure_ascii=False) + "\n" for q in questions)
