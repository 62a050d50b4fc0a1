"""The dependency graph built from a frozen registry, and its validation.

The graph knows, for every provider, which providers each of its
parameters resolves to (its edges). ``problems()`` walks it once and
returns every problem as its own error, each with the resolution path that
reaches it: missing providers, cycles, lifetime violations and unusable
annotations. ``_plan`` compiles resolution from the same edges, so what
``validate()`` accepts is exactly what resolution can build.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, get_origin

from ._keys import base_of, describe, name_of
from ._providers import Kind, Provider, Scope
from ._registry import Registry
from ._signature import Dependency, DepKind, read_dependencies
from .exceptions import (
    AnnotationError,
    CircularDependencyError,
    DIError,
    MissingProviderError,
    ScopeError,
)

__all__ = ["Edge", "Graph"]


@dataclass(frozen=True, slots=True)
class Edge:
    """One parameter of a provider and the providers that fill it."""

    dependency: Dependency
    targets: tuple[Provider, ...]  # PLAIN / OPTIONAL / LAZY: zero or one; LIST: every multi provider
    use_default: bool = False  # no provider: the parameter's default applies

    @property
    def missing(self) -> bool:
        return not self.targets and not self.use_default and self.dependency.kind in (DepKind.PLAIN, DepKind.LAZY)

    @property
    def lazy(self) -> bool:
        return self.dependency.kind is DepKind.LAZY


class Graph:
    """Providers and their edges. Built once when the registry freezes; read-only after."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.providers: list[Provider] = registry.all()
        self._edges: dict[Provider, tuple[Edge, ...] | AnnotationError] = {}
        self._levels: dict[Provider, tuple[Scope, tuple[Any, ...]]] = {}

    # -- lookups ----------------------------------------------------------------

    def provider(self, key: Any) -> Provider | None:
        return self.registry.single.get(key)

    def collection(self, key: Any) -> tuple[Provider, ...]:
        return tuple(self.registry.multi.get(key, ()))

    def edges(self, provider: Provider) -> tuple[Edge, ...]:
        """The provider's edges; raises its ``AnnotationError`` if its annotations are unusable."""
        found = self._edges.get(provider)
        if found is None:
            try:
                found = self._read_edges(provider)
            except AnnotationError as error:
                found = error
            self._edges[provider] = found
        if isinstance(found, AnnotationError):
            raise found
        return found

    def _read_edges(self, provider: Provider) -> tuple[Edge, ...]:
        if provider.kind in (Kind.INSTANCE, Kind.CONTEXT) or provider.target is None:
            return ()
        dependencies = read_dependencies(provider.target, fallback=self.names)
        return tuple(self.edge(dependency) for dependency in dependencies)

    @functools.cached_property
    def names(self) -> dict[str, Any]:
        """Registered classes defined inside functions, by name: a string annotation naming one
        cannot be evaluated from its module. A name two classes share is left out. Classes
        defined at module level are never looked up here, so an import made only under
        ``TYPE_CHECKING`` is still reported.
        """
        found: dict[str, Any] = {}
        ambiguous: set[str] = set()
        for provider in self.providers:
            for candidate in (base_of(provider.key), provider.target):
                name = getattr(candidate, "__name__", None)
                if not isinstance(candidate, type) or not isinstance(name, str):
                    continue
                if "<locals>" not in candidate.__qualname__:
                    continue
                if found.setdefault(name, candidate) is not candidate:
                    ambiguous.add(name)
        for name in ambiguous:
            del found[name]
        return found

    def edge(self, dependency: Dependency) -> Edge:
        if dependency.kind is DepKind.LIST:
            return Edge(dependency, self.collection(dependency.key))
        found = self.provider(dependency.key)
        if found is not None:
            return Edge(dependency, (found,))
        optional = dependency.kind is DepKind.OPTIONAL or dependency.has_default
        return Edge(dependency, (), use_default=optional)

    def hint_for_missing(self, key: Any) -> str:
        if key in self.registry.multi:
            return (
                f"{describe(key)} is registered with multi=True: depend on list[{describe(key)}] "
                "to get every registration"
            )
        base = base_of(key)
        names = [k for k in self.registry.single if name_of(k) is not None and base_of(k) == base]
        if name_of(key) is None and names:
            options = ", ".join(f'Named("{name_of(k)}")' for k in names)
            return (
                f"{describe(base)} is registered only under a name: depend on "
                f"Annotated[{describe(base)}, ...] with one of {options}"
            )
        if name_of(key) is not None:
            unnamed = " (it is registered without a name)" if base in self.registry.single else ""
            return f"register one under that name{unnamed}: container.register({describe(base)}, name={name_of(key)!r})"
        if get_origin(base) is not None:
            return f"register it: container.register({describe(base)}, Implementation)"
        return f"register it: container.register({describe(base)}) or with a factory"

    # -- lifetimes --------------------------------------------------------------

    def level(self, provider: Provider) -> tuple[Scope, tuple[Any, ...]]:
        """The shortest lifetime an instance of ``provider`` is bound to, and the path to its cause.

        A cached provider is bound to its own lifetime; a TRANSIENT to the
        shortest lifetime among its dependencies (APP when it has none).
        """
        found = self._levels.get(provider)
        if found is not None:
            return found
        if provider.cached or (provider.kind is not Kind.CLASS and provider.kind is not Kind.FACTORY):
            result: tuple[Scope, tuple[Any, ...]] = (provider.scope, (provider.key,))
            self._levels[provider] = result
            return result
        self._levels[provider] = (Scope.APP, (provider.key,))  # provisional: cuts cycles
        result = (Scope.APP, (provider.key,))
        try:
            edges = self.edges(provider)
        except AnnotationError:
            edges = ()
        for edge in edges:
            for target in edge.targets:
                level, cause = self.level(target)
                if level is not Scope.TRANSIENT and level > result[0]:
                    result = (level, (provider.key, *cause))
        self._levels[provider] = result
        return result

    # -- validation ---------------------------------------------------------------

    def problems(self, roots: Iterable[Provider] | None = None) -> list[DIError]:
        """Every problem reachable from ``roots`` (all providers when ``None``), in a stable order."""
        walk = _Walk(self)
        for root in self.providers if roots is None else roots:
            walk.visit(root, ())
        return walk.errors

    def path(self, start: Provider, key: Any) -> tuple[Any, ...]:
        """The shortest chain of keys from ``start`` to a provider of ``key`` (just ``key`` if none)."""
        if start.key == key:
            return (key,)
        seen = {start}
        queue: deque[tuple[Provider, tuple[Any, ...]]] = deque([(start, (start.key,))])
        while queue:
            provider, path = queue.popleft()
            for target, edge_key in self._targets(provider):
                if edge_key == key:
                    return (*path, key)
                if target is not None and target not in seen:
                    seen.add(target)
                    queue.append((target, (*path, target.key)))
        return (start.key, key)

    def _targets(self, provider: Provider) -> Iterator[tuple[Provider | None, Any]]:
        try:
            edges = self.edges(provider)
        except AnnotationError:
            return
        for edge in edges:
            if not edge.targets:
                yield None, edge.dependency.key
            for target in edge.targets:
                yield target, target.key


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
                marker = (id(provider), dependency.key)
                if marker not in self.seen_missing:
                    self.seen_missing.add(marker)
                    self.errors.append(
                        MissingProviderError(
                            dependency.key,
                            path=(*path, dependency.key),
                            hint=self.graph.hint_for_missing(dependency.key),
                        )
                    )
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
