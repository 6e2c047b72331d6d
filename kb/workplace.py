"""Where a question's party organization stands, and the regulations that govern only the organizations of 机关.

The 党和国家机关基层组织工作条例 sets up party branches in 机关 (机关正式党员3人以上的，成立党支部); a branch in a
company or a village is set up under the 党章 (第三十条). A question placed in a 公司 or a 村 must not take the 机关
regulation's rule for its own.
"""
from __future__ import annotations

import re

# Places a party organization stands outside the 机关: 我们公司就三个正式党员, 厂里的党支部, 村党组织.
_ELSEWHERE = re.compile(r"公司|企业|[私民国]企|[厂村]|社区|学校|高校|医院|协会|商会|合作社")
# Words that place the question in a 机关 after all (乡镇政府, 县法院, 我们局), or leave it open (单位).
_ORGANS = re.compile(r"机关|政府|局|厅|处室|科室|部委|法院|检察院|人大|政协|机构|单位|乡镇|街道")
_ORGANS_ONLY_TITLE = "机关基层组织"


def outside_organs(text: str) -> bool:
    """Whether a question places itself in a company, a village, a school… and nowhere in a 机关."""
    return bool(_ELSEWHERE.search(text)) and not _ORGANS.search(text)


def governs_organs_only(title: str) -> bool:
    """Whether a regulation's title limits it to the party organizations of 机关."""
    return _ORGANS_ONLY_TITLE in title
