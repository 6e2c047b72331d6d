"""Web app benchmark: start-up time, and time to the first answer chunk in extractive mode (warm).

    python -m benchmarks.app [--kb-dir .djkb] [--queries evals/datasets/dev.jsonl] [--n 30]

Start-up is measured from before build_app (the model and the searcher load there) until the URL answers an
HTTP GET. First-chunk latency is measured twice: in process (Service.stream's first text) and end to end
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


def first_chunk_in_process(service, queries: list[str]) -> list[float]:
    samples = []
    for q in queries:
        t0 = time.perf_counter()
        for part in service.stream(q, []):
            samples.append((time.perf_counter() - t0) * 1000)
            break
    return samples


def first_chunk_over_http(client, queries: list[str]) -> list[float]:
    samples = []
    for q in queries:
        t0 = time.perf_counter()
        job = client.submit(q, [], "", "", api_name="/chat")
        for chat, *_ in job:
            content = chat[-1]["content"] if chat else None
            text = content[0].get("text", "") if isinstance(content, list) and content else content
            if text and text != PENDING:
                samples.append((time.perf_counter() - t0) * 1000)
                break
        job.result()
    return samples


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

    from bot.app import build_app
    from bot.service import Service

    t0 = time.perf_counter()
    service = Service(settings, host="127.0.0.1")
    t_service = time.perf_counter() - t0
    demo = build_app(settings, service=service)
    demo.queue(default_concurrency_limit=1)
    t_build = time.perf_counter() - t0
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            ssr_mode=False)
    wait_until_up(url)
    t_up = time.perf_counter() - t0
    print(f"start-up: {t_up:.2f} s until {url} answers (model + searcher {t_service:.2f} s, "
          f"build_app {t_build - t_service:.2f} s, launch {t_up - t_build:.2f} s); "
          f"{len(service.searcher.chunks)} chunks; RSS {rss_mb():.0f} MiB")

    queries = load_queries(args.queries, args.n)
    first_chunk_in_process(service, queries[:3])  # warm-up: tokenizer, model, caches
    p50, p95 = percentiles(first_chunk_in_process(service, queries))
    print(f"first answer chunk, in process (Service.stream), {len(queries)} questions: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms")

    from gradio_client import Client

    client = Client(url, verbose=False)
    first_chunk_over_http(client, queries[:3])
    p50, p95 = percentiles(first_chunk_over_http(client, queries))
    print(f"first answer chunk, end to end (/chat via gradio_client), {len(queries)} questions: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    demo.close()


if __name__ == "__main__":
    main()
