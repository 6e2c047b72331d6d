"""Helpers shared by the benchmarks: timing statistics and resident memory."""
from __future__ import annotations

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
