"""Ingest benchmark: parse+chunk+store throughput (model excluded) and the embedding model's share of ingest time.

    python -m benchmarks.ingest [--corpus ../shared/corpus] [--sample 400]

Pass 1 ingests the whole corpus with a near-free hashing embedder into a temporary knowledge base, so it times
reading, structure parsing, chunking, tokenizing, Chroma writes and the manifest. Pass 2 times the real model on a
sample of the same chunks and extrapolates to the whole corpus (a full real ingest prints its own split too).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ingest.pipeline import ingest
from kb.base import KnowledgeBase
from kb.config import load_settings
from kb.embedding import HashEmbedder, load_embedder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--sample", type=int, default=400)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(kb_dir=Path(tmp) / "kb")
        corpus = args.corpus or settings.corpus
        kb = KnowledgeBase.open(settings, embedder=HashEmbedder())
        report = ingest(kb, [corpus])
        pipeline_s = report.seconds - report.embed_seconds
        chunks = [c for d in kb.catalog.load().documents for c in kb.catalog.read_doc(d)[1]]
        print(f"corpus: {corpus}  documents: {len(report.added)}  duplicates: {len(report.duplicates)}  "
              f"failures: {len(report.failures)}  chunks: {len(chunks)}  characters: {report.chars}")
        print(f"parse+chunk+store (model excluded): {pipeline_s:.1f} s = {report.chars / pipeline_s:,.0f} chars/s")
        t0 = time.perf_counter()
        rerun = ingest(kb, [corpus])
        print(f"re-ingest of the unchanged corpus: {time.perf_counter() - t0:.1f} s "
              f"({len(rerun.unchanged)} unchanged, {rerun.chunks_added} chunks embedded)")
    embedder = load_embedder(settings.embed_model, str(settings.model_cache))
    step = max(1, len(chunks) // args.sample)
    sample = [c.embedding_text() for c in chunks[::step]][:args.sample]
    embedder.embed_passages(sample[:16])
    t0 = time.perf_counter()
    embedder.embed_passages(sample)
    per_chunk = (time.perf_counter() - t0) / len(sample)
    embed_total = per_chunk * len(chunks)
    print(f"embedding ({embedder.name}): {1 / per_chunk:.1f} chunks/s on a {len(sample)}-chunk sample; "
          f"whole corpus ≈ {embed_total:.0f} s")
    print(f"embedding share of a full ingest ≈ {embed_total / (embed_total + pipeline_s):.1%}")


if __name__ == "__main__":
    main()
