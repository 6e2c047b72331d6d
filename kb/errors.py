"""Exceptions raised by djkb; messages are Chinese-first and name the next step."""


class DjkbError(Exception):
    """Base class for every error djkb reports to a user."""


class ReadError(DjkbError):
    """A file could not be read or decoded; nothing from it was stored."""


class UnsupportedFileType(ReadError):
    """The file's type has no reader."""


class ModelMismatch(DjkbError):
    """The knowledge base was built with another embedding model."""


class ModelUnavailable(DjkbError):
    """The embedding model cannot be loaded offline."""


class KnowledgeBaseEmpty(DjkbError):
    """A search was asked of a knowledge base with no documents."""


class KnowledgeBaseBusy(DjkbError):
    """Another process holds the knowledge base's write lock."""


class NotFound(DjkbError):
    """A document or chunk that was named does not exist."""


class LLMError(DjkbError):
    """The OpenAI-compatible endpoint failed or answered nonsense."""
