"""Chinese lexical search: a jieba tokenizer with the party-building dictionary, and a persisted BM25 index."""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from sys import intern

import numpy as np

DOMAIN_DICT = Path(__file__).with_name("data") / "dangjian_dict.txt"
INDEX_VERSION = 1
EMPTY_TOKEN = "∅"  # stands for a chunk without tokens, which bm25s cannot index

_KEEP = re.compile(r"[\w\u4e00-\u9fff]")
# Function words and question words carry no topic; dropping them keeps BM25 on the content words.
STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 等 对 为 以 于 把 被 从 由 将 向 并 而 就 也 都 又 还 之 其 这 那 个 一 不 有 要 会 能 "
    "吗 呢 吧 啊 么 什么 哪些 哪个 怎么 怎样 如何 多少 多久 几 是否 可以 应该 应当 需要 请问 一下 关于 规定 讲 了吗 "
    "我 你 他 她 我们 你们 他们 中 上 下 给 让 所 该 此 各 每 如 若 则 但 即 时 后 前".split()
)
# Question phrases whose parts are content words elsewhere: 时间 in 多长时间 asks, 时间 in 学习时间 names a thing.
_QUESTION_PHRASES = re.compile(r"多长时间|多长|多大年纪|多大|多少钱|多少次|几个|几次|几回|哪一?天|哪一?年|怎么样|什么样")


_CN = "一二三四五六七八九十"
_NUMBERED_EVENT = re.compile(rf"第[{_CN}]+次全国代表大会|[{_CN}]+届[{_CN}]+中全会|(?<![{_CN}第])[{_CN}]{{2,3}}大(?=[^会学家力量]|$)")
# jieba's tags for place (ns), person (nr, nrt, nrfg), organization (nt) and other proper (nz) names, and Latin words.
_ENTITY_TAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "nz", "eng"})
_PROPER_TAGS = _ENTITY_TAGS - {"nz", "eng"}  # places, people and organizations
# Two characters make a name only with a common surname, as a person's name jieba guesses (张某) or 老/小 and a
# surname (老李), or as a foreign word (PC): its dictionary also tags everyday words two-character places or names
# (上岗, 下河, 段子, 小错), and its guesses cut 条例里加了 into a name 里加 and 购物卡会受 into 卡会.
_TWO_CHAR_NAME_TAGS = frozenset({"nr", "eng"})
_PERSON_TAGS = frozenset({"nr", "nrfg"})
# 139 common surnames, for the two-character names above.
_SURNAMES = frozenset("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
                      "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
                      "戴莫孔向汤常康温施牛洪文欧乔易殷庞樊兰柳岳祝齐葛单包左鲁章纪舒阮聂柴倪季翟申耿关焦习")
# Numeral, adverb, pronoun, preposition, conjunction, particle, modal, measure-word, locative (上面) and set-phrase
# (按规定) tags; locatives and set phrases were added with the focus-word rules (blind3-dev: one false refusal fewer).
_FUNCTION_TAGS = frozenset("mdrpcuyqfl")
_ASKING_LEADS = frozenset("几哪啥多要能可该会最谁怎")
_HEDGES = frozenset({"一般", "通常", "大概", "大约", "原则上", "规定", "按规定", "具体"})
# Tags of the words a question's subject is made of: nouns, names, abbreviations, idioms, 区别词 and adjectives.
_SUBJECT_TAGS = ("n", "j", "l", "b", "a", "vn", "an", "nz", "nt", "ns", "nr", "eng")
# 书记说每年培训得够多少学时: a noun before 说 says who said it (not before 说话: 党员说话要注意啥).
_REPORTED = re.compile(r"[说讲](?!话)|提到|告诉")
_PREDICATE_WORDS = frozenset("几 多少 多久 怎么 怎样 如何 是否 能 能否 可以 可不可以 应当 应该 要 需要 有 是 什么 哪些 哪 吗 由 在 的".split())


_RUN = re.compile(r"[0-9a-z\u4e00-\u9fff]+")


def char_grams(text: str) -> list[str]:
    """Return the character bigrams of ``text`` within runs of Chinese letters and digits (a lone character stands
    for itself): a match that needs no word boundaries, so 吃吃喝喝 meets 吃喝 and 生话会 meets 生活会 in part."""
    out = []
    for run in _RUN.findall(text.lower()):
        out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    return out


def gram_index(chunks: Sequence) -> BM25Index:
    """Return the BM25 index over the character bigrams of ``chunks`` (their embedded text)."""
    return BM25Index.build([c.chunk_id for c in chunks], [char_grams(c.embedding_text()) for c in chunks])


def query_grams(question: str) -> list[str]:
    """Return the character bigrams of a question, leaving out how it asks (多长时间, 几个)."""
    return char_grams(_QUESTION_PHRASES.sub(" ", question))


class Tokenizer:
    """A jieba tokenizer of its own (not jieba's global one), with the domain dictionary and an optional user one."""

    def __init__(self, user_dict: Path | None = None):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.load_userdict(str(DOMAIN_DICT))
        if user_dict is not None:
            self._tk.load_userdict(str(user_dict))
        self.dictionaries = (DOMAIN_DICT.name,) + ((user_dict.name,) if user_dict else ())
        # Parsing a question asks for its names, people and subject, and a follow-up's rewrite for the earlier
        # question's subject: one part-of-speech cut each (0.6 ms a question on 2 cores), not one per ask.
        self._tagged = functools.lru_cache(maxsize=256)(self._cut_tagged)

    def words(self, text: str) -> list[str]:
        """Return the content words of ``text`` in search mode (long words plus their parts)."""
        out = []
        for w in self._tk.cut_for_search(text):
            w = w.strip().lower()
            if w and w not in STOPWORDS and _KEEP.search(w):
                out.append(w)
        return out

    def __call__(self, text: str) -> list[str]:
        return self.words(text)

    def query(self, question: str) -> list[str]:
        """Return the content words of a question, leaving out how it asks (多长时间, 几个, 多少钱)."""
        return self.words(_QUESTION_PHRASES.sub(" ", question))

    def is_word(self, text: str) -> bool:
        """Return whether ``text`` is a word of jieba's dictionaries."""
        self._tk.check_initialized()
        return self._tk.FREQ.get(text, 0) > 0

    def segment(self, text: str, hmm: bool = True) -> list[str]:
        """Return ``text`` cut into words in jieba's precise mode (no overlaps, nothing dropped); without ``hmm``, no
        unknown words are guessed (高速口去接 keeps 高速 口 去 接, where the guess makes 口去)."""
        return self._tk.lcut(text, HMM=hmm)

    @functools.cached_property
    def _tagger(self):
        import jieba.posseg

        return jieba.posseg.POSTokenizer(self._tk)  # reads the dictionary's tags: build once

    def asks_or_qualifies(self, word: str) -> bool:
        """Return whether ``word`` says how a question asks (几年, 哪几, 最多, 最长, 一般, 要交), not what it is about: a
        numeral, adverb, pronoun, particle, locative or set phrase in the dictionaries, a superlative or hedge, an
        A-not-A question, or an unknown word led by a question or modal character."""
        self._tagger.makesure_userdict_loaded()
        tag = self._tagger.word_tag_tab.get(word)
        if word[:1] == "最" or word in _HEDGES or (len(word) == 3 and word[0] == word[2] and word[1] in "不没"):
            return True  # 有没有, 算不算: an A-not-A question
        if tag is None:
            return word[:1] in _ASKING_LEADS
        return tag[:1] in _FUNCTION_TAGS

    def is_noun(self, word: str) -> bool:
        """Return whether the dictionaries tag ``word`` as a noun (科级, 聊天记录), unknown words included."""
        self._tagger.makesure_userdict_loaded()
        return self._tagger.word_tag_tab.get(word, "n")[:1] == "n"

    def is_proper(self, word: str) -> bool:
        """Return whether the dictionaries tag ``word`` as a place, person or organization (美国, 共和党), not as an
        other proper noun (nz), which its dictionary also gives everyday words (聊天)."""
        self._tagger.makesure_userdict_loaded()
        return self._tagger.word_tag_tab.get(word, "") in _PROPER_TAGS

    def subject(self, question: str) -> str | None:
        """Return the noun phrase a question opens with (``机关党支部委员会`` in ``机关党支部委员会几年换一届``), or None;
        None too when it says who said what is asked (``书记`` in ``书记说每年培训得够多少学时``)."""
        words = []
        for word, tag in self.tagged(question):
            if word in _PREDICATE_WORDS or word[0] in "几多" or not tag.startswith(_SUBJECT_TAGS) or not word.strip():
                break
            words.append(word)
        subject = "".join(words)
        if len(subject) < 2 or not question.startswith(subject) or subject == question:
            return None
        return None if _REPORTED.match(question, len(subject)) else subject

    def tagged(self, text: str) -> tuple[tuple[str, str], ...]:
        """Return ``text`` cut into (word, part-of-speech tag) pairs."""
        return self._tagged(text)

    def _cut_tagged(self, text: str) -> tuple[tuple[str, str], ...]:
        return tuple((p.word, p.flag) for p in self._tagger.cut(text))

    def entities(self, text: str) -> list[str]:
        """Return the names in ``text``: places, people, organizations and foreign words by jieba's part-of-speech
        tags, and numbered congresses and plenums (第二十一次全国代表大会, 二十一大, 十九届四中全会)."""
        tagged = [word for word, tag in self.tagged(text) if tag in _ENTITY_TAGS and self._names(word, tag)]
        return list(dict.fromkeys(tagged + _NUMBERED_EVENT.findall(text)))

    def people(self, text: str) -> list[str]:
        """Return the names of people in ``text``: words jieba tags as personal names, of two or three characters,
        a common surname before a part that is no common noun (not 高尔夫球, nor 这段时间's 段时间)."""
        self._tagger.makesure_userdict_loaded()
        common = self._tagger.word_tag_tab  # 段时间 = 段 + 时间 (n); 建华 is nz, a given name
        return list(dict.fromkeys(word for word, tag in self.tagged(text) if tag in _PERSON_TAGS
                                  and len(word) in (2, 3) and word[0] in _SURNAMES and common.get(word[1:]) != "n"))

    def _names(self, word: str, tag: str) -> bool:
        """Whether a word jieba tags as a name is one (see _TWO_CHAR_NAME_TAGS); a longer person's name it guessed
        opens with a common surname (购物卡能收吗 → 卡能收 is a guess across words)."""
        word = word.strip()
        self._tagger.makesure_userdict_loaded()
        guessed = word not in self._tagger.word_tag_tab
        if len(word) != 2:
            return len(word) > 2 and not (guessed and tag in _PERSON_TAGS and word[0] not in _SURNAMES)
        surname = word[1] if word[0] in "老小" else word[0] if guessed else ""
        return tag == "eng" or (tag in _TWO_CHAR_NAME_TAGS and surname in _SURNAMES)


@functools.lru_cache(maxsize=4)
def get_tokenizer(user_dict: str | None = None) -> Tokenizer:
    """Return the process-wide tokenizer for ``user_dict`` (loading jieba's dictionary takes about a second)."""
    return Tokenizer(Path(user_dict) if user_dict else None)


class BM25Index:
    """BM25 over chunk token lists (bm25s, Lucene variant), with the chunk ids it was built for."""

    def __init__(self, chunk_ids: Sequence[str], retriever):
        self.chunk_ids = list(chunk_ids)
        self._bm25 = retriever

    @classmethod
    def build(cls, chunk_ids: Sequence[str], tokens: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25Index:
        """Return an index over ``tokens`` (one list per chunk id)."""
        import bm25s

        retriever = bm25s.BM25(k1=k1, b=b)
        if chunk_ids:
            retriever.index([list(t) or [EMPTY_TOKEN] for t in tokens], show_progress=False)
        return cls(chunk_ids, retriever)

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk_id, score) pairs with a positive score, best first.

        ``allowed`` is a boolean mask over the index's chunks that filters before ranking.
        """
        if not self.chunk_ids or not query_tokens:
            return []
        scores = self._bm25.get_scores(list(query_tokens))
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.chunk_ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def document_frequencies(self) -> dict[str, int]:
        """Return, per token, the number of chunks that use it (the length of its postings)."""
        if not self.chunk_ids:
            return {}
        counts = np.diff(np.asarray(self._bm25.scores["indptr"]))
        # bm25s's vocabulary also holds "" past the last column of postings.
        return {t: int(counts[i]) for t, i in self._bm25.vocab_dict.items()
                if i < len(counts) and counts[i] and t != EMPTY_TOKEN}

    def postings(self, token: str) -> np.ndarray:
        """Return the positions, ascending, of the chunks that use ``token``."""
        column = self._bm25.vocab_dict.get(token) if self.chunk_ids else None
        indptr = self._bm25.scores["indptr"] if column is not None else ()
        if column is None or column + 1 >= len(indptr):
            return np.zeros(0, dtype=np.int64)
        return np.asarray(self._bm25.scores["indices"][indptr[column]:indptr[column + 1]])

    def save(self, directory: Path, generation: int) -> None:
        """Persist the index as plain .npy/JSON files stamped with the manifest generation.

        The files are written to a new folder that then takes the old one's place: searchers map the arrays of the
        index they loaded, and a file rewritten in place would change, or be cut short, under them.
        """
        directory = Path(directory)
        new, old = (directory.with_name(f".{directory.name}.{part}-{os.getpid()}") for part in ("new", "old"))
        shutil.rmtree(new, ignore_errors=True)
        new.mkdir(parents=True)
        if self.chunk_ids:
            self._bm25.save(str(new), show_progress=False)
        (new / "djkb_index.json").write_text(json.dumps(
            {"version": INDEX_VERSION, "generation": generation, "chunk_ids": self.chunk_ids}, ensure_ascii=False),
            encoding="utf-8")
        if directory.exists():
            os.replace(directory, old)
        os.replace(new, directory)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path, generation: int) -> BM25Index | None:
        """Return the saved index if it was built for ``generation``, else None."""
        import bm25s

        meta = _read_meta(directory)
        if meta is None or meta.get("version") != INDEX_VERSION or meta.get("generation") != generation:
            return None
        if not meta["chunk_ids"]:
            return cls([], bm25s.BM25())
        # Mapped, not read: the arrays stay in the page cache, and a query touches only its tokens' postings.
        retriever = bm25s.BM25.load(str(directory), mmap=True, show_progress=False)
        # A writer that swapped the folder in meanwhile gave us another generation's arrays.
        still = _read_meta(directory) or {}
        # Interned: each id is then the chunk's own string (the catalog interns it when reading the chunk).
        ids = [intern(c) for c in meta["chunk_ids"]]
        return cls(ids, retriever) if still.get("generation") == generation else None


def _read_meta(directory: Path) -> dict | None:
    try:
        return json.loads((directory / "djkb_index.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def inverse_document_frequency(frequencies: Mapping[str, int], n: int) -> dict[str, float]:
    """Return BM25-style idf per token from the number of chunks, of ``n``, that use it."""
    return {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in frequencies.items()}
