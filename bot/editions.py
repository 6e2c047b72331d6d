"""Editions for the interfaces: a document's edition and status as a row, and the administrator's status override."""
from __future__ import annotations

from pathlib import Path

from kb.catalog import Catalog, DocEntry, Manifest
from kb.errors import NotFound
from kb.status import DocStatus, cite_title, load_overrides, resolve, set_override

from . import messages as msg


def edition_fields(entry: DocEntry, status: DocStatus | None) -> dict:
    """Return a document's edition fields for rows and JSON: edition, dates, status, links, evidence, cited title."""
    edition = status.edition if status else entry.edition
    fields = {"edition": edition, "effective_date": entry.effective_date,
              "cited_as": cite_title(entry.title, edition if entry.doc_type != "speech" else None)}
    if status is not None:
        fields.update(status.to_dict())
    else:
        fields.update({"status": None, "status_basis": None, "evidence": "", "supersedes": [], "superseded_by": [],
                       "current_edition": None})
    return fields


def find_entry(manifest: Manifest, doc: str) -> DocEntry:
    """Return the document named by id, exact title or cited title (《标题》（版本）); raises NotFound."""
    doc = doc.strip()
    if doc in manifest.documents:
        return manifest.documents[doc]
    named = [e for e in manifest.documents.values() if doc in (e.title, f"《{e.title}》", cite_title(e.title, e.edition))]
    if len(named) == 1:
        return named[0]
    if named:
        raise NotFound(f"有 {len(named)} 个文档名为 {doc}，请用文档 ID 指定：" + "、".join(e.doc_id for e in named))
    raise NotFound(msg.unknown_doc(doc))


def status_of(kb_dir: Path, doc: str) -> dict:
    """Return one document's id, title and edition fields."""
    manifest = Catalog(Path(kb_dir)).load()
    entry = find_entry(manifest, doc)
    status = resolve(manifest, load_overrides(Path(kb_dir))).get(entry.doc_id)
    return {"doc_id": entry.doc_id, "title": entry.title, **edition_fields(entry, status)}


def set_status(kb_dir: Path, doc: str, status: str | None) -> str:
    """Store (``status`` None: clear) an administrator's status for a document; return the message to show.

    The override lives in its own file beside the manifest, keyed by document id and by title and edition, so it
    survives re-ingest and a pipeline change."""
    manifest = Catalog(Path(kb_dir)).load()
    entry = find_entry(manifest, doc)
    current = resolve(manifest).get(entry.doc_id)
    edition = current.edition if current else entry.edition
    set_override(Path(kb_dir), entry, edition, status)
    return msg.status_set(cite_title(entry.title, edition), status)
