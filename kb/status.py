"""Which stored text is in force: each document's edition and status (现行有效, 已被修订, 已废止, 未知) with its links,
from the edition registry, the other editions stored, and an administrator's overrides (kept in their own file)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .catalog import DocEntry, Manifest, write_json_atomic
from .editions import (IN_FORCE, REPEALED, STATUSES, SUPERSEDED, UNKNOWN, Edition, edition_year, history,
                       registry_edition, regulation_key)
from .errors import DjkbError

OVERRIDES_FILE = "status_overrides.json"
TRACKED_TYPES = ("regulation", "other")


@dataclass(frozen=True)
class Link:
    """Another edition of the same regulation: its label, and its document id when the knowledge base holds it."""

    edition: str
    doc_id: str | None = None

    def to_dict(self) -> dict:
        return {"edition": self.edition, "doc_id": self.doc_id}


@dataclass(frozen=True)
class DocStatus:
    """A stored document's edition and status, where the status comes from, and the editions around it."""

    doc_id: str
    title: str
    edition: str | None
    status: str
    evidence: str = ""
    basis: str = "none"  # registry, knowledge-base, override or none
    supersedes: tuple[Link, ...] = ()
    superseded_by: tuple[Link, ...] = ()
    current: Edition | None = None
    note: str = ""
    issued: str | None = None

    @property
    def named(self) -> str:
        """Return the title with its edition: 《中国共产党纪律处分条例》（2018年修订）."""
        return cite_title(self.title, self.edition)

    @property
    def successor_stored(self) -> bool:
        """Whether a newer edition's full text is in the knowledge base."""
        return any(link.doc_id for link in self.superseded_by)

    def to_dict(self) -> dict:
        return {"edition": self.edition, "issued": self.issued, "status": self.status, "status_basis": self.basis,
                "evidence": self.evidence, "supersedes": [x.to_dict() for x in self.supersedes],
                "superseded_by": [x.to_dict() for x in self.superseded_by],
                "current_edition": self.current.label if self.current else None,
                **({"note": self.note} if self.note else {})}


def cite_title(title: str, edition: str | None) -> str:
    """Return ``《title》（edition）``, or ``《title》`` when the edition is unknown."""
    return f"《{title}》" + (f"（{edition}）" if edition else "")


@dataclass(frozen=True)
class Override:
    """An administrator's status for one document, matched by id, else by title and edition (survives re-ingest)."""

    doc_id: str
    title: str
    edition: str | None
    status: str
    set_at: str = ""

    def matches(self, entry: DocEntry, edition: str | None) -> bool:
        return entry.doc_id == self.doc_id or (entry.title == self.title and edition == self.edition)


def load_overrides(kb_dir: Path) -> tuple[Override, ...]:
    """Return the stored status overrides (none when the file is missing)."""
    path = Path(kb_dir) / OVERRIDES_FILE
    if not path.exists():
        return ()
    raw = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Override(**o) for o in raw.get("overrides", []))


def overrides_stamp(kb_dir: Path) -> int | None:
    """Return the overrides file's mtime (None when missing): a reader reloads statuses when it changes."""
    try:
        return (Path(kb_dir) / OVERRIDES_FILE).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def set_override(kb_dir: Path, entry: DocEntry, edition: str | None, status: str | None) -> tuple[Override, ...]:
    """Set (or with ``status`` None clear) a document's status override; return the overrides now stored."""
    if status is not None and status not in STATUSES:
        raise DjkbError(f"未知状态 {status!r}（可选：{'、'.join(STATUSES)}）")
    kept = [o for o in load_overrides(kb_dir) if not o.matches(entry, edition)]
    if status is not None:
        kept.append(Override(entry.doc_id, entry.title, edition, status,
                             datetime.now(timezone.utc).isoformat(timespec="seconds")))
    write_json_atomic(Path(kb_dir) / OVERRIDES_FILE,
                      {"version": 1, "overrides": [o.__dict__ for o in sorted(kept, key=lambda o: o.title)]})
    return tuple(kept)


@dataclass
class _Draft:
    entry: DocEntry
    edition: str | None
    year: int | None
    known: Edition | None
    status: str = UNKNOWN
    evidence: str = ""
    basis: str = "none"
    before: list[Link] = field(default_factory=list)
    after: list[Link] = field(default_factory=list)
    current: Edition | None = None


def _from_registry(d: _Draft) -> None:
    """Fill status and links from the registry's history of the document's title."""
    editions = history(d.entry.title)
    if d.known is not None:
        d.status, d.evidence, d.basis = d.known.status, d.known.evidence, "registry"
    elif d.year is not None and any((e.year or 0) > d.year for e in editions):
        d.status, d.basis = SUPERSEDED, "registry"
    if d.year is None:
        return
    d.before = [Link(e.label) for e in editions if (e.year or 0) < d.year]
    d.after = [Link(e.label) for e in editions if (e.year or 0) > d.year]
    if d.after:
        live = [e for e in editions if (e.year or 0) > d.year and e.status == IN_FORCE]
        d.current = live[-1] if live else editions[-1]
        d.evidence = d.current.evidence


def _within_kb(drafts: list[_Draft]) -> None:
    """Among stored editions of one regulation, the newest not repealed is current; the older ones are superseded."""
    ordered = sorted((d for d in drafts if d.year is not None), key=lambda d: d.year)
    live = [d for d in ordered if d.status != REPEALED]
    if len(ordered) < 2 or not live:
        return
    newest = live[-1]
    for d in ordered:
        newer = [Link(o.edition or "", o.entry.doc_id) for o in ordered if o.year > d.year]
        older = [Link(o.edition or "", o.entry.doc_id) for o in ordered if o.year < d.year]
        d.after = [x for x in d.after if x.edition not in {n.edition for n in newer}] + newer
        d.before = [x for x in d.before if x.edition not in {o.edition for o in older}] + older
        if d is not newest and d.status != REPEALED:
            d.status, d.basis = SUPERSEDED, "knowledge-base"
            d.evidence = f"知识库中有更新的版本 {newest.entry.doc_id}"
            d.current = d.current or newest.known
    if not newest.after and newest.status == UNKNOWN:
        newest.status, newest.basis = IN_FORCE, "knowledge-base"


def resolve(manifest: Manifest, overrides: tuple[Override, ...] = ()) -> dict[str, DocStatus]:
    """Return the status of every stored regulation and official document (speeches have no editions)."""
    groups: dict[str, list[_Draft]] = {}
    for e in manifest.documents.values():
        if e.doc_type not in TRACKED_TYPES:
            continue
        known = registry_edition(e.title, e.edition, e.date)
        label = known.label if known else e.edition
        d = _Draft(e, label, edition_year(label) or edition_year(e.date and f"{e.date[:4]}年"), known)
        _from_registry(d)
        groups.setdefault(regulation_key(e.title), []).append(d)
    out: dict[str, DocStatus] = {}
    for drafts in groups.values():
        _within_kb(drafts)
        for d in drafts:
            status, basis = d.status, d.basis
            hit = next((o for o in overrides if o.matches(d.entry, d.edition)), None)
            if hit is not None:
                status, basis = hit.status, "override"
            out[d.entry.doc_id] = DocStatus(
                d.entry.doc_id, d.entry.title, d.edition, status, d.evidence if basis != "override" else
                f"管理员设定（{hit.set_at}）", basis, tuple(d.before), tuple(d.after), d.current,
                d.known.note if d.known else "", d.known.issued if d.known else d.entry.date)
    return out


def blocked_by_default(statuses: Mapping[str, DocStatus]) -> set[str]:
    """Return the documents the default 现行有效 filter leaves out: repealed ones, and superseded ones whose successor's
    full text is stored. A superseded text whose successor the knowledge base lacks stays searchable (with a notice):
    it is the only full text of that regulation at hand."""
    return {d for d, s in statuses.items()
            if s.status == REPEALED or (s.status == SUPERSEDED and s.successor_stored)}
