"""PNG charts of a metrics dict: hit@k curves, latency histograms and hit@5 per document."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .records import ANSWER_MODE

HITK_PNG = "hit_at_k.png"
LATENCY_PNG = "latency.png"
PER_DOC_PNG = "per_doc_hit5.png"
_CJK_FONTS = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Source Han Sans SC",
              "SimHei", "Microsoft YaHei", "PingFang SC")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    # Without a CJK font matplotlib draws document titles as boxes; fall back to DejaVu when none is installed.
    cjk = [f for f in _CJK_FONTS if f in available]
    plt.rcParams["font.sans-serif"] = cjk + ["DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def hit_curves(curves: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Write hit@k for k = 1..K, one line per mode, to ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for mode, curve in curves.items():
        if curve:
            ax.plot(range(1, len(curve) + 1), curve, marker="o", label=mode)
    ax.set_xlabel("k")
    ax.set_ylabel("hit@k")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("命中率 hit@k（可回答问题）")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_histogram(latencies: Mapping[str, Sequence[float]], path: Path) -> Path:
    """Write one latency histogram (milliseconds) per mode, side by side, to ``path``."""
    plt = _pyplot()
    items = [(m, v) for m, v in latencies.items() if v]
    cols = min(4, max(1, len(items)))
    rows = -(-max(1, len(items)) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (mode, values) in zip(flat, items):
        ax.hist(values, bins=20, color="#c0392b" if mode == ANSWER_MODE else "#2c7fb8")
        ax.set_title(mode)
        ax.set_xlabel("ms")
    for ax in flat[len(items):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("问题数")
    fig.suptitle("延迟分布")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def per_doc_bars(per_doc: Mapping[str, Mapping[str, tuple[str, float, int]]], path: Path) -> Path:
    """Write horizontal bars of hit@5 per document, one bar per mode, to ``path``.

    ``per_doc`` maps mode → document path → (title, hit@5, number of questions).
    """
    plt = _pyplot()
    modes = list(per_doc)
    docs = sorted({d for m in modes for d in per_doc[m]})
    labels = {}
    for m in modes:
        for d, (title, _, n) in per_doc[m].items():
            labels[d] = f"{title[:22]}（{n}）"
    height = 0.8 / max(1, len(modes))
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(4, len(docs)) + 1))
    for i, m in enumerate(modes):
        ys = [j + i * height for j in range(len(docs))]
        ax.barh(ys, [per_doc[m].get(d, ("", 0.0, 0))[1] or 0.0 for d in docs], height=height, label=m)
    ax.set_yticks([j + height * (len(modes) - 1) / 2 for j in range(len(docs))])
    ax.set_yticklabels([labels[d] for d in docs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("hit@5")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title("各文档 hit@5（括号内为问题数）")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
