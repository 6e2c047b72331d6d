"""The validity check run over every generated item: exactly one correct option (one correct set for 多选), the
key recoverable from the cited sentence, the sentence verbatim in the cited article, no boilerplate or topic blank."""
from __future__ import annotations

from kb.retrieve import Searcher

from .blanks import BLANK, enumeration, sentence_problem
from .distractors import TruthCheck
from .quiz import QuizItem


def _blank_problems(item: QuizItem, topic: str) -> list[str]:
    out = []
    if item.question.count(BLANK) != 1:
        out.append("题干应恰有一处空")
    at = item.question.find(BLANK)
    if item.kind in ("single", "fill") and item.question.replace(BLANK, item.answer) != item.sentence:
        out.append("答案填回后与原句不符")
    if item.kind in ("single", "fill") and (item.answer in topic or item.sentence.count(item.answer) != 1):
        out.append("空在主题词上或答案在句中不唯一")
    before = item.sentence[:at]
    if before.count("（") > before.count("）") or before.count("《") > before.count("》"):
        out.append("空在括号或书名号内")
    return out


def _option_problems(searcher_text: TruthCheck, item: QuizItem) -> list[str]:
    if len(item.options) != 4 or len(set(item.options)) != 4:
        return ["应有四个不同的选项"]
    if item.kind == "single":
        fits = [o for o in item.options if item.question.replace(BLANK, o) == item.sentence]
        out = [] if fits == [item.answer] and item.options[item.answer_index[0]] == item.answer else ["正确选项不唯一或与答案不符"]
        for o in item.options:
            if o != item.answer and searcher_text.stated(item.question.replace(BLANK, o)):
                out.append(f"干扰项“{o}”在知识库中也成立")
        return out
    found = enumeration(item.sentence)
    listed = set(found[2]) if found else set()
    right = {item.options[i] for i in item.answer_index}
    wrong = set(item.options) - right
    if not found or not right <= listed or wrong & listed or len(right) < 2 or not wrong:
        return ["多选题的正确项与原句所列不符"]
    return []


def _judge_problems(truth: TruthCheck, item: QuizItem) -> list[str]:
    if item.answer == "正确":
        return [] if item.question == item.sentence else ["判断题为正确但题干与原句不同"]
    if item.answer != "错误" or item.question == item.sentence:
        return ["判断题为错误但题干未改动"]
    return ["改动后的说法在知识库中也有"] if truth.stated(item.question) else []


def check_item(searcher: Searcher, item: QuizItem, topic: str, truth: TruthCheck | None = None) -> list[str]:
    """Return the problems of ``item`` (empty when valid)."""
    truth = truth or TruthCheck.of(searcher)
    chunk = searcher.chunks.get(item.source.chunk_id)
    out = []
    if chunk is None or item.sentence not in chunk.text:
        out.append("原句不在所注条文中")
    if not item.source.doc_title or not item.source.where:
        out.append("出处缺文件名或条款")
    if sentence_problem(item.sentence):
        out.append(f"原句是{sentence_problem(item.sentence)}")
    if item.kind == "judge":
        return out + _judge_problems(truth, item)
    out += _blank_problems(item, topic)
    if item.kind in ("single", "multi"):
        out += _option_problems(truth, item)
    return out


def valid_share(searcher: Searcher, items: list[QuizItem], topic: str) -> float:
    """Return the share of ``items`` without problems (1.0 for no items)."""
    truth = TruthCheck.of(searcher)
    return sum(not check_item(searcher, i, topic, truth) for i in items) / len(items) if items else 1.0
