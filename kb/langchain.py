"""A LangChain retriever over djkb's hybrid search, so it composes with LangChain chains."""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .retrieve import Filters, Searcher


class DjkbRetriever(BaseRetriever):
    """Returns LangChain documents whose metadata carries the chunk's title, heading path, article and score."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    searcher: Searcher
    k: int = 10
    mode: str = "hybrid"
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = self.searcher.search(query, k=self.k, mode=self.mode, filters=self.filters)
        return [LCDocument(page_content=h.chunk.text, id=h.chunk.chunk_id, metadata=_metadata(h.to_dict()))
                for h in hits]


def _metadata(hit: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hit.items() if k != "text"}
