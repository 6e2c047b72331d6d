"""Questions that arrive together are embedded together: one forward pass for every query waiting, not one each.

On 2 CPU cores the e5 query embedding is nearly all of a question's cost, and a batch of 16 costs a fraction of 16
single passes (benchmarks/load.py; README "Serving"). The first caller embeds at once, so an idle server adds no
delay; callers that arrive meanwhile wait for the pass in flight and are embedded in the next one.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

MAX_BATCH = 32  # queries per pass; longer queues wait for the next one


@dataclass
class _Job:
    texts: list[str]
    result: np.ndarray | None = None
    error: BaseException | None = None
    done: bool = False
    taken: bool = False


class BatchingEmbedder:
    """An Embedder whose ``embed_queries`` batches concurrent callers; everything else is the inner embedder's."""

    def __init__(self, inner):
        self.inner = inner
        self._cv = threading.Condition()
        self._queue: list[_Job] = []
        self._busy = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_passages(self, texts, **kwargs) -> np.ndarray:
        return self.inner.embed_passages(texts, **kwargs)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        job = _Job(list(texts))
        with self._cv:
            self._queue.append(job)
        while True:
            with self._cv:
                while not job.done and (self._busy or job.taken):
                    self._cv.wait()
                if job.done:
                    return _outcome(job)
                self._busy = True  # this caller runs the next pass, which may not reach its own job
                batch = self._take()
            try:
                self._run(batch)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _take(self) -> list[_Job]:
        batch, n = [], 0
        while self._queue and (not batch or n + len(self._queue[0].texts) <= MAX_BATCH):
            job = self._queue.pop(0)
            job.taken = True
            batch.append(job)
            n += len(job.texts)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        try:
            vectors = self.inner.embed_queries([t for j in batch for t in j.texts])
        except BaseException as exc:  # noqa: BLE001  (handed to every caller of the batch)
            for j in batch:
                j.error, j.done = exc, True
            return
        start = 0
        for j in batch:
            j.result, j.done = vectors[start:start + len(j.texts)], True
            start += len(j.texts)


def _outcome(job: _Job) -> np.ndarray:
    if job.error is not None:
        raise job.error
    return job.result


def batching(embedder):
    """Return ``embedder`` wrapped once in a BatchingEmbedder."""
    return embedder if isinstance(embedder, BatchingEmbedder) else BatchingEmbedder(embedder)
