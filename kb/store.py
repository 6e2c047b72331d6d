"""The Chroma vector store: chunks with explicit embeddings, on disk or behind a Chroma server."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .errors import DjkbError, ModelMismatch
from .schema import Chunk

COLLECTION = "djkb_chunks"
_BATCH = 1000


def chunk_metadata(chunk: Chunk) -> dict:
    """Return Chroma metadata for a chunk; Chroma rejects None, so missing values are left out."""
    meta = {
        "doc_id": chunk.doc_id,
        "doc_title": chunk.doc_title,
        "doc_type": chunk.doc_type,
        "source": chunk.source,
        "heading_path": chunk.heading,
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "article": chunk.article,
        "article_no": chunk.article_no,
        "date": chunk.date,
        "issuer": chunk.issuer,
    }
    return {k: v for k, v in meta.items() if v is not None}


def open_client(kb_dir: Path, chroma_url: str | None = None):
    """Return a Chroma client: HTTP when ``chroma_url`` is set, else persistent under ``kb_dir/chroma``.

    The persistent store is always opened anew: Chroma caches one system per path, whose collections do not see what
    another process wrote since (they then know a new chunk's id but not its vector).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if chroma_url:
        url = urlparse(chroma_url if "//" in chroma_url else f"http://{chroma_url}")
        try:
            return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as exc:
            raise DjkbError(f"无法连接 Chroma 服务 {chroma_url}：{exc}") from exc
    (kb_dir / "chroma").mkdir(parents=True, exist_ok=True)
    from chromadb.api.shared_system_client import SharedSystemClient

    # Only this path's cached system is dropped; clients already holding it keep working until released.
    SharedSystemClient._identifier_to_system.pop(str(kb_dir / "chroma"), None)
    return chromadb.PersistentClient(path=str(kb_dir / "chroma"), settings=chroma_settings)


class ChunkStore:
    """Chunks and their vectors in one Chroma collection that records which model made them."""

    def __init__(self, client, model: dict, collection: str = COLLECTION):
        self.client = client
        self.name = collection
        self._col = client.get_or_create_collection(
            collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
            metadata={"embed_model": model["name"], "embed_dim": model["dim"]},
        )
        stored = self._col.metadata or {}
        if stored.get("embed_model") != model["name"] and self._col.count():
            raise ModelMismatch(
                f"知识库由嵌入模型 {stored.get('embed_model')} 构建，当前模型为 {model['name']}；"
                "请运行 `djkb reindex` 用当前模型重新嵌入")

    @property
    def model_name(self) -> str | None:
        return (self._col.metadata or {}).get("embed_model")

    def count(self) -> int:
        return self._col.count()

    def ids(self) -> set[str]:
        """Return every stored chunk id."""
        out: set[str] = set()
        offset = 0
        while True:
            got = self._col.get(include=[], limit=_BATCH * 5, offset=offset)["ids"]
            out.update(got)
            if len(got) < _BATCH * 5:
                return out
            offset += len(got)

    def ids_of(self, doc_ids: Sequence[str]) -> set[str]:
        """Return the stored chunk ids of the documents ``doc_ids``."""
        out: set[str] = set()
        for i in range(0, len(doc_ids), _BATCH):
            out.update(self._col.get(where={"doc_id": {"$in": list(doc_ids[i:i + _BATCH])}}, include=[])["ids"])
        return out

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Store chunks with their vectors; storing an id again is a no-op in effect.

        A chunk id names its text (document hash, position, text hash) and a collection holds one model's vectors,
        so an id already stored already has this vector. Chroma's ``add`` skips stored ids; its ``upsert`` cost per
        chunk grows with the collection (64-chunk calls, 12,000 chunks: 4.6 → 10.2 ms, ``add`` flat at 5.3 ms).
        The text is not stored here: djkb reads it from the per-document files, and Chroma's full-text index of
        Chinese text was most of an insert's cost (the corpus in 64-chunk calls: 44 s with text, 13 s without).
        """
        for i in range(0, len(chunks), _BATCH):
            part = chunks[i:i + _BATCH]
            self._col.add(ids=[c.chunk_id for c in part], embeddings=vectors[i:i + _BATCH],
                          metadatas=[chunk_metadata(c) for c in part])

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _BATCH):
            self._col.delete(ids=ids[i:i + _BATCH])

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Return the stored vectors of ``ids``."""
        out = {}
        for i in range(0, len(ids), _BATCH):
            got = self._col.get(ids=list(ids[i:i + _BATCH]), include=["embeddings"])
            out.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32)))
        return out

    def query(self, vector: np.ndarray, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk_id, cosine similarity) pairs, best first."""
        n = self.count()
        if not n:
            return []
        res = self._col.query(query_embeddings=[vector], n_results=min(k, n), where=where or None, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]
