"""Study materials for trainers, in one place: the outline (bot.outline), the quiz (bot.quiz), its validity check
(bot.quizcheck) and the exports (bot.export)."""
from __future__ import annotations

<<<<<<< HEAD
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from kb.lexical import DOMAIN_DICT, STOPWORDS
from kb.grammar import LABEL_PREFIX, cn_to_int, int_to_cn
from kb.retrieve import Filters, Searcher
from kb.schema import Chunk
from kb.text import canonical

from kb.sentences import split_sentences

BLANK = "＿＿＿＿"
POINTS_PER_DOC = (6, 4, 4, 3)  # by doc_rank: regulations proper, reprints, other documents, speeches
RANK_BONUS = (0.4, 0.2, 0.1, 0.0)
MAX_POINTS = 40
MAX_GROUPS = 12
MIN_COVERAGE = 0.5
SENTENCE_CHARS = (8, 260)
QUIZ_SENTENCE_CHARS = (10, 160)

# Requirement wording: strong markers state a duty or a limit, weak ones (要, 须) also occur in plain description.
_STRONG = re.compile(r"应当|必须|不得|严禁|禁止|不准|不允许|不能|至少|不少于|不超过|不低于|每[年月季周届半]|"
                     r"每[一二三四五六七八九十两\d]+[年个月周天]|按期|定期|一般|原则上|须经|方可")
# 要 as in 要坚持, not as in 重要, 主要, 要求.
_WEAK = re.compile(r"(?<![重主需纲摘概只紧首显扼必])要(?![求点素件闻务员害领旨])|须|务必")
_OFFICIAL_TITLE = re.compile(r"(章程|条例|准则|规定|细则|办法|规则|宪法|意见|决定)$")
# A leading 第十条 or （三） is dropped from a point: the source line names the article.
_NON_WORD = re.compile(r"[^\w]")
_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")

# A numeral with a unit of time or count, e.g. 三个月, 一年, 1次, 五分之四; not an ordinal (第十条) or a year (2019年).
_NUMERAL = r"[零〇一二三四五六七八九十百千万两\d]+"
_UNITS = ("个工作日", "个月", "工作日", "小时", "年", "月", "日", "天", "周", "次", "人", "名", "届", "岁")
_NUMBER = re.compile(
    r"(?<![第\d零〇一二三四五六七八九十百千万两统唯同逐之单专划整某其合齐归如不])"
    rf"(?:(?P<frac>过半数|半数|[一二三四五六七八九十]分之[一二三四五六七八九十]+)|(?P<num>{_NUMERAL})(?P<unit>{'|'.join(_UNITS)}))"
    r"(?![\d零〇一二三四五六七八九十百千万两性民大员才事口物类士身生心格义称单额常益下边期级轻])")
_FRACTIONS = ("过半数", "半数", "三分之一", "三分之二", "四分之一", "四分之三", "五分之四")
# Same-category terms of the domain dictionary: the best distractors for one another.
TERM_FAMILIES = tuple(line.split() for line in """
党支部 党总支 党小组 党组 党委 纪委 基层党组织 支部委员会 机关党委 纪律检查委员会 中央委员会
民主生活会 组织生活会 三会一课 主题党日 谈心谈话 民主评议党员 党小组会 党员大会 批评和自我批评
预备党员 正式党员 发展对象 入党积极分子 入党申请人 入党介绍人 党员领导干部 流动党员 失联党员
严重警告 撤销党内职务 留党察看 开除党籍
政治纪律 组织纪律 廉洁纪律 群众纪律 工作纪律 生活纪律
两个维护 两个确立 四个意识 四个自信 四个全面 四个服从
马克思列宁主义 毛泽东思想 邓小平理论 三个代表 科学发展观
党的建设 政治建设 思想建设 组织建设 作风建设 纪律建设 制度建设 党风廉政建设
形式主义 官僚主义 享乐主义 奢靡之风
主体责任 监督责任 一岗双责 第一责任人
入党申请书 入党志愿书 入党誓词 干部人事档案
党费 党籍 党龄 党性
公务接待 公务用车 因公出国
两学一做 党史学习教育 主题教育 党员教育培训 党员教育管理
先锋模范作用 战斗堡垒作用
""".strip().splitlines())
_LIANG_UNITS = {"个工作日", "个月", "工作日", "小时", "年", "天", "周", "次", "人", "名", "届"}


@dataclass(frozen=True)
class Source:
    """Where a point or a quiz sentence comes from."""

    doc_id: str
    doc_title: str
    doc_type: str
    heading: str
    article: str | None
    chunk_id: str

    @classmethod
    def of(cls, chunk: Chunk) -> Source:
        return cls(chunk.doc_id, chunk.doc_title, chunk.doc_type, chunk.heading, chunk.article, chunk.chunk_id)

    def label(self) -> str:
        """Return ``《标题》 第十条`` (or the heading path when the passage is not an article)."""
        where = self.article or self.heading
        return f"《{self.doc_title}》" + (f" {where}" if where else "")


@dataclass(frozen=True)
class Point:
    """One requirement: a verbatim sentence of a chunk."""

    text: str
    source: Source
    score: float


@dataclass(frozen=True)
class OutlineGroup:
    """The points taken from one document."""

    doc_id: str
    doc_title: str
    doc_type: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class StudyOutline:
    """Key requirements on a topic, grouped by document, regulations first."""

    topic: str
    groups: tuple[OutlineGroup, ...]

    @property
    def points(self) -> tuple[Point, ...]:
        return tuple(p for g in self.groups for p in g.points)

    def to_dict(self) -> dict:
        return {"topic": self.topic, "groups": [{
            "doc_id": g.doc_id, "doc_title": g.doc_title, "doc_type": g.doc_type,
            "points": [{"text": p.text, "article": p.source.article, "heading": p.source.heading,
                        "chunk_id": p.source.chunk_id} for p in g.points]} for g in self.groups]}


@dataclass(frozen=True)
class QuizItem:
    """A fill-in (``fill``) or four-option (``choice``) question; ``question`` with the blank filled is ``sentence``."""

    kind: Literal["fill", "choice"]
    question: str
    answer: str
    sentence: str
    source: Source
    blank_kind: Literal["number", "term", "word"]
    options: tuple[str, ...] = ()
    answer_index: int | None = None

    @property
    def answer_letter(self) -> str | None:
        return "ABCD"[self.answer_index] if self.answer_index is not None else None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "question": self.question, "answer": self.answer, "options": list(self.options),
            "answer_index": self.answer_index, "answer_letter": self.answer_letter, "sentence": self.sentence,
            "blank_kind": self.blank_kind, "source": self.source.label(), "doc_title": self.source.doc_title,
            "article": self.source.article, "heading": self.source.heading, "chunk_id": self.source.chunk_id,
        }


@dataclass(frozen=True)
class _Candidate:
    text: str
    chunk: Chunk
    score: float


def requirement_strength(sentence: str) -> float:
    """Return 1 for a sentence stating a duty or limit (应当, 必须, 不得, 每年…), 0.5 for a weak one (要), else 0."""
    if _STRONG.search(sentence):
        return 1.0
    return 0.5 if _WEAK.search(sentence) else 0.0


def _key(text: str) -> str:
    return _NON_WORD.sub("", canonical(LABEL_PREFIX.sub("", text)))


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def near_duplicate(a: str, b: str, threshold: float = 0.7) -> bool:
    """Return whether two sentences say the same thing: one contains the other, or their bigrams mostly agree."""
    ka, kb = _key(a), _key(b)
    if not ka or not kb:
        return ka == kb
    short, long_ = sorted((ka, kb), key=len)
    if len(short) >= 8 and short in long_:
        return True
    ba, bb = _bigrams(ka), _bigrams(kb)
    return bool(ba and bb) and len(ba & bb) / len(ba | bb) >= threshold


def doc_rank(doc_type: str, title: str) -> int:
    """Return 0 for a regulation proper (its title ends in 章程, 条例, 规定…), 1 for other regulation-like documents
    (study materials that reprint articles), 2 for other documents and 3 for speeches."""
    if doc_type != "speech" and _OFFICIAL_TITLE.search(title.strip()):
        return 0
    return {"regulation": 1, "other": 2}.get(doc_type, 3)


def _rank_of(chunk: Chunk) -> int:
    return doc_rank(chunk.doc_type, chunk.doc_title)


def _official_docs(searcher: Searcher, filters: Filters) -> set[str]:
    """Return the ids of the regulations proper that ``filters`` allow."""
    allowed = filters.allowed_docs(searcher.manifest)
    return {d for d, e in searcher.manifest.documents.items()
            if doc_rank(e.doc_type, e.title) == 0 and (allowed is None or d in allowed)}


def _hits(searcher: Searcher, topic: str, k: int, filters: Filters) -> list[tuple[Chunk, int]]:
    """Return chunks for ``topic`` with their rank; the regulations proper are also searched alone, so that the
    speeches and study materials that reprint them never crowd them out."""
    found: dict[str, tuple[Chunk, int]] = {}
    for hit in searcher.search(topic, k=k, filters=filters):
        found[hit.chunk.chunk_id] = (hit.chunk, hit.rank)
    official = _official_docs(searcher, filters)
    if official:
        for hit in searcher.search(topic, k=max(5, k // 2), filters=Filters(doc_ids=tuple(sorted(official)))):
            found.setdefault(hit.chunk.chunk_id, (hit.chunk, hit.rank))
    return list(found.values())


def _candidates(searcher: Searcher, topic: str, k: int, filters: Filters | None,
                chars: tuple[int, int] = SENTENCE_CHARS) -> list[_Candidate]:
    """Return the requirement sentences of the chunks found for ``topic``, best first, near-duplicates removed.

    A sentence that a speech or study material reprints from a regulation is attributed to the regulation.
    """
    filters = filters or Filters()
    words = searcher.tokenizer.query(topic)
    # Whole words only: 民主生活会 must not be matched by the 生活会 of 组织生活会.
    tokens = [w for w in dict.fromkeys(words) if _whole(w, words)]
    hits = _hits(searcher, topic, k, filters)
    official = _official_docs(searcher, filters)
    official_chunks = [c for c in searcher.chunks.values() if c.doc_id in official]
    out = []
    for chunk, rank in hits:
        for s, e in split_sentences(chunk.text):
            text = chunk.text[s:e]
            label = LABEL_PREFIX.match(text)
            text = text[label.end():] if label else text
            if not chars[0] <= len(text) <= chars[1] or text.endswith(("：", ":")):
                continue  # a sentence ending in a colon only introduces the list that follows
            coverage = searcher.coverage(tokens, text) if tokens else 1.0
            if coverage < MIN_COVERAGE:
                continue
            src = chunk if chunk.doc_id in official else next((c for c in official_chunks if text in c.text), chunk)
            strength = requirement_strength(text)
            # Every sentence of a regulation's article is normative; elsewhere only duty wording marks a requirement.
            if not strength and _rank_of(src) != 0:
                continue
            score = coverage + 0.5 * strength + 0.3 / math.sqrt(rank) + RANK_BONUS[_rank_of(src)]
            out.append(_Candidate(text, src, score))
    out.sort(key=lambda c: (_rank_of(c.chunk), -c.score, c.chunk.chunk_id, c.text))
    kept: list[_Candidate] = []
    for cand in out:
        if not any(near_duplicate(cand.text, k.text) for k in kept):
            kept.append(cand)
    kept.sort(key=lambda c: -c.score)
    return kept


def outline(searcher: Searcher, topic: str, *, k: int = 30, filters: Filters | None = None,
            max_points: int = MAX_POINTS, max_groups: int = MAX_GROUPS) -> StudyOutline:
    """Return the key requirements on ``topic``; raises DjkbError for an empty topic or knowledge base."""
    per: dict[str, list[Point]] = {}
    total = 0
    for cand in _candidates(searcher, topic, k, filters):
        cap = POINTS_PER_DOC[_rank_of(cand.chunk)]
        if cand.chunk.doc_id not in per and len(per) >= max_groups:
            continue
        points = per.setdefault(cand.chunk.doc_id, [])
        if len(points) >= cap or total >= max_points:
            continue
        points.append(Point(cand.text, Source.of(cand.chunk), round(cand.score, 4)))
        total += 1
    groups = []
    for doc_id, points in per.items():
        first = points[0].source
        # Within a document, read in the document's own order.
        ordered = sorted(points, key=lambda p: (searcher.chunk(p.source.chunk_id).char_start,
                                                searcher.chunk(p.source.chunk_id).text.find(p.text)))
        groups.append(OutlineGroup(doc_id, first.doc_title, first.doc_type, tuple(ordered)))
    groups.sort(key=lambda g: (doc_rank(g.doc_type, g.doc_title), -max(p.score for p in g.points), g.doc_title))
    return StudyOutline(topic.strip(), tuple(groups))


@lru_cache(maxsize=1)
def domain_terms() -> tuple[str, ...]:
    """Return the terms of the party-building dictionary (kb/data/dangjian_dict.txt), longest first."""
    terms = []
    for line in DOMAIN_DICT.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and len(parts[0]) >= 2:
            terms.append(parts[0])
    return tuple(sorted(set(terms), key=lambda t: (-len(t), t)))


@dataclass(frozen=True)
class _Blank:
    answer: str
    start: int
    kind: Literal["number", "term", "word"]
    distractors: tuple[str, ...]


def _spell(value: int, unit: str, arabic: bool) -> str:
    if arabic:
        return f"{value}{unit}"
    # Documents write 两年、两个月, not 二年.
    digits = "两" if value == 2 and unit in _LIANG_UNITS else int_to_cn(value)
    return digits + unit


def number_distractors(answer: str, rng: random.Random) -> tuple[str, ...]:
    """Return three other amounts of the same unit as ``answer`` (``三个月`` → ``两个月``, ``六个月``…), or () if unparsable."""
    if answer in _FRACTIONS:
        pool = [f for f in _FRACTIONS if f != answer and f not in answer and answer not in f]
        rng.shuffle(pool)
        return tuple(pool[:3])
    m = _NUMBER.fullmatch(answer)
    if not m or not m.group("num"):
        return ()
    try:
        value = cn_to_int(m.group("num"))
    except ValueError:
        return ()
    unit, arabic = m.group("unit"), m.group("num").isdecimal()
    # Small amounts vary by one or two (一年/两年/三年); larger ones by round steps (十五日/十日/二十日).
    if value < 10:
        near = {value + 1, value + 2, value - 1, value * 2, value * 3, value // 2, value + 3, value + 5}
    else:
        near = {value + 5, value - 5, value * 2, value // 2, value + 10, value - 10}
    choices = sorted(v for v in near if v > 0 and v != value)
    # Nearest amounts first, so the options stay plausible; the seed breaks ties.
    choices.sort(key=lambda v: (abs(math.log(v / value)), rng.random()))
    out = []
    for v in choices:
        text = _spell(v, unit, arabic)
        if text != answer and text not in out:
            out.append(text)
    return tuple(out[:3])


def _shared_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def similar_words(answer: str, pool: Sequence[str], sentence: str, rng: random.Random) -> tuple[str, ...]:
    """Return three words of ``pool`` most like ``answer`` (ending, beginning, length) that ``sentence`` lacks."""
    seen = set()
    cands = []
    for w in pool:
        if w == answer or w in seen or w in sentence or answer in w or w in answer:
            continue
        seen.add(w)
        likeness = 2 * _shared_suffix(w, answer) + 1.5 * _shared_prefix(w, answer) - abs(len(w) - len(answer))
        cands.append((-likeness, rng.random(), w))
    cands.sort()
    return tuple(c[2] for c in cands[:3])


def term_distractors(term: str, sentence: str, rng: random.Random) -> tuple[str, ...]:
    """Return three dictionary terms of ``term``'s category (组织, 会议, 纪律…), topped up with look-alike terms."""
    family = [t for f in TERM_FAMILIES if term in f for t in f if t != term and t not in sentence and t not in term]
    family = sorted(dict.fromkeys(family))
    rng.shuffle(family)
    out = family[:3]
    if len(out) < 3:
        out += [w for w in similar_words(term, domain_terms(), sentence + "".join(out), rng) if w not in out]
    return tuple(out[:3])


def _whole(word: str, words: Sequence[str]) -> bool:
    """Return whether ``word`` is a token of its own, not part of a longer token (党组 in 党组织)."""
    return word in words and not any(word != o and word in o for o in words)


def _word_blanks(searcher: Searcher, sentence: str) -> list[str]:
    """Return the sentence's whole words (not parts of longer ones) with a high idf, rarest first."""
    words = searcher.tokenizer.words(sentence)
    whole = [w for w in dict.fromkeys(words) if not any(w != o and w in o for o in words)]
    floor = sorted(searcher.idf.values())[len(searcher.idf) // 2] if searcher.idf else 0.0
    good = [w for w in whole if _CJK_WORD.match(w) and w not in STOPWORDS and searcher.token_weight(w) >= floor]
    return sorted(good, key=lambda w: (-searcher.token_weight(w), sentence.find(w)))


def _is_date(sentence: str, m: re.Match) -> bool:
    """Return whether a matched amount is part of a calendar date (2019年, 8月, 12月25日) rather than a rule."""
    unit, before = m.group("unit"), sentence[m.start() - 1:m.start()]
    if unit == "年":
        try:
            return cn_to_int(m.group("num")) >= 1000
        except ValueError:
            return False
    return (unit == "月" and before == "年") or (unit == "日" and before == "月")


def find_blanks(searcher: Searcher, sentence: str, topic: str, vocabulary: Sequence[str],
                rng: random.Random) -> list[_Blank]:
    """Return the unambiguous blanks of ``sentence`` in order of preference: amounts, dictionary terms, rare words."""
    out: list[_Blank] = []
    for m in _NUMBER.finditer(sentence):
        answer = m.group(0)
        if sentence.count(answer) == 1 and not _is_date(sentence, m):
            others = tuple(d for d in number_distractors(answer, rng) if d not in sentence)
            out.append(_Blank(answer, m.start(), "number", others))
    words = searcher.tokenizer.words(sentence)
    # Only whole terms: 党组 inside 党组织 is not a blank.
    terms = [t for t in domain_terms() if t in sentence and _whole(t, words)]
    terms.sort(key=lambda t: (t in topic, sentence.find(t)))
    for t in terms:
        if sentence.count(t) == 1:
            out.append(_Blank(t, sentence.find(t), "term", term_distractors(t, sentence, rng)))
    for w in _word_blanks(searcher, sentence)[:2]:
        if sentence.count(w) == 1 and not any(w in b.answer or b.answer in w for b in out):
            pool = [v for v in vocabulary if len(v) == len(w)]
            out.append(_Blank(w, sentence.find(w), "word", similar_words(w, pool, sentence, rng)))
    return out


def _vocabulary(searcher: Searcher, candidates: Sequence[_Candidate]) -> list[str]:
    """Return the rare whole words of the candidate sentences: distractors that sound like the topic."""
    words: dict[str, None] = {}
    for c in candidates:
        for w in _word_blanks(searcher, c.text):
            words.setdefault(w, None)
    return sorted(words)


def make_quiz(searcher: Searcher, topic: str, *, n: int = 10, seed: int = 0, filters: Filters | None = None,
              k: int = 40) -> list[QuizItem]:
    """Return up to ``n`` questions on ``topic``, alternately multiple choice and fill-in; deterministic per ``seed``."""
    rng = random.Random(seed)
    candidates = _candidates(searcher, topic, k, filters, QUIZ_SENTENCE_CHARS)
    vocabulary = _vocabulary(searcher, candidates)
    pool = candidates[:max(2 * n, n + 6)]
    pool = sorted(rng.sample(pool, len(pool)), key=lambda c: (_rank_of(c.chunk), -c.score))
    items: list[QuizItem] = []
    answers: dict[str, int] = {}
    per_article: dict[tuple[str, str | None], int] = {}
    for cand in pool:
        if len(items) >= n:
            break
        where = (cand.chunk.doc_id, cand.chunk.article or cand.chunk.chunk_id)
        if per_article.get(where, 0) >= 2:
            continue
        blanks = [b for b in find_blanks(searcher, cand.text, topic, vocabulary, rng) if answers.get(b.answer, 0) < 1]
        if not blanks:
            continue
        want_choice = len(items) % 2 == 0
        usable = [b for b in blanks if len(b.distractors) == 3] if want_choice else blanks
        blank = (usable or blanks)[0]
        kind = "choice" if want_choice and len(blank.distractors) == 3 else "fill"
        question = cand.text[:blank.start] + BLANK + cand.text[blank.start + len(blank.answer):]
        options, index = (), None
        if kind == "choice":
            opts = [blank.answer, *blank.distractors]
            rng.shuffle(opts)
            options, index = tuple(opts), opts.index(blank.answer)
        items.append(QuizItem(kind, question, blank.answer, cand.text, Source.of(cand.chunk), blank.kind,
                              options, index))
        answers[blank.answer] = answers.get(blank.answer, 0) + 1
        per_article[where] = per_article.get(where, 0) + 1
    return items
=======
from .blanks import BLANK, find_blanks, sentence_problem
from .distractors import TruthCheck, number_distractors
from .export import to_docx, to_markdown, to_xlsx
from .outline import OutlineGroup, Point, StudyOutline, edit_outline, outline, requirement_strength
from .quiz import KIND_LABELS, KINDS, Quiz, QuizItem, make_quiz
from .quizcheck import check_item, valid_share
from .sources import Source, doc_rank

__all__ = ["BLANK", "KINDS", "KIND_LABELS", "OutlineGroup", "Point", "Quiz", "QuizItem", "Source", "StudyOutline",
           "TruthCheck", "check_item", "doc_rank", "edit_outline", "find_blanks", "make_quiz", "number_distractors",
           "outline", "requirement_strength", "sentence_problem", "to_docx", "to_markdown", "to_xlsx", "valid_share"]
>>>>>>> study
