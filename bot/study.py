"""Study materials for trainers, in one place: the outline (bot.outline), the quiz (bot.quiz), its validity check
(bot.quizcheck) and the exports (bot.export)."""
from __future__ import annotations

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
