"""The ``Compiler``: a key's resolution in one graph, compiled once into a resolver.

A resolver is a small Python function generated from the graph and compiled
with ``exec``: for a graph of transient classes it is the nested
constructor call a person would write by hand
(``Service(Repo(Database()), Clock())``); a cached provider gets a getter
that returns its instance from the owning scope's cache and builds it only
on a miss. Nothing on the per-resolve path inspects a signature, evaluates
an annotation or takes a lock when the value is cached.

Each generated function keeps its source (``Compiler.source(key)`` shows
every function a key's resolver uses), so the compiled form can always be read.

Two modes are compiled per key: *sync* (``resolve_sync``: an async provider
raises ``AsyncProviderError`` unless its instance is already cached) and
*async* (``resolve``: only the parts that need an event loop are awaited,
and two or more async dependencies of one provider that are not cached yet
are created concurrently).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

from ._build import Builder
from ._codegen import Refs, identifier, resolve_none
from ._contract import ASYNC, CompiledResolver, Mode, Resolver
from ._failures import PathNotes
from ._graph import Graph
from ._keys import describe
from ._providers import Provider
from ._signature import Dependency, DepKind, analyse
from ._validate import hint_for_missing, problems
from .exceptions import MissingProviderError

__all__ = ["Compiler", "HandlerKey"]


class HandlerKey:
    """The injected parameters of one handler, compiled like a key into a single resolver
    that returns them as a dict of keyword arguments.

    Hashed by identity: each handler has one, used as its key in the resolver tables.
    """

    __slots__ = ("__weakref__", "dependencies", "handler")

    def __init__(self, handler: Any, dependencies: Sequence[Dependency]) -> None:
        self.handler = handler  # named in resolution paths
        self.dependencies = tuple(dependencies)

    def __repr__(self) -> str:
        return f"<injected parameters of {describe(self.handler)}>"


class Compiler:
    """Compiles resolvers for one frozen graph. Thread-safe; every method is off the hot path."""

    def __init__(
        self,
        graph: Graph,
        slots: dict[Provider, int] | None = None,
        values: dict[Any, Any] | None = None,
    ) -> None:
        self.graph = graph
        self.providers: list[Provider] = list(graph.providers)
        #: Each provider's slot in the scope caches. An override layer keeps the slots of the
        #: providers it leaves alone and gives new ones to those it replaces.
        self.slots: dict[Provider, int] = slots if slots is not None else {p: i for i, p in enumerate(self.providers)}
        self.by_slot: dict[int, Provider] = {i: p for p, i in self.slots.items()}
        self._closure: dict[int, frozenset[int]] = {}
        self._checked: set[Provider] = set()
        self._builder = Builder(graph, self.slots, values)
        self._notes = PathNotes(graph)
        self._lock = threading.RLock()

    # -- entry points ------------------------------------------------------------

    def resolver(self, annotation: Any, mode: Mode) -> CompiledResolver:
        """The root function resolving ``annotation`` in a scope, and whether it is a coroutine function."""
        if isinstance(annotation, HandlerKey):
            return self._handler_resolver(annotation, mode)
        with self._lock:
            key, kind, _ = analyse(annotation, owner="resolve()", parameter="key")
            refs = Refs()
            statements: list[str] = []
            if kind is DepKind.LIST:
                root: Provider | None = None
                parts = [self._builder.expression(p, mode, refs) for p in self.graph.collection(key)]
                self._check(self.graph.collection(key))
                expression = "[" + ", ".join(code for code, _ in parts) + "]"
                awaits = any(a for _, a in parts)
            else:
                root = self.graph.provider_for(key, kind)
                if root is None:
                    if kind is DepKind.OPTIONAL:
                        return resolve_none, False
                    raise MissingProviderError(key, path=(key,), hint=hint_for_missing(self.graph, key))
                if kind is DepKind.LAZY:
                    raise MissingProviderError(key, message="resolve() does not take Lazy[T]: resolve T itself")
                self._check([root])
                statements, expression, awaits = self._builder.root(root, mode, refs)
            refs.add("_failed", functools.partial(self._notes.add, root, key))
            name = f"resolve_{identifier(describe(key))}"
            asynchronous = mode is ASYNC and awaits
            body = "".join(f"        {line}\n" for line in statements)
            source = (
                f"{'async def' if asynchronous else 'def'} {name}(scope):\n"
                "    try:\n"
                f"{body}"
                f"        return {expression}\n"
                "    except BaseException as error:\n"
                "        _failed(error)\n"
                "        raise\n"
            )
            return self._builder.define(name, source, refs), asynchronous

    def _handler_resolver(self, handler_parameters: HandlerKey, mode: Mode) -> CompiledResolver:
        """One function resolving all the injected parameters of a handler, as a dict of keyword arguments."""
        with self._lock:
            edges = [self.graph.edge(dependency) for dependency in handler_parameters.dependencies]
            for edge in edges:
                if edge.missing:
                    key = edge.dependency.key
                    raise MissingProviderError(
                        key,
                        path=(handler_parameters.handler, key),
                        hint=hint_for_missing(self.graph, key),
                        message=f"no provider for {describe(key)}, which {describe(handler_parameters.handler)} needs",
                    )
            self._check([target for edge in edges if not edge.lazy for target in edge.targets])
            refs = Refs()
            statements, arguments, awaits = self._builder.arguments_for(edges, mode, refs, keywords=True)
            refs.add("_failed", functools.partial(self._notes.add, None, handler_parameters.handler))
            name = f"inject_{identifier(describe(handler_parameters.handler))}"
            asynchronous = mode is ASYNC and awaits
            body = "".join(f"        {line}\n" for line in statements)
            source = (
                f"{'async def' if asynchronous else 'def'} {name}(scope):\n"
                "    try:\n"
                f"{body}"
                f"        return {{{arguments}}}\n"
                "    except BaseException as error:\n"
                "        _failed(error)\n"
                "        raise\n"
            )
            return self._builder.define(name, source, refs), asynchronous

    def source(self, annotation: Any, mode: Mode = ASYNC) -> str:
        """Every generated function a key's resolver uses, for reading and debugging."""
        with self._lock:
            self.resolver(annotation, mode)
            key, kind, _ = analyse(annotation, owner="explain()", parameter="key")
            root = self.graph.provider_for(key, kind)
            names = [n for n in self._builder.sources if n == f"resolve_{identifier(describe(key))}"]
            wanted = self._reachable(root) if root is not None else set()
            names.extend(
                f"{p}{i}" for i in sorted(wanted) for p in ("t", "g", "a") if f"{p}{i}" in self._builder.sources
            )
            return "\n".join(self._builder.sources[n] for n in dict.fromkeys(names))

    def closure(self, slot: int) -> frozenset[int]:
        """The slots the provider at ``slot`` depends on, directly or not (``Lazy`` edges excluded)."""
        found = self._closure.get(slot)
        if found is None:
            with self._lock:
                found = frozenset(self._reachable(self.by_slot[slot])) - {slot}
                self._closure[slot] = found
        return found

    def needs_async(self, provider: Provider) -> bool:
        """Whether building ``provider`` from scratch needs an event loop."""
        return self.graph.needs_async(provider)

    def getter(self, provider: Provider, mode: Mode) -> Resolver:
        """The function returning ``provider``'s instance in a scope (``autouse`` creates with it).

        Its graph is checked first, as a key's is: a missing dependency is an error, not ``None``.
        """
        with self._lock:
            self._check([provider])
            return self._builder.getter(provider, mode)

    # -- checking ------------------------------------------------------------------

    def _check(self, roots: Sequence[Provider]) -> None:
        todo = [p for p in roots if p not in self._checked]
        if not todo:
            return
        found = problems(self.graph, todo)
        if found:
            raise found[0]
        self._checked.update(self.graph.reachable(todo))

    def _reachable(self, root: Provider) -> set[int]:
        return {self.slots[p] for p in self.graph.reachable([root])}
