"""Layers: the registry as registered, and overrides stacked on top of it.

A layer is one consistent view of the providers with its own graph, compiled
plans and plan caches. ``container.override(Key, ...)`` builds a new layer
from the active one in which the provider of ``Key`` is replaced, and every
provider that depends on ``Key`` (directly or not) is replaced by a copy of
itself. Copies get new cache slots, so no instance built before the override
(with the old provider) is served while it is active, and no instance built
during it is served after it ends. Everything else keeps its slot, and its
cached instances.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, final

from ._graph import Graph
from ._plan import Compiler, Plan
from ._providers import Provider
from ._registry import Registry

if TYPE_CHECKING:
    from ._scope import AsyncRequestScope

__all__ = ["NO_PLANS", "Layer"]

#: The fast-path plan table while the fast path is off (before the container started, or
#: while a local override exists): always empty, never written.
NO_PLANS: Final[dict[Any, Any]] = {}


@final
class Layer:
    """A graph, its compiler, and the plans compiled from it, keyed by what was resolved."""

    __slots__ = ("async_plans", "compiler", "parent", "sync_plans")

    def __init__(self, compiler: Compiler, parent: Layer | None = None) -> None:
        self.compiler = compiler
        self.parent = parent
        self.async_plans: dict[Any, Plan] = {}
        self.sync_plans: dict[Any, Callable[[AsyncRequestScope], Any]] = {}

    @property
    def graph(self) -> Graph:
        return self.compiler.graph

    def overridden(self, key: Any, provider: Provider, allocate: Callable[[], int]) -> Layer:
        """A new layer on top of this one, with ``provider`` for ``key``."""
        graph = self.compiler.graph
        registry = Registry()
        registry.single = dict(graph.registry.single)
        registry.multi = {k: list(v) for k, v in graph.registry.multi.items()}
        registry.frozen = True
        registry.frozen_at = graph.registry.frozen_at
        index = dict(self.compiler.index)
        old = registry.single.get(key)
        provider = dataclasses.replace(provider, serial=old.serial if old is not None else provider.serial)
        registry.single[key] = provider
        index[provider] = allocate()
        for dependent in graph.dependents(key):
            copy = dataclasses.replace(dependent)
            index[copy] = allocate()
            if dependent.multi:
                group = registry.multi[dependent.key]
                group[group.index(dependent)] = copy
            else:
                registry.single[dependent.key] = copy
        return Layer(Compiler(Graph(registry), index), parent=self)
