"""``KeyService``: the server's API keys (stored hashed, with scopes, rates and quotas) and whether it asks
for them at all.

Built once when the server starts and closed when it stops. Its async methods send the key store's blocking
calls (SQLite, fsynced commits) to a worker thread; HTTP routes and the auth checks call them.
"""

from __future__ import annotations

from pixembed.config import Settings
from pixembed.services.threads import in_thread
from pixembed.store.keys import SCOPES, Admission, KeyInfo
from pixembed.store.limits import Decision
from pixembed.store.state import KeyState

__all__ = ["SCOPES", "Admission", "Decision", "KeyInfo", "KeyService"]


class KeyService:
    """Create, list, show and revoke keys; authenticate a presented key and charge a request to it.

    Whether the server asks for keys is decided at startup, then latched on, never off, while it runs:
    on when ``PIXEMBED_API_KEYS`` is set or the store has ever held a key (a store whose keys are all
    revoked stays closed until an operator creates one). Off only for a server that never had one; the
    first key created (over HTTP, or by ``pixembed keys create`` in another process) turns it on for good.
    Serving anonymously again takes a restart with no keys at all.
    """

    def __init__(self, store: KeyState, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._on = bool(settings.api_keys) or store.has_ever_had_keys()

    @property
    def auth_on(self) -> bool:
        """True when requests need a key; once True, True until the process exits.

        While off it asks the store (one indexed read) whether another process created a key.
        """
        if not self._on and self.store.has_ever_had_keys():
            self._on = True
        return self._on

    def latch(self) -> None:
        """Turn auth on for the rest of this process (a key was just created)."""
        self._on = True

    async def authenticate(self, presented: str) -> KeyInfo | None:
        """The live stored key ``presented`` is, or None."""
        return await in_thread(self.store.authenticate, presented)

    async def admit(self, key_id: str) -> Admission:
        """Charge one request to the key, within its rate and quota (an fsynced commit)."""
        return await in_thread(self.store.admit, key_id)

    async def list_keys(self, include_revoked: bool = False) -> list[KeyInfo]:
        """Every live key (or every key) with its usage; no secrets."""
        return await in_thread(self.store.list, include_revoked)

    async def create(
        self, name: str, scopes: tuple[str, ...], quota: str | None, rate: str | None
    ) -> tuple[str, KeyInfo]:
        """A new key (returned this once) and its record; auth is on from now on."""
        created = await in_thread(self.store.create, name, scopes, quota, rate)
        self.latch()
        return created

    async def get(self, id_or_name: str) -> KeyInfo:
        """One key by id or live name."""
        return await in_thread(self.store.get, id_or_name)

    async def revoke(self, id_or_name: str) -> KeyInfo:
        """Revoke a key; the last live admin key only when ``PIXEMBED_API_KEYS`` holds admins too."""
        keep_an_admin = not self.settings.api_keys
        return await in_thread(self.store.revoke, id_or_name, keep_an_admin=keep_an_admin)
