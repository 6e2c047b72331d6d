"""The core: documents, the store and its indexes, retrieval, and the grammar of official documents."""

__all__ = [
    "answertype", "base", "catalog", "config", "embedding", "errors", "grammar", "lexical", "progress", "query",
    "retrieve", "schema", "sentences", "store", "text", "titles",
]
