"""The core: documents, the store and its indexes, retrieval, and the grammar of official documents."""

__all__ = [
    "answertype", "base", "catalog", "compare", "config", "edition_scope", "editions", "embedding", "errors",
    "fusion", "grammar", "lexical", "progress", "query", "retrieve", "schema", "sentence_index", "sentences", "status",
    "store", "text", "titles", "vector_cache"
]
