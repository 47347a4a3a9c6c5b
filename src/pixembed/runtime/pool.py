"""``ModelPool``: the models one server serves, loaded at start or on first use, within a memory budget.

Each model is a ``ClipModel`` with its own batchers (a forward pass never mixes two models' rows). A request
names a model by its name or an alias (``runtime/models_file.py``), or none for the default. A model not in
memory is loaded on the first request that names it, one load at a time (two requests for it wait for the
same load). With a memory budget, the least recently used models are unloaded so that the loaded ones fit:
before a load, by the size the incoming model had when it last loaded; after it, by its measured size.

A model's size is measured as the growth of the process's resident memory (RSS) across its load, the
loader's own clean-up included (``load_model`` trims the heap it freed): its weights, the runtime's session
and the arena its load-time checks grew. Loads are serialised, so requests served meanwhile are the only
other allocation in that window. The largest growth seen over the model's loads is kept, since a reload
can reuse heap an unloaded model left and so look smaller than it is. A model handed in already loaded
(``preloaded``) was not measured and counts as 0 until it is unloaded and loaded again. ONNX Runtime is
imported before the first measurement, so its libraries are charged to no model; a model served through
torch carries torch's first import, if it is the first to need it.

``memory_budget_bytes`` may be changed while serving; it applies from the next load.

An unloaded model is dropped from the pool; requests still running on it keep it alive until they end,
and its batcher threads exit once idle.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import anyio
import psutil

from pixembed.errors import PixembedError, Unavailable, UnknownModel
from pixembed.runtime.image_models import is_image_model
from pixembed.runtime.loading import load_model, return_freed_memory
from pixembed.runtime.model import ClipModel, ModelInfo
from pixembed.runtime.models_file import ModelsConfig, ServedModel, models_from_settings
from pixembed.runtime.options import LoadOptions

if TYPE_CHECKING:
    from pixembed.config import Settings

log = logging.getLogger(__name__)

Loader = Callable[[LoadOptions], ClipModel]


def process_rss() -> int:
    """This process's resident memory in bytes."""
    return int(psutil.Process().memory_info().rss)


@dataclass
class _Slot:
    served: ServedModel
    model: ClipModel | None = None
    info: ModelInfo | None = None
    """The loaded model's facts, kept after it is unloaded."""
    size_bytes: int | None = None
    error: str | None = None
    used: int = 0


@dataclass(frozen=True)
class PooledModel:
    """One served model as ``/v1/models`` shows it; ``info`` is None until it has loaded once."""

    name: str
    aliases: tuple[str, ...]
    default: bool
    loaded: bool
    load: str
    options: LoadOptions
    info: ModelInfo | None
    size_bytes: int | None
    error: str | None

    @property
    def text_tower(self) -> bool:
        """Whether it embeds text: from the loaded model, else from its name."""
        return self.info.text_tower if self.info is not None else not is_image_model(self.options.model)


class ModelPool:
    """The served models by name; ``get`` loads on first use; thread-safe; built once per app."""

    def __init__(
        self,
        config: ModelsConfig,
        *,
        loader: Loader = load_model,
        memory_budget_bytes: int | None = None,
        preloaded: ClipModel | None = None,
    ) -> None:
        self.config = config
        self.memory_budget_bytes = memory_budget_bytes
        self._loader = loader
        self._slots = {served.name: _Slot(served) for served in config.models}
        self._by_name: dict[str, str] = {}
        for served in config.models:
            for name in served.names:
                self._by_name.setdefault(name, served.name)
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._clock = itertools.count(1)
        self._started = False
        if preloaded is not None:
            slot = self._slots[config.default.name]
            slot.model, slot.info, slot.used = preloaded, preloaded.info, next(self._clock)
            self._by_name.setdefault(preloaded.info.name, slot.served.name)

    @classmethod
    def from_settings(cls, settings: Settings, preloaded: ClipModel | None = None) -> ModelPool:
        """The pool ``settings`` describe (``models_file``, else ``model`` + ``extra_models``), with its
        budget; ``preloaded`` serves as the default model."""
        config = models_from_settings(settings)
        if preloaded is not None:
            config = with_default(config, preloaded)
        return cls(config, memory_budget_bytes=settings.model_memory_bytes, preloaded=preloaded)

    @property
    def default_name(self) -> str:
        """The name of the model that serves requests naming none."""
        return self.config.default.name

    @property
    def names(self) -> list[str]:
        """The served models' names, the default first."""
        return list(self._slots)

    def resolve(self, requested: str | None, what: str = "model") -> str:
        """The name of the served model ``requested`` names (None: the default); ``UnknownModel`` naming the
        served ones otherwise. Nothing is loaded."""
        if requested is None:
            return self.default_name
        name = self._by_name.get(requested)
        if name is None:
            raise UnknownModel.of(requested, self.names, what)
        return name

    def find(self, recorded: str) -> str | None:
        """The served model whose vectors ``recorded`` names (a collection's model), or None."""
        return self._by_name.get(recorded)

    def get(self, requested: str | None = None, what: str = "model") -> ClipModel:
        """The model ``requested`` names, loaded first if it is not in memory (blocking)."""
        slot = self._slots[self.resolve(requested, what)]
        model = self._touch(slot)
        if model is not None:
            return model
        with self._load_lock:
            model = self._touch(slot)  # loaded by the request this one waited for
            return model if model is not None else self._load(slot)

    async def get_async(self, requested: str | None = None, what: str = "model") -> ClipModel:
        """``get`` for async callers: a model in memory at once, a load in a worker thread."""
        slot = self._slots[self.resolve(requested, what)]
        model = self._touch(slot)
        if model is not None:
            return model
        return await anyio.to_thread.run_sync(self.get, slot.served.name)

    def peek(self, requested: str | None = None) -> ClipModel | None:
        """The model ``requested`` names if it is in memory, else None; loads nothing, uses nothing."""
        return self._slots[self.resolve(requested)].model

    def _touch(self, slot: _Slot) -> ClipModel | None:
        """The slot's model, marked as used now; None (or its load error) when it is not in memory."""
        with self._lock:
            if slot.model is not None:
                slot.used = next(self._clock)
                return slot.model
            if slot.error is not None:
                raise Unavailable(f"model {slot.served.name} failed to load: {slot.error}")
            if not self._started and slot.served.load == "start":
                raise Unavailable(f"model {slot.served.name} is still loading; retry shortly")
            return None

    def load_at_start(self, *, strict: bool = False) -> None:
        """Load the models marked to load at start, the default first (blocking). A failure is kept and
        answered to the requests that name that model (503) while the others serve; ``strict`` (the CLI,
        failing fast before the port opens) raises the loader's own error instead."""
        for slot in self._slots.values():
            if slot.served.load == "start" and slot.model is None and slot.error is None:
                with self._load_lock:
                    try:
                        self._load(slot)
                    except Unavailable as exc:
                        log.error("model %s did not load: %s", slot.served.name, exc.message)
                        if strict:
                            raise exc.__cause__ or exc from None
        self._started = True

    def _load(self, slot: _Slot) -> ClipModel:
        """Load ``slot``'s model, making room for it first; the caller holds the load lock."""
        self._unload_over_budget(keep=slot, incoming=slot.size_bytes or 0)
        # ONNX Runtime's first import (tens of MB of libraries) belongs to no one model.
        import onnxruntime  # noqa: F401

        gc.collect()
        before = process_rss()
        try:
            model = self._loader(slot.served.options)
        except PixembedError as exc:
            with self._lock:
                slot.error = exc.message
            raise Unavailable(f"model {slot.served.name} failed to load: {exc.message}") from exc
        grown = max(0, process_rss() - before)
        with self._lock:
            slot.model, slot.info, slot.used = model, model.info, next(self._clock)
            slot.size_bytes = max(grown, slot.size_bytes or 0)
            self._by_name.setdefault(model.info.name, slot.served.name)
        log.info("model %s loaded (%.1f MB resident)", slot.served.name, grown / 2**20)
        self._unload_over_budget(keep=slot, incoming=0)
        return model

    def _loaded_bytes(self) -> int:
        return sum(s.size_bytes or 0 for s in self._slots.values() if s.model is not None)

    def _unload_over_budget(self, keep: _Slot, incoming: int) -> None:
        """Unload the least recently used models (never ``keep``) until the loaded ones and ``incoming``
        bytes fit the budget, or nothing else is left to unload."""
        budget = self.memory_budget_bytes
        if budget is None:
            return
        unloaded = []
        with self._lock:
            while self._loaded_bytes() + incoming > budget:
                others = [s for s in self._slots.values() if s.model is not None and s is not keep]
                if not others:
                    break
                victim = min(others, key=lambda s: s.used)
                victim.model = None
                unloaded.append(victim.served.name)
        if unloaded:
            log.info(
                "unloaded %s to stay within the %.0f MB model budget", ", ".join(unloaded), budget / 2**20
            )
            gc.collect()
            return_freed_memory()

    def unload(self, name: str) -> bool:
        """Drop the named model from memory (it loads again on its next use); False if it was not loaded."""
        slot = self._slots[self.resolve(name)]
        with self._lock:
            was_loaded, slot.model = slot.model is not None, None
        if was_loaded:
            gc.collect()
            return_freed_memory()
        return was_loaded

    def models(self) -> list[PooledModel]:
        """Every served model, the default first, with whether it is in memory and what is known of it."""
        with self._lock:
            return [
                PooledModel(
                    name=slot.served.name,
                    aliases=slot.served.aliases,
                    default=slot.served.name == self.default_name,
                    loaded=slot.model is not None,
                    load=slot.served.load,
                    options=slot.served.options,
                    info=slot.info,
                    size_bytes=slot.size_bytes,
                    error=slot.error,
                )
                for slot in self._slots.values()
            ]

    def readiness(self) -> tuple[Literal["ready", "loading", "failed"], str | None]:
        """``("ready", None)`` once started with the default model usable, else ``("loading" | "failed",
        why)``."""
        default = self._slots[self.default_name]
        if default.error is not None:
            return "failed", f"model {default.served.name} failed to load: {default.error}"
        if default.model is None and not self._started:
            return "loading", "model is loading"
        return "ready", None

    def close(self) -> None:
        """Unload every model (at shutdown)."""
        with self._lock:
            for slot in self._slots.values():
                slot.model = None
        gc.collect()


def with_default(config: ModelsConfig, model: ClipModel) -> ModelsConfig:
    """``config`` with ``model`` as its default where it names another (a server handed a loaded model)."""
    default = config.default
    if model.info.name in default.names:
        return config
    served = replace(default, name=model.info.name, options=replace(default.options, model=model.info.name))
    return replace(config, models=(served, *(m for m in config.models[1:] if m.name != served.name)))
