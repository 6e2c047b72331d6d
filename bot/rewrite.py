"""Rewriting follow-up questions (``那预备党员呢？``, ``它的第二款呢？``) into stand-alone queries."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kb.editions import edition_asked
from kb.grammar import article_ref_span, find_article_ref, find_clause, int_to_cn
from kb.lexical import get_tokenizer
from kb.query import Query
from kb.retrieve import Searcher
from kb.titles import ends_in_kind, spoken_titles

_FOLLOW = re.compile(r"^(?:那么?|那如果|如果是|还有|换成)?\s*(.+?)\s*(?:呢|的呢|怎么样|又如何|如何)?\s*[？?。]*$")
# 要是超过三个月, 如果他不同意: a condition, where 如果是预备党员 names a new subject.
_CONDITION = re.compile(r"(?:要是|如果|假如|万一|若是|倘若|假设)(?!是)")
# 情节严重的话 is a condition too; 劝他退党他就是不退 says what a person does: a clause, not a new subject (其他党员 is one).
_CONDITION_AFTER = re.compile(r"的话$|(?<=[^其])[他她]")
_NOT_PRONOUN = r"(?![他它余中实次间后])"  # 其他, 其中, 其实: words, not pronouns
_PRONOUN = re.compile(rf"(它|该条|这条|这一条|本条|其{_NOT_PRONOUN}|这个规定|该规定)")
# 它 in 民主评议党员能跟它一块开不 stands for what the earlier question was about; 它的第二款 for its article.
_THING = re.compile(rf"[它其]{_NOT_PRONOUN}(?!的?第)")


@dataclass(frozen=True)
class Turn:
    """What a later question may refer back to: the earlier stand-alone query and the article it was answered from."""

    query: str
    doc_title: str | None = None
    article: str | None = None
    topic: tuple[str, ...] = ()  # the conversation's words the earlier question was searched with besides its own


# 情节严重的呢？最重能到啥处分？: a follow-up clause, then a question of its own.
_LEAD_CLAUSE = re.compile(r"^[^，,。？?！!]+?(呢[，,。？?！!]\s*)(?=\S)")
# 那地方人大呢 几年一届: typed with a space for the comma.
_SPACED_CLAUSE = re.compile(r"^[^，,。？?！!\s]+?(呢\s+)(?=\S)")


def _new_subject(text: str) -> str | None:
    """Return ``地方人大几年一届`` for 地方人大呢 几年一届: a noun phrase, 呢, then a question of its own; else None
    (数额大的呢 is a condition)."""
    lead = _LEAD_CLAUSE.match(text) or _SPACED_CLAUSE.match(text)
    if lead is None:
        return None
    clause = text[:lead.start(1)]
    return clause + text[lead.end(1):] if get_tokenizer().subject(clause + "是什么") == clause else None


def _is_follow_up(query: str) -> bool:
    q = query.strip()
    return len(q) <= 20 and (q.startswith(("那", "还有", "换成", "如果是")) or q.rstrip("？?。 ").endswith("呢")
                             or bool(_CONDITION.match(q) or _LEAD_CLAUSE.match(q) or _new_subject(q)))


_SOME = frozenset(("一点", "一些", "点", "些"))
_OF_WHICH = re.compile(r"^(?:那么?)?(.+)的呢?[？?。\s]*$")


def _is_degree(query: str) -> bool:
    """Return whether ``query`` names a degree of the earlier matter (情节重一点的呢, 数额大的, 情节严重的): a condition,
    where 那撤职的呢 and 那搞权色交易的呢 name whom the question is about."""
    m = _OF_WHICH.match(query)
    if m is None:
        return False
    if m.group(1).startswith("情节"):
        return True
    words = get_tokenizer().tagged(m.group(1))
    if words[-1][0] in _SOME and len(words) > 1:
        words = words[:-1]
    return words[-1][1].startswith("a")


def _on_condition(previous: str, condition: str) -> str:
    """Return the earlier question asked on ``condition`` (要是情节较重 → 正式党员违纪了一般怎么处理，要是情节较重)."""
    return f"{previous.rstrip('？?。 ')}，{condition}"


def _suffix_overlap(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


# 那打麻将呢 after 党员炒股违纪吗 names a new act, not a new subject: it opens with a verb of doing or a coverb.
_ACT = re.compile(r"^(?:在|去|到|用|拿|帮|替|跟|和|找|当|搞|收|送|借|打|开|办|买|卖|炒|玩|吃|喝|住|坐|请|参加|接受|利用"
                  r"|私自|偷偷|擅自)")
# 在职党员, 借调干部, 打工的 open like an act but name people: a new subject.
_PEOPLE_END = re.compile(r"(?:党员|干部|人员|同志|的|人|者)$")


def _is_act(fragment: str) -> bool:
    """Return whether a follow-up names an act (在国外注册公司, 打麻将), not a subject (开除党籍, 在职党员)."""
    if not _ACT.match(fragment) or _PEOPLE_END.search(fragment):
        return False
    word, tag = get_tokenizer().tagged(fragment)[0]
    # jieba tags some whole acts as nouns (打麻将, 买官); a longer noun (开除党籍, 用人单位) is a thing.
    return tag[0] in "vpdtil" or (word == fragment and len(word) <= 3)


# What asks or judges in an earlier question, around the act it asks about (能不能炒股, 收了红包会给什么处分).
_JUDGING = frozenset("能 不能 能不能 可以 可不可以 会 会不会 要 要不要 算 算不算 行 行不行 允许 违纪 违规 违法 违反 处分 "
                     "处理 怎么 怎么办 怎样 如何 什么 哪些 谁 由 吗 呢 有 是 一般 还 都 里 中 上".split())


def _act_span(previous: str, act: str) -> tuple[int, int] | None:
    """Return where the act ``previous`` asks about stands: the run of words between its subject and the words that
    ask or judge, the one sharing most characters with ``act`` (炒股 in 党员能不能炒股), else the last; or None."""
    tokenizer = get_tokenizer()
    opening = tokenizer.subject(previous) or ""
    runs: list[list[int]] = []
    at, open_run, last = len(opening), False, ""
    for word, tag in tokenizer.tagged(previous[len(opening):]):
        # A particle only inside a run belongs to the act (收了红包).
        judging = (word in _JUDGING or word[0] in "几多" or tag[0] in "xyw" or (tag[0] == "u" and not open_run)
                   or (last == "多" and word in "大长久少高"))
        last = word
        if judging:
            open_run = False
        elif open_run:
            runs[-1][1] = at + len(word)
        else:
            runs.append([at, at + len(word)])
            open_run = True
        at += len(word)
    runs = [r for r in runs if r[1] - r[0] >= 2]
    if not runs:
        return (0, len(opening)) if opening else None
    best = max(runs, key=lambda r: (len(set(previous[r[0]:r[1]]) & set(act)), r[0]))  # a tie: the later act
    return best[0], best[1]


def _substitute(subject: str, previous: str) -> str:
    """Put ``subject`` in place of the word of ``previous`` it most resembles (``严重警告`` for ``警告``, ``国徽`` for
    ``国旗``), else in place of the noun phrase ``previous`` opens with, so that the earlier question's predicate is kept.
    A new act (``打麻将`` after ``党员炒股违纪吗``) takes the place of the earlier act."""
    tokenizer = get_tokenizer()
    if _is_act(subject) and (span := _act_span(previous, subject)):
        return previous[:span[0]] + subject + previous[span[1]:]
    words = [w for w in tokenizer.words(previous) if len(w) >= 2 and w in previous]
    if not words:
        return f"{subject} {previous}"
    opening = tokenizer.subject(previous)
    target = max(words, key=lambda w: (_suffix_overlap(w, subject), len(w)))
    if _suffix_overlap(target, subject) == 0:
        # 国徽 after 宪法里国旗是怎么规定的 takes the place of its sibling (as long, the same first character; the
        # last such, nearest the predicate: 党旗, not 党章, in 党章里党旗是怎么规定的)
        sibling = next((w for w in reversed(words) if len(w) == len(subject) and w[0] == subject[0]), None)
        if sibling:
            at = previous.index(sibling)
            return previous[:at] + subject + previous[at + len(sibling):]
        if opening:
            return subject + previous[len(opening):]
        if tokenizer.tagged(previous)[0][1][:1] == "m":  # 一届里头要巡完吗 opens with a span of time: no subject
            return subject + previous
        target = min(words, key=previous.index)
    at = previous.index(target)
    if opening and at + len(target) == len(opening) and len(subject) > _suffix_overlap(target, subject) >= 2:
        return subject + previous[len(opening):]  # 县里的党代会 brings its own modifier: 全国党代会 goes whole
    # Keep what the subject repeats from just before the target only once (违反 + 政治纪律 → 违反组织纪律).
    shared = max((k for k in range(len(subject)) if k and previous[max(0, at - k):at] == subject[:k]), default=0)
    return previous[:at - shared] + subject + previous[at + len(target):]


# 那烟尼, 情节重一点的尼: pinyin input's 尼 for a closing 呢 (ni and ne share the key strokes).
_TYPED_NE = re.compile(r"(?<=[\u4e00-\u9fff])尼(?=[？?。！!\s]*$)")
_TYPED_NE_MAX = 20
"""Longest turn whose closing 尼 is read as 呢: the slip is fixed only in short follow-ups; set by hand, not tuned."""


def rewrite(query: str, history: Sequence[Turn]) -> str:
    """Return ``query`` made stand-alone from the conversation; unchanged when it needs no context."""
    query = query.strip()
    if not history:
        return query
    if len(query) <= _TYPED_NE_MAX:
        query = _TYPED_NE.sub("呢", query)
    last = history[-1]
    anchor = f"《{last.doc_title}》{last.article}" if last.doc_title and last.article else None
    clause = find_clause(query)
    ref = find_article_ref(query)
    if anchor and clause and not ref:
        return f"{anchor}第{int_to_cn(clause)}款"
    if last.doc_title and ends_in_kind(last.doc_title) and _asks_of_an_edition(query):
        return f"《{last.doc_title}》{query}"  # 2013年那个老版本第二条是咋写的: the edition of the regulation just cited
    if last.doc_title and ref and not ref.doc_hint:
        start, _ = article_ref_span(query)
        return f"《{last.doc_title}》{query[start:]}"
    if (thing := _THING.search(query)) and (opening := get_tokenizer().subject(last.query)):
        return query[:thing.start()] + opening + query[thing.end():]
    if anchor and _PRONOUN.search(query):
        return _PRONOUN.sub(anchor, query, count=1)
    if _is_follow_up(query):
        m = _FOLLOW.match(query)
        body = (m.group(1) if m else query).strip()
        if not body:
            return query
        if subject_first := _new_subject(body):
            return subject_first
        if lead := _LEAD_CLAUSE.match(body):  # 数额大的呢？会开除吗: the clause, then its own question
            return _on_condition(last.query, body[:lead.start(1)] + "，" + body[lead.end(1):])
        if _CONDITION.match(body) or ((_CONDITION_AFTER.search(body) or _is_degree(query)) and not _asks(body)):
            return _on_condition(last.query, body)  # 要是情节较重呢, 要是暂时没转，咋过组织生活
        if not _asks(body):
            return _substitute(body, last.query)  # 那机关党委呢？: a new subject for the earlier predicate
        if get_tokenizer().subject(body) is None and (opening := get_tokenizer().subject(last.query)):
            return opening + body  # 那要公示多久？: the earlier subject for a new predicate
        return body
    return query


_ASKS = re.compile(r"几|多少|多久|多长|怎么|怎样|如何|是否|能否|能不能|可不可以|吗|什么|哪些|哪|谁|要不要|会不会|有没有"
                   r"|啥|咋|[能会可要行算][^，。？?]{0,8}不[？?。]*$|不行[？?。]*$"  # 还能投票不: a spoken yes-no question
                   r"|([\u4e00-\u9fff])不\1")  # 管不管, 算不算


def _asks(text: str) -> bool:
    """Return whether ``text`` has a predicate of its own (a question word), not just a new subject."""
    return bool(_ASKS.search(text))


def _asks_of_an_edition(text: str) -> bool:
    """Return whether ``text`` asks something of an edition (2013年那版第二条咋写的) without naming the document."""
    return (edition_asked(text) is not None and _asks(text) and "《" not in text and not spoken_titles(text)
            and not any(name in text for name in ("党章", "宪法")))


CONTEXT_WORDS = 3
"""How many topic words of the earlier question a follow-up without a marker carries (set by hand)."""


def topic_words(searcher: Searcher, earlier: str, query: Query, n: int = CONTEXT_WORDS) -> tuple[str, ...]:
    """Return the ``n`` rarest nouns of the regulations' vocabulary in ``earlier`` that ``query`` does not repeat: the
    topic a follow-up such as 任期几年 or 人少的单位咋办 leaves unsaid."""
    tokenizer = searcher.tokenizer
    said = set(query.words)
    words = [w for w in dict.fromkeys(tokenizer.query(earlier))
             if len(w) >= 2 and w not in said and w in searcher.in_regulations and tokenizer.is_noun(w)
             and not tokenizer.asks_or_qualifies(w)]
    return tuple(sorted(words, key=lambda w: -searcher.token_weight(w))[:n])
