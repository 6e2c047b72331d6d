"""A loopback server speaking the OpenAI chat-completions protocol (JSON and SSE streaming), scripted per test."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Script = Callable[[list[dict]], str]


class FakeOpenAI:
    """Answers each request with ``script(messages)``; records every request body."""

    def __init__(self, script: Script, status: int = 200):
        self.script = script
        self.status = status
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self.send_error(404)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                if outer.status != 200:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "overloaded"}}')
                    return
                text = outer.script(body["messages"])
                if body.get("stream"):
                    self._stream(body["model"], text)
                else:
                    payload = {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
                               "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": text}}]}
                    data = json.dumps(payload, ensure_ascii=False).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def _stream(self, model: str, text: str):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                first = {"role": "assistant", "content": ""}
                pieces = [first] + [{"content": text[i:i + 4]} for i in range(0, len(text), 4)]
                for delta in pieces:
                    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def passages(messages: list[dict]) -> dict[int, str]:
    """Return the numbered passages the client put in the user message."""
    import re

    user = messages[-1]["content"]
    data = user[user.index("<资料>") + 5:user.index("</资料>")]
    out = {}
    for block in re.split(r"\n\n(?=\[\d+\] )", data.strip()):
        m = re.match(r"\[(\d+)\] [^\n]*\n(.*)", block, re.S)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out
