"""Where a question's party organization stands, and which kind of organization a regulation governs.

The 党和国家机关基层组织工作条例 sets up party branches in 机关 (机关正式党员3人以上的，成立党支部); a branch in a
company or a village is set up under the 党章 (第三十条). The same holds for the 农村, 国有企业 and 高等学校 regulations of
the same family: a question placed in one kind of organization must not take another kind's rule for its own.
"""
from __future__ import annotations

import re

# The kinds of place a question can put its party organization in. 单位 leaves it open, so it counts as a 机关: a
# question that names one keeps the 机关 regulation (我们单位在村里扶贫).
_PLACES = (
    ("机关", re.compile(r"机关|政府|局|厅|处室|科室|部委|法院|检察院|人大|政协|机构|单位|乡镇|街道")),
    ("企业", re.compile(r"公司|企业|[私民国]企|厂")),
    ("农村", re.compile(r"村")),
    ("学校", re.compile(r"学校|高校")),
    ("其他", re.compile(r"社区|医院|协会|商会|合作社")),
)
# 中国共产党农村基层组织工作条例, 国有企业基层组织工作条例, 普通高等学校基层组织工作条例, 党和国家机关基层组织工作条例.
_GOVERNS = re.compile(r"(机关|农村|企业|学校)基层组织")


def places(text: str) -> frozenset[str]:
    """Return the kinds of organization a question places itself in (机关, 企业, 农村, 学校, 其他); empty if none."""
    return frozenset(kind for kind, pattern in _PLACES if pattern.search(text))


def governs(title: str) -> str | None:
    """Return the one kind of organization a regulation's title limits it to, or None when it governs all."""
    m = _GOVERNS.search(title)
    return m.group(1) if m else None


def outside_scope(where: frozenset[str], title: str) -> bool:
    """Whether a regulation titled ``title`` governs another kind of organization than every one the question is in."""
    kind = governs(title)
    return bool(where) and kind is not None and kind not in where
