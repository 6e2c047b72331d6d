"""Web app benchmark: start-up time, and time to the first answer chunk in extractive mode (warm).

    python -m benchmarks.app [--kb-dir .djkb] [--queries evals/datasets/dev.jsonl] [--n 30]

Start-up is measured from before the model and the searcher load, through build_app and launch, until the
URL answers an HTTP GET. First-chunk latency is measured twice: in process (Service.stream's first text) and end to end
through the /chat endpoint with gradio_client (the first streamed update that carries answer text).
Numbers are printed, not asserted.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

from kb.config import load_settings

from .common import percentiles, rss_mb

PENDING = "正在检索…"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_queries(path: Path, limit: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("kind") != "followup"][:limit]


def wait_until_up(url: str, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def first_chunk_in_process(service, query: str) -> float:
    """Return milliseconds until Service.stream yields its first text (or a refusal)."""
    t0 = time.perf_counter()
    for _ in service.stream(query, []):
        break
    return (time.perf_counter() - t0) * 1000


def first_chunk_over_http(client, query: str) -> float:
    """Return milliseconds until /chat streams its first update carrying answer text."""
    t0 = time.perf_counter()
    elapsed = float("nan")
    job = client.submit(query, [], "", "", api_name="/chat")
    for chat, *_ in job:
        content = chat[-1]["content"] if chat else None
        text = content[0].get("text", "") if isinstance(content, list) and content else content
        if text and text != PENDING:
            elapsed = (time.perf_counter() - t0) * 1000
            break
    job.result()
    return elapsed


def measure(service, client, queries: list[str]) -> tuple[list[float], list[float]]:
    """Time both ways on every question, alternating which goes first so neither profits from warm caches."""
    local, http = [], []
    for i, q in enumerate(queries):
        if i % 2:
            http.append(first_chunk_over_http(client, q))
            local.append(first_chunk_in_process(service, q))
        else:
            local.append(first_chunk_in_process(service, q))
            http.append(first_chunk_over_http(client, q))
    return local, http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb-dir", type=Path, default=None)
    parser.add_argument("--queries", type=Path, default=Path("evals/datasets/dev.jsonl"))
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Extractive mode: the benchmark never calls an LLM, whatever DJKB_LLM_* say.
    settings = replace(load_settings(kb_dir=args.kb_dir), llm_base_url=None, llm_model=None)

    import gradio as gr  # noqa: F401  (imported before timing: the CLI imports it before serving too)

    from bot.app import launch
    from bot.service import Service

    t0 = time.perf_counter()
    service = Service(settings, host="127.0.0.1")
    t_service = time.perf_counter() - t0
    demo, url = launch(settings, "127.0.0.1", free_port(), prevent_thread_lock=True, service=service)
    wait_until_up(url)
    t_up = time.perf_counter() - t0
    print(f"start-up: {t_up:.2f} s until {url} answers (model + searcher {t_service:.2f} s, "
          f"build_app + launch {t_up - t_service:.2f} s); {len(service.searcher.chunks)} chunks; "
          f"RSS {rss_mb():.0f} MiB")

    from gradio_client import Client

    client = Client(url, verbose=False)
    queries = load_queries(args.queries, args.n + 3)
    measure(service, client, queries[:3])  # warm-up: tokenizer, model, caches, the queue
    local, http = measure(service, client, queries[3:])
    for label, samples in (("in process (Service.stream)", local), ("end to end (/chat via gradio_client)", http)):
        p50, p95 = percentiles(samples)
        print(f"first answer chunk, {label}, {len(samples)} questions: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    demo.close()


if __name__ == "__main__":
    main()
