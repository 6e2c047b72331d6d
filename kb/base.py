"""Opening a knowledge base: its directory, catalog, vector store and embedding model together."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog, Manifest
from .config import Settings
from .embedding import Embedder, fingerprint_conflict, load_embedder, model_fingerprint, vector_family
from .errors import CatalogCorrupt, ModelMismatch
from .store import ChunkStore, open_client


@dataclass
class KnowledgeBase:
    """A knowledge base opened with one embedding model."""

    settings: Settings
    catalog: Catalog
    store: ChunkStore
    embedder: Embedder

    @classmethod
    def open(cls, settings: Settings, embedder: Embedder | None = None, *, check_model: bool = True,
             repairing: bool = False) -> KnowledgeBase:
        """Open (creating if needed) the knowledge base in ``settings.kb_dir``.

        Unless a backend is configured, the one that suits the recorded vectors is chosen. Raises ModelMismatch
        when it was built with another model or vector family, unless ``check_model`` is False (reindex), and
        CatalogCorrupt when its catalog is damaged, unless ``repairing`` (then the default collection is opened).
        """
        catalog = Catalog(Path(settings.kb_dir))
        try:
            manifest = catalog.load()
        except CatalogCorrupt:
            if not repairing:
                raise
            manifest = Manifest()
        recorded = manifest.model if (manifest.model and manifest.documents) else None
        if embedder is None:
            family = vector_family(recorded) if (check_model and recorded) else None
            embedder = load_embedder(settings.embed_model, str(settings.model_cache), settings.embed_backend,
                                     settings.device, family,
                                     str(settings.vector_cache) if settings.vector_cache else None)
        fp = model_fingerprint(embedder)
        if check_model and recorded and (why := fingerprint_conflict(recorded, fp, settings.kb_dir)):
            raise ModelMismatch(why)
        client = open_client(Path(settings.kb_dir), settings.chroma_url)
        store = ChunkStore(client, manifest.model if (not check_model and manifest.model) else fp, manifest.collection)
        return cls(settings=settings, catalog=catalog, store=store, embedder=embedder)

    def reopen_store(self, manifest: Manifest) -> None:
        """Open the vector collection ``manifest`` names anew, seeing what other processes wrote since."""
        client = open_client(Path(self.settings.kb_dir), self.settings.chroma_url)
        self.store = ChunkStore(client, manifest.model or model_fingerprint(self.embedder), manifest.collection)
