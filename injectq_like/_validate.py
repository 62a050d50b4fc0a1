"""Every problem of a graph and of the handlers resolved from it, each with the resolution path
that reaches it and a hint.

One walk reports missing providers, cycles, lifetime violations (a
longer-lived instance depending on a shorter-lived one) and unusable
annotations together, each problem once.
"""

from __future__ import annotations

import difflib
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
        advice = f"register a factory that returns it: container.register({describe(base)}, factory=...)"
    elif get_origin(base) is not None:
        advice = f"register it: container.register({describe(base)}, Implementation)"
    else:
        advice = f"register it: container.register({describe(base)}) or with a factory"
    near = _near_miss(graph, key)
    return f"{near} If not, {advice}" if near else advice


def _near_miss(graph: Graph, key: Any) -> str:
    """ "did you mean ...?" for a registered key close to the missing one: the same name from another
    module, the same generic with other arguments, or a name a few letters away.
    """
    wanted = describe(key)
    registered = [p for p in graph.registry.single.values() if p.key != key]
    same_name = [p for p in registered if describe(p.key) == wanted]
    if same_name:
        where = getattr(base_of(same_name[0].key), "__module__", "another module")
        return f"did you mean {wanted} from {where} (registered at {same_name[0].source}), another class of that name?"
    origin = get_origin(base_of(key))
    names = {describe(p.key): p for p in registered}
    lowered = wanted.lower()
    candidates = [p for p in registered if origin is not None and get_origin(base_of(p.key)) is origin]
    if len(wanted) >= 4:  # noqa: PLR2004 - an abbreviation of a longer name, or the reverse: Repo, Repository
        candidates += [
            p for name, p in names.items() if name.lower().startswith(lowered) or lowered.startswith(name.lower())
        ]
    candidates += [names[name] for name in difflib.get_close_matches(wanted, list(names), n=1, cutoff=0.8)]
    if not candidates:
        return ""
    found = candidates[0]
    return f"did you mean {describe(found.key)} (registered at {found.source})?"


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
