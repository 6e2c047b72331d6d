"""The ONNX Runtime backend: a one-time export of a local sentence-transformers model, int8 quantization, and
an embedder that tokenizes, runs, mean-pools and L2-normalizes exactly as the sentence-transformers model does.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ONNX_OPSET = 17
ONNX_DIR = "onnx"
# Texts are sorted by token count, so a batch of 32 carries little padding and bounds memory (32 x 512 tokens);
# not tuned further: the shared 2-core machine was too loaded to tell batch sizes apart (benchmarks/embed.py).
ORT_BATCH = 32
_INPUTS = ("input_ids", "attention_mask")


# The feed-forward output projections (intermediate -> hidden) of these layers stay fp32: their inputs (after GELU)
# carry outliers that one per-tensor activation scale flattens. Quantizing one such projection alone moved vectors
# most in layer 4 (cosine to fp32, 100 corpus chunks: mean 0.99843), then layers 0 (0.99972) and 5 (0.99956); every
# other projection moved them by 0.0001 or less. Keeping the three raised the whole model from mean 0.99683 / min
# 0.99463 to 0.99898 / 0.99815 (200 chunks) at about the same speed (benchmarks/embed.py).
INT8_FP32_LAYERS = (0, 4, 5)
INT8_FILE = "model.int8-mixed.onnx"  # a new name for a new recipe, so no cached file of the old one is reused


def onnx_file(model_dir: Path, int8: bool) -> Path:
    """Return where the exported (or quantized) model of ``model_dir`` is cached."""
    return Path(model_dir) / ONNX_DIR / (INT8_FILE if int8 else "model.onnx")


def can_export() -> bool:
    """Return whether the ``onnx`` package needed for the one-time export and quantization is installed."""
    import importlib.util

    return importlib.util.find_spec("onnx") is not None


def _atomic(target: Path, write) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``target``, so readers never see a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model cache is shared like the model beside it
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def export_onnx(model_dir: Path) -> Path:
    """Export the transformer of a sentence-transformers folder to ONNX (last hidden state), once; return the file."""
    target = onnx_file(model_dir, int8=False)
    if target.exists():
        return target
    import torch
    from transformers import AutoModel

    # Eager attention traces the padding mask as data; the SDPA path bakes shape checks into the graph.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    dummy = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long))
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}

    def write(tmp: Path) -> None:
        with torch.no_grad():
            torch.onnx.export(_Hidden(model), dummy, str(tmp), dynamo=False, input_names=list(_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=ONNX_OPSET)

    return _atomic(target, write)


def quantize_int8(model_dir: Path) -> Path:
    """Write the dynamic int8 quantization of the exported model (weights int8, activations per batch), once."""
    target = onnx_file(model_dir, int8=True)
    if target.exists():
        return target
    source = export_onnx(model_dir)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = [f"/inner/encoder/layer.{i}/output/dense/MatMul" for i in INT8_FP32_LAYERS]

    def write(tmp: Path) -> None:
        # MatMul only: quantizing the embedding Gather saves memory but moves vectors for no speed.
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep)

    return _atomic(target, write)


def _session(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Idle pool threads sleep instead of spinning: batches are long, and spinning starves whatever else the cores run.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _tokenizer(model_dir: Path, max_tokens: int):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens)
    tok.no_padding()
    return tok


def _pad_id(model_dir: Path) -> int:
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return int(config.get("pad_token_id") or 0)


@dataclass
class OnnxEmbedder:
    """An exported sentence-transformers model run by ONNX Runtime; vectors are L2-normalized float32."""

    name: str
    dim: int
    backend: str
    session: object
    tokenizer: object
    pad_id: int
    query_prompt: str
    passage_prompt: str

    @classmethod
    def load(cls, name: str, model_dir: Path, *, int8: bool, dim: int, prompts: tuple[str, str],
             max_tokens: int = 512, threads: int | None = None) -> OnnxEmbedder:
        """Export (and quantize) ``model_dir`` on first use, then open it with all cores."""
        path = quantize_int8(model_dir) if int8 else export_onnx(model_dir)
        return cls(name=name, dim=dim, backend="onnx-int8" if int8 else "onnx",
                   session=_session(path, threads or os.cpu_count() or 1),
                   tokenizer=_tokenizer(model_dir, max_tokens), pad_id=_pad_id(model_dir),
                   query_prompt=prompts[0], passage_prompt=prompts[1])

    def _run(self, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, :len(e.ids)] = e.ids
            mask[row, :len(e.ids)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)

    def _encode(self, texts: list[str], prompt: str, batch_size: int, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers strips each prompted text before tokenizing; so do we, for identical tokens.
        encodings = self.tokenizer.encode_batch([(prompt + t).strip() for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        steps = range(0, len(order), batch_size)
        if progress:
            from tqdm import tqdm

            steps = tqdm(steps, desc="嵌入", unit="批")
        for start in steps:
            rows = order[start:start + batch_size]
            out[rows] = self._run([encodings[i] for i in rows])
        return out

    def embed_passages(self, texts: list[str], *, batch_size: int = ORT_BATCH, progress: bool = False) -> np.ndarray:
        """Return one vector per passage."""
        return self._encode(texts, self.passage_prompt, batch_size, progress)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Return one vector per query."""
        return self._encode(texts, self.query_prompt, ORT_BATCH, False)
