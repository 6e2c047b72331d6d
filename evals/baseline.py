"""The plain LangChain recipe over the same corpus, as a baseline: split, embed into Chroma, ensemble with BM25.

RecursiveCharacterTextSplitter(500, 50), our embedding model behind a langchain_core ``Embeddings``, a
persisted langchain_chroma store (built once per corpus, model and splitter), and an equal-weight
EnsembleRetriever with BM25. langchain_community (home of the usual BM25Retriever) is not installed, so
``BM25Retriever`` below re-implements its few lines over rank_bm25, whitespace preprocessing included.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from kb.config import Settings

from .records import Passage
from .runner import Retriever

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", ""]
CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
COLLECTION = "langchain_baseline"
MODES = ("baseline", "baseline-jieba", "baseline-vector")
EMBED_BATCH = 64

Progress = Callable[[str, int, int], None]


def _embeddings_class():
    from langchain_core.embeddings import Embeddings

    class E5Embeddings(Embeddings):
        """Our embedder as a LangChain ``Embeddings``; it adds the e5 ``query:``/``passage:`` prompts itself."""

        def __init__(self, embedder):
            self.embedder = embedder

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.embedder.embed_passages(list(texts), batch_size=32).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.embedder.embed_queries([text])[0].tolist()

    return E5Embeddings


def _bm25_class():
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict

    class BM25Retriever(BaseRetriever):
        """langchain_community's BM25Retriever: rank_bm25's BM25Okapi over ``preprocess_func`` tokens."""

        model_config = ConfigDict(arbitrary_types_allowed=True)
        vectorizer: object = None
        docs: list[Document] = []
        k: int = 4
        preprocess_func: Callable[[str], list[str]] = str.split

        @classmethod
        def from_documents(cls, documents, *, preprocess_func=str.split, k: int = 4):
            from rank_bm25 import BM25Okapi

            documents = list(documents)
            vectorizer = BM25Okapi([preprocess_func(d.page_content) for d in documents])
            return cls(vectorizer=vectorizer, docs=documents, k=k, preprocess_func=preprocess_func)

        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun):
            return self.vectorizer.get_top_n(self.preprocess_func(query), self.docs, n=self.k)

    return BM25Retriever


def corpus_documents(corpus: Path) -> list:
    """Return one LangChain Document per corpus file, read with our readers (the same text our ingest sees)."""
    from langchain_core.documents import Document

    from ingest.pipeline import collect_files
    from ingest.readers import read_file

    files, _ = collect_files([corpus])
    docs = []
    for f in files:
        try:
            text = read_file(f)
        except Exception:  # the ingest skips unreadable files too
            continue
        docs.append(Document(page_content=text, metadata={"source": f.relative_to(corpus).as_posix()}))
    return docs


def split(documents: Sequence) -> list:
    """Return the recipe's chunks of ``documents``."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                              separators=SEPARATORS)
    return splitter.split_documents(list(documents))


def fingerprint(chunks: Sequence, model: str) -> str:
    """Return a hash of the chunks' texts, the model and the splitter: the store is rebuilt when it changes."""
    h = hashlib.sha256(json.dumps([model, CHUNK_SIZE, CHUNK_OVERLAP, SEPARATORS], ensure_ascii=False).encode())
    for c in chunks:
        h.update(c.metadata["source"].encode("utf-8") + b"\0" + c.page_content.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


class Baseline:
    """The recipe's retrievers over a persisted Chroma store in ``cache_dir``."""

    def __init__(self, settings: Settings, cache_dir: Path, progress: Progress | None = None, k: int = 10):
        from langchain_chroma import Chroma

        from kb.embedding import load_embedder

        self.chunks = split(corpus_documents(Path(settings.corpus)))
        embedder = load_embedder(settings.embed_model, str(settings.model_cache), settings.embed_backend,
                                 settings.device)
        # vectors of another backend must not be mixed into a store built before (see kb.embedding.VECTOR_FAMILY)
        self.fingerprint = fingerprint(self.chunks, f"{settings.embed_model} {embedder.backend}")
        embeddings = _embeddings_class()(embedder)
        cache_dir = Path(cache_dir)
        stamp = cache_dir / "fingerprint.json"
        fresh = stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")).get("fingerprint") == self.fingerprint
        if not fresh and (cache_dir / "chroma").exists():
            shutil.rmtree(cache_dir / "chroma")
        self.store = Chroma(collection_name=COLLECTION, embedding_function=embeddings,
                            persist_directory=str(cache_dir / "chroma"))
        if not fresh or self.store._collection.count() != len(self.chunks):
            self._build(progress)
            stamp.write_text(json.dumps({"fingerprint": self.fingerprint, "chunks": len(self.chunks)}),
                             encoding="utf-8")
        self.k = k
        self._retrievers: dict[str, object] = {}

    def _build(self, progress: Progress | None) -> None:
        existing = self.store._collection.count()
        if existing:
            self.store.delete_collection()
            self.store = type(self.store)(collection_name=COLLECTION, embedding_function=self.store.embeddings,
                                          persist_directory=self.store._persist_directory)
        for start in range(0, len(self.chunks), EMBED_BATCH):
            batch = self.chunks[start:start + EMBED_BATCH]
            self.store.add_documents(batch, ids=[str(i) for i in range(start, start + len(batch))])
            if progress:
                progress("嵌入基线片段", start + len(batch), len(self.chunks))

    def retriever(self, mode: str):
        """Return the LangChain retriever of ``mode`` (one of MODES)."""
        if mode not in self._retrievers:
            from langchain_classic.retrievers import EnsembleRetriever

            from kb.lexical import get_tokenizer

            vector = self.store.as_retriever(search_kwargs={"k": self.k})
            if mode == "baseline-vector":
                self._retrievers[mode] = vector
            else:
                tokenize = get_tokenizer(None) if mode == "baseline-jieba" else str.split
                bm25 = _bm25_class().from_documents(self.chunks, preprocess_func=tokenize, k=self.k)
                self._retrievers[mode] = EnsembleRetriever(retrievers=[bm25, vector], weights=[0.5, 0.5])
        return self._retrievers[mode]

    def retrievers(self, modes: Sequence[str] = MODES) -> list[Retriever]:
        """Return the baseline modes as evaluation Retrievers."""
        def make(mode: str):
            def search(query: str, k: int) -> list[Passage]:
                docs = self.retriever(mode).invoke(query)[:k]
                return [Passage(f"lc:{d.metadata.get('source')}", Path(d.metadata.get("source", "")).stem, "",
                                None, d.page_content) for d in docs]
            return search

        return [Retriever(mode, f"lc-{self.fingerprint}", make(mode)) for mode in modes]
