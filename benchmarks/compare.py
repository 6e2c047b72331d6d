"""Compare benchmark: aligning 党章 with an edited copy of itself, against a difflib all-pairs baseline.

    python -m benchmarks.compare [--corpus ../shared/corpus] [--repeat 20]

The copy has every fifth article edited, three deleted, three inserted and two moved.
"""
from __future__ import annotations

import argparse
import difflib
import time
from pathlib import Path

from ingest.chunker import chunk_document
from ingest.structure import make_document
from kb.compare import Article, articles_of, compare, summary
from kb.grammar import article_label

from .common import percentiles

CHARTER = "regulations/中国共产党章程(2022年10月22日二十大部分修改).txt"


def edited_copy(articles: list[Article]) -> list[Article]:
    """Return the articles with every fifth edited, three deleted, three inserted and two moved, renumbered."""
    bodies = [a.text[:-10] + "（修改）" + a.text[-10:] if n % 5 == 0 else a.text for n, a in enumerate(articles, 1)]
    moved = [bodies[11], bodies[33]]
    kept = [b for n, b in enumerate(bodies, 1) if n not in (7, 12, 21, 34, 48)]
    for k in range(3):
        kept.insert(10 + 15 * k, f"新增的第{k + 1}条测试条文：各级党组织应当按照规定开展第{k + 1}项测试工作。")
    kept[40:40] = moved
    return [Article(article_label(n), b) for n, b in enumerate(kept, 1)]


def baseline(old: list[Article], new: list[Article]) -> None:
    """Score every pair with difflib's ratio: the obvious way to align by content."""
    for b in new:
        max(difflib.SequenceMatcher(None, a.text, b.text, autojunk=False).ratio() for a in old)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    path = args.corpus / CHARTER
    old = articles_of(chunk_document(make_document(path.read_text(encoding="utf-8"), str(path), path.name))[0])
    new = edited_copy(old)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pairs = compare(old, new)
        times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    baseline(old, new)
    base = (time.perf_counter() - t0) * 1000
    p50, p95 = percentiles(times)
    print(f"党章 {len(old)} 条 vs 修改稿 {len(new)} 条：{summary(pairs)}")
    print(f"compare: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({args.repeat} runs); difflib all-pairs baseline {base:.1f} ms "
          f"(×{base / p50:.1f})")


if __name__ == "__main__":
    main()
