"""Work run in child processes by the state tests (importable by multiprocessing's spawn)."""

from __future__ import annotations

from multiprocessing.synchronize import Event


def charge_many(location: str, key_id: str, attempts: int, start: Event, results: object) -> None:
    """Open the key store as a separate process would, wait for the start signal, then charge ``attempts``
    requests to ``key_id``; put the number admitted on ``results``."""
    from pixembed.store.keys import KeyStore

    store = KeyStore(location)
    start.wait(30)
    admitted = sum(store.admit(key_id).allowed for _ in range(attempts))
    store.close()
    results.put(admitted)  # type: ignore[attr-defined]
