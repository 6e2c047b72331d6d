"""Storage: the SQLite catalog (commits of what changed, migration, corruption and repair), crash recovery from the
journal, reindexing into a new collection, a searcher seeing another process's writes, and a full disk."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from fixtures import speech_text, wait_until, write_corpus
from ingest.maintenance import recover, reindex, repair
from ingest.pipeline import ingest
from kb.base import KnowledgeBase
from kb.catalog import CATALOG_FILE, Catalog
from kb.config import load_settings
from kb.embedding import HashEmbedder
from kb.errors import CatalogCorrupt, DiskFull
from kb.retrieve import Searcher
from test_pipeline import consistent

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ("组织生活会", "党员的权利和义务", "测试工作条例二第三条", "民主评议")


def top_ids(kb: KnowledgeBase, mode: str = "hybrid") -> dict[str, list[str]]:
    searcher = Searcher(kb)
    return {q: [h.chunk.chunk_id for h in searcher.search(q, k=10, mode=mode)] for q in QUERIES}


def test_a_commit_writes_only_the_documents_that_changed(hash_kb, tmp_path):
    write_corpus(tmp_path / "c", regulations=4, speeches=2)
    ingest(hash_kb, [tmp_path / "c"])
    manifest = hash_kb.catalog.load()
    doc_id = sorted(manifest.documents)[0]
    manifest.documents[doc_id] = manifest.documents[doc_id]
    generation = manifest.generation
    assert hash_kb.catalog.commit(manifest) == 1
    assert hash_kb.catalog.load().generation == generation + 1
    assert hash_kb.catalog.commit(manifest) == 0  # nothing changed: only the generation moves


def test_an_old_manifest_json_is_migrated_on_open(hash_kb, tmp_path):
    write_corpus(tmp_path / "c", regulations=2, speeches=1)
    ingest(hash_kb, [tmp_path / "c"])
    before = hash_kb.catalog.load()
    kb_dir = hash_kb.catalog.kb_dir
    legacy = {"version": 1, "generation": before.generation, "model": before.model,
              "documents": {k: v.to_json() for k, v in before.documents.items()}}
    (kb_dir / "manifest.json").write_text(json.dumps(legacy, ensure_ascii=False), encoding="utf-8")
    (kb_dir / CATALOG_FILE).unlink()
    after = Catalog(kb_dir).load()
    assert (kb_dir / CATALOG_FILE).exists() and (kb_dir / "manifest.json.v1").exists()
    assert not (kb_dir / "manifest.json").exists()
    assert after.documents == before.documents and after.generation == before.generation
    assert Searcher(hash_kb).search("组织生活", k=3)


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "legacy-truncated"])
def test_a_corrupt_catalog_names_repair_which_rebuilds_it(hash_kb, tmp_path, damage):
    write_corpus(tmp_path / "c", regulations=3, speeches=1)
    ingest(hash_kb, [tmp_path / "c"])
    before = top_ids(hash_kb)
    docs = set(hash_kb.catalog.load().documents)
    kb_dir = hash_kb.catalog.kb_dir
    path = kb_dir / CATALOG_FILE
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "zeroed":
        path.write_bytes(b"")
    else:
        path.unlink()
        (kb_dir / "manifest.json").write_text('{"version": 1, "generation": 3, "documents": {"ab', encoding="utf-8")
    with pytest.raises(CatalogCorrupt, match="djkb repair"):
        Catalog(kb_dir).load()
    with pytest.raises(CatalogCorrupt, match="djkb repair"):
        KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder())
    kb = KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder(), check_model=False, repairing=True)
    reps = repair(kb)
    assert reps.adopted == len(docs) and reps.lost == 0
    assert set(kb.catalog.load().documents) == docs
    consistent(kb)
    assert top_ids(KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder())) == before


def test_cli_reports_a_corrupt_catalog_without_a_traceback(tmp_path):
    kb_dir = tmp_path / "kb"
    kb_dir.mkdir()
    (kb_dir / CATALOG_FILE).write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    env = {**os.environ, "DJKB_HOME": str(kb_dir), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot", "docs"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert "djkb repair" in done.stderr and "Traceback" not in done.stderr


def test_a_newer_catalog_version_is_refused_by_name(hash_kb, tmp_path):
    import sqlite3

    write_corpus(tmp_path / "c", regulations=1, speeches=0)
    ingest(hash_kb, [tmp_path / "c"])
    with sqlite3.connect(hash_kb.catalog.path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(CatalogCorrupt, match="格式版本 99.*升级 djkb"):
        hash_kb.catalog.load()


def test_an_interrupted_batch_is_undone_from_the_journal(hash_kb, tmp_path):
    paths = write_corpus(tmp_path / "c", regulations=2, speeches=0)
    ingest(hash_kb, paths[:1])
    committed = set(hash_kb.catalog.load().documents)
    # A second ingest that wrote its file and vectors, then died before its commit.
    from ingest.chunker import chunk_document
    from ingest.structure import make_document

    doc = make_document(paths[1].read_text(encoding="utf-8"), str(paths[1]), paths[1].name)
    chunks, _ = chunk_document(doc)
    hash_kb.catalog.intend([doc.doc_id])
    hash_kb.catalog.write_doc(doc, chunks, [["x"]] * len(chunks))
    hash_kb.store.upsert(chunks[:2], hash_kb.embedder.embed_passages([c.text for c in chunks[:2]]))
    reps = recover(hash_kb, hash_kb.catalog.load())
    assert reps.uncommitted == 1 and reps.orphans == 2
    assert set(hash_kb.catalog.load().documents) == committed and not hash_kb.catalog.intents()
    consistent(hash_kb)


def test_a_remove_interrupted_after_its_commit_is_finished_by_the_next_write(hash_kb, tmp_path):
    paths = write_corpus(tmp_path / "c", regulations=3, speeches=0)
    ingest(hash_kb, paths[:2])
    manifest = hash_kb.catalog.load()
    victim = sorted(manifest.documents)[0]
    chunks = len(manifest.documents[victim].chunk_ids)
    hash_kb.catalog.intend([victim])
    del manifest.documents[victim]
    hash_kb.catalog.commit(manifest)  # killed here: its chunks and file are still on disk
    assert hash_kb.store.ids_of([victim]) and hash_kb.catalog.doc_path(victim).exists()
    report = ingest(hash_kb, paths)
    assert report.recovered == chunks + 1 and len(report.added) == 2  # its chunks and file; then it comes back
    consistent(hash_kb)


def test_repair_embeds_missing_vectors_and_never_drops_an_intact_document(hash_kb, tmp_path):
    paths = write_corpus(tmp_path / "c", regulations=2, speeches=0)
    ingest(hash_kb, paths)
    manifest = hash_kb.catalog.load()
    victim = sorted(manifest.documents)[0]
    _, chunks, _ = hash_kb.catalog.read_doc(victim)
    stray = dataclasses.replace(chunks[0], chunk_id="orphan-0001")
    hash_kb.store.upsert([stray], np.ones((1, hash_kb.embedder.dim), dtype=np.float32))
    hash_kb.store.delete([c.chunk_id for c in chunks[1:4]])
    reps = repair(hash_kb)
    assert reps.reembedded == 3 and reps.orphans == 1 and reps.lost == 0
    assert set(hash_kb.catalog.load().documents) == set(manifest.documents)
    consistent(hash_kb)
    # A committed document named in the journal with missing vectors is embedded again, not dropped.
    hash_kb.store.delete([chunks[0].chunk_id])
    hash_kb.catalog.intend([victim])
    report = ingest(hash_kb, paths)
    assert report.recovered == 1 and len(report.unchanged) == 2
    consistent(hash_kb)


class _Boom(Exception):
    pass


class _DiesAfter(HashEmbedder):
    """The hash embedder, raising after ``calls`` calls: an interrupted reindex."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def embed_passages(self, texts, **kwargs):
        self.calls -= 1
        if self.calls < 0:
            raise _Boom()
        return super().embed_passages(texts, **kwargs)


def test_an_interrupted_reindex_keeps_serving_the_old_vectors_and_resumes(hash_kb, tmp_path):
    write_corpus(tmp_path / "c", regulations=8, speeches=4)
    ingest(hash_kb, [tmp_path / "c"])
    before_docs = set(hash_kb.catalog.load().documents)
    before = top_ids(hash_kb, "dense")
    old_collection = hash_kb.catalog.load().collection
    dying = KnowledgeBase.open(hash_kb.settings, embedder=_DiesAfter(1), check_model=False)
    with pytest.raises(_Boom):
        reindex(dying)
    manifest = hash_kb.catalog.load()
    assert manifest.collection == old_collection and manifest.reindex is not None
    assert set(manifest.documents) == before_docs
    assert top_ids(KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder()), "dense") == before
    # An unrelated ingest keeps every document; a second reindex resumes and switches over.
    extra = tmp_path / "另一篇讲话.txt"
    extra.write_text("另一篇讲话\n要把党的建设摆在突出位置，持续推进全面从严治党。\n", encoding="utf-8")
    report = ingest(KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder()), [extra])
    assert before_docs < set(hash_kb.catalog.load().documents) and len(report.added) == 1
    kb = KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder(), check_model=False)
    reindex(kb)
    manifest = kb.catalog.load()
    assert manifest.collection != old_collection and manifest.reindex is None
    assert old_collection not in [c.name for c in kb.store.client.list_collections()]
    consistent(kb)


def test_a_long_lived_searcher_sees_another_process_ingest(hash_kb, tmp_path):
    write_corpus(tmp_path / "c", regulations=2, speeches=0)
    ingest(hash_kb, [tmp_path / "c"])
    searcher = Searcher(hash_kb)
    searcher.search("组织生活", k=3)
    new = tmp_path / "new" / "关于加强机关档案数字化工作的通知.txt"
    new.parent.mkdir()
    new.write_text("关于加强机关档案数字化工作的通知\n各单位要推进档案数字化，建立电子档案长期保存制度。\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        from kb.base import KnowledgeBase
        from kb.config import load_settings
        from kb.embedding import HashEmbedder
        from ingest.pipeline import ingest
        kb = KnowledgeBase.open(load_settings(env={{}}, kb_dir={str(hash_kb.settings.kb_dir)!r}), embedder=HashEmbedder())
        assert ingest(kb, [{str(new)!r}]).added
    """)
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    for mode in ("dense", "lexical"):
        hits = searcher.search("机关档案数字化 电子档案长期保存", k=3, mode=mode)
        assert hits[0].chunk.doc_title == "关于加强机关档案数字化工作的通知", mode


@pytest.fixture
def small_disk(tmp_path):
    """A directory on an 8 MiB tmpfs (needs root); skipped where it cannot be mounted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_one_message_and_loses_nothing(small_disk, tmp_path):
    settings = load_settings(env={}, kb_dir=small_disk / "kb")
    kb = KnowledgeBase.open(settings, embedder=HashEmbedder())
    write_corpus(tmp_path / "c", regulations=2, speeches=0)
    ingest(kb, [tmp_path / "c"])
    committed = set(kb.catalog.load().documents)
    before = top_ids(kb)
    filler = small_disk / "filler"
    with open(filler, "wb") as f:  # leave only a little room: the next ingest runs out part-way
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    os.truncate(filler, filler.stat().st_size - 96 * 1024)
    write_corpus(tmp_path / "more", regulations=6, speeches=6)
    with pytest.raises(DiskFull, match="磁盘空间不足.*已提交的文档完好"):
        ingest(kb, [tmp_path / "more"])
    reader = KnowledgeBase.open(settings, embedder=HashEmbedder())
    assert set(reader.catalog.load().documents) == committed
    assert top_ids(reader) == before  # reads keep working on the full disk
    assert not list((small_disk / "kb").rglob("*.tmp"))
    filler.unlink()
    report = ingest(KnowledgeBase.open(settings, embedder=HashEmbedder()), [tmp_path / "more"])
    assert len(report.added) + len(report.duplicates) + len(report.unchanged) == 12 and not report.failures
    consistent(KnowledgeBase.open(settings, embedder=HashEmbedder()))


@pytest.mark.corpus
def test_kill_9_mid_reindex_damages_nothing(tmp_path):
    """A real `djkb reindex` (real model) is killed part-way: same documents, same top 10, and nothing is lost."""
    folder = tmp_path / "corpus"
    write_corpus(folder, regulations=8, speeches=4)
    kb_dir = tmp_path / "kb"
    settings = load_settings(env={}, kb_dir=kb_dir)
    ingest(KnowledgeBase.open(settings), [folder])
    docs = set(Catalog(kb_dir).load().documents)
    before = top_ids(KnowledgeBase.open(settings))
    # an empty vector cache, so the reindex embeds for real and is killed part-way
    env = {**os.environ, "DJKB_HOME": str(kb_dir), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT),
           "DJKB_VECTOR_CACHE": str(tmp_path / "vectors")}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "reindex"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until(lambda: Catalog(kb_dir).load().reindex is not None, proc, "the reindex")
    time.sleep(3)  # part-way through the embedding
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest = Catalog(kb_dir).load()
    assert manifest.reindex is not None, "the reindex finished before it could be killed"
    assert set(manifest.documents) == docs
    assert top_ids(KnowledgeBase.open(settings)) == before
    extra = tmp_path / "more" / "另一篇讲话.txt"
    extra.parent.mkdir()
    extra.write_text("另一篇讲话\n要把党的建设摆在突出位置，持续推进全面从严治党。\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "bot", "ingest", str(extra), "--json"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    kb = KnowledgeBase.open(settings)
    assert docs < set(kb.catalog.load().documents)
    consistent(kb)
    assert Searcher(kb).search("全面从严治党", k=1)[0].chunk.doc_title == "另一篇讲话"


def test_a_stale_word_index_is_rebuilt_with_the_same_weights_and_files_are_read_once(hash_kb, tmp_path, monkeypatch):
    import shutil

    ingest(hash_kb, write_corpus(tmp_path / "c", regulations=2, speeches=2))
    current = Searcher(hash_kb)
    shutil.rmtree(Path(hash_kb.settings.kb_dir) / "bm25")  # as a reader sees it between a commit and the rebuild
    reads: list[str] = []
    read_stored = hash_kb.catalog.read_stored
    monkeypatch.setattr(hash_kb.catalog, "read_stored", lambda d: reads.append(d) or read_stored(d))
    stale = Searcher(hash_kb)
    assert stale.idf == current.idf and stale.in_regulations == current.in_regulations
    assert sorted(reads) == sorted(hash_kb.catalog.load().documents)  # each file once
    assert stale.search("党员", k=3, mode="lexical") == current.search("党员", k=3, mode="lexical")
    before = set(hash_kb.catalog.load().documents)
    extra = tmp_path / "2024-09-01_另一篇讲话.txt"
    extra.write_text(speech_text("在另一次会议上的讲话", seed=9), encoding="utf-8")
    ingest(hash_kb, [extra])
    shutil.rmtree(Path(hash_kb.settings.kb_dir) / "bm25")
    reads.clear()
    stale.refresh()
    assert reads == sorted(set(hash_kb.catalog.load().documents) - before)  # the new file only, not all again
