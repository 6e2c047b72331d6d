"""What a question asks for (a number of days, an amount of money, a share, a year) and whether a passage states one.

A question such as ``发展对象名单要公示几天？`` can only be answered by a passage that states a number of days; one
such as ``2030年党费标准调整了多少？`` only by a passage about 2030. Checking these constraints is answer-type
matching, the classic question-answering test that keyword and vector similarity both miss.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .grammar import CN_NUMERAL_CHARS

_CALENDAR = re.compile(r"(?:(?:19|20)\d\d|[一二][〇零○一二三四五六七八九]{3})\s*年(?:\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?)?"
                       r"|\d{1,2}\s*月\s*\d{1,2}\s*日(?:\s*[至到—－\-和、]\s*(?:\d{1,2}\s*月\s*)?\d{1,2}\s*日)*"
                       r"|[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日")
_NUM = rf"(?:[0-9０-９]+(?:[.．][0-9０-９]+)?|[{CN_NUMERAL_CHARS}两半]+)"
# 个月, not 月: 12月主题党日 names a month, it does not last twelve.
_TIME_UNITS = "年|个月|季度|周|星期|天|日|工作日|小时|学时|分钟|次|回"


@dataclass(frozen=True)
class Expected:
    """An answer type: its Chinese label (for messages) and the pattern a passage stating it matches.

    Unless the type is a date, calendar dates are no answer: 2022年 is no number of years, 12月25日 no number of days.
    """

    label: str
    pattern: re.Pattern
    dates_count: bool = False
    asks: str = ""
    """The words of the question that ask for this type (``百分之几``, ``多久开一次``): no topic of the question."""
    required: bool = True
    """Whether only a passage stating the quantity answers: 哪几种 asks which kinds, so a list answers it too."""
    maximum: bool = False
    """Whether the question asks for an upper bound (最多, 最长, 上限): only a quantity stated as one answers it."""

    def found_in(self, text: str) -> bool:
        """Return whether ``text`` states an answer of this type."""
        return bool(self.pattern.search(text if self.dates_count else _CALENDAR.sub("", text)))

    def names_unit(self, word: str) -> bool:
        """Return whether ``word`` only names this type's unit (周岁 for an age): a numeral before it states the type."""
        return self.found_in(f"十{word}")

    def bounds(self, text: str) -> bool:
        """Return whether ``text``, around a stated quantity, states it as the kind of bound the question asks for."""
        return not self.maximum or bool(_UPPER_BOUND.search(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Return where ``text`` states an answer of this type (offsets into ``text``)."""
        masked = text if self.dates_count else _CALENDAR.sub(lambda m: "□" * len(m.group(0)), text)
        return [m.span() for m in self.pattern.finditer(masked)]


def _expect(label: str, units: str, *, every: bool = False) -> Expected:
    alternatives = [rf"(?<!第){_NUM}\s*(?:个|名|位)?(?:{units})"]  # 第一个工作日 is no number of days
    if every:
        alternatives.append(r"每(?:年|个?月|季度?|周|半年|届)")
    return Expected(label, re.compile("|".join(alternatives)))


_DURATION = _expect("时间或频次", _TIME_UNITS, every=True)
# Asked of each occasion (主题党日每次活动要搞多长时间), 多久 asks how long it lasts: 每月开展1次 is no answer.
_LENGTH = _expect("时长", "年|个月|季度|周|星期|天|日|工作日|小时|学时|分钟|钟头")
_EACH_TIME = re.compile(r"[每一](?:次|回)")
# A frequency is stated per period (每年至少召开1次, 每季度, 一年一次); a duration (开了两天) or 定期 is none.
_PER = "年|个?月|季度?|周|星期|半年|学期"
_TIMES = (rf"{_NUM}\s*(?:年|个?月|季度|周|星期)\s*"
          rf"(?:至少|一般|原则上|不少于)?\s*(?:召开|举行|开展|进行|组织|讲|上|开|报告)?\s*{_NUM}\s*次")
_FREQUENCY = Expected("频次", re.compile(rf"每\s*(?:{_NUM})?\s*(?:{_PER}|届)|{_TIMES}"))
# Asked per year or month (一年开几次), a term of office (每届任期三年) is no answer.
_TIMES_PER = Expected("频次", re.compile(rf"每\s*(?:{_NUM})?\s*(?:{_PER})|{_TIMES}"))
_SHARE = Expected("比例", re.compile(rf"百分之{_NUM}|{_NUM}\s*[%％‰]|{_NUM}成|{_NUM}分之{_NUM}"))
_MONEY = _expect("金额", "元|万元|亿元|块")
_DUES = Expected("金额或比例", re.compile(f"{_MONEY.pattern.pattern}|{_SHARE.pattern.pattern}"))
# 得来多少人才有效 is answered by 超过应到会人数的半数: a share of a body of people is a number of people.
_PEOPLE = _expect("人数", "人|名|位")
_HEADCOUNT = replace(_PEOPLE, pattern=re.compile(rf"{_PEOPLE.pattern.pattern}|半数|过半|{_NUM}分之{_NUM}"))
_UNIT_TYPES: dict[str, Expected] = {
    **dict.fromkeys("年", _expect("年数", "年|周年")),
    **dict.fromkeys("月", _expect("月数", "个月")),
    **dict.fromkeys("天日", _expect("天数", "天|日|工作日")),
    **dict.fromkeys("周", _expect("周数", "周|星期")),
    **dict.fromkeys("次回", _expect("次数", "次|回")),
    **dict.fromkeys("人名位", _HEADCOUNT),
    **dict.fromkeys("岁", _expect("年龄", "周岁|岁")),
    **dict.fromkeys("元块钱", _MONEY),
    **dict.fromkeys("种类", _expect("种类数", "种|类")),
    **dict.fromkeys("条项", _expect("条数", "条|项")),
    **dict.fromkeys("届", _expect("届数", "届")),
    **dict.fromkeys("倍", _expect("倍数", "倍")),
    **dict.fromkeys("点", _expect("点数或钟点", "点|时")),  # 几点开始 is answered by 下午三时
    **dict.fromkeys("桌", _expect("桌数", "桌")),
    **dict.fromkeys("分", _expect("分数", "分")),
    **dict.fromkeys("平", _expect("面积", "平方米|平米")),
    **dict.fromkeys("米", _expect("长度", "米")),
    **dict.fromkeys("厘", _expect("长度", "厘米|毫米")),
    **dict.fromkeys("公", _expect("长度或重量", "公里|公斤|公顷")),
    **dict.fromkeys("升", _expect("容量", "升")),
    **dict.fromkeys("小钟", _expect("小时数", "小时|学时|钟头")),
    **dict.fromkeys("学", _expect("学时数", "学时|小时")),
    **dict.fromkeys("工", _expect("工作日数", "工作日|天|日")),
    **dict.fromkeys("万", _expect("数额", "万")),
    # Writing is counted in its own units (多少字, 几篇); 本 is no unit here: 多少本单位的党员.
    **dict.fromkeys("字", _expect("字数", "字")),
    **dict.fromkeys("篇", _expect("篇数", "篇")),
    **dict.fromkeys("页", _expect("页数", "页")),
    **dict.fromkeys("张", _expect("张数", "张")),
}
_DATE = Expected("日期", re.compile(rf"{_NUM}\s*月\s*{_NUM}\s*日|{_NUM}\s*日|之日|当日|当天"), dates_count=True)
_YEAR_ANSWER = Expected("年份", re.compile(r"(?:19|20)\d\d\s*年|[一二〇零○]{4}年"), dates_count=True)
_ASKS_SHARE = re.compile(r"百分之(?:几|多少|啥)|多少\s*[%％]|(?:几|多少)个?百分点"
                         r"|(?:比例|比率|[^效]率|[长宽高]比)(?:是|为|有)?(?:多少|几|啥|多大)"
                         r"|(?:比例|比率)[^，,。？?]{0,6}?(?:多少|几成|多大)[？?。]*$"  # 比例得控制在多少
                         r"|(?:啥|什么|多大|多少|哪个)(?:的)?(?:比例|比率)")
# The group ``topic`` is what the money is (补贴, 党费): the topic of the question, not how it asks.
# 能报多少, 发多少: a verb of paying asks for an amount (not 发多少份, which asks for a count; 补多少 may ask how many
# members are co-opted).
_ASKS_MONEY = re.compile(r"多少(?:钱|块)|多少(?P<topic>会费|费用|工资|补贴|奖金|津贴|罚款|报酬|薪|税)"
                         r"|(?P<topic2>费|价|补贴|工资|收入|薪酬|税)(?:是|为|要|有)?多少"
                         r"|(?:报销|报|花|发|补助|交|缴|拿|领|收)多少(?![\u4e00-\u9fff])")
# 交多少党费 is answered by an amount or by a share of the salary.
_ASKS_DUES = re.compile(r"多少(?P<topic>党费|团费)|(?P<topic2>党费|团费)(?:每个?月|一个?月|每年|一年)?"
                        r"(?:是|为|要|该|得|应该|应当|需要)?(?:交|缴|交纳|缴纳)?多少")
_ASKS_DURATION = re.compile(r"多久|多长时间|多长期限|隔多长")
_ASKS_FREQUENCY = re.compile(r"(?:多久|多长时间|隔多长时间|几年|几个月|几周|几天)[^，。？?、]{0,6}?一次"
                             r"|(?:每届|一届)[^，。？?、]{0,6}?(?:几|多少)次")
_ASKS_TIMES_PER = re.compile(r"(?:一年|每年|每个?月|一个月|每季度?|一季度|每周|一周|每半年|半年)[^，。？?、]{0,6}?(?:几|多少)次")
# 好几个月, 十几年, 这几天 and 几十年 say "several" (前几天 may be 提前几天).
_ASKS_UNIT = re.compile(rf"(?:(?<![好十这那近头])几(?![十百千万])|多少)(?:个|名|位)?([{''.join(_UNIT_TYPES)}])")
# A clause asking a question of its own after 几 (能去吗, 带头的怎么算, 就行吧) makes 几 "a few": 约了几个人吃饭，能去吗 asks
# whether one may go, not how many went; 是几年，能延长吗 still asks for the years.
_OWN_QUESTION = re.compile(r"^[^，,；;？?]*[，,；;]\s*(?![^？?]*(?:几|多少|多久|多长))[^？?]*?"
                           r"(?:吗|么|怎|咋|啥|什么|如何|能否|是否|([\u4e00-\u9fff])不\1|[能会可要行算][^，。？?]{0,8}不[？?。]*$|吧[？?。]*$)")
_ASKING_BEFORE = frozenset("是为有要得需共总")
# 能多叫几个人吗, 陪同的能多整几个人不: "a few more" in a yes-or-no question (最多几个 asks a number).
_FEW_MORE = re.compile(r"(?<![最至顶])多[\u4e00-\u9fff]?$")
_YES_NO_END = re.compile(r"(?:吗|么|不|没|不行|中不中)[？?。！!\s]*$")
_ASKS_LATIN_UNIT = re.compile(r"(?:几|多少)\s*([A-Za-z]+)")
_ASKS_DATE = re.compile(r"哪一?天|几月几[日号]|(?:几|哪)号|什么日子")
_ASKS_PHONE = re.compile(r"(?:电话|手机号|联系方式|号码)(?:是|为)?(?:多少|几号|啥)|(?:多少|什么)(?:电话|号码)")
_PHONE = Expected("电话号码", re.compile(r"(?:\d{3,4}[-－ ]?)?\d{7,8}|1[3-9]\d{9}"), dates_count=True)
# 一次工作会议最多能开几天 is not answered by 会期一般为两天, only by a bound (不超过, 以内, 为限, 届满前).
_ASKS_MAXIMUM = re.compile(r"最多|最长|最高|最晚|上限|顶多|最大|封顶|至多"
                           r"|(?:不能|不得|不准|不许|不|别)(?:超过|超出|大于|高于|多于)")  # 年龄不能超过多少岁
_UPPER_BOUND = re.compile(r"超过|以内|之内|以下|最多|最长|至多|为限|前")
_ASKS_YEAR = re.compile(r"哪一?年(?!级)")
_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")


def _token_start(words: Sequence[str], pos: int) -> int:
    start = 0
    for w in words:
        if start + len(w) > pos:
            return start
        start += len(w)
    return pos


# Order matters: a share (百分之几) is also a number, dues are also money.
_ASKED = ((_ASKS_PHONE, _PHONE), (_ASKS_SHARE, _SHARE), (_ASKS_DUES, _DUES), (_ASKS_MONEY, _MONEY),
          (_ASKS_FREQUENCY, _FREQUENCY), (_ASKS_TIMES_PER, _TIMES_PER), (_ASKS_DURATION, _DURATION), (_ASKS_DATE, _DATE),
          (_ASKS_YEAR, _YEAR_ANSWER))


def expected_answer(question: str, words: Sequence[str] = ()) -> Expected | None:
    """Return the type of answer ``question`` asks for, or None when it asks for no quantity.

    ``words``, the question's segmentation, keeps a unit from being read inside a longer word:
    ``多少个人所得税`` asks for no number of people.
    """
    expected = _expected(question, words)
    return replace(expected, maximum=True) if expected is not None and _ASKS_MAXIMUM.search(question) else expected


def _expected(question: str, words: Sequence[str]) -> Expected | None:
    for asks, expected in _ASKED:
        if m := asks.search(question):
            if expected is _DURATION and _EACH_TIME.search(question[:m.start()]):
                expected = _LENGTH
            topic = "".join(g for g in m.groupdict().values() if g)
            return replace(expected, asks=m.group(0).replace(topic, "") if topic else m.group(0))
    for m in _ASKS_UNIT.finditer(question):
        unit = m.start(1)
        start = _token_start(words, unit) if words else unit
        if start == unit or start <= m.start():
            before = question[m.start() - 1:m.start()]
            if _says_a_few(question, m.start(), m.end()):
                continue
            if before == "第":  # 第几次修订 asks which one: 第三次, not 三次
                return Expected("次序", re.compile(rf"第\s*{_NUM}\s*{m.group(1)}"), asks="第" + m.group(0))
            which = before == "哪"
            return replace(_UNIT_TYPES[m.group(1)], asks=("哪" if which else "") + m.group(0), required=not which)
    m = _ASKS_LATIN_UNIT.search(question)
    return Expected(m.group(1), re.compile(rf"{_NUM}\s*{re.escape(m.group(1))}", re.I)) if m else None


def _says_a_few(question: str, start: int, end: int) -> bool:
    """Whether the 几 at ``start`` says "a few" and asks nothing: before a clause with a question of its own
    (约了几个人吃饭，能去吗), or after 多 and a verb in a yes-or-no question (能多叫几个人吗)."""
    if question[start] != "几":
        return False
    own_question = question[start - 1:start] not in _ASKING_BEFORE and bool(_OWN_QUESTION.match(question[end:]))
    return own_question or bool(_FEW_MORE.search(question[:start]) and _YES_NO_END.search(question))


def years_named(question: str) -> tuple[str, ...]:
    """Return the years (``2027``) a question names with 年."""
    return tuple(dict.fromkeys(_YEAR.findall(question)))


def states_year(text: str, year: str) -> bool:
    """Return whether ``text`` mentions ``year`` in arabic or Chinese digits (二〇二七)."""
    return year in text or year.translate(_TO_CN) in text


_TO_CN = str.maketrans("0123456789", "〇一二三四五六七八九")
