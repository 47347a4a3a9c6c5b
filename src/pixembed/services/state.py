"""Open the state the settings name (SQLite files by default, or ``--state postgresql://...``), and check
that this server agrees with the other replicas on it."""

from __future__ import annotations

from pixembed.config import Settings
from pixembed.runtime.model import ModelInfo
from pixembed.services.collections import open_collections
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
