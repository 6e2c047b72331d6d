"""Shared fixtures: the corpus, the real model, a small and a whole-corpus knowledge base (real model, built once
and reused incrementally), and temporary ones.

Tests that need the whole corpus carry ``@pytest.mark.corpus``; ``pytest -m "not corpus"`` is the fast lane.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from kb.base import KnowledgeBase  # noqa: E402
from kb.config import Settings, load_settings  # noqa: E402
from kb.embedding import HashEmbedder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("DJKB_CORPUS") or ROOT.parent / "shared" / "corpus").resolve()
ARTIFACTS = ROOT / "tests" / "artifacts"
SMALL_SPEECHES = 20  # with the 11 regulations: about a quarter of the corpus' chunks, every article of every regulation


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    assert CORPUS.is_dir(), f"corpus not found at {CORPUS}: set DJKB_CORPUS or put shared/ beside the project"
    return CORPUS


@pytest.fixture(scope="session")
def corpus_settings(corpus_dir: Path) -> Settings:
    """Settings of a knowledge base holding the whole corpus, embedded with the real model.

    Built on first use (about 7 minutes on 2 cores) in ``.djkb-test`` or ``DJKB_TEST_KB``; ingest is
    incremental, so a later run only re-checks hashes.
    """
    from ingest.pipeline import ingest

    kb_dir = Path(os.environ.get("DJKB_TEST_KB") or ROOT / ".djkb-test")
    settings = load_settings(env={}, kb_dir=kb_dir, corpus=corpus_dir)
    report = ingest(KnowledgeBase.open(settings), [corpus_dir])
    assert not report.failures, report.failures
    return settings


@pytest.fixture(scope="session")
def embedder():
    """The real embedding model with the default backend, loaded once."""
    from kb.embedding import load_embedder

    settings = load_settings(env={})
    return load_embedder(settings.embed_model, str(settings.model_cache), vectors=str(settings.vector_cache))


def small_corpus_files(corpus: Path) -> list[Path]:
    """Return the regulations and SMALL_SPEECHES speeches spread over the years (every n-th file by date)."""
    speeches = sorted((corpus / "speeches").iterdir())
    step = len(speeches) / SMALL_SPEECHES
    return sorted((corpus / "regulations").iterdir()) + [speeches[int(i * step)] for i in range(SMALL_SPEECHES)]


@pytest.fixture(scope="session")
def small_settings(corpus_dir: Path, embedder) -> Settings:
    """Settings of a small real knowledge base: the regulations and SMALL_SPEECHES speeches, the real model.

    Built on first use in ``.djkb-test-small`` or ``DJKB_TEST_SMALL_KB``, incrementally like the whole-corpus one.
    """
    from ingest.pipeline import ingest

    kb_dir = Path(os.environ.get("DJKB_TEST_SMALL_KB") or ROOT / ".djkb-test-small")
    settings = load_settings(env={}, kb_dir=kb_dir, corpus=corpus_dir)
    report = ingest(KnowledgeBase.open(settings, embedder=embedder), small_corpus_files(corpus_dir))
    assert not report.failures, report.failures
    return settings


@pytest.fixture(scope="session")
def small_searcher(small_settings: Settings, embedder):
    from kb.retrieve import Searcher

    return Searcher(KnowledgeBase.open(small_settings, embedder=embedder))


@pytest.fixture(scope="session")
def small_answerer(small_searcher):
    from bot.answer import Answerer

    return Answerer(small_searcher)


@pytest.fixture(scope="session")
def searcher(corpus_settings: Settings):
    from kb.retrieve import Searcher

    return Searcher(KnowledgeBase.open(corpus_settings))


@pytest.fixture(scope="session")
def answerer(searcher):
    from bot.answer import Answerer

    return Answerer(searcher)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings of an empty knowledge base in a temporary directory."""
    return load_settings(env={}, kb_dir=tmp_path / "kb")


@pytest.fixture
def hash_kb(tmp_settings: Settings) -> KnowledgeBase:
    """A real on-disk knowledge base with the deterministic hashing embedder, for fast plumbing tests."""
    return KnowledgeBase.open(tmp_settings, embedder=HashEmbedder())


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
