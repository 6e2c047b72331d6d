"""Answers (parse → retrieve → assess → compose → verify → show), study material, the app and the CLI."""

__all__ = [
    "answer", "assess", "citations", "clikit", "distractors", "outline", "quiz", "quizcheck", "rewrite", "sources",
]
