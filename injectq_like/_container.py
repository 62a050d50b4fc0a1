"""``Container``: the public face tying the registry, the graph, the plans and the APP scope together."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self, TypeVar, final, overload

from ._draw import draw
from ._graph import Graph
from ._inject import call
from ._keys import MISSING, describe, normalize, runtime_class
from ._layers import NO_PLANS, Layer
from ._make_provider import caller, check_key, class_provider, factory_provider, instance_provider, with_options
from ._plan import ASYNC, SYNC, Compiler, Plan
from ._providers import Kind, Provider, Scope
from ._registrations import Module, Registrations, modules_in
from ._registry import Registry
from ._scope import _CLOSED, _OPEN, CURRENT, AsyncRequestScope
from ._validate import problems
from .exceptions import (
    AsyncProviderError,
    InvalidContainerError,
    MissingProviderError,
    RegistrationError,
    ScopeError,
)

__all__ = ["Container"]

T = TypeVar("T")
R = TypeVar("R")


@final
class Container(Registrations):
    """Providers registered against types, and the APP scope that holds the APP instances.

    ``Container(*modules)`` starts with the registrations of the given
    modules. Register everything first: the first resolution (or
    ``validate()``) freezes the registry and compiles resolution plans.
    """

    __slots__ = (
        "__weakref__",
        "_async_plans",
        "_autouse",
        "_autouse_runners",
        "_base",
        "_context_indices",
        "_global_overrides",
        "_included",
        "_layer",
        "_local_overrides",
        "_lock",
        "_next_index",
        "_owners",
        "_quiet_cleanups",
        "_quiet_creations",
        "_registry",
        "_root",
        "_scopes_lock",
        "_started",
        "_sync_plans",
        "_values",
        "_values_view",
    )

    def __init__(self, *modules: Module) -> None:
        self._registry = Registry()
        self._included: list[Module] = []
        self._base: Layer | None = None  # the registry as registered, once frozen
        self._layer: Layer | None = None  # the active layer: the base, or a global override on top
        self._owners: dict[int, Compiler] = {}  # cache slot -> the compiler that gave it out
        self._next_index = 0
        self._local_overrides = 0
        self._global_overrides: list[list[Any]] = []  # [key, provider, its layer], oldest first
        # Providers whose async cleanups have finished without waiting (see AsyncRequestScope._needs_shield).
        self._quiet_cleanups: set[int] = set()
        # Providers whose async creation has finished without waiting (see _plan.gather).
        self._quiet_creations: set[int] = set()
        # APP instances by key, filled as the base layer creates them: ``resolve`` returns one of
        # these without looking up the current scope (an APP instance is the same in all of them).
        # ``_values_view`` is this dict while the fast path is on, else NO_PLANS.
        self._values: dict[Any, Any] = {}
        self._values_view: dict[Any, Any] = NO_PLANS
        # The fast path's plan tables: the active layer's, once the container started and
        # while no local override exists; else NO_PLANS, so that every resolve takes the slow path.
        self._async_plans: dict[Any, Plan] = NO_PLANS
        self._sync_plans: dict[Any, Callable[[AsyncRequestScope], Any]] = NO_PLANS
        self._autouse: dict[Scope, tuple[Provider, ...]] = {}
        self._autouse_runners: dict[Scope, Callable[[AsyncRequestScope], Any]] = {}
        self._context_indices: dict[Scope, tuple[int, ...]] = {}
        self._started = False
        self._lock = threading.RLock()
        self._scopes_lock = threading.RLock()
        self._root = self._new_root()
        for module in modules:
            self.include(module)

    def __repr__(self) -> str:
        state = "frozen" if self._registry.frozen else "open for registration"
        count = len(self._registry.all())
        return f"<Container with {count} providers, {state}>"

    def _new_root(self) -> AsyncRequestScope:
        root = AsyncRequestScope(self, Scope.APP, None)
        root._state = _OPEN
        return root

    # -- registration -------------------------------------------------------------

    def include(self, module: Module | str) -> None:
        """Add a module's registrations; a dotted path includes every ``Module`` defined in it.

        Including the same module twice is a no-op.
        """
        self._registry.check_open(f"include {module!r}")
        for found in modules_in(module):
            for part in found.modules():
                if any(part is seen for seen in self._included):
                    continue
                for provider, override in part._entries:
                    self._add(provider, override=override)
                self._included.append(part)

    # -- freezing and compiling ---------------------------------------------------

    def _freeze(self, reason: str) -> Compiler:
        """The base layer's compiler, building the graph the first time (which freezes the registry)."""
        base = self._base
        if base is not None:
            return base.compiler
        with self._lock:
            if self._base is None:
                self._registry.freeze(reason)
                graph = Graph(self._registry)
                compiler = self._adopt(Compiler(graph, values=self._values))
                for provider in graph.registry.single.values():
                    if provider.kind is Kind.INSTANCE:
                        self._values[provider.key] = provider.instance
                self._next_index = len(graph.providers)
                for level in (Scope.APP, Scope.SESSION, Scope.REQUEST):
                    self._autouse[level] = tuple(p for p in graph.providers if p.autouse and p.scope is level)
                    if self._autouse[level] and level is not Scope.APP:
                        self._autouse_runners[level] = functools.partial(self._run_autouse, self._autouse[level])
                    self._context_indices[level] = tuple(
                        compiler.index[p] for p in graph.providers if p.kind is Kind.CONTEXT and p.scope is level
                    )
                self._base = self._layer = Layer(compiler)
            return self._base.compiler

    def _adopt(self, compiler: Compiler) -> Compiler:
        for index in compiler.by_index:
            self._owners.setdefault(index, compiler)
        return compiler

    def _allocate(self) -> int:
        with self._lock:
            index = self._next_index
            self._next_index += 1
            return index

    def _active(self) -> Layer:
        """The layer resolution uses in this context: a local override's, else the global one."""
        self._freeze("the first resolution")
        if self._local_overrides:
            layer = _LOCAL_LAYERS.get().get(self)
            if layer is not None:
                return layer
        assert self._layer is not None
        return self._layer

    def _refresh_fast_path(self) -> None:
        layer = self._layer
        if layer is not None and self._started and not self._local_overrides:
            self._async_plans, self._sync_plans = layer.async_plans, layer.sync_plans
            self._values_view = self._values if layer is self._base else NO_PLANS
        else:
            self._async_plans, self._sync_plans = NO_PLANS, NO_PLANS
            self._values_view = NO_PLANS

    def _plan_in(self, layer: Layer, key: Any, mode: bool) -> Plan:
        plans: dict[Any, Any] = layer.async_plans if mode is ASYNC else layer.sync_plans
        hashable = _hashable(key)
        found = plans.get(key) if hashable else None
        if found is not None:
            return found if mode is ASYNC else (found, False)
        plan = layer.compiler.plan(key, mode)
        if hashable:
            plans[key] = plan if mode is ASYNC else plan[0]
        return plan

    async def _async_plan(self, key: Any) -> Plan:
        """The slow path of ``resolve``: compile the plan, start the container if needed."""
        if self._base is None:
            self._freeze(f"the first resolution of {describe(key)}")
        plan = self._plan_in(self._active(), key, ASYNC)
        if not self._started:
            await self._start()
        return plan

    def _sync_plan(self, key: Any) -> Callable[[AsyncRequestScope], Any]:
        if self._base is None:
            self._freeze(f"the first resolution of {describe(key)}")
        function = self._plan_in(self._active(), key, SYNC)[0]
        if not self._started:
            self._start_sync()
        return function

    def _compiled_provider(self, index: int) -> Provider:
        return self._owners[index].by_index[index]

    def _closure(self, index: int) -> frozenset[int]:
        return self._owners[index].closure(index)

    def _provides(self, key: Any) -> bool:
        """Whether ``key`` has a provider in the active layer (freezes the container)."""
        return self._active().graph.provider(normalize(key)) is not None

    # -- starting and closing -------------------------------------------------------

    async def _start(self) -> None:
        compiler = self._freeze("the container's start")
        root = self._root
        for provider in self._autouse.get(Scope.APP, ()):
            await compiler.getter(provider, ASYNC)(root)
        self._started = True
        self._refresh_fast_path()

    def _start_sync(self) -> None:
        compiler = self._freeze("the container's start")
        root = self._root
        for provider in self._autouse.get(Scope.APP, ()):
            if compiler.needs_async(provider) and compiler.index[provider] not in root._cache:
                raise AsyncProviderError(
                    provider.key,
                    provider.describe(),
                    hint="it is an APP autouse provider: enter the container first (`async with container:`), "
                    "or resolve something with `await container.resolve(...)` before resolve_sync",
                )
            compiler.getter(provider, SYNC)(root)
        self._started = True
        self._refresh_fast_path()

    def _autouse_for(self, level: Scope) -> Callable[[AsyncRequestScope], Any] | None:
        """What a scope of ``level`` runs when it opens: ``None`` when there are no autouse providers."""
        if self._base is None:
            if not any(p.autouse and p.scope is level for p in self._registry.all()):
                return None
            self._freeze("opening a scope with autouse providers")
        return self._autouse_runners.get(level)

    async def _run_autouse(self, providers: tuple[Provider, ...], scope: AsyncRequestScope) -> None:
        if not self._started:
            await self._start()
        compiler = self._freeze("opening a scope")
        for provider in providers:
            await compiler.getter(provider, ASYNC)(scope)

    async def __aenter__(self) -> Self:
        """Start the container: APP ``autouse`` providers are created now."""
        if self._root._state == _CLOSED:
            self._reopen()
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._close(exc)

    async def aclose(self) -> None:
        """Dispose of every APP instance (dependents first), then of the ``on_close`` callbacks'.

        The container can be used again afterwards: it starts with a fresh APP scope.
        """
        await self._close(None)

    async def _close(self, exc: BaseException | None) -> None:
        root = self._root
        self._reopen()
        await root._close(exc)

    def _reopen(self) -> None:
        self._root = self._new_root()
        self._started = False
        base = self._base
        self._values.clear()
        if base is not None:
            for provider in base.graph.registry.single.values():
                if provider.kind is Kind.INSTANCE:
                    self._values[provider.key] = provider.instance
        self._refresh_fast_path()

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync or async) when the container closes, before the cleanups
        of every APP instance that exists now.
        """
        self._root.on_close(callback)

    # -- scopes --------------------------------------------------------------------------

    def _current(self) -> AsyncRequestScope:
        """This container's innermost open scope in this context, else its APP scope."""
        scope = CURRENT.get()
        while scope is not None:
            if scope._container is self:
                return scope
            scope = scope._outer
        return self._root

    def scope(self, level: Scope = Scope.REQUEST, *, context: Mapping[Any, Any] | None = None) -> AsyncRequestScope:
        """A new scope (REQUEST by default), child of this container's current scope.

        ``context`` supplies the values declared with ``register_context``.
        """
        parent = CURRENT.get()
        while parent is not None and parent._container is not self:
            parent = parent._outer
        if parent is None:
            parent = self._root
        if level is Scope.REQUEST and parent._state == _OPEN:  # the common case, checked in full below
            return AsyncRequestScope(self, level, parent, context)
        return self._child_scope(parent, level, context)

    def _child_scope(
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
        if parent._state != _OPEN:
            raise parent._not_open()
        if level is Scope.SESSION and (
            parent._levels[Scope.REQUEST] is not None or self._current()._levels[Scope.REQUEST] is not None
        ):
            raise ScopeError(
                "cannot open a SESSION scope inside a REQUEST scope: a session outlives its requests",
                hint="open the SESSION scope first, and REQUEST scopes inside it: "
                "`async with container.scope(Scope.SESSION) as session: async with session.scope(): ...`",
            )
        return AsyncRequestScope(self, level, parent, context)

    def _fill_context(self, scope: AsyncRequestScope, context: Mapping[Any, Any] | None) -> None:
        """Put a new scope's context values in its cache (inheriting its parent's of the same level)."""
        compiler = self._freeze("opening a scope with context values")
        level = scope.level
        cache = scope._cache
        parent = scope._parent
        same_level = parent._levels[level] if parent is not None else None
        if same_level is not None:
            for index in self._context_indices.get(level, ()):
                if index in same_level._cache:
                    cache[index] = same_level._cache[index]
        if not context:
            return
        for given, value in context.items():
            key = normalize(given)
            provider = compiler.graph.provider(key)
            if provider is None or provider.kind is not Kind.CONTEXT:
                raise MissingProviderError(
                    key,
                    message=f"the scope was given a value for {describe(key)}, which is not a declared context value",
                    hint=f"declare it first: container.register_context({describe(key)}, scope=Scope.{level.name})",
                )
            if provider.scope is not level:
                raise ScopeError(
                    f"{describe(key)} is a context value of {provider.scope.name} scopes, "
                    f"but was given to a {level.name} scope",
                    key=key,
                    hint=f"pass it when opening the {provider.scope.name} scope",
                )
            expected = runtime_class(key)
            if expected is not None:
                try:
                    ok = isinstance(value, expected)
                except TypeError:
                    ok = True
                if not ok:
                    raise RegistrationError(
                        f"the context value given for {describe(key)} is a {type(value).__qualname__}",
                        key=key,
                        hint=f"pass an instance of {describe(key)}",
                    )
            cache[compiler.index[provider]] = value

    # -- resolution ------------------------------------------------------------------------

    @overload
    async def resolve(self, key: type[T], /) -> T: ...
    @overload
    async def resolve(self, key: Callable[..., T], /) -> T: ...
    @overload
    async def resolve(self, key: Any, /) -> Any: ...
    async def resolve(self, key: Any, /) -> Any:
        """An instance of ``key``, resolved in this container's current scope (else its APP scope)."""
        try:
            value = self._values_view.get(key, MISSING)
        except TypeError:  # an unhashable key: the slow path explains
            value = MISSING
        if value is not MISSING:
            return value
        try:
            function, is_async = self._async_plans[key]
        except (KeyError, TypeError):
            function, is_async = await self._async_plan(key)
        scope = CURRENT.get()
        while scope is not None and scope._container is not self:
            scope = scope._outer
        if scope is None:
            scope = self._root
        elif scope._state != _OPEN:
            raise scope._not_open()
        if is_async:
            return await function(scope)
        return function(scope)

    @overload
    def resolve_sync(self, key: type[T], /) -> T: ...
    @overload
    def resolve_sync(self, key: Callable[..., T], /) -> T: ...
    @overload
    def resolve_sync(self, key: Any, /) -> Any: ...
    def resolve_sync(self, key: Any, /) -> Any:
        """Like ``resolve``, without an event loop: ``AsyncProviderError`` if the graph needs one."""
        try:
            value = self._values_view.get(key, MISSING)
        except TypeError:  # an unhashable key: the slow path explains
            value = MISSING
        if value is not MISSING:
            return value
        try:
            function = self._sync_plans[key]
        except (KeyError, TypeError):
            function = self._sync_plan(key)
        scope = CURRENT.get()
        while scope is not None and scope._container is not self:
            scope = scope._outer
        if scope is None:
            scope = self._root
        elif scope._state != _OPEN:
            raise scope._not_open()
        return function(scope)

    @overload
    async def call(self, function: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R: ...
    @overload
    async def call(self, function: Callable[..., R], /, *args: Any, **kwargs: Any) -> R: ...
    async def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``function`` (sync or async), resolving its ``Inject[...]`` parameters the caller left out."""
        return await call(self, function, args, kwargs)

    # -- checking --------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the whole graph and compile every plan; raise ``InvalidContainerError`` listing
        every problem (missing providers, cycles, lifetime violations, unusable annotations).
        """
        self._freeze("validate()")
        layer = self._active()
        found = problems(layer.graph)
        if found:
            raise InvalidContainerError(found)
        for key in layer.graph.registry.single:
            self._plan_in(layer, key, ASYNC)
            self._plan_in(layer, key, SYNC)

    def graph(self, format: str = "text") -> str:  # noqa: A002 - the SPEC's name for it
        """The dependency graph drawn as ``"mermaid"``, ``"dot"`` or ``"text"`` (a tree for terminals).

        Every provider appears with its lifetime, every dependency as an edge;
        a missing provider is drawn and marked ``missing``, so an invalid
        container can be drawn too. Drawing does not freeze the registry.
        """
        if self._base is None:
            return draw(Graph(self._registry), format)
        return draw(self._active().graph, format)

    def explain(self, key: Any) -> str:
        """The Python source of ``key``'s compiled plan: what ``resolve(key)`` runs."""
        return self._active().compiler.source(key)

    # -- overriding ----------------------------------------------------------------------------

    def override(
        self,
        key: Any,
        implementation: Any = MISSING,
        /,
        *,
        instance: Any = MISSING,
        factory: Callable[..., Any] | None = None,
        scope: Scope | None = None,
        name: str | None = None,
        enter: bool = False,
        local: bool = False,
    ) -> Override:
        """Replace the provider of ``key`` while a ``with`` (or ``async with``) block runs.

        Takes what ``register`` takes (an implementation, ``instance=`` or
        ``factory=``) and works on a frozen container. The replacement keeps
        the lifetime of the provider it replaces unless given ``scope=``.
        Instances of ``key``, and of everything built from it, that were
        cached before are not served during the override, and those made
        during it are not served after. With ``local=True`` only this context
        and the tasks it starts see the override, so tests running
        concurrently in one process do not see each other's.
        """
        self._freeze("the first override")
        target = check_key(key, name)
        if scope is None:
            existing = self._active().graph.provider(target)
            scope = existing.scope if existing is not None else None
        if instance is not MISSING:
            provider = instance_provider(target, implementation, instance, factory, None, None, caller())
        elif factory is not None:
            provider = factory_provider(target, implementation, factory, scope, None, caller())
        else:
            chosen = implementation if implementation is not MISSING else target
            provider = class_provider(target, chosen, scope, None, caller())
        provider = with_options(provider, multi=False, autouse=False, enter=enter)
        if provider.kind is Kind.INSTANCE:
            pass
        elif self._registry.multi.get(target):
            raise RegistrationError(
                f"{describe(target)} is registered with multi=True; override() replaces one provider",
                key=target,
                hint=f"override what depends on list[{describe(target)}] instead",
            )
        return Override(self, target, provider, local=local)

    def _push_layer(self, key: Any, provider: Provider, *, local: bool) -> Callable[[], None]:
        """Activate a layer with ``provider`` for ``key``; returns what undoes it."""
        with self._lock:
            below = self._active() if local else self._layer
            assert below is not None
            layer = below.overridden(key, provider, self._allocate)
            self._adopt(layer.compiler)
            if local:
                token = _LOCAL_LAYERS.set({**_LOCAL_LAYERS.get(), self: layer})
                self._local_overrides += 1
                self._refresh_fast_path()

                def undo_local() -> None:
                    with self._lock:
                        try:
                            _LOCAL_LAYERS.reset(token)
                        except ValueError:  # undone in another context: drop this container's entry there
                            current = dict(_LOCAL_LAYERS.get())
                            current.pop(self, None)
                            _LOCAL_LAYERS.set(current)
                        self._local_overrides -= 1
                        self._refresh_fast_path()

                return undo_local
            entry: list[Any] = [key, provider, layer]
            self._global_overrides.append(entry)
            self._layer = layer
            self._refresh_fast_path()

            def undo_global() -> None:
                with self._lock:
                    stack = self._global_overrides
                    position = next(n for n, e in enumerate(stack) if e is entry)
                    del stack[position]
                    # Rebuild what was stacked on top of the removed override, without it.
                    rebuilt = stack[position - 1][2] if position else self._base
                    assert rebuilt is not None
                    for above in stack[position:]:
                        above[2] = rebuilt = rebuilt.overridden(above[0], above[1], self._allocate)
                        self._adopt(rebuilt.compiler)
                    self._layer = rebuilt
                    self._refresh_fast_path()

            return undo_global


@final
class Override:
    """An override being applied: use it as ``with`` or ``async with``; undone on exit."""

    __slots__ = ("_container", "_key", "_local", "_provider", "_undo")

    def __init__(self, container: Container, key: Any, provider: Provider, *, local: bool) -> None:
        self._container = container
        self._key = key
        self._provider = provider
        self._local = local
        self._undo: Callable[[], None] | None = None

    def __enter__(self) -> Self:
        if self._undo is not None:
            raise RegistrationError("this override is active already", hint="call container.override(...) again")
        self._undo = self._container._push_layer(self._key, self._provider, local=self._local)
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


#: Local overrides of this context, by container.
_LOCAL_LAYERS: ContextVar[Mapping[Container, Layer]] = ContextVar("injectq_like_local_overrides", default={})  # noqa: B039 - never mutated: replaced by a new mapping


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True
