"""What every ``djkb`` command shares: settings from the context, errors as click messages, progress bars, JSON."""
from __future__ import annotations

import json
import sys

import click

from kb.config import Settings
from kb.errors import DjkbError


def settings_of(ctx: click.Context) -> Settings:
    """Return the settings the ``djkb`` group put on the context."""
    return ctx.obj


def fail(exc: Exception) -> None:
    """Raise ``exc`` as a click error: its message, no traceback."""
    raise click.ClickException(str(exc)) from exc


def bar(label: str):
    """Return a progress callback drawing a tqdm bar on stderr."""
    from tqdm import tqdm

    state: dict = {}

    def update(name: str, i: int, total: int) -> None:
        progress = state.get("bar")
        if progress is None:
            progress = state["bar"] = tqdm(total=total, desc=label, unit="件", file=sys.stderr, dynamic_ncols=True)
        progress.set_postfix_str(name[:30], refresh=False)
        progress.update(i - progress.n)
        if i == total:
            progress.close()

    return update


def open_kb(settings: Settings, check_model: bool = True):
    """Open the knowledge base, or exit with its message."""
    from kb.base import KnowledgeBase

    try:
        return KnowledgeBase.open(settings, check_model=check_model)
    except DjkbError as exc:
        fail(exc)


def dump(obj) -> str:
    """Return ``obj`` as one line of UTF-8 JSON."""
    return json.dumps(obj, ensure_ascii=False)
