"""Embedding backends: ONNX Runtime agrees with torch, the backend is recorded and a mismatch named, lazy loading."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures import write_corpus
from ingest.chunker import chunk_document
from ingest.pipeline import _read, ingest, source_key
from kb.base import KnowledgeBase
from kb.catalog import Catalog
from kb.config import load_settings
from kb.embedding import E5_ALIAS, load_embedder, model_fingerprint, resolve_backend, resolve_model_path, size_batches
from kb.errors import ModelMismatch, ModelUnavailable

ROOT = Path(__file__).resolve().parents[1]
# Measured by benchmarks/embed.py on 400 corpus chunks: ORT fp32 min cosine 1.00000 to torch, int8 min 0.9947;
# torch bf16 on 128 chunks min 0.99999.
FP32_MIN_COSINE = 0.9999
BF16_MIN_COSINE = 0.9999
INT8_MIN_COSINE = 0.99


@pytest.fixture(scope="module")
def passages(corpus_dir) -> list[str]:
    """Twelve real chunks: articles of a regulation and paragraphs of a speech."""
    texts = []
    for rel in ("regulations/中国共产党纪律处分条例(2018年修订).txt",
                "speeches/2018-05-14_习近平：在北京大学师生座谈会上的讲话.txt"):
        path = corpus_dir / rel
        chunks, _ = chunk_document(_read(path, source_key(path), 2**26))
        texts += [c.embedding_text() for c in chunks[::max(1, len(chunks) // 6)][:6]]
    return texts


def _cache() -> str:
    return str(load_settings(env={}).model_cache)


@pytest.mark.parametrize("backend, floor", [("onnx", FP32_MIN_COSINE), ("onnx-int8", INT8_MIN_COSINE),
                                            ("torch-bf16", BF16_MIN_COSINE)])
def test_vectors_agree_with_torch_fp32(passages, backend, floor):
    torch_vectors = load_embedder(E5_ALIAS, _cache(), "torch", "cpu").embed_passages(passages)
    ort = load_embedder(E5_ALIAS, _cache(), backend, "cpu")
    vectors = ort.embed_passages(passages)
    assert vectors.shape == torch_vectors.shape and ort.backend == {"torch-bf16": "torch-cpu-bf16"}.get(backend, backend)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float((vectors * torch_vectors).sum(axis=1).min()) >= floor
    query = "党员受到警告处分后多长时间内不得提升职务？"
    q_torch = load_embedder(E5_ALIAS, _cache(), "torch", "cpu").embed_queries([query])[0]
    assert float(ort.embed_queries([query])[0] @ q_torch) >= floor
    # the same ranking of the passages for the query
    assert int(np.argmax(vectors @ q_torch)) == int(np.argmax(torch_vectors @ q_torch))


def test_backend_choice_and_bad_values(tmp_path):
    cache = Path(_cache())
    assert resolve_backend(E5_ALIAS, cache, "onnx-int8") == ("onnx-int8", "cpu")
    assert resolve_backend(E5_ALIAS, cache, "torch", "cpu") == ("torch", "cpu")
    assert resolve_backend(E5_ALIAS, cache, "torch-bf16") == ("torch-bf16", "cpu")
    # a knowledge base is served by a backend of the family its vectors were made with
    assert resolve_backend(E5_ALIAS, cache, recorded="bf16", device="cpu") == ("torch-bf16", "cpu")
    assert resolve_backend(E5_ALIAS, cache, recorded="fp32", device="cpu") == ("onnx", "cpu")
    with pytest.raises(ModelUnavailable, match="DJKB_EMBED_BACKEND"):
        resolve_backend(E5_ALIAS, cache, "tensorflow")
    with pytest.raises(ModelUnavailable, match="ONNX"):
        resolve_backend("BAAI/bge-small-zh-v1.5", cache, "onnx")
    s = load_settings(env={"DJKB_EMBED_BACKEND": "onnx", "DJKB_DEVICE": "cpu"})
    assert (s.embed_backend, s.device) == ("onnx", "cpu")


@pytest.fixture(scope="module")
def int8_kb(tmp_path_factory) -> Path:
    """A knowledge base of two test documents embedded with ONNX int8."""
    root = tmp_path_factory.mktemp("int8")
    settings = load_settings(env={}, kb_dir=root / "kb", embed_backend="onnx-int8")
    report = ingest(KnowledgeBase.open(settings), write_corpus(root / "corpus", regulations=1, speeches=1))
    assert len(report.added) == 2
    return root / "kb"


def test_backend_is_recorded_and_another_family_needs_reindex(int8_kb):
    model = Catalog(int8_kb).load().model
    assert model["backend"] == "onnx-int8" and model["vectors"] == "int8-mixed"
    # unless one is configured, the backend that made the vectors is used again
    assert KnowledgeBase.open(load_settings(env={}, kb_dir=int8_kb)).embedder.backend == "onnx-int8"
    for other in ("onnx", "torch"):
        with pytest.raises(ModelMismatch, match="djkb reindex") as err:
            KnowledgeBase.open(load_settings(env={}, kb_dir=int8_kb, embed_backend=other, device="cpu"))
        assert "onnx-int8" in str(err.value)


def test_int8_model_keeps_the_named_projections_fp32(int8_kb):
    import onnx

    from kb.onnx_embed import INT8_FP32_LAYERS, onnx_file

    settings = load_settings(env={}, kb_dir=int8_kb)
    model = onnx.load(str(onnx_file(resolve_model_path(E5_ALIAS, settings.model_cache), True)), load_external_data=False)
    def ops(layer: int) -> set[str]:
        prefix = f"/inner/encoder/layer.{layer}/output/dense/MatMul"
        return {n.op_type for n in model.graph.node if n.name.startswith(prefix)}

    layers = {i: ops(i) for i in range(12)}
    assert {i for i, kinds in layers.items() if kinds == {"MatMul"}} == set(INT8_FP32_LAYERS)
    assert all("MatMulInteger" in kinds for i, kinds in layers.items() if i not in INT8_FP32_LAYERS)


def test_records_before_backends_read_as_torch_fp32(hash_kb, tmp_path):
    """A manifest written before backends were recorded holds torch fp32 vectors: ORT fp32 may join them."""
    from kb.embedding import fingerprint_conflict

    legacy = {"name": E5_ALIAS, "dim": 384}
    onnx = {"name": E5_ALIAS, "dim": 384, "backend": "onnx", "vectors": "fp32"}
    int8 = {"name": E5_ALIAS, "dim": 384, "backend": "onnx-int8", "vectors": "int8-mixed"}
    older_int8 = {**int8, "vectors": "int8"}  # the recipe before INT8_FP32_LAYERS: other vectors, same backend name
    assert fingerprint_conflict(legacy, onnx, "kb") is None
    assert "djkb reindex" in fingerprint_conflict(legacy, int8, "kb")
    assert "djkb reindex" in fingerprint_conflict(older_int8, int8, "kb")
    bf16 = {"name": E5_ALIAS, "dim": 384, "backend": "torch-cpu-bf16", "vectors": "bf16"}
    assert "djkb reindex" in fingerprint_conflict(onnx, bf16, "kb")
    assert "djkb reindex" in fingerprint_conflict(bf16, onnx, "kb")
    assert model_fingerprint(hash_kb.embedder)["backend"] == "hash"


def _modules_after(args: list[str]) -> dict:
    code = ("import sys, json; from bot.cli import cli\n"
            "try:\n    cli(args=sys.argv[1:], prog_name='djkb')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps({m: m in sys.modules for m in ('torch', 'sentence_transformers', 'onnxruntime')}))")
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "HF_HUB_OFFLINE": "1",
                               "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_docs_and_an_unchanged_ingest_load_no_model(int8_kb, tmp_path):
    assert _modules_after(["--kb-dir", str(int8_kb), "docs"]) == {
        "torch": False, "sentence_transformers": False, "onnxruntime": False}
    corpus = int8_kb.parent / "corpus"
    loaded = _modules_after(["--kb-dir", str(int8_kb), "ingest", str(corpus)])
    assert loaded == {"torch": False, "sentence_transformers": False, "onnxruntime": False}


def test_passages_are_batched_by_padded_size():
    """Short texts share a batch up to the cap; a batch padded to its longest text stays within the budget."""
    lengths = [400, 46, 50, 800, 3300, 40, 400] + [30] * 100
    batches = size_batches(lengths, 3200, 64)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 64 for b in batches)
    assert all(len(b) * max(lengths[i] for i in b) <= 3200 or len(b) == 1 for b in batches)
    assert [4] in batches and len(batches[0]) == 64  # too long for company; the 100 shortest fill a batch


def test_known_queries_are_cached_apart_from_passages(tmp_path):
    """The off-topic examples are embedded once per cache; a passage of the same text keeps its own vector."""
    from dataclasses import dataclass, field

    from kb.embedding import LazyEmbedder
    from kb.vector_cache import VectorCache

    @dataclass
    class Counting:
        name: str = "m"
        dim: int = 2
        backend: str = "test"
        queries: list = field(default_factory=list)

        def embed_passages(self, texts, *, batch_size=16, progress=False):
            return np.tile([1.0, 0.0], (len(texts), 1))

        def embed_queries(self, texts):
            self.queries.extend(texts)
            return np.tile([0.0, 1.0], (len(texts), 1))

    model = Counting()
    cache = VectorCache(tmp_path / "v.sqlite", 2)
    first = LazyEmbedder("m", 2, "test", lambda: model, cache)
    assert first.embed_known_queries(["红烧肉怎么做"]).tolist() == [[0.0, 1.0]]
    assert first.embed_passages(["红烧肉怎么做"]).tolist() == [[1.0, 0.0]]
    again = LazyEmbedder("m", 2, "test", lambda: model, cache)
    assert again.embed_known_queries(["红烧肉怎么做"]).tolist() == [[0.0, 1.0]]
    assert model.queries == ["红烧肉怎么做"]  # the second embedder read it from the cache
    again.embed_queries(["用户的问题"])  # a user's question is not stored: asked again, it is embedded again
    again.embed_known_queries(["用户的问题"])
    assert model.queries.count("用户的问题") == 2
