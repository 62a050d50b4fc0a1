"""``Container``: the public face tying the registry, the graph, the plans and the APP scope together."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar, final, overload

from ._graph import Graph
from ._inject import call
from ._keys import describe, normalize, runtime_class
from ._plan import ASYNC, SYNC, Compiler, Plan
from ._providers import Kind, Provider, Scope
from ._registry import Module, Registrations, Registry, modules_in
from ._scope import _CLOSED, _OPEN, CURRENT, AsyncRequestScope
from .exceptions import AsyncProviderError, MissingProviderError, RegistrationError, ScopeError

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
        "_compiler",
        "_context_indices",
        "_graph",
        "_included",
        "_lock",
        "_pending_async",
        "_pending_sync",
        "_registry",
        "_root",
        "_started",
        "_sync_plans",
    )

    def __init__(self, *modules: Module) -> None:
        self._registry = Registry()
        self._included: list[Module] = []
        self._graph: Graph | None = None
        self._compiler: Compiler | None = None
        # Plans ready for the fast path: filled only once APP autouse providers exist.
        self._async_plans: dict[Any, Plan] = {}
        self._sync_plans: dict[Any, Callable[[AsyncRequestScope], Any]] = {}
        # Plans compiled before the container started (by validate(), say).
        self._pending_async: dict[Any, Plan] = {}
        self._pending_sync: dict[Any, Callable[[AsyncRequestScope], Any]] = {}
        self._autouse: dict[Scope, tuple[Provider, ...]] = {}
        self._autouse_runners: dict[Scope, Callable[[AsyncRequestScope], Any]] = {}
        self._context_indices: dict[Scope, tuple[int, ...]] = {}
        self._started = False
        self._lock = threading.RLock()
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
            if any(found is seen for seen in self._included):
                continue
            for provider, override in found._entries:
                self._add(provider, override=override)
            self._included.append(found)

    # -- freezing and compiling ---------------------------------------------------

    def _freeze(self, reason: str) -> Compiler:
        compiler = self._compiler
        if compiler is not None:
            return compiler
        with self._lock:
            if self._compiler is None:
                self._registry.freeze(reason)
                graph = Graph(self._registry)
                compiler = Compiler(graph)
                for level in (Scope.APP, Scope.SESSION, Scope.REQUEST):
                    self._autouse[level] = tuple(p for p in graph.providers if p.autouse and p.scope is level)
                    if self._autouse[level] and level is not Scope.APP:
                        self._autouse_runners[level] = functools.partial(self._run_autouse, self._autouse[level])
                    self._context_indices[level] = tuple(
                        compiler.index[p] for p in graph.providers if p.kind is Kind.CONTEXT and p.scope is level
                    )
                self._graph = graph
                self._compiler = compiler
            return self._compiler

    def _compile(self, key: Any, mode: bool) -> Plan:
        compiler = self._freeze("the first resolution of " + describe(key))
        return compiler.plan(key, mode)

    async def _async_plan(self, key: Any) -> Plan:
        """The slow path of ``resolve``: compile the plan, start the container if needed."""
        plan = self._pending_async.get(key) if _hashable(key) else None
        if plan is None:
            plan = self._compile(key, ASYNC)
        if not self._started:
            await self._start()
        if _hashable(key):
            self._async_plans[key] = plan
        return plan

    def _sync_plan(self, key: Any) -> Callable[[AsyncRequestScope], Any]:
        plan = self._pending_sync.get(key) if _hashable(key) else None
        if plan is None:
            plan = self._compile(key, SYNC)[0]
        if not self._started:
            self._start_sync()
        if _hashable(key):
            self._sync_plans[key] = plan
        return plan

    def _compiled_provider(self, index: int) -> Provider:
        assert self._compiler is not None
        return self._compiler.providers[index]

    def _closure(self, index: int) -> frozenset[int]:
        assert self._compiler is not None
        return self._compiler.closure(index)

    def _provides(self, key: Any) -> bool:
        """Whether ``key`` has a provider (freezes the container)."""
        compiler = self._freeze("the first injection")
        return compiler.graph.provider(normalize(key)) is not None

    # -- starting and closing -------------------------------------------------------

    async def _start(self) -> None:
        compiler = self._freeze("the container's start")
        root = self._root
        for provider in self._autouse.get(Scope.APP, ()):
            await compiler.getter(provider, ASYNC)(root)
        self._started = True

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

    def _autouse_for(self, level: Scope) -> Callable[[AsyncRequestScope], Any] | None:
        """What a scope of ``level`` runs when it opens: ``None`` when there are no autouse providers."""
        if self._compiler is None:
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
        self._async_plans.clear()
        self._sync_plans.clear()

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
        return self._child_scope(self._current(), level, context)

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
        from .exceptions import InvalidContainerError

        compiler = self._freeze("validate()")
        problems = compiler.graph.problems()
        if problems:
            raise InvalidContainerError(problems)
        for key in compiler.graph.registry.single:
            self._pending_async.setdefault(key, compiler.plan(key, ASYNC))
            self._pending_sync.setdefault(key, compiler.plan(key, SYNC)[0])

    def explain(self, key: Any) -> str:
        """The Python source of ``key``'s compiled plan: what ``resolve(key)`` runs."""
        compiler = self._freeze("explain()")
        return compiler.source(key)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True
