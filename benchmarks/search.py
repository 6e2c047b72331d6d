"""Search benchmark: warm latency p50/p95 per mode on the corpus and on a 10× enlarged copy; searcher memory.

    python -m benchmarks.search [--kb-dir .djkb] [--factor 10] [--queries evals/datasets/dev.jsonl]

The enlarged knowledge base reuses the stored chunks and vectors: each copy gets new ids, its text a copy
suffix, and its vector a little noise, so both indexes really hold 10× the chunks without re-embedding.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from kb.base import KnowledgeBase
from kb.catalog import Catalog
from kb.config import load_settings
from kb.retrieve import MODES, Searcher

from .common import percentiles, rss_mb


def load_queries(path: Path, limit: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows][:limit]


def measure(searcher: Searcher, queries: list[str]) -> dict[str, tuple[float, float]]:
    """Return (p50, p95) milliseconds per mode, after one warm-up pass."""
    out = {}
    for mode in MODES:
        for q in queries[:5]:
            searcher.search(q, k=10, mode=mode)
        samples = []
        for q in queries:
            t0 = time.perf_counter()
            searcher.search(q, k=10, mode=mode)
            samples.append((time.perf_counter() - t0) * 1000)
        out[mode] = percentiles(samples)
    return out


def compare_bm25(searcher: Searcher, queries: list[str]) -> None:
    """Print query latency of bm25s (used) and rank_bm25 over the same jieba tokens, and their top-10 agreement."""
    from rank_bm25 import BM25Okapi

    tokens = [searcher.tokenizer(searcher.chunks[cid].embedding_text()) for cid in searcher.bm25.chunk_ids]
    t0 = time.perf_counter()
    okapi = BM25Okapi(tokens)
    build = time.perf_counter() - t0
    ours, theirs, agree = [], [], []
    for q in queries:
        qt = searcher.tokenizer.query(q)
        t0 = time.perf_counter()
        a = [cid for cid, _ in searcher.bm25.search(qt, 10)]
        ours.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        scores = okapi.get_scores(qt)
        b = [searcher.bm25.chunk_ids[i] for i in np.argsort(-scores)[:10]]
        theirs.append((time.perf_counter() - t0) * 1000)
        agree.append(len(set(a) & set(b)) / 10)
    print(f"BM25 over {len(tokens)} chunks: bm25s p50 {percentiles(ours)[0]:.2f} ms; rank_bm25 p50 "
          f"{percentiles(theirs)[0]:.2f} ms (index build {build:.1f} s); top-10 overlap {np.mean(agree):.0%}")


def enlarge(src: KnowledgeBase, dest_dir: Path, factor: int) -> KnowledgeBase:
    """Write a knowledge base holding ``factor`` copies of ``src``'s documents into ``dest_dir``."""
    from ingest.maintenance import rebuild_lexical

    shutil.rmtree(dest_dir, ignore_errors=True)
    kb = KnowledgeBase.open(replace(src.settings, kb_dir=dest_dir, chroma_url=None), embedder=src.embedder)
    manifest = src.catalog.load()
    out = Catalog(dest_dir).load()
    out.model = manifest.model
    rng = np.random.default_rng(0)
    batch_chunks, batch_vectors = [], []
    for doc_id, entry in manifest.documents.items():
        doc, chunks, tokens = src.catalog.read_doc(doc_id)
        vectors = src.store.vectors([c.chunk_id for c in chunks])
        base = np.stack([vectors[c.chunk_id] for c in chunks])
        for copy in range(factor):
            new_id = f"{doc_id}x{copy}"
            new_chunks = [replace(c, chunk_id=f"{new_id}-{i:04d}", doc_id=new_id) for i, c in enumerate(chunks)]
            noisy = base + rng.normal(0, 0.01, base.shape)
            batch_vectors.append((noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32))
            batch_chunks.extend(new_chunks)
            kb.catalog.write_doc(replace(doc, doc_id=new_id), new_chunks, tokens)
            out.documents[new_id] = replace(entry, doc_id=new_id, chunk_ids=tuple(c.chunk_id for c in new_chunks),
                                            sources=tuple(f"{s}#copy{copy}" for s in entry.sources))
        if len(batch_chunks) >= 5000:
            kb.store.upsert(batch_chunks, np.concatenate(batch_vectors))
            batch_chunks, batch_vectors = [], []
    if batch_chunks:
        kb.store.upsert(batch_chunks, np.concatenate(batch_vectors))
    Catalog(dest_dir).commit(out)
    rebuild_lexical(kb, Catalog(dest_dir).load())
    return kb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb-dir", type=Path, default=None)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--queries", type=Path, default=Path("evals/datasets/dev.jsonl"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--enlarged-dir", type=Path, default=Path(".djkb-bench-enlarged"))
    args = ap.parse_args()
    settings = load_settings(kb_dir=args.kb_dir)
    queries = load_queries(args.queries, args.limit)
    base_rss = rss_mb()
    t0 = time.perf_counter()
    kb = KnowledgeBase.open(settings)
    searcher = Searcher(kb)
    searcher.search("党员", k=1)
    load_s = time.perf_counter() - t0
    print(f"knowledge base: {settings.kb_dir}  chunks: {len(searcher.chunks)}  queries: {len(queries)}")
    print(f"searcher load (model + chunks + BM25, cold): {load_s:.2f} s; resident memory: {rss_mb():.0f} MiB "
          f"(+{rss_mb() - base_rss:.0f} MiB over the bare interpreter with imports)")
    for mode, (p50, p95) in measure(searcher, queries).items():
        print(f"  {mode:<8} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    compare_bm25(searcher, queries)
    if args.factor > 1:
        t0 = time.perf_counter()
        big = enlarge(kb, args.enlarged_dir, args.factor)
        built = time.perf_counter() - t0
        big_searcher = Searcher(big)
        print(f"enlarged ×{args.factor}: {len(big_searcher.chunks)} chunks (built in {built:.0f} s); "
              f"resident memory now {rss_mb():.0f} MiB")
        for mode, (p50, p95) in measure(big_searcher, queries).items():
            print(f"  {mode:<8} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        shutil.rmtree(args.enlarged_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
