"""Settings every replica on one shared state must agree on (the model and its dimensions), recorded there.

The first server to start on a PostgreSQL state records its values; each later one compares its own with
them and refuses to start on a difference (``SettingsMismatch``): replicas that embed with different models
would write vectors that cannot be compared into the same collections, and answer the same query differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pixembed.errors import SettingsMismatch
from pixembed.store.database import Database, database_for

MIGRATIONS = ("CREATE TABLE IF NOT EXISTS replica_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",)


class ReplicaSettings:
    """Name -> value pairs that every process on the state must share."""

    def __init__(self, location: str | Path | Database, where: str = "the shared state") -> None:
        self._db = database_for(location).acquire()
        self._where = where
        self._closed = False
        self._db.ensure_schema("replica_settings", MIGRATIONS)

    def agree(self, values: Mapping[str, str]) -> None:
        """Record ``values`` where none are recorded yet; ``SettingsMismatch`` if any differ from those
        recorded (nothing is then written)."""
        # One lock for check-and-record, so two replicas starting at once cannot both record their own.
        with self._db.write(lock="pixembed_replica_settings") as db:
            recorded = {str(k): str(v) for k, v in db.execute("SELECT name, value FROM replica_settings")}
            differing = {k: v for k, v in values.items() if k in recorded and recorded[k] != v}
            if differing:
                theirs = ", ".join(f"{k} {recorded[k]}" for k in differing)
                ours = ", ".join(f"{k} {v}" for k, v in differing.items())
                raise SettingsMismatch(
                    f"the servers sharing {self._where} run {theirs}; this one has {ours}. Start it with "
                    "the same model as the others, or give it a state of its own; to move every replica to "
                    "another model, stop them all and delete the rows of the replica_settings table"
                )
            db.executemany(
                "INSERT INTO replica_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                list(values.items()),
            )

    def recorded(self) -> dict[str, str]:
        """Every recorded setting."""
        return {str(k): str(v) for k, v in self._db.read("SELECT name, value FROM replica_settings")}

    def close(self) -> None:
        """Let go of the database (closed with its last user)."""
        if not self._closed:
            self._closed = True
            self._db.release()
