"""The dependency graph of a frozen registry: edges, reachability, dependents, lifetimes.

The graph knows, for every provider, which providers each of its
parameters resolves to (its edges), read lazily the first time they are
asked for. ``_validate`` walks the same edges to find problems and
``_plan`` compiles resolution from them, so what ``validate()`` accepts is
exactly what resolution can build.
"""

from __future__ import annotations

import functools
import typing
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._keys import base_of, normalize
from ._providers import Kind, Provider, Scope
from ._registry import Registry
from ._signature import Dependency, DepKind, read_dependencies
from .exceptions import AnnotationError

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
    """Providers and their edges, over one registry: the container's own, or an override layer's.

    Read-only once built; edges and lifetimes are worked out on first use and kept.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.providers: list[Provider] = registry.all()
        self._edges: dict[Provider, tuple[Edge, ...] | AnnotationError] = {}
        self._levels: dict[Provider, tuple[Scope, tuple[Any, ...]]] = {}
        self._needs_async: dict[Provider, bool] = {}

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

    def usable_edges(self, provider: Provider) -> tuple[Edge, ...]:
        """The provider's edges, or none when its annotations are unusable (``validate()`` reports it)."""
        try:
            return self.edges(provider)
        except AnnotationError:
            return ()

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

    def provider_for(self, key: Any, kind: DepKind) -> Provider | None:
        """The provider a dependency on ``key`` gets: for ``T | None``, the union's own if it is
        registered (a factory of the current user, say), else ``T``'s.
        """
        if kind is DepKind.OPTIONAL:
            union = self.provider(normalize(typing.Optional[key]))  # noqa: UP045 - any key, Annotated too
            if union is not None:
                return union
        return self.provider(key)

    def edge(self, dependency: Dependency) -> Edge:
        if dependency.kind is DepKind.LIST:
            return Edge(dependency, self.collection(dependency.key))
        found = self.provider_for(dependency.key, dependency.kind)
        if found is not None:
            return Edge(dependency, (found,))
        optional = dependency.kind is DepKind.OPTIONAL or dependency.has_default
        return Edge(dependency, (), use_default=optional)

    def needs_async(self, provider: Provider) -> bool:
        """Whether building ``provider`` from scratch needs an event loop."""
        found = self._needs_async.get(provider)
        if found is None:
            self._needs_async[provider] = False  # provisional: graphs are checked for cycles first
            found = provider.is_async or any(
                self.needs_async(target) for edge in self.edges(provider) if not edge.lazy for target in edge.targets
            )
            self._needs_async[provider] = found
        return found

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
        for edge in self.usable_edges(provider):
            for target in edge.targets:
                level, cause = self.level(target)
                if level is not Scope.TRANSIENT and level > result[0]:
                    result = (level, (provider.key, *cause))
        self._levels[provider] = result
        return result

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
        for edge in self.usable_edges(provider):
            if not edge.targets:
                yield None, edge.dependency.key
            for target in edge.targets:
                yield target, target.key

    def reachable(self, roots: Iterable[Provider]) -> set[Provider]:
        """The providers building ``roots`` uses, ``roots`` included (``Lazy`` edges excluded)."""
        seen: set[Provider] = set()
        todo = list(roots)
        while todo:
            provider = todo.pop()
            if provider in seen:
                continue
            seen.add(provider)
            for edge in self.edges(provider):
                if not edge.lazy:
                    todo.extend(edge.targets)
        return seen

    def dependents(self, key: Any) -> Iterator[Provider]:
        """Every provider whose instances are built from ``key``'s, directly or not.

        A ``Lazy`` edge resolves at the time of the await, in whatever layer is
        active then, so it does not make a dependent.
        """
        needs: dict[Any, list[Provider]] = {}
        for provider in self.providers:
            for edge in self.usable_edges(provider):
                if not edge.lazy:
                    needs.setdefault(edge.dependency.key, []).append(provider)
        seen: set[Provider] = set()
        todo = [key]
        while todo:
            for provider in needs.get(todo.pop(), ()):
                if provider not in seen:
                    seen.add(provider)
                    todo.append(provider.key)
                    yield provider
