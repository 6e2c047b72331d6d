"""A minimal client for OpenAI-compatible chat completions (Ollama, vLLM, DeepSeek, Qwen…), streaming included."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kb.config import Settings
from kb.errors import LLMError


@dataclass(frozen=True)
class ChatClient:
    """POSTs to ``{base_url}/chat/completions``; ``base_url`` usually ends in ``/v1``."""

    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0
    temperature: float = 0.1

    @classmethod
    def from_settings(cls, settings: Settings) -> ChatClient | None:
        """Return a client when ``DJKB_LLM_BASE_URL`` is configured, else None (extractive mode)."""
        if not settings.llm_base_url:
            return None
        return cls(base_url=settings.llm_base_url.rstrip("/"), model=settings.llm_model or "default",
                   api_key=settings.llm_api_key)

    def _request(self, messages: Sequence[dict], stream: bool):
        import httpx

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = {"model": self.model, "messages": list(messages), "stream": stream, "temperature": self.temperature}
        client = httpx.Client(timeout=self.timeout, trust_env=False)
        return client, client.build_request("POST", f"{self.base_url}/chat/completions", json=body, headers=headers)

    def stream(self, messages: Sequence[dict]) -> Iterator[str]:
        """Yield content deltas of a streamed completion; raises LLMError on HTTP or protocol errors."""
        import httpx

        client, request = self._request(messages, True)
        try:
            with client:
                response = client.send(request, stream=True)
                if response.status_code != 200:
                    response.read()
                    raise LLMError(f"大模型接口返回 HTTP {response.status_code}：{response.text[:200]}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    except (ValueError, KeyError, IndexError) as exc:
                        raise LLMError(f"大模型接口返回了无法解析的流数据：{data[:120]}") from exc
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise LLMError(f"无法连接大模型接口 {self.base_url}：{exc}") from exc

    def complete(self, messages: Sequence[dict]) -> str:
        """Return the whole completion text."""
        return "".join(self.stream(messages))
