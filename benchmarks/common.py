"""Helpers shared by the benchmarks: timing statistics, resident memory and Gradio's HTTP call."""
from __future__ import annotations

import json
import resource
import statistics


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    """Return (p50, p95) of ``samples_ms``."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def rss_mb() -> float:
    """Return this process's current resident memory in MiB (from /proc, falling back to the peak)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gradio_call(http, base: str, api: str, data: list) -> tuple[str, object]:
    """Call ``api`` through Gradio's two-step HTTP API; return (event kind, payload).

    The kind is ``complete`` with the endpoint's outputs, ``error`` with the server's message, or ``HTTP <code>`` /
    ``no result`` with None.
    """
    r = http.post(f"{base}gradio_api/call/{api}", json={"data": data})
    if r.status_code != 200:
        return f"HTTP {r.status_code}", None
    event = r.json()["event_id"]
    with http.stream("GET", f"{base}gradio_api/call/{api}/{event}") as s:
        kind = None
        for line in s.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "complete":
                return kind, json.loads(line[5:])
            elif line.startswith("data:") and kind == "error":
                return kind, line[5:].strip()
    return "no result", None
