"""Document names in text: titles, their short forms (党章, 机关基层组织工作条例) and title-like phrases."""
from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass

_TITLE_LIKE = re.compile(r"(条例|章程|细则|准则|规定|办法|规则|意见|决定|宪法|党章|法)(?:[（(][^（()）]*[）)])?$")
# Colloquial names that are not substrings of the official title.
ALIASES = {"党章": "中国共产党章程", "宪法": "中华人民共和国宪法"}
_TITLE_NOISE = re.compile(r"^(中国共产党|中华人民共和国)|[（(][^）)]*[）)]$")


@functools.lru_cache(maxsize=65536)
def title_aliases(title: str) -> frozenset[str]:
    """Return the names a user may call a document by: its title, the title without prefix/suffix, known aliases."""
    names = {title}
    short = _TITLE_NOISE.sub("", title)
    short = _TITLE_NOISE.sub("", short)
    if len(short) >= 4:
        names.add(short)
    names.update(alias for alias, full in ALIASES.items() if full == title or full == short)
    return frozenset(names)


def match_title(text: str, titles: Mapping[str, str]) -> list[str]:
    """Return ids from ``titles`` (id → title) whose names occur in ``text``, longest name first, then shortest title.

    A title-like tail of ``text``, or a name opening one of its clauses, that is part of a title also names it, since
    people shorten titles (``机关基层组织工作条例`` for 中国共产党党和国家机关基层组织工作条例). For titles searched again
    and again, build a TitleIndex once.
    """
    return TitleIndex.build(titles).match(text)


_TITLE_TAIL = re.compile(r"[\u4e00-\u9fff]{2,30}(条例|章程|细则|准则|规定|办法|规则|意见|决定)$")


def _grams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


@dataclass(frozen=True)
class TitleIndex:
    """Stored titles, found by the names a question uses without a pass over every title: match_title over all
    documents cost 24 ms a call at 10× the corpus, and grows with it."""

    titles: Mapping[str, str]
    by_alias: Mapping[str, tuple[str, ...]]
    by_gram: Mapping[str, frozenset[str]]
    order: Mapping[str, int]
    longest: int  # the longest alias: how far from each character a name can reach

    @classmethod
    def build(cls, titles: Mapping[str, str]) -> TitleIndex:
        """Return the index of ``titles`` (id → title)."""
        by_alias: dict[str, list[str]] = {}
        by_gram: dict[str, set[str]] = {}
        for doc_id, title in titles.items():
            for alias in title_aliases(title):
                by_alias.setdefault(alias, []).append(doc_id)
            for gram in _grams(title):
                by_gram.setdefault(gram, set()).add(doc_id)
        return cls(dict(titles), {a: tuple(d) for a, d in by_alias.items()},
                   {g: frozenset(d) for g, d in by_gram.items()}, {d: i for i, d in enumerate(titles)},
                   max(map(len, by_alias), default=0))

    def match(self, text: str, among: Set[str] | None = None) -> list[str]:
        """Return the ids of the titles (of ``among``; None: all) that ``text`` names, as match_title describes."""
        named: dict[str, int] = {}
        for i in range(len(text)):
            for j in range(i + 1, min(len(text), i + self.longest) + 1):
                for doc_id in self.by_alias.get(text[i:j], ()):
                    named[doc_id] = max(named.get(doc_id, 0), j - i)
        aliased = set(named)  # a document a name of it names is not also looked up by a shortening
        tail = _TITLE_TAIL.search(text)
        for name in (_Shortening.of(n) for n in ([tail.group(0)] if tail else []) + spoken_titles(text)):
            # Every title a name can shorten holds the name (6+ characters) or its core, hence their bigrams.
            probes = [p for p in (name.name if len(name.name) >= 6 else "", name.parts[0] if name.parts else "") if p]
            for probe in probes:
                grams = _grams(probe)
                docs = frozenset.intersection(*(self.by_gram.get(g, frozenset()) for g in grams)) if grams else ()
                for doc_id in docs:
                    if doc_id not in aliased:
                        named[doc_id] = max(named.get(doc_id, 0), name.of_title(self.titles[doc_id]))
        found = [d for d, best in named.items() if best and (among is None or d in among)]
        # A study note titled “…印发《条例》” contains the name as well as the regulation does: the shorter title wins;
        # then the titles' own order.
        return sorted(found, key=lambda d: (-named[d], len(self.titles[d]), self.order[d]))


_SPOKEN = re.compile(r"(?:^|[，,。？?！!；;：:\s、\d]|按照|根据|依照|依据|那个|这个|有个)"
                     r"([\u4e00-\u9fff]{2,20}?(?:条例|准则|细则|规定|办法|规则))")
_EDITION_WORDS = re.compile(r"^(?:年版|年|版)的?")  # what is left of 2013年版的 after the digits
# A name holding a function word, a question word or an A-not-A question (违不违反) is a phrase about rules (有规定,
# 哪个处分条例), not a title; so is one that opens or ends with a verb taking rules as its object (违反规定, 维护国际关系
# 基本准则), or that ends in "the" or "relevant" (本条例, 有关规定).
_RULE_VERBS = "违反|违背|遵守|符合|执行|落实"
_NOT_A_NAME = re.compile(rf"[的了吗呢啥么哪谁几怎这那]|什么|按照|根据|([\u4e00-\u9fff])[不没]\1"
                         rf"|[有没无]$|(?<![基根资成样版文课日])[本该此]$|(?:{_RULE_VERBS}|不按|有关|相关)$"
                         rf"|^(?:{_RULE_VERBS}|维护|贯彻|是指)")


def spoken_titles(text: str) -> list[str]:
    """Return the regulation-like names ``text`` writes without 《》 (党内关怀帮扶办法规定……): a clause opening with
    a name of a specific core and a kind (条例, 办法 …)."""
    out = []
    for m in _SPOKEN.finditer(text):
        name = _LEAD_IN.sub("", _EDITION_WORDS.sub("", m.group(1)))
        core = _core(name)
        # 越南共产党规定的预备期: 规定 is the verb of a body, not the kind of a document.
        verb = core is not None and core[1] == "规定" and (text[m.end():m.end() + 1] in ("的", "了", "要")
                                                          or core[0].endswith(("党", "中央", "国家", "党委")))
        if core and not verb and not _NOT_A_NAME.search(core[0]) and name not in out:
            out.append(name)
    return out


# A demonstrative points at the name after it (1991年那个干部档案工作条例, 那个党组工作条例).
_LEAD_IN = re.compile(r"^(请问|请|我想知道|我想了解|想问|问一下|查一下|关于|根据|按照|依照|依据|在"
                      r"|那个|这个|那部|这部|那份|这份|那版|这版)+")
_KIND = re.compile(r"(条例|章程|细则|准则|规定|办法|规则|意见|决定)$")
_EDITION_TAIL = re.compile(r"[（(][^（()）]*[）)]$")
# Words that say which kind or which edition a document is, not which document: 新修订条例 names none.
GENERIC_CORES = frozenset({"工作", "管理", "有关", "相关", "党内", "新", "新版", "新修订", "修订", "最新", "这个", "那个",
                           "该", "本", "此", "上述", "这部", "那部", "哪个", "什么", "里面", "里头", "其中", "这些",
                           "那些", "上面", "下面", "前面", "后面"})


def _core(name: str) -> tuple[str, str] | None:
    """Return (core, kind) of a short name such as 发展党员细则 → (发展党员, 细则), or None for a generic one."""
    name = _LEAD_IN.sub("", name).removeprefix("中国共产党")
    kind = _KIND.search(name)
    if not kind:
        return None
    core = name[:kind.start()]
    core = re.sub(r"^(新修订的?|新版的?|最新的?|修订后的?)", "", core)
    if len(core) < 2 or core in GENERIC_CORES:
        return None
    return core, kind.group(0)


@functools.lru_cache(maxsize=65536)
def _without_edition(title: str) -> str:
    return _EDITION_TAIL.sub("", title)


@dataclass(frozen=True)
class _Shortening:
    """A name from a question, read once and then compared with every stored title."""

    name: str
    parts: tuple[str, str] | None

    @classmethod
    def of(cls, name: str) -> _Shortening:
        name = _LEAD_IN.sub("", name).removeprefix("中国共产党")
        return cls(name, _core(name))

    def of_title(self, title: str) -> int:
        """Return the name's length when it shortens ``title``: a part of 6+ characters, or a core of the title and
        the same kind (发展党员细则 for 中国共产党发展党员工作细则, 处分条例 for 纪律处分条例); else 0."""
        if len(self.name) >= 6 and self.name in title:
            return len(self.name)
        plain = _without_edition(title)
        if self.parts and plain.endswith(self.parts[1]) and self.parts[0] in plain:
            return len(self.name)
        return 0


def ends_in_kind(title: str) -> bool:
    """Return whether ``title`` ends in a kind of document (条例, 法, … with an edition note), as a title does and the
    title of a study note (【2019年8月学习材料】, 每周一学（…）…《…条例》) does not."""
    return _TITLE_LIKE.search(title) is not None


def looks_like_title(name: str) -> bool:
    """Return whether ``name`` reads as a document title (a regulation-like name), not just words or a kind."""
    name = name.strip("《》")
    if not ends_in_kind(name):
        return False
    plain = _EDITION_TAIL.sub("", name)
    return _core(plain) is not None if _KIND.search(plain) else True
