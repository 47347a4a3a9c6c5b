"""Open the state the settings name (SQLite files by default, or ``--state postgresql://...``), and check
that this server agrees with the other replicas on it."""

from __future__ import annotations

from dataclasses import dataclass

from pixembed.config import Settings
from pixembed.runtime.model import ModelInfo
from pixembed.runtime.pool import ModelPool
from pixembed.services.analysis_service import AnalysisService
from pixembed.services.collection_service import CollectionService
from pixembed.services.collections import open_collections
from pixembed.services.key_service import KeyService
from pixembed.store import VectorStore
from pixembed.store.state import State, open_state, sqlite_locations


def open_state_from_settings(settings: Settings) -> State:
    """The server's state: ``settings.state`` if set, else the SQLite files in their usual places."""
    locations = sqlite_locations(settings.key_store_path, settings.store_location, settings.data_dir)
    return open_state(settings.state or None, locations)


def agree_with_replicas(state: State, model: ModelInfo) -> None:
    """Record this server's model and dimensions on a shared state, or refuse (``SettingsMismatch``) when
    the replicas already there run another; nothing to agree on with SQLite files."""
    settings = state.replica_settings()
    if settings is not None:
        settings.agree({"model": model.name, "dimensions": str(model.dimensions)})


def open_state_and_store(settings: Settings, model: ModelInfo | None) -> tuple[State, VectorStore]:
    """A server's state and vector store, with ``model`` (when already loaded) agreed with the replicas;
    nothing is left open when any of it fails."""
    state = open_state_from_settings(settings)
    try:
        if model is not None:
            agree_with_replicas(state, model)
        return state, open_collections(settings)
    except BaseException:
        state.close()
        raise


@dataclass
class Services:
    """What a server builds once at startup over its state and vector store, and closes at shutdown."""

    state: State
    collections: CollectionService
    analysis: AnalysisService
    keys: KeyService

    def close(self) -> None:
        """Stop the job runner (running jobs finish or are recorded as interrupted), then close the vector
        store and the state (keys, jobs, thumbnails)."""
        self.analysis.close()
        self.collections.store.close()
        self.state.close()


def open_services(settings: Settings, models: ModelPool) -> Services:
    """The services over the state and vector store the settings name, serving ``models``; the default
    model, when already loaded, agreed with the replicas; nothing is left open when any of it fails."""
    loaded = models.peek(None)
    state, store = open_state_and_store(settings, loaded.info if loaded is not None else None)
    try:
        return Services(
            state=state,
            collections=CollectionService(store, state.thumbnails, models, settings),
            analysis=AnalysisService.open(store, models, state.jobs, settings),
            keys=KeyService(state.keys, settings),
        )
    except BaseException:
        store.close()
        state.close()
        raise
