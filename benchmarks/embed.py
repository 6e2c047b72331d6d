"""Embedding benchmark: chunks/s of the plain LangChain recipe, the old torch path, torch in large sorted calls,
ONNX Runtime fp32 and int8 and torch with bf16 weights, in one run, with their parity to torch; optionally ranking parity of two built KBs.

    python -m benchmarks.embed [--corpus ../shared/corpus] [--sample 400 | --full]
    python -m benchmarks.embed --rank-a KB_FP32 --rank-b KB_INT8 [--set evals/datasets/dev.jsonl]

Every path embeds the same djkb chunks (a sample spread over the corpus), except the LangChain recipe, which embeds
its own RecursiveCharacterTextSplitter chunks of the same files (their characters per second compare directly).
Cosine parity is measured against the torch vectors of the same chunks.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kb.config import load_settings
from kb.embedding import E5_ALIAS, TORCH_BATCH, load_embedder, resolve_model_path

from .common import rss_mb

# The old ingest: flushes of at least 64 chunks, each one call with batch_size 16 (before issue 11).
OLD_CALL_CHUNKS = 64
OLD_BATCH = 16


def corpus_chunks(corpus: Path) -> list[str]:
    """Return the embedding texts of every djkb chunk of the corpus, in file order (no embedding)."""
    from ingest.chunker import chunk_document
    from ingest.pipeline import _read, collect_files, source_key
    from kb.errors import ReadError

    files, _ = collect_files([corpus])
    out: list[str] = []
    for f in files:
        try:
            doc = _read(f, source_key(f), 50 * 2**20)
        except ReadError:
            continue
        out.extend(c.embedding_text() for c in chunk_document(doc)[0])
    return out


def spread(items: list, n: int | None) -> list:
    """Return ``n`` items spread evenly over ``items`` (all of them when ``n`` is None)."""
    if n is None or n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def timed(label: str, texts: list[str], fn: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Run ``fn`` on a few texts (warm-up), then on all; print chunks/s and chars/s; return the vectors."""
    fn(texts[:8])
    t0, c0 = time.perf_counter(), time.process_time()
    vectors = fn(texts)
    s, cpu = time.perf_counter() - t0, time.process_time() - c0
    chars = sum(len(t) for t in texts)
    # chunks per CPU-second (all threads) is less swayed than wall time when other work shares the cores
    print(f"{label:<44} {len(texts) / s:7.1f} chunks/s {chars / s:8,.0f} chars/s  {len(texts) / cpu:5.2f} chunks/CPU-s "
          f"({len(texts)} chunks, {s:.1f} s, RSS {rss_mb():,.0f} MiB)", flush=True)
    return vectors


def cosine(a: np.ndarray, b: np.ndarray) -> str:
    c = (a * b).sum(axis=1)
    return f"cosine to torch: min {c.min():.5f}  mean {c.mean():.5f}"


def langchain_recipe(corpus: Path, model_path: str, n: int | None) -> None:
    """Time the plain recipe: RecursiveCharacterTextSplitter chunks into HuggingFaceEmbeddings."""
    from langchain_huggingface import HuggingFaceEmbeddings

    from evals.baseline import corpus_documents, split

    texts = spread([d.page_content for d in split(corpus_documents(corpus))], n)
    emb = HuggingFaceEmbeddings(model_name=model_path, model_kwargs={"device": "cpu"},
                                encode_kwargs={"normalize_embeddings": True})
    timed("LangChain recipe (HuggingFaceEmbeddings)", texts, lambda t: np.asarray(emb.embed_documents(t)))


def throughput(corpus: Path, n: int | None) -> None:
    """Print chunks/s of every path on the same chunks, and their parity to torch."""
    settings = load_settings()
    cache = str(settings.model_cache)
    path = resolve_model_path(E5_ALIAS, Path(cache))
    texts = spread(corpus_chunks(corpus), n)
    print(f"{len(texts)} djkb chunks, {sum(map(len, texts)):,} characters; {E5_ALIAS}")
    langchain_recipe(corpus, path, n)
    torch_model = load_embedder(E5_ALIAS, cache, "torch", "cpu")

    def old_path(t: list[str]) -> np.ndarray:
        parts = [torch_model.embed_passages(t[i:i + OLD_CALL_CHUNKS], batch_size=OLD_BATCH)
                 for i in range(0, len(t), OLD_CALL_CHUNKS)]
        return np.concatenate(parts)

    ref = timed("torch, today's path (calls of 64, batch 16)", texts, old_path)
    new = timed(f"torch, one length-sorted call (batch {TORCH_BATCH})", texts, lambda t: torch_model.embed_passages(t))
    print(f"{'':<44} {cosine(ref, new)}")
    for backend, label in (("onnx", "ONNX Runtime fp32"), ("onnx-int8", "ONNX Runtime int8"),
                           ("torch-bf16", "torch, bf16 weights (padded-size batches)")):
        emb = load_embedder(E5_ALIAS, cache, backend, "cpu")
        emb.embed_queries(["预热"])  # export or quantize (once, cached) and open the session outside the timing
        vectors = timed(label, texts, lambda t, e=emb: e.embed_passages(t))
        print(f"{'':<44} {cosine(ref, vectors)}")


def ranking(kb_a: Path, kb_b: Path, set_path: Path) -> None:
    """Print dense and hybrid hit@5 of two knowledge bases of the same files on a question set, and their top-10
    overlap."""
    from evals.dataset import load_questions
    from evals.matching import matched_places
    from evals.metrics import hit_at
    from evals.runner import standalone
    from kb.base import KnowledgeBase
    from kb.retrieve import Searcher

    searchers = [Searcher(KnowledgeBase.open(load_settings(kb_dir=d))) for d in (kb_a, kb_b)]
    sources = {s.replace("\\", "/") for e in searchers[0].manifest.documents.values() for s in e.sources}
    # only questions whose gold documents are all in the knowledge base (it may hold part of the corpus)
    questions = [q for q in load_questions(set_path) if q.answerable
                 and all(any(s.endswith("/" + d) for s in sources) for d in q.docs)]
    for s, d in zip(searchers, (kb_a, kb_b)):
        print(f"{d}: backend {s.kb.embedder.backend}")
    for mode in ("dense", "hybrid"):
        hits = [[], []]
        overlap = []
        for q in questions:
            ranked = [s.search(standalone(q), k=10, mode=mode) for s in searchers]
            for side, hs in enumerate(ranked):
                hits[side].append(hit_at([matched_places(h.chunk.text, q.gold) for h in hs], 5))
            ids = [{h.chunk.chunk_id for h in hs} for hs in ranked]
            overlap.append(len(ids[0] & ids[1]) / max(1, len(ids[0])))
        a, b = (sum(h) / len(h) for h in hits)
        print(f"{mode:<7} hit@5 {a:.3f} vs {b:.3f} (Δ {b - a:+.3f}); top-10 overlap mean {np.mean(overlap):.3f}, "
              f"min {min(overlap):.1f}  ({len(questions)} answerable questions of {set_path.name})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--full", action="store_true", help="every chunk of the corpus instead of a sample")
    ap.add_argument("--rank-a", type=Path, help="a knowledge base (e.g. fp32) for ranking parity")
    ap.add_argument("--rank-b", type=Path, help="the same corpus embedded with another backend (e.g. int8)")
    ap.add_argument("--set", type=Path, default=Path(__file__).resolve().parents[1] / "evals/datasets/dev.jsonl")
    args = ap.parse_args()
    if args.rank_a and args.rank_b:
        ranking(args.rank_a, args.rank_b, args.set)
        return
    throughput(args.corpus or load_settings().corpus, None if args.full else args.sample)


if __name__ == "__main__":
    main()
