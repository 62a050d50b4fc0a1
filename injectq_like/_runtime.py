"""``Runtime``: a container at run time, once its registry is frozen.

It owns what resolution needs after registration: the layers (the
registry's graph and the overrides on it) and their resolver tables, the
fast path (the active layer's tables, and the APP instances served
directly), the APP scope and the container's start (APP ``autouse``
providers), the autouse providers and context values of each level, the
rules for opening child scopes, and the current scope of this context.
Scopes see it as their ``ScopeRuntime``.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from ._cleanup import needs_event_loop
from ._context import fill_context
from ._contract import (
    ASYNC,
    ASYNC_CONTEXT_MANAGER,
    ASYNC_GENERATOR,
    CALLBACK,
    CLOSED,
    OPEN,
    SYNC,
    CompiledResolver,
    Mode,
    Resolver,
)
from ._graph import Graph
from ._keys import describe, normalize
from ._overrides import EMPTY, Layer, Layers, WaitingOverrides
from ._plan import Compiler
from ._providers import Kind, Provider, Scope
from ._registry import Registry
from ._scope import CURRENT, AsyncRequestScope, is_async_callable, not_open
from .exceptions import AsyncProviderError, ScopeError

__all__ = ["Runtime"]


class Runtime:
    """The run-time half of a container (see the module docstring).

    ``publish`` is called with the runtime whenever its fast-path tables
    change, so that the container can keep its own references to them.
    """

    __slots__ = (
        "__weakref__",
        "_autouse",
        "_layers",
        "_publish",
        "_registry",
        "_waiting",
        "async_resolvers",
        "autouse_runners",
        "context_slots",
        "context_targets",
        "frozen",
        "handlers",
        "lock",
        "quiet_cleanups",
        "quiet_creations",
        "root",
        "scopes_lock",
        "started",
        "sync_autouse_runners",
        "sync_resolvers",
        "values",
        "values_view",
    )

    def __init__(self, registry: Registry, publish: Callable[[Runtime], None]) -> None:
        self._registry = registry
        self._publish = publish
        self._layers: Layers | None = None  # made when the registry freezes
        self._waiting: WaitingOverrides | None = None  # overrides entered before it froze, if any
        # Slots whose async cleanups (creations) have finished without waiting (see _cleanup, _codegen.gather).
        self.quiet_cleanups: set[int] = set()
        self.quiet_creations: set[int] = set()
        # APP instances by key, filled as the base layer creates them: ``resolve`` returns one of
        # these without looking up the current scope (an APP instance is the same in all of them).
        # ``values_view`` is this dict while the fast path is on, else EMPTY.
        self.values: dict[Any, Any] = {}
        self.values_view: dict[Any, Any] = EMPTY
        # The fast path's resolver tables: the global layer's, once the container started and
        # while no local override exists; else EMPTY, so that every resolve takes the slow path.
        # (``values_view`` is on only while no override at all is active.)
        self.async_resolvers: dict[Any, CompiledResolver] = EMPTY
        self.sync_resolvers: dict[Any, Resolver] = EMPTY
        self._autouse: dict[Scope, tuple[Provider, ...]] = {}
        self.autouse_runners: dict[Scope, Callable[[AsyncRequestScope], Any]] = {}
        self.sync_autouse_runners: dict[Scope, Callable[[AsyncRequestScope], None]] = {}
        self.context_slots: dict[Scope, tuple[int, ...]] = {}
        #: What each key given to a scope as a context value stands for, once checked.
        self.context_targets: dict[Any, Any] = {}
        self.started = False
        self.frozen = False
        #: The injection plans of the ``@inject(container=...)`` handlers of this container, which
        #: ``validate()`` checks (weakly held: a handler that goes away is not checked).
        self.handlers: weakref.WeakKeyDictionary[Any, None] = weakref.WeakKeyDictionary()
        self.lock = threading.RLock()
        self.scopes_lock = threading.RLock()
        self.root = self._new_root()

    def _new_root(self) -> AsyncRequestScope:
        root = AsyncRequestScope(self, Scope.APP, None)
        root.state = OPEN
        return root

    # -- freezing and layers ------------------------------------------------------

    def freeze(self, reason: str) -> Compiler:
        """The base layer's compiler, building the graph the first time (which freezes the registry)."""
        layers = self._layers
        if layers is not None:
            return layers.base.compiler
        with self.lock:
            if self._layers is None:
                self._registry.freeze(reason)
                graph = Graph(self._registry)
                compiler = Compiler(graph, values=self.values)
                self._load_instances(graph)
                for level in (Scope.APP, Scope.SESSION, Scope.REQUEST):
                    self._autouse[level] = tuple(p for p in graph.providers if p.autouse and p.scope is level)
                    if self._autouse[level] and level is not Scope.APP:
                        self.autouse_runners[level] = functools.partial(self._run_autouse, self._autouse[level])
                        self.sync_autouse_runners[level] = functools.partial(
                            self._run_sync_autouse, level, self._autouse[level]
                        )
                    slots = tuple(
                        compiler.slots[p] for p in graph.providers if p.kind is Kind.CONTEXT and p.scope is level
                    )
                    if slots:  # a level without context values is absent: a new scope tests `in`
                        self.context_slots[level] = slots
                layers = self._layers = Layers(compiler, self.lock, self._refresh_fast_path)
                self.frozen = True
                if self._waiting is not None:
                    self._waiting.apply(layers)
            return self._layers.base.compiler

    def _load_instances(self, graph: Graph) -> None:
        for provider in graph.registry.single.values():
            if provider.kind is Kind.INSTANCE:
                self.values[provider.key] = provider.instance

    @property
    def layers(self) -> Layers:
        """The layers (freezes the registry)."""
        self.freeze("the first resolution")
        assert self._layers is not None
        return self._layers

    def active(self) -> Layer:
        """The layer resolution uses in this context: a local override's, else the global one."""
        layers = self.layers
        waiting = self._waiting
        if waiting is not None and waiting.local_count:
            waiting.apply_local(layers)
        return layers.active()

    def _refresh_fast_path(self) -> None:
        layers = self._layers
        waiting = self._waiting
        if (
            layers is not None
            and self.started
            and not layers.local_count
            and (waiting is None or not waiting.local_count)
        ):
            top = layers.top
            self.async_resolvers, self.sync_resolvers = top.async_resolvers, top.sync_resolvers
            self.values_view = self.values if top is layers.base else EMPTY
        else:
            self.async_resolvers, self.sync_resolvers = EMPTY, EMPTY
            self.values_view = EMPTY
        self._publish(self)

    def resolver_in(self, layer: Layer, key: Any, mode: Mode) -> CompiledResolver:
        """``key``'s resolver in ``layer``, compiled the first time and kept in the layer's table."""
        table: dict[Any, Any] = layer.async_resolvers if mode is ASYNC else layer.sync_resolvers
        try:
            found = table.get(key)
        except TypeError:  # an unhashable key: compiled to explain what is wrong, never kept
            return layer.compiler.resolver(key, mode)
        if found is not None:
            return found if mode is ASYNC else (found, False)
        resolver = layer.compiler.resolver(key, mode)
        table[key] = resolver if mode is ASYNC else resolver[0]
        return resolver

    async def async_resolver(self, key: Any) -> CompiledResolver:
        """The slow path of ``resolve``: compile the resolver, start the container if needed."""
        if self._layers is None:
            self.freeze(f"the first resolution of {describe(key)}")
        resolver = self.resolver_in(self.active(), key, ASYNC)
        if not self.started:
            await self.start()
        return resolver

    def sync_resolver(self, key: Any) -> Resolver:
        """The slow path of ``resolve_sync``."""
        if self._layers is None:
            self.freeze(f"the first resolution of {describe(key)}")
        function = self.resolver_in(self.active(), key, SYNC)[0]
        if not self.started:
            self.start_sync()
        return function

    def provider_at(self, slot: int) -> Provider:
        return self.layers.provider_at(slot)

    def closure(self, slot: int) -> frozenset[int]:
        return self.layers.closure(slot)

    def provides(self, key: Any) -> bool:
        """Whether ``key`` has a provider in the active layer (freezes the container)."""
        return self.active().graph.provider(normalize(key)) is not None

    def push_override(self, key: Any, provider: Provider, *, local: bool) -> Callable[[], None]:
        """Apply an override; returns what undoes it. Before the container froze, the override
        waits (it does not freeze the container).
        """
        with self.lock:
            if self._layers is not None:
                return self._layers.push(key, provider, local=local)
            if self._waiting is None:
                self._waiting = WaitingOverrides(self.lock, self._refresh_fast_path)
            return self._waiting.add(key, provider, local=local)

    # -- starting and closing -------------------------------------------------------

    async def start(self) -> None:
        """Create the APP ``autouse`` instances; from then on the fast path is on (unless an
        override asks for the slow path).
        """
        for create in self._app_autouse(ASYNC):
            await create(self.root)
        self._mark_started()

    def start_sync(self) -> None:
        """``start`` without an event loop: an async APP autouse provider not created yet is refused."""
        for create in self._app_autouse(SYNC):
            create(self.root)
        self._mark_started()

    def _app_autouse(self, mode: Mode) -> list[Resolver]:
        """The getters that create the APP autouse instances, in registration order."""
        compiler = self.freeze("the container's start")
        providers = self._autouse.get(Scope.APP, ())
        if mode is SYNC:
            for provider in providers:
                if compiler.needs_async(provider) and compiler.slots[provider] not in self.root.cache:
                    raise AsyncProviderError(
                        provider.key,
                        provider.describe(),
                        hint="it is an APP autouse provider: enter the container first (`async with container:`), "
                        "or resolve something with `await container.resolve(...)` before resolve_sync",
                    )
        return [compiler.getter(provider, mode) for provider in providers]

    def _mark_started(self) -> None:
        self.started = True
        self._refresh_fast_path()

    def autouse_runner(self, level: Scope) -> Callable[[AsyncRequestScope], Any] | None:
        """What a scope of ``level`` runs when it opens: ``None`` when there are no autouse providers."""
        return self.autouse_runners.get(level) if self._has_autouse(level) else None

    def sync_autouse_runner(self, level: Scope) -> Callable[[AsyncRequestScope], None] | None:
        """What a scope of ``level`` entered with ``with`` runs when it opens (``None``: nothing)."""
        return self.sync_autouse_runners.get(level) if self._has_autouse(level) else None

    def _has_autouse(self, level: Scope) -> bool:
        """Whether scopes of ``level`` may have autouse providers; when they do, the runners are made
        (the registry freezes). Before the freeze, a level without any leaves the registry open.
        """
        if self._layers is None:
            if not any(p.autouse and p.scope is level for p in self._registry.all()):
                return False
            self.freeze("opening a scope with autouse providers")
        return True

    def _run_sync_autouse(self, level: Scope, providers: tuple[Provider, ...], scope: AsyncRequestScope) -> None:
        """Create a ``with`` scope's autouse instances; an async one refuses the entry before any is made."""
        for provider in providers:
            if provider.is_async:
                raise AsyncProviderError(
                    provider.key,
                    provider.describe(),
                    message=f"{describe(provider.key)} is an autouse provider of {level.name} scopes, and its "
                    f"{provider.describe()} is async: a scope entered with `with` cannot create it",
                    hint="enter the scope with `async with`, or make the provider sync",
                )
        if not self.started:
            self.start_sync()
        compiler = self.freeze("opening a scope")
        for provider in providers:
            compiler.getter(provider, SYNC)(scope)

    async def _run_autouse(self, providers: tuple[Provider, ...], scope: AsyncRequestScope) -> None:
        if not self.started:
            await self.start()
        compiler = self.freeze("opening a scope")
        for provider in providers:
            await compiler.getter(provider, ASYNC)(scope)

    async def enter(self) -> None:
        """``async with container``: start it (afresh, if its APP scope was closed)."""
        if self.root.state == CLOSED:  # closed by hand (through scope.parent): aclose() replaces it
            self.reopen()
        await self.start()

    async def close(self, exc: BaseException | None) -> None:
        """Dispose of the APP scope's instances; the container starts afresh afterwards."""
        root = self.root
        self.reopen()
        await root.dispose(exc)

    def enter_sync(self) -> None:
        """``with container``: start it without an event loop (afresh, if its APP scope was closed)."""
        if self.root.state == CLOSED:  # closed by hand (through scope.parent): close() replaces it
            self.reopen()
        self.start_sync()

    def close_sync(self, exc: BaseException | None) -> None:
        """``close()``: ``close`` without an event loop, refused before any cleanup runs when
        one of them is async (so that ``aclose()`` can still close everything).
        """
        root = self.root
        for entry in root.exits:
            if entry[1] in (ASYNC_GENERATOR, ASYNC_CONTEXT_MANAGER) or (
                entry[1] == CALLBACK and is_async_callable(entry[2])
            ):
                error = needs_event_loop(entry, self)
                error.hint = "close the container with `await container.aclose()` (or `async with container:`)"
                raise error
        self.reopen()
        root.dispose_sync(exc)

    def reopen(self) -> None:
        self.root = self._new_root()
        self.started = False
        self.values.clear()
        layers = self._layers
        if layers is not None:
            self._load_instances(layers.base.compiler.graph)
        self._refresh_fast_path()

    # -- scopes --------------------------------------------------------------------------

    def current(self) -> AsyncRequestScope:
        """This container's innermost open scope in this context, else its APP scope.

        The hot paths (``Container.resolve``, ``Container.scope``) first try the two common
        cases themselves (no scope open; one of this container's innermost) and call this
        for the rest.
        """
        scope = CURRENT.get()
        while scope is not None:
            if scope.runtime is self:
                return scope
            scope = scope.outer
        return self.root

    def child_scope(
        self,
        parent: AsyncRequestScope,
        level: Scope,
        context: Mapping[Any, Any] | None,
    ) -> AsyncRequestScope:
        if level not in (Scope.SESSION, Scope.REQUEST):
            raise ScopeError(
                f"cannot open a scope of level {level!r}",
                hint="open Scope.REQUEST (the default) or Scope.SESSION scopes; the APP scope is the container's",
            )
        if parent.state != OPEN:
            raise not_open(parent)
        if level is Scope.SESSION and (
            parent.levels[Scope.REQUEST] is not None or self.current().levels[Scope.REQUEST] is not None
        ):
            raise ScopeError(
                "cannot open a SESSION scope inside a REQUEST scope: a session outlives its requests",
                hint="open the SESSION scope first, and REQUEST scopes inside it: "
                "`async with container.scope(Scope.SESSION) as session: async with session.scope(): ...`",
            )
        return AsyncRequestScope(self, level, parent, context)

    def fill_context(self, scope: AsyncRequestScope, context: Mapping[Any, Any] | None) -> None:
        """Put a new scope's context values in its cache (inheriting its parent's of the same level)."""
        compiler = self.freeze("opening a scope with context values")
        fill_context(scope, context, compiler, self.context_slots.get(scope.level, ()), self.context_targets)
