"""An LRU cache of text embeddings: a repeated prompt costs a dictionary lookup, not a forward pass."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class TextCache:
    """Thread-safe LRU of prompt -> unit vector; ``size`` 0 turns it off.

    Hand-written over ``OrderedDict`` (the standard library's own LRU idiom) because ``functools.lru_cache``
    caches whole calls, and a batch of prompts must be looked up and filled prompt by prompt.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, texts: Sequence[str]) -> dict[str, Vector]:
        """The cached vectors among ``texts``, each marked as recently used."""
        found: dict[str, Vector] = {}
        with self._lock:
            for text in texts:
                vector = self._items.get(text)
                if vector is None:
                    self.misses += 1
                    continue
                self._items.move_to_end(text)
                found[text] = vector
                self.hits += 1
        return found

    def put_many(self, items: Iterable[tuple[str, Vector]]) -> None:
        """Remember vectors (read-only copies), evicting the least recently used beyond ``size``."""
        if self.size <= 0:
            return
        with self._lock:
            for text, vector in items:
                stored = np.array(vector, dtype=np.float32)
                stored.setflags(write=False)
                self._items[text] = stored
                self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
