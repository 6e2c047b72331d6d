"""Who may send files and passwords: a per-client delay after wrong passwords, unlocked clients, and the upload gate.

Gradio stores an uploaded file before any event runs, so the write policy is checked on Gradio's upload route
itself (``UploadGate``): a read-only server and a client that has not given the admin password get a Chinese
refusal and nothing reaches the disk.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import messages as msg

# Wrong passwords: the first is free, then 1, 2, 4 … seconds, at most 5 minutes; a right one clears the count.
# 200 guesses then take over 16 hours from one client instead of 15 seconds.
FIRST_DELAY_S = 1.0
MAX_DELAY_S = 300.0
UNLOCK_S = 30 * 60
MAX_CLIENTS = 10_000  # remembered clients; the oldest are forgotten first
UPLOAD_PATH_SUFFIX = "/upload"
_GRADIO_ENGLISH = ("File size exceeded", "Too many files", "maximum allowed size")


@dataclass(frozen=True)
class Strikes:
    """One client's wrong passwords in a row, and when it may try again."""

    count: int = 0
    until: float = 0.0


def delay_after(count: int) -> float:
    """Return how long a client waits after ``count`` wrong passwords in a row."""
    if count <= 1:
        return 0.0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** (count - 2))


class Throttle:
    """Per-client wrong-password strikes and password unlocks (time from ``clock``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._strikes: dict[str, Strikes] = {}
        self._unlocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_left(self, client: str) -> float:
        """Return the seconds ``client`` must still wait before its next password is checked."""
        with self._lock:
            s = self._strikes.get(client)
        return max(0.0, s.until - self._clock()) if s else 0.0

    def failed(self, client: str) -> None:
        with self._lock:
            count = self._strikes.get(client, Strikes()).count + 1
            self._strikes[client] = Strikes(count, self._clock() + delay_after(count))
            _forget_oldest(self._strikes)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._strikes.pop(client, None)
            self._unlocked[client] = self._clock() + UNLOCK_S
            _forget_oldest(self._unlocked)

    def unlocked(self, client: str) -> bool:
        with self._lock:
            return self._unlocked.get(client, 0.0) > self._clock()


def _forget_oldest(table: dict) -> None:
    while len(table) > MAX_CLIENTS:
        table.pop(next(iter(table)))


def _chinese(body: bytes, limit_mb: int, files: int) -> bytes | None:
    """Return the Chinese text for one of Gradio's English upload refusals, or None for any other body."""
    text = body.decode("utf-8", "replace")
    if not any(s in text for s in _GRADIO_ENGLISH):
        return None
    if "Too many files" in text:
        return msg.too_many_files(files + 1, files).encode("utf-8")
    return msg.upload_too_large(limit_mb).encode("utf-8")


class UploadGate:
    """ASGI middleware on Gradio's upload route: the write policy first, a size bound, Chinese refusals."""

    def __init__(self, app, refusal: Callable[[str], str | None], limit_mb: int, files: int):
        self.app = app
        self.refusal = refusal  # client host -> Chinese refusal, or None when it may upload
        self.limit_mb = limit_mb
        self.files = files

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith(UPLOAD_PATH_SUFFIX):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("", 0))[0]
        why = self.refusal(client)
        if why is not None:
            return await _plain(send, 403, why.encode("utf-8"))
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if length.isdigit() and int(length) > (self.limit_mb * self.files + 1) * 2**20:
            return await _plain(send, 413, msg.request_too_large(self.limit_mb, self.files).encode("utf-8"))
        await self.app(scope, receive, self._translating(send))

    def _translating(self, send):
        """Return ``send`` with Gradio's English upload refusals replaced by Chinese ones."""
        state: dict = {}

        async def wrapped(message):
            if message["type"] == "http.response.start" and message["status"] in (400, 413):
                state["start"] = message
                return
            if "start" in state and message["type"] == "http.response.body":
                state.setdefault("body", b"")
                state["body"] += message.get("body", b"")
                if message.get("more_body"):
                    return
                body = _chinese(state["body"], self.limit_mb, self.files) or state["body"]
                headers = [(k, v) for k, v in state["start"].get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**state["start"], "headers": headers})
                return await send({"type": "http.response.body", "body": body})
            await send(message)

        return wrapped


async def _plain(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

