"""Answer types: what quantity a question asks for, and whether a passage states one."""
from __future__ import annotations

import pytest

from kb.answertype import expected_answer, states_year, years_named
from kb.lexical import get_tokenizer


def _expected(question):
    return expected_answer(question, get_tokenizer().segment(question))


@pytest.mark.parametrize("question, label", [
    ("发展对象名单要公示几天？", "天数"),
    ("支部委员会每届任期几年？", "年数"),
    ("党员多长时间不参加组织生活会被视为自行脱党？", "时间或频次"),
    ("民主生活会多久开一次？", "频次"),
    ("支委会一个月开几次？", "频次"),
    ("党课一年要上几次", "频次"),
    ("查阅干部档案得去几个人？", "人数"),
    ("年满几岁可以申请入党？", "年龄"),
    ("岗位补贴是多少元？", "金额"),
    ("比特币现在多少钱一个？", "金额"),
    ("党费按工资的百分之几交纳？", "比例"),
    ("退休了党费按啥比例交", "比例"),
    ("国旗的长宽比是多少", "比例"),
    ("退休金按几个百分点交党费", "比例"),
    ("出差住宿一晚最多能报多少？", "金额"),
    ("节日慰问一般发多少", "金额"),
    ("党员每个月工资要交多少党费", "金额或比例"),
    ("我工资六千，党费一个月应该交多少", "金额或比例"),
    ("对党员的纪律处分有几种？", "种类数"),
    ("办公用房面积标准是多少平方米？", "面积"),
    ("借出后要在多少个工作日内归还？", "工作日数"),
    ("扫描分辨率不低于多少dpi？", "dpi"),
    ("第二十一次党代会哪一天开幕？", "日期"),
    ("组织部转接窗口的电话是多少", "电话号码"),
    ("大会几点开始", "点数或钟点"),
    ("这是第几次修订", "次序"),
    ("主题党日一般定在每个月几号", "日期"),
    ("预备期是几年，能延长吗？", "年数"),  # 是几年 asks, though a question of its own follows
    ("廉洁自律准则一共几条，第一条讲的啥", "条数"),
    ("陪餐最多几个人", "人数"),  # 最多几个 asks a number
    ("学习心得至少要写多少字", "字数"),
    ("思想汇报一个季度交几篇", "篇数"),
    ("评先进的名额比例要控制在多少", "比例"),
    ("每回开会得开够几个钟头", "小时数"),
])
def test_questions_asking_for_a_quantity(question, label):
    assert _expected(question).label == label and _expected(question).required


def test_which_kinds_prefers_a_count_but_a_list_answers_it():
    expected = _expected("对党员的纪律处分有哪几种？")
    assert expected.label == "种类数" and not expected.required and expected.asks == "哪几种"


@pytest.mark.parametrize("question", [
    "月薪两万元每个月要交多少个人所得税？",  # 个人 belongs to 个人所得税: no number of people is asked
    "党员有哪些权利？",
    "支部大会都通过好几个月了，审批有没有时限",  # 好几, 十几, 这几 and 几十 say "several"
    "入党十几年了，党龄怎么算",
    "这几天发展对象要谈话吗",
    "党的最高领导机关是什么？",
    "会上要发多少份材料",  # a count of copies, no amount
    "陪同的能多叫几个人吗",  # 多叫几个: "a few more", asked yes or no
    "能多报几天的住宿费不",
    "档案借回去看几天，打个借条就行吧？",  # 几 before a yes-or-no question with 吧 says "a few"
    "",
])
def test_questions_asking_for_no_quantity(question):
    assert _expected(question) is None


@pytest.mark.parametrize("question, text, found", [
    ("公示几天？", "公示期不少于五个工作日。", True),
    ("公示几天？", "公示期不少于5天。", True),
    ("公示几天？", "应当进行公示。", False),
    ("多久开一次？", "一般每年召开1次。", True),
    ("多久开一次？", "每季度召开一次。", True),
    ("多久开一次？", "应当定期召开。", False),
    ("多久开一次？", "民主生活会足足开了两天。", False),
    ("多久开一次？", "新闻联播头条用时近15分钟。", False),
    ("要开几天？", "这是春节后的第一个工作日。", False),  # an ordinal counts nothing
    ("主题党日要搞多长时间？", "各支部开展了12月主题党日活动。", False),  # 12月 names a month
    ("要放几个月？", "应当在3个月内转出。", True),
    ("一个月开几次？", "每月召开一次支部委员会。", True),
    ("一个月开几次？", "支部委员会每届任期三年。", False),  # a term of office is no count per month
    ("多久换一次届？", "支部委员会每届任期三年。", True),
    ("得去几个人？", "查阅档案应当2人以上。", True),
    ("得去几个人？", "查阅档案应当由组织人事部门批准。", False),
    ("补贴多少元？", "每年补助400元到600元。", True),
    ("补贴多少元？", "按规定发放补贴。", False),
    ("百分之几？", "按月工资收入的百分之一交纳。", True),
    ("交多少党费？", "按月工资收入的百分之一交纳。", True),
    ("交多少党费？", "每月交纳200元。", True),
    ("交多少党费？", "党员应当按期交纳党费。", False),
    ("百分之几？", "交纳比例为0.5%。", True),
    ("百分之几？", "按规定比例交纳。", False),
    ("几岁？", "年满十八周岁。", True),
    ("几点开始？", "下午三时，大会隆重开幕。", True),
    ("几点开始？", "大会隆重开幕。", False),
    ("第几次修订？", "这是对条例的第三次修订。", True),  # an ordinal answers an ordinal
    ("第几次修订？", "条例先后修订三次。", False),
    ("第几届？", "第十九届中央委员会", True),
    ("得来多少人才有效？", "有表决权的到会人数超过应到会人数的半数", True),  # a share of a body is a headcount
    ("得来多少人才有效？", "支部大会讨论决定", False),
])
def test_whether_a_text_states_the_quantity(question, text, found):
    assert _expected(question).found_in(text) is found


@pytest.mark.parametrize("question, asks", [
    ("党费按工资的百分之几交？", "百分之几"),
    ("民主生活会多久开一次啊？", "多久开一次"),
    ("发展对象名单要公示几天？", "几天"),
    ("党组织书记一个月补贴多少钱", "多少"),  # 补贴 is what is asked about
    ("每个月要交多少党费", "多少"),
])
def test_the_asking_words_are_kept_apart_from_the_topic(question, asks):
    assert _expected(question).asks == asks


def test_years_named_and_stated():
    assert years_named("2027年公务员涨工资了吗？2028年呢？") == ("2027", "2028")
    assert years_named("党的十八大以来") == ()
    assert states_year("二〇二七年三月印发", "2027")
    assert states_year("2027年3月印发", "2027")
    assert not states_year("2026年3月印发", "2027")


@pytest.mark.parametrize("question, text", [
    ("民主生活会多久开一次？", "中央政治局于12月25日至26日召开民主生活会。"),
    ("任期几年？", "2022年10月22日通过。"),
    ("公示几天？", "二〇二二年十月二十二日通过。"),
    ("最多能开几天？", "11月1日和5日 财经委员会两次开会研究物价问题。"),
])
def test_calendar_dates_are_no_durations(question, text):
    assert not _expected(question).found_in(text)


def test_dates_answer_date_questions():
    assert _expected("党代会哪一天开幕？").found_in("大会于10月16日开幕。")


def test_a_question_for_a_maximum_is_answered_by_a_bound_only():
    asked = _expected("一次工作会议最多能开几天")
    assert asked.maximum and asked.found_in("会期一般为两天")
    assert not asked.bounds("会期一般为两天") and asked.bounds("会期不超过两天") and asked.bounds("以二天为限")
    assert _expected("一次工作会议能开几天").bounds("会期一般为两天")


def test_how_long_each_time_asks_for_a_length_not_a_frequency():
    asked = _expected("支部每次集中学习要搞多长时间")
    assert asked.label == "时长" and asked.required
    assert not asked.found_in("党支部应当每月开展1次主题党日") and asked.found_in("每次学习一般不少于2小时")
    assert _expected("支部集中学习多长时间搞一次").label == "频次"


def test_not_to_exceed_asks_for_a_bound():
    asked = _expected("村支书的年龄不能超过多少岁")
    assert asked.maximum and not asked.bounds("我25岁就当村支书了") and asked.bounds("年龄一般不超过55周岁")


def test_names_include_numbered_congresses_and_plenums():
    entities = get_tokenizer().entities
    assert "第二十一次全国代表大会" in entities("中国共产党第二十一次全国代表大会哪一天开幕？")
    assert {"十九届四中全会", "二十大"} <= set(entities("十九届四中全会和党的二十大"))
    assert entities("坚持三大作风，党的十大") == []
    assert "越南共产党" in entities("越南共产党的预备期多长？")
    # Two characters: a guessed person's name or 老/小 with a surname, not a dictionary word tagged as a place or name.
    assert entities("县委书记张某的电话") == ["张某"] and entities("村支书老李受过啥处分") == ["老李"]
    assert entities("转发议论中央的段子算违纪吗") == [] and entities("有没有上岗培训") == []
    # Two characters with 小 or guessed by jieba are a name only with a surname (小王, not 小错 or 购物卡会受's 卡会).
    assert entities("小王犯了点小错") == ["小王"] and entities("收了购物卡会受什么处分") == []
    # Three characters guessed as a person's name need a surname too (卡能收 is 购物卡 + 能收).
    assert entities("人家送的购物卡能收吗") == [] and entities("王建国书记讲了啥") == ["王建国"]


def test_an_a_not_a_question_is_how_a_question_asks():
    tokenizer = get_tokenizer()
    assert tokenizer.asks_or_qualifies("有没有") and tokenizer.asks_or_qualifies("算不算")
    assert not tokenizer.asks_or_qualifies("开会")
