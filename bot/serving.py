"""Starting ``djkb serve``: checks that turn a busy port, bad TLS files or an absent Chroma server into one Chinese
line, and the wait for a Chroma server that is still starting."""
from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from kb.config import Settings
from kb.errors import DjkbError

from . import messages as msg
from .limits import store_down

CHROMA_RETRY_S = 2.0
# glibc gives each new thread its own malloc arena (up to 8 per core); Gradio's worker threads then keep freed memory
# apart and the server's RSS climbs under load. Two arenas held a 600-question threaded run flat (1,408 → 1,458 MB,
# against 1,453 → 1,635 MB by default; benchmarks/load.py, README "Serving").
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on; return whether it applied (glibc only)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        return bool(name) and ctypes.CDLL(name).mallopt(_M_ARENA_MAX, arenas) == 1
    except (OSError, AttributeError):
        return False


def check_port(host: str, port: int) -> None:
    """Raise DjkbError when ``host:port`` cannot be listened on (taken, or not an address of this machine)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DjkbError(msg.port_in_use(host, port)) from None
            raise DjkbError(msg.cannot_bind(host, port, exc.strerror or str(exc))) from None
        except (OverflowError, socket.gaierror) as exc:
            raise DjkbError(msg.cannot_bind(host, port, str(exc))) from None


def check_ssl(certfile: Path | None, keyfile: Path | None) -> tuple[str, str] | None:
    """Return (certfile, keyfile) when both are given and readable, None when neither is; else raise DjkbError."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise DjkbError(msg.ssl_problem("只给出了其中一个文件"))
    for path in (certfile, keyfile):
        if not Path(path).is_file() or not os.access(path, os.R_OK):
            raise DjkbError(msg.ssl_problem(f"文件 {path} 不存在或不可读"))
    return str(certfile), str(keyfile)


def open_service(settings: Settings, host: str, wait_s: int, say: Callable[[str], None],
                 sleep: Callable[[float], None] = time.sleep):
    """Return the Service, waiting up to ``wait_s`` seconds for a Chroma server that does not answer yet.

    Raises DjkbError with one Chinese line when it still does not answer, or when the knowledge base cannot be opened.
    """
    from .service import Service

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return Service(settings, host=host)
        except Exception as exc:
            if not (settings.chroma_url and store_down(exc)):
                if isinstance(exc, DjkbError):
                    raise
                raise DjkbError(f"无法打开知识库 {settings.kb_dir}：{type(exc).__name__}: {exc}") from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise DjkbError(msg.store_unreachable(settings.chroma_url, wait_s)) from None
            say(msg.store_waiting(settings.chroma_url, int(left)))
            sleep(min(CHROMA_RETRY_S, left))
