"""Fixtures of the state contract suite: the same tests on SQLite files and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pixembed.store.state import State, open_state, sqlite_locations

OpenState = Callable[[], State]


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the state lives: a data directory of SQLite files, or a fresh PostgreSQL database's URI."""
    if request.param == "postgresql":
        uri: str = request.getfixturevalue("postgres_uri")
        return uri
    return str(tmp_path / "data")


@pytest.fixture
def open_same(state_location: str) -> Iterator[OpenState]:
    """Opens another ``State`` on the same location on each call, as another process (or replica) would;
    every one is closed when the test ends."""
    opened: list[State] = []

    def open_one() -> State:
        if state_location.startswith("postgresql://"):
            state = open_state(state_location, sqlite_locations(":memory:", ":memory:", Path(".")))
        else:
            data = Path(state_location)
            state = open_state(None, sqlite_locations(data / "keys.sqlite", str(data), data))
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        state.close()


@pytest.fixture
def key_location(state_location: str) -> str:
    """What ``KeyStore`` opens for this state: the keys' SQLite file, or the PostgreSQL URI."""
    if state_location.startswith("postgresql://"):
        return state_location
    return str(Path(state_location) / "keys.sqlite")
