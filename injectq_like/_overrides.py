"""Layers: the registry as registered, and the overrides stacked on it, global or context-local.

A layer is one consistent view of the providers with its own graph,
compiler and resolver tables. ``container.override(Key, ...)`` builds a new
layer from the active one in which the provider of ``Key`` is replaced, and
every provider that depends on ``Key`` (directly or not) is replaced by a
copy of itself. Copies get new slots, so no instance built before the
override (with the old provider) is served while it is active, and no
instance built during it is served after it ends. Everything else keeps its
slot, and its cached instances.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final, Self, final

from ._contract import CompiledResolver, Resolver
from ._graph import Graph
from ._keys import describe
from ._plan import Compiler
from ._providers import Provider
from .exceptions import RegistrationError

__all__ = ["EMPTY", "Layer", "Layers", "Override", "WaitingOverrides"]

#: What the fast path reads while it is off (before the container started, or while an override
#: asks for the slow path): an empty table, never written, for resolvers and APP instances alike.
EMPTY: Final[dict[Any, Any]] = {}


@final
class Layer:
    """A graph, its compiler, and the resolvers compiled from it, keyed by what was resolved."""

    __slots__ = ("async_resolvers", "compiler", "parent", "sync_resolvers")

    def __init__(self, compiler: Compiler, parent: Layer | None = None) -> None:
        self.compiler = compiler
        self.parent = parent
        self.async_resolvers: dict[Any, CompiledResolver] = {}
        self.sync_resolvers: dict[Any, Resolver] = {}

    @property
    def graph(self) -> Graph:
        return self.compiler.graph

    def overridden(self, key: Any, provider: Provider, allocate: Callable[[], int]) -> Layer:
        """A new layer on top of this one, with ``provider`` for ``key``."""
        graph = self.compiler.graph
        registry = graph.registry.frozen_copy()
        slots = dict(self.compiler.slots)
        old = registry.single.get(key)
        provider = dataclasses.replace(provider, serial=old.serial if old is not None else provider.serial)
        registry.single[key] = provider
        slots[provider] = allocate()
        for dependent in graph.dependents(key):
            copy = dataclasses.replace(dependent)
            slots[copy] = allocate()
            if dependent.multi:
                group = registry.multi[dependent.key]
                group[group.index(dependent)] = copy
            else:
                registry.single[dependent.key] = copy
        return Layer(Compiler(Graph(registry), slots), parent=self)


@final
class Layers:
    """The base layer, the overrides on top of it, and the slots they hand out.

    ``changed`` is called whenever the layer that resolution uses may have changed.
    """

    __slots__ = ("_changed", "_global", "_lock", "_next_slot", "_owners", "_stack", "base", "local_count")

    def __init__(self, base: Compiler, lock: threading.RLock, changed: Callable[[], None]) -> None:
        self._lock = lock
        self._changed = changed
        self._owners: dict[int, Compiler] = {}  # slot -> the compiler that gave it out
        self._next_slot = len(base.slots)
        self._stack: list[list[Any]] = []  # [key, provider, its layer] of each global override, oldest first
        self.local_count = 0
        self._adopt(base)
        self.base = self._global = Layer(base)

    @property
    def top(self) -> Layer:
        """The global layer: the base, or the newest global override."""
        return self._global

    def active(self) -> Layer:
        """The layer resolution uses in this context: a local override's, else the global one."""
        if self.local_count:
            layer = _LOCAL_LAYERS.get().get(self)
            if layer is not None:
                return layer
        return self._global

    def provider_at(self, slot: int) -> Provider:
        return self._owners[slot].by_slot[slot]

    def closure(self, slot: int) -> frozenset[int]:
        return self._owners[slot].closure(slot)

    def _adopt(self, compiler: Compiler) -> None:
        for slot in compiler.by_slot:
            self._owners.setdefault(slot, compiler)

    def _allocate(self) -> int:
        with self._lock:
            slot = self._next_slot
            self._next_slot += 1
            return slot

    def push(self, key: Any, provider: Provider, *, local: bool) -> Callable[[], None]:
        """Activate a layer with ``provider`` for ``key``; returns what undoes it."""
        with self._lock:
            below = self.active() if local else self._global
            layer = below.overridden(key, provider, self._allocate)
            self._adopt(layer.compiler)
            if local:
                return self._push_local(layer)
            entry: list[Any] = [key, provider, layer]
            self._stack.append(entry)
            self._global = layer
            self._changed()

            def undo_global() -> None:
                with self._lock:
                    stack = self._stack
                    position = next(n for n, e in enumerate(stack) if e is entry)
                    del stack[position]
                    # Rebuild what was stacked on top of the removed override, without it.
                    rebuilt = stack[position - 1][2] if position else self.base
                    for above in stack[position:]:
                        above[2] = rebuilt = rebuilt.overridden(above[0], above[1], self._allocate)
                        self._adopt(rebuilt.compiler)
                    self._global = rebuilt
                    self._changed()

            return undo_global

    def _push_local(self, layer: Layer) -> Callable[[], None]:
        token = _LOCAL_LAYERS.set({**_LOCAL_LAYERS.get(), self: layer})
        self.local_count += 1
        self._changed()

        def undo_local() -> None:
            with self._lock:
                try:
                    _LOCAL_LAYERS.reset(token)
                except ValueError:  # undone in another context: drop this container's entry there
                    current = dict(_LOCAL_LAYERS.get())
                    current.pop(self, None)
                    _LOCAL_LAYERS.set(current)
                self.local_count -= 1
                self._changed()

        return undo_local


@final
class EarlyOverride:
    """An override entered before the container froze; ``undo`` is set once it is applied."""

    __slots__ = ("key", "provider", "undo")

    def __init__(self, key: Any, provider: Provider) -> None:
        self.key = key
        self.provider = provider
        self.undo: Callable[[], None] | None = None


@final
class WaitingOverrides:
    """Overrides entered before the container froze: an override does not freeze it.

    A global one is applied when the container freezes; a local one at the
    first resolution in its context (``apply_local``). Undone before that,
    it is forgotten; after, its layer is undone.
    """

    __slots__ = ("__weakref__", "_changed", "_global", "_lock", "local_count")

    def __init__(self, lock: threading.RLock, changed: Callable[[], None]) -> None:
        self._lock = lock
        self._changed = changed
        self._global: list[EarlyOverride] = []  # oldest first
        self.local_count = 0  # local ones not undone yet (the fast path is off while any exist)

    def add(self, key: Any, provider: Provider, *, local: bool) -> Callable[[], None]:
        early = EarlyOverride(key, provider)
        if local:
            return self._add_local(early)
        self._global.append(early)

        def undo_early() -> None:
            with self._lock:
                if early.undo is not None:
                    early.undo()
                else:
                    self._global.remove(early)

        return undo_early

    def _add_local(self, early: EarlyOverride) -> Callable[[], None]:
        mine = _EARLY_LOCALS.get()
        token = _EARLY_LOCALS.set({**mine, self: (*mine.get(self, ()), early)})
        self.local_count += 1
        self._changed()

        def undo_early_local() -> None:
            with self._lock:
                try:
                    _EARLY_LOCALS.reset(token)
                except ValueError:  # undone in another context: drop the entry there
                    current = dict(_EARLY_LOCALS.get())
                    current[self] = tuple(e for e in current.get(self, ()) if e is not early)
                    _EARLY_LOCALS.set(current)
                self.local_count -= 1
                if early.undo is not None:
                    early.undo()
                self._changed()

        return undo_early_local

    def apply(self, layers: Layers) -> None:
        """The container froze: apply the global overrides waiting, oldest first."""
        for early in self._global:
            early.undo = layers.push(early.key, early.provider, local=False)
        self._global.clear()

    def apply_local(self, layers: Layers) -> None:
        """Apply the local overrides of this context still waiting (the first resolution here)."""
        for early in _EARLY_LOCALS.get().get(self, ()):
            if early.undo is None:
                early.undo = layers.push(early.key, early.provider, local=True)


@final
class Override:
    """An override being applied: use it as ``with`` or ``async with``; undone on exit."""

    __slots__ = ("_key", "_local", "_push", "_undo")

    def __init__(self, key: Any, push: Callable[[], Callable[[], None]], *, local: bool) -> None:
        self._key = key
        self._push = push
        self._local = local
        self._undo: Callable[[], None] | None = None

    def __enter__(self) -> Self:
        if self._undo is not None:
            raise RegistrationError("this override is active already", hint="call container.override(...) again")
        self._undo = self._push()
        return self

    def __exit__(self, *exc_info: object) -> None:
        undo, self._undo = self._undo, None
        if undo is not None:
            undo()

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()

    def __repr__(self) -> str:
        where = "local" if self._local else "global"
        state = "active" if self._undo is not None else "inactive"
        return f"<Override of {describe(self._key)} ({where}, {state})>"


#: Local override layers of this context, by the container's layers.
_LOCAL_LAYERS: ContextVar[Mapping[Layers, Layer]] = ContextVar("injectq_like_local_overrides", default={})  # noqa: B039 - never mutated: replaced by a new mapping

#: Local overrides entered before their container froze, in this context.
_EARLY_LOCALS: ContextVar[Mapping[WaitingOverrides, tuple[EarlyOverride, ...]]] = ContextVar(
    "injectq_like_early_local_overrides",
    default={},  # noqa: B039 - never mutated: replaced by a new mapping
)
