"""Reading evaluation reports from disk: the folder ``LATEST`` names, else the newest complete one, and its files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

LATEST = "LATEST"
METRICS = "metrics.json"
REPORT = "report.md"


@dataclass(frozen=True)
class EvalReport:
    """The latest evaluation report: its folder, report.md as written, its metrics and its PNG charts."""

    directory: Path
    markdown: str
    metrics: dict
    charts: tuple[Path, ...]

    def to_dict(self) -> dict:
        return {"found": True, "report_dir": str(self.directory), "markdown": self.markdown, "metrics": self.metrics,
                "charts": [p.name for p in self.charts]}


def _complete(d: Path) -> bool:
    return (d / REPORT).is_file() and (d / METRICS).is_file()


def find_report(root: Path) -> Path | None:
    """Return the report folder that ``root/LATEST`` names, else the newest folder with report.md and metrics.json."""
    root = Path(root)
    pointer = root / LATEST
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        target = Path(name) if Path(name).is_absolute() else root / name
        if name and _complete(target):
            return target
    found = [d for d in root.iterdir() if d.is_dir() and _complete(d)] if root.is_dir() else []
    return max(found, key=lambda d: ((d / METRICS).stat().st_mtime, d.name), default=None)


def load_report(root: Path) -> EvalReport | None:
    """Return the latest report under ``root``, or None when there is none yet."""
    d = find_report(root)
    if d is None:
        return None
    try:
        metrics = json.loads((d / METRICS).read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        metrics = {}
    return EvalReport(d, (d / REPORT).read_text(encoding="utf-8"), metrics, tuple(sorted(d.glob("*.png"))))
