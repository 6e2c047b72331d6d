"""Load on a real ``djkb serve``: open loop (questions/s), closed loop (clients), a long question beside a normal one,
and a soak that prints the server's memory each minute.

Starts the server as a subprocess on 127.0.0.1 (a free port) over an existing knowledge base and drives its
``/ask`` endpoint through Gradio's HTTP API; every loop is bounded by its duration. Questions are the evaluation
sets' (evals/datasets), so that they vary as real ones do.

    python -m benchmarks.load --kb .djkb-test                 # open 10/s × 60 s, closed 50 × 60 s, long question
    python -m benchmarks.load --kb .djkb-test --soak 10       # plus a 10-minute soak
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from kb.catalog import CATALOG_FILE, LEGACY_MANIFEST

from .common import gradio_call, percentiles

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("dev.jsonl", "cadre-dev.jsonl", "quiz.jsonl")
LONG_CHARS = 100_000
WARM_UP_S = 10.0


@dataclass
class Tally:
    """Latencies (ms) and errors of one loop."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, ms: float, error: str | None) -> None:
        with self.lock:
            (self.errors.append(error) if error else self.latencies.append(ms))

    def line(self, name: str, seconds: float) -> str:
        n = len(self.latencies) + len(self.errors)
        if not self.latencies:
            return f"{name}: requests {n}, errors {len(self.errors)} {self.errors[:3]}"
        p50, p95 = percentiles(self.latencies)
        return (f"{name}: requests {n}, errors {len(self.errors)}, {n / seconds:.1f} req/s, "
                f"p50 {p50 / 1000:.2f} s, p95 {p95 / 1000:.2f} s, max {max(self.latencies) / 1000:.2f} s"
                + (f"; first errors {self.errors[:3]}" if self.errors else ""))


def questions() -> list[str]:
    out = []
    for name in DATASETS:
        path = ROOT / "evals" / "datasets" / name
        if path.is_file():
            out += [json.loads(line)["question"] for line in path.open(encoding="utf-8") if line.strip()]
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


def start_server(kb: Path, port: int, tree: Path = ROOT) -> subprocess.Popen:
    """Start ``djkb serve`` of the source ``tree`` on 127.0.0.1:port and wait until it answers."""
    import httpx

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--kb-dir", str(kb), "serve", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not start within 300 s")


def ask(http, base: str, question: str) -> str | None:
    """Ask through Gradio's two-step HTTP API; return None on success, else the error."""
    kind, payload = gradio_call(http, base, "ask", [question, "", ""])
    if kind == "complete":
        return None
    return f"error {str(payload)[:75]}" if kind == "error" else kind


def timed(http, base: str, question: str, tally: Tally, since: float | None = None) -> float:
    start = time.perf_counter() if since is None else since
    try:
        error = ask(http, base, question)
    except Exception as exc:  # noqa: BLE001  (counted, not raised: the loop goes on)
        error = f"{type(exc).__name__}: {exc}"[:120]
    ms = (time.perf_counter() - start) * 1000
    tally.add(ms, error)
    return ms


def open_loop(base: str, qs: list[str], rate: float, seconds: float) -> Tally:
    """Send ``rate`` questions/s for ``seconds``, each timed from when it was due (queueing included)."""
    import httpx

    tally, local = Tally(), threading.local()

    def one(question: str, due: float) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=120)
        timed(local.http, base, question, tally, since=due)

    rng = random.Random(1)
    with ThreadPoolExecutor(max_workers=int(rate * 20)) as pool:
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            pool.submit(one, rng.choice(qs), due)
    return tally


def closed_loop(base: str, qs: list[str], clients: int, seconds: float) -> Tally:
    """Run ``clients`` users, each asking again as soon as answered, for ``seconds``."""
    import httpx

    tally = Tally()
    end = time.perf_counter() + seconds

    def user(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=120) as http:
            while time.perf_counter() < end:
                timed(http, base, rng.choice(qs), tally)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tally


def long_question_delay(base: str, qs: list[str], rounds: int = 5) -> tuple[float, float]:
    """Return the normal question's median ms alone and with a 100,000-character question sent just before it."""
    import httpx

    alone, beside = Tally(), Tally()
    with httpx.Client(timeout=300) as http, httpx.Client(timeout=300) as other:
        for i in range(rounds):
            timed(http, base, qs[i], alone)
            hog = threading.Thread(target=timed, args=(other, base, "党" * LONG_CHARS, Tally()))
            hog.start()
            time.sleep(0.05)
            timed(http, base, qs[i], beside)
            hog.join()
    return percentiles(alone.latencies)[0], percentiles(beside.latencies)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", type=Path, default=Path(os.environ.get("DJKB_HOME") or ROOT / ".djkb-test"))
    ap.add_argument("--rate", type=float, default=10.0, help="open loop: questions per second")
    ap.add_argument("--clients", type=int, default=50, help="closed loop: concurrent users")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each loop")
    ap.add_argument("--soak", type=float, default=0.0, help="soak minutes (closed loop, RSS printed each minute)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="serve this source tree (a baseline checkout)")
    ap.add_argument("--skip-long", action="store_true", help="leave out the 100,000-character question")
    args = ap.parse_args()
    if not any((args.kb / name).is_file() for name in (CATALOG_FILE, LEGACY_MANIFEST)):
        raise SystemExit(f"no knowledge base at {args.kb}: build one with `djkb ingest` first")
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    server = start_server(args.kb.resolve(), port, args.tree.resolve())
    try:
        qs = questions()
        print(f"server pid {server.pid}, {len(qs)} questions; RSS at start {rss_mb(server.pid):.0f} MB", flush=True)
        warm = closed_loop(base, qs, 4, WARM_UP_S)  # first questions load jieba, the typo index and Gradio's queue
        print(f"RSS after a {WARM_UP_S:g}-second warm-up ({len(warm.latencies)} questions) {rss_mb(server.pid):.0f} MB",
              flush=True)
        if not args.skip_long:
            alone, beside = long_question_delay(base, qs)
            print(f"long question: a normal question takes {alone / 1000:.2f} s alone, {beside / 1000:.2f} s beside "
                  f"a {LONG_CHARS:,}-character one (delay {(beside - alone) / 1000:+.2f} s)", flush=True)
        print(open_loop(base, qs, args.rate, args.seconds).line(f"open loop {args.rate:g}/s × {args.seconds:g} s",
                                                                args.seconds), flush=True)
        print(f"RSS {rss_mb(server.pid):.0f} MB", flush=True)
        print(closed_loop(base, qs, args.clients, args.seconds).line(
            f"closed loop {args.clients} clients × {args.seconds:g} s", args.seconds), flush=True)
        print(f"RSS at end {rss_mb(server.pid):.0f} MB", flush=True)
        for minute in range(int(args.soak)):
            tally = closed_loop(base, qs, args.clients, 60)
            print(f"soak minute {minute + 1}: RSS {rss_mb(server.pid):.0f} MB; {tally.line('', 60)}", flush=True)
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
