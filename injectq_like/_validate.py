"""Every problem of a graph and of the handlers resolved from it, each with the resolution path
that reaches it and a hint.

One walk reports missing providers, cycles, lifetime violations (a
longer-lived instance depending on a shorter-lived one) and unusable
annotations together, each problem once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, get_origin

import typing_inspect

from ._graph import Graph
from ._keys import base_of, describe, name_of
from ._providers import Provider, Scope
from ._signature import Dependency
from .exceptions import (
    AnnotationError,
    CircularDependencyError,
    DIError,
    MissingProviderError,
    ScopeError,
)

__all__ = ["hint_for_missing", "problems"]


def problems(
    graph: Graph,
    roots: Iterable[Provider] | None = None,
    handlers: Iterable[tuple[Any, Sequence[Dependency]]] = (),
) -> list[DIError]:
    """Every problem reachable from ``handlers`` (each a handler and its injected dependencies;
    their paths start at the handler) and from ``roots`` (all providers when ``None``), each
    reported once, in a stable order.
    """
    walk = _Walk(graph)
    for handler, dependencies in handlers:
        walk.visit_handler(handler, dependencies)
    for root in graph.providers if roots is None else roots:
        walk.visit(root, ())
    return walk.errors


def hint_for_missing(graph: Graph, key: Any) -> str:
    """What to do about a key nothing provides."""
    if key in graph.registry.multi:
        return (
            f"{describe(key)} is registered with multi=True: depend on list[{describe(key)}] to get every registration"
        )
    base = base_of(key)
    names = [k for k in graph.registry.single if name_of(k) is not None and base_of(k) == base]
    if name_of(key) is None and names:
        options = ", ".join(f'Named("{name_of(k)}")' for k in names)
        return (
            f"{describe(base)} is registered only under a name: depend on "
            f"Annotated[{describe(base)}, ...] with one of {options}"
        )
    if name_of(key) is not None:
        unnamed = " (it is registered without a name)" if base in graph.registry.single else ""
        return f"register one under that name{unnamed}: container.register({describe(base)}, name={name_of(key)!r})"
    if typing_inspect.is_union_type(base):
        return f"register a factory that returns it: container.register({describe(base)}, factory=...)"
    if get_origin(base) is not None:
        return f"register it: container.register({describe(base)}, Implementation)"
    return f"register it: container.register({describe(base)}) or with a factory"


class _Walk:
    """One depth-first walk that collects problems, each reported once."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.errors: list[DIError] = []
        self.done: set[Provider] = set()
        self.active: dict[Provider, int] = {}  # provider -> its position on the stack
        self.seen_missing: set[tuple[int, Any]] = set()
        self.seen_cycles: set[frozenset[int]] = set()
        self.seen_scope: set[tuple[int, int]] = set()

    def visit_handler(self, handler: Any, dependencies: Sequence[Dependency]) -> None:
        """A handler's injected parameters (and ``uses=``): like a provider's, from the handler."""
        path = (handler,)
        for dependency in dependencies:
            edge = self.graph.edge(dependency)
            if edge.missing:
                self._missing(handler, dependency.key, path)
                continue
            if not edge.lazy:
                for target in edge.targets:
                    self.visit(target, path)

    def _missing(self, owner: Any, key: Any, path: tuple[Any, ...]) -> None:
        marker = (id(owner), key)
        if marker not in self.seen_missing:
            self.seen_missing.add(marker)
            self.errors.append(MissingProviderError(key, path=(*path, key), hint=hint_for_missing(self.graph, key)))

    def visit(self, provider: Provider, path: tuple[Any, ...]) -> None:
        if provider in self.done or provider in self.active:
            return
        path = (*path, provider.key)
        try:
            edges = self.graph.edges(provider)
        except AnnotationError as error:
            self.errors.append(error.with_path(path))  # reported once: the provider is done now
            self.done.add(provider)
            return
        self.active[provider] = len(path) - 1
        stack = list(self.active)
        for edge in edges:
            dependency = edge.dependency
            if edge.missing:
                self._missing(provider, dependency.key, path)
                continue
            for target in edge.targets:
                self._check_lifetime(provider, target, path)
                if edge.lazy:
                    continue  # a Lazy edge is resolved later: it never closes a cycle
                if target in self.active:
                    self._cycle(stack[stack.index(target) :], path)
                    continue
                self.visit(target, path)
        del self.active[provider]
        self.done.add(provider)

    def _cycle(self, members: list[Provider], path: tuple[Any, ...]) -> None:
        marker = frozenset(id(p) for p in members)
        if marker in self.seen_cycles:
            return
        self.seen_cycles.add(marker)
        cycle = (*(p.key for p in members), members[0].key)
        self.errors.append(CircularDependencyError(cycle, path=(*path, members[0].key)))

    def _check_lifetime(self, provider: Provider, target: Provider, path: tuple[Any, ...]) -> None:
        if not provider.cached:
            return  # a TRANSIENT takes the lifetime of its dependencies: checked where it is cached
        level, cause = self.graph.level(target)
        if level is Scope.TRANSIENT or level <= provider.scope:
            return
        culprit = cause[-1]
        marker = (id(provider), id(culprit))
        if marker in self.seen_scope:
            return
        self.seen_scope.add(marker)
        through = f" through {' -> '.join(describe(k) for k in cause[:-1])}" if len(cause) > 1 else ""
        self.errors.append(
            ScopeError(
                f"{describe(provider.key)} ({provider.scope.name}) depends on {describe(culprit)} "
                f"({level.name}){through}, which lives shorter: the {provider.scope.name} instance "
                f"would keep a {level.name} one after its scope closed",
                path=(*path, *cause),
                hint=(
                    f"give {describe(provider.key)} a lifetime no longer than {level.name}, "
                    f"or give {describe(culprit)} one at least as long as {provider.scope.name}"
                ),
                dependent=provider.key,
                dependent_scope=provider.scope,
                dependency=culprit,
                dependency_scope=level,
            )
        )
