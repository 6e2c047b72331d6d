"""Scale benchmark: knowledge bases at ×1, ×10, ×50 of the corpus with synthetic vectors (the model excluded).

    python -m benchmarks.scale [--corpus ../shared/corpus] [--factors 1 10 50] [--work-dir .djkb-bench-scale]

The corpus is read and chunked once; each copy of a document gets new document and chunk ids and a random 384-dimensional vector per chunk, and is
written through the real ingest batch (per-document files, Chroma upsert, catalog commit). Printed per scale: ingest
cost per chunk (and of the first and last tenth of commits, which stay flat if a commit costs what changed), the
lexical index rebuild, and, in a fresh process, the searcher's cold load, its resident memory and p50/p95 per mode.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from kb.base import KnowledgeBase
from kb.config import load_settings

from .common import percentiles, rss_mb
from .search import measure as mode_latencies

DIM = 384  # multilingual-e5-small's


@dataclass
class SyntheticEmbedder:
    """Unit vectors drawn from a hash of each text: the model's cost left out, the store's shape kept."""

    name: str = "synthetic-384"
    dim: int = DIM

    def _vec(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def embed_passages(self, texts: list[str], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def read_corpus(corpus: Path) -> list:
    """Return (document, chunks, tokens) of every readable corpus file, as an ingest would make them."""
    from ingest.chunker import chunk_document
    from ingest.pipeline import _read, collect_files, source_key
    from kb.errors import ReadError
    from kb.lexical import get_tokenizer

    tokenizer = get_tokenizer(None)
    out, seen = [], set()
    for path in collect_files([corpus])[0]:
        try:
            doc = _read(path, source_key(path), 50 * 2**20)
        except ReadError:
            continue
        if doc.doc_id not in seen:
            seen.add(doc.doc_id)
            chunks, _ = chunk_document(doc)
            out.append((doc, chunks, [tokenizer(c.embedding_text()) for c in chunks]))
    return out


def build(originals: list, dest: Path, factor: int) -> dict:
    """Ingest ``factor`` copies of ``originals`` into a new knowledge base at ``dest``; return timings."""
    from ingest.maintenance import make_entry, rebuild_lexical
    from ingest.pipeline import EMBED_BATCH_CHUNKS, IngestReport, _Pending, _store_batch
    from ingest.chunker import audit

    shutil.rmtree(dest, ignore_errors=True)
    kb = KnowledgeBase.open(load_settings(env={}, kb_dir=dest), embedder=SyntheticEmbedder())
    manifest = kb.catalog.load()
    report, pending, batch_seconds = IngestReport(), [], []
    for copy in range(factor):
        for doc, chunks, tokens in originals:
            new_id = f"{doc.doc_id}x{copy}"
            new_doc = replace(doc, doc_id=new_id, source=f"{doc.source}#copy{copy}")
            new_chunks = [replace(c, chunk_id=f"{new_id}-{i:04d}", doc_id=new_id, source=new_doc.source)
                          for i, c in enumerate(chunks)]
            entry = make_entry(new_doc, new_chunks, audit(new_doc, new_chunks), new_doc.source)
            pending.append(_Pending(new_doc.source, new_doc, new_chunks, tokens, entry, False))
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS:
                t0 = time.perf_counter()
                _store_batch(kb, manifest, pending, report)
                batch_seconds.append((time.perf_counter() - t0, sum(len(p.chunks) for p in pending)))
                pending = []
    if pending:
        t0 = time.perf_counter()
        _store_batch(kb, manifest, pending, report)
        batch_seconds.append((time.perf_counter() - t0, sum(len(p.chunks) for p in pending)))
    costs = commit_costs(kb, manifest)
    # After the commits above, as an ingest does it: the searcher then loads both BM25 indexes instead of building them.
    t0 = time.perf_counter()
    rebuild_lexical(kb, kb.catalog.load())
    lexical_s = time.perf_counter() - t0
    tenth = max(1, len(batch_seconds) // 10)

    def per_chunk(rows) -> float:
        return 1000 * sum(s for s, _ in rows) / sum(n for _, n in rows)

    return {"chunks": report.chunks_added, "docs": len(manifest.documents),
            "ms_per_chunk": per_chunk(batch_seconds), "first_tenth": per_chunk(batch_seconds[:tenth]),
            "last_tenth": per_chunk(batch_seconds[-tenth:]), "lexical_s": lexical_s,
            "catalog_kb": (dest / "catalog.sqlite").stat().st_size / 1024, **costs}


def commit_costs(kb: KnowledgeBase, manifest, repeats: int = 20) -> dict:
    """Return the median cost of committing one changed document, and of rewriting every entry as one JSON file
    (the version-1 manifest.json, which each commit used to rewrite whole)."""
    from kb.catalog import write_json_atomic

    entries = list(manifest.documents.values())[:repeats]
    samples = []
    for entry in entries:
        manifest.documents[entry.doc_id] = entry
        t0 = time.perf_counter()
        kb.catalog.commit(manifest)
        samples.append(time.perf_counter() - t0)
    whole = {"version": 1, "generation": manifest.generation, "model": manifest.model,
             "documents": {k: v.to_json() for k, v in sorted(manifest.documents.items())}}
    t0 = time.perf_counter()
    write_json_atomic(kb.catalog.kb_dir / "manifest-v1-cost.json", whole)
    legacy_s = time.perf_counter() - t0
    size = (kb.catalog.kb_dir / "manifest-v1-cost.json").stat().st_size
    (kb.catalog.kb_dir / "manifest-v1-cost.json").unlink()
    return {"commit_ms": percentiles([x * 1000 for x in samples])[0],
            "legacy_ms": 1000 * legacy_s, "legacy_kb": size / 1024}


def measure(kb_dir: Path, queries: list[str]) -> dict:
    """Return the searcher's cold load, resident memory and per-mode latency (run in a fresh process)."""
    from kb.retrieve import Searcher

    base = rss_mb()
    t0 = time.perf_counter()
    searcher = Searcher(KnowledgeBase.open(load_settings(env={}, kb_dir=kb_dir), embedder=SyntheticEmbedder()))
    searcher.search(queries[0], k=10, mode="hybrid")  # the vector index loads on the first query
    load_s = time.perf_counter() - t0
    out = {"load_s": load_s, "rss_mb": rss_mb(), "rss_base_mb": base, **mode_latencies(searcher, queries)}
    out["rss_mb"] = rss_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    ap.add_argument("--factors", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--work-dir", type=Path, default=Path(".djkb-bench-scale"))
    ap.add_argument("--queries", type=Path, default=Path("evals/datasets/dev.jsonl"))
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process's task
    ap.add_argument("--keep", action="store_true", help="keep the built knowledge bases")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = [r["question"] for r in rows][:args.limit]
    if args.measure:
        print(json.dumps(measure(args.measure, queries)))
        return
    t0 = time.perf_counter()
    originals = read_corpus(args.corpus)
    print(f"corpus: {len(originals)} documents, {sum(len(c) for _, c, _ in originals)} chunks "
          f"(read, chunked and tokenized in {time.perf_counter() - t0:.0f} s, not counted below)")
    for factor in args.factors:
        dest = args.work_dir / f"x{factor}"
        built = build(originals, dest, factor)
        child = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--measure", str(dest),
                                "--queries", str(args.queries), "--limit", str(args.limit)],
                               capture_output=True, text=True, check=True)
        m = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"×{factor}: {built['chunks']} chunks, {built['docs']} documents; ingest {built['ms_per_chunk']:.2f} ms/chunk "
              f"(first tenth {built['first_tenth']:.2f}, last tenth {built['last_tenth']:.2f}); lexical rebuild "
              f"{built['lexical_s']:.1f} s")
        print(f"    commit of one changed document {built['commit_ms']:.1f} ms (median; catalog {built['catalog_kb']:.0f} KiB); "
              f"a whole version-1 manifest.json rewrite {built['legacy_ms']:.0f} ms ({built['legacy_kb']:.0f} KiB)")
        print(f"    searcher cold load {m['load_s']:.1f} s; resident memory {m['rss_mb']:.0f} MiB "
              f"(interpreter with imports {m['rss_base_mb']:.0f} MiB)")
        for mode in ("hybrid", "dense", "lexical"):
            p50, p95 = m[mode]
            print(f"    {mode:<8} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
        sys.stdout.flush()
        if not args.keep:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    main()
