"""``Container``: the public face over the registrations and the runtime.

Registration (``register``, ``provider``, ``include``) is ``Registrations``'
API over this container's registry; everything after the first resolution
(layers, resolvers, scopes, the APP scope) is its ``Runtime``'s. What is
left here are the public methods, and the fast path of ``resolve``: the
runtime's resolver tables and APP instances, mirrored in this object's own
slots so that a cached resolution costs a dict lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, final, overload

from ._contract import ASYNC, OPEN, SYNC, CompiledResolver, Resolver
from ._draw import draw
from ._graph import Graph
from ._handlers import HandlerPlan, call
from ._keys import MISSING, describe
from ._make_provider import caller, check_key, class_provider, factory_provider, instance_provider, with_options
from ._overrides import EMPTY, Override
from ._providers import REQUEST, Kind, Scope
from ._registrations import Module, Registrations, modules_in, providers_of
from ._registry import Registry
from ._runtime import Runtime
from ._scope import CURRENT, AsyncRequestScope, not_open
from ._signature import named_key
from ._validate import problems
from .exceptions import DIError, InvalidContainerError, RegistrationError

if TYPE_CHECKING:
    from typing_extensions import TypeForm  # a type checker's name; never imported at run time

__all__ = ["Container", "check", "runtime_of"]

T = TypeVar("T")
R = TypeVar("R")


@final
class Container(Registrations):
    """Providers registered against types, and the APP scope that holds the APP instances.

    ``Container(*modules)`` starts with the registrations of the given
    modules. Register everything first: the first resolution (or
    ``validate()``) freezes the registry and compiles resolvers.
    """

    __slots__ = (
        "__weakref__",
        "_async_resolvers",
        "_included",
        "_registry",
        "_runtime",
        "_sync_resolvers",
        "_values_view",
    )

    def __init__(self, *modules: Module) -> None:
        self._registry = Registry()
        self._included: list[Module] = []
        self._values_view: dict[Any, Any] = EMPTY
        self._async_resolvers: dict[Any, CompiledResolver] = EMPTY
        self._sync_resolvers: dict[Any, Resolver] = EMPTY
        self._runtime = Runtime(self._registry, self._mirror)
        for module in modules:
            self.include(module)

    def _mirror(self, runtime: Runtime) -> None:
        """Keep the runtime's fast-path tables in this object's slots (``resolve`` reads them)."""
        self._values_view = runtime.values_view
        self._async_resolvers = runtime.async_resolvers
        self._sync_resolvers = runtime.sync_resolvers

    def __repr__(self) -> str:
        state = "frozen" if self._registry.frozen else "open for registration"
        count = len(self._registry.all())
        return f"<Container with {count} providers, {state}>"

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
                for provider, override in providers_of(part):
                    self._registry.add(provider, override=override)
                self._included.append(part)

    # -- lifecycle -------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Start the container: APP ``autouse`` providers are created now."""
        await self._runtime.enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._runtime.close(exc)

    async def aclose(self) -> None:
        """Dispose of every APP instance (dependents first), then of the ``on_close`` callbacks'.

        The container can be used again afterwards: it starts with a fresh APP scope.
        """
        await self._runtime.close(None)

    def __enter__(self) -> Self:
        """Start the container without an event loop: APP ``autouse`` providers are created now
        (an async one is refused with ``AsyncProviderError``).
        """
        self._runtime.enter_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._runtime.close_sync(exc)

    def close(self) -> None:
        """``aclose()`` without an event loop: dispose of every APP instance, dependents first.

        When one of them (or an ``on_close`` callback) needs an event loop to clean up,
        ``AsyncProviderError`` names it before any cleanup runs: ``await aclose()`` instead.
        """
        self._runtime.close_sync(None)

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync or async) when the container closes, before the cleanups
        of every APP instance that exists now.
        """
        self._runtime.root.on_close(callback)

    # -- scopes --------------------------------------------------------------------------

    def scope(self, level: Scope = Scope.REQUEST, *, context: Mapping[Any, Any] | None = None) -> AsyncRequestScope:
        """A new scope (REQUEST by default), child of this container's current scope.

        ``context`` supplies the values declared with ``register_context``.
        """
        runtime = self._runtime
        parent = CURRENT.get()
        if parent is None:
            parent = runtime.root
        elif parent.runtime is not runtime:
            parent = runtime.current()
        if level is REQUEST and parent.state == OPEN:  # the common case, checked in full below
            return AsyncRequestScope(runtime, level, parent, context)
        return runtime.child_scope(parent, level, context)

    # -- resolution ------------------------------------------------------------------------

    @overload
    async def resolve(self, key: type[T], /, *, name: str | None = None) -> T: ...
    @overload
    async def resolve(self, key: Callable[..., T], /, *, name: str | None = None) -> T: ...
    @overload
    async def resolve(self, key: TypeForm[T], /, *, name: str | None = None) -> T: ...
    async def resolve(self, key: Any, /, *, name: str | None = None) -> Any:
        """An instance of ``key``, resolved in this container's current scope (else its APP scope).

        ``name="x"`` asks for the registration named ``x``: the same as ``Annotated[key, Named("x")]``.
        """
        if name is not None:
            key = named_key(key, name)
        try:
            value = self._values_view.get(key, MISSING)  # one step: another thread may clear it
        except TypeError:  # an unhashable key: the slow path explains
            value = MISSING
        if value is not MISSING:
            return value
        try:
            function, awaits = self._async_resolvers[key]
        except (KeyError, TypeError):
            function, awaits = await self._runtime.async_resolver(key)
        scope = CURRENT.get()
        if scope is None:  # no scope open: the APP scope, always open
            scope = self._runtime.root
        else:
            if scope.runtime is not self._runtime:
                scope = self._runtime.current()
            if scope.state != OPEN:
                raise not_open(scope)
        if awaits:
            return await function(scope)
        return function(scope)

    @overload
    def resolve_sync(self, key: type[T], /, *, name: str | None = None) -> T: ...
    @overload
    def resolve_sync(self, key: Callable[..., T], /, *, name: str | None = None) -> T: ...
    @overload
    def resolve_sync(self, key: TypeForm[T], /, *, name: str | None = None) -> T: ...
    def resolve_sync(self, key: Any, /, *, name: str | None = None) -> Any:
        """Like ``resolve``, without an event loop: ``AsyncProviderError`` if the graph needs one."""
        if name is not None:
            key = named_key(key, name)
        try:
            value = self._values_view.get(key, MISSING)  # one step: another thread may clear it
        except TypeError:  # an unhashable key: the slow path explains
            value = MISSING
        if value is not MISSING:
            return value
        try:
            function = self._sync_resolvers[key]
        except (KeyError, TypeError):
            function = self._runtime.sync_resolver(key)
        scope = CURRENT.get()
        if scope is None:  # no scope open: the APP scope, always open
            return function(self._runtime.root)
        if scope.runtime is not self._runtime:
            scope = self._runtime.current()
        if scope.state != OPEN:
            raise not_open(scope)
        return function(scope)

    @overload
    async def call(self, function: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R: ...
    @overload
    async def call(self, function: Callable[..., R], /, *args: Any, **kwargs: Any) -> R: ...
    async def call(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Call ``function`` (sync or async), resolving its ``Inject[...]`` parameters the caller left out."""
        return await call(self._runtime, function, args, kwargs)

    # -- checking --------------------------------------------------------------------------

    def validate(self) -> None:
        """Check the whole graph, and the ``@inject(container=...)`` handlers of this container, and
        compile every resolver; raise ``InvalidContainerError`` listing every problem (missing
        providers, cycles, lifetime violations, unusable annotations), each with its path.
        """
        check(self, ())

    def graph(self, format: str = "text") -> str:  # noqa: A002 - the SPEC's name for it
        """The dependency graph drawn as ``"mermaid"``, ``"dot"`` or ``"text"`` (a tree for terminals).

        Every provider appears with its lifetime, every dependency as an edge;
        a missing provider is drawn and marked ``missing``, so an invalid
        container can be drawn too. Drawing does not freeze the registry.
        """
        if not self._runtime.frozen:
            return draw(Graph(self._registry), format)
        return draw(self._runtime.active().graph, format)

    def explain(self, key: Any) -> str:
        """The Python source of ``key``'s compiled resolver: what ``resolve(key)`` runs."""
        return self._runtime.active().compiler.source(key)

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

        An override does not freeze the container: entered before the first
        resolution, it applies from that resolution on, and registrations
        (an integration's ``setup()``, say) are still accepted meanwhile.
        Its ``instance=`` is not type-checked: it is a test double.
        """
        runtime = self._runtime
        target = check_key(key, name)
        if scope is None:
            registered = runtime.active().graph.provider if runtime.frozen else self._registry.single.get
            existing = registered(target)
            scope = existing.scope if existing is not None else None
        if instance is not MISSING:
            provider = instance_provider(target, implementation, instance, factory, None, None, caller(), double=True)
        elif factory is not None:
            provider = factory_provider(target, implementation, factory, scope, None, caller())
        else:
            chosen = implementation if implementation is not MISSING else target
            provider = class_provider(target, chosen, scope, None, caller())
        provider = with_options(provider, multi=False, autouse=False, enter=enter)
        if provider.kind is not Kind.INSTANCE and self._registry.multi.get(target):
            raise RegistrationError(
                f"{describe(target)} is registered with multi=True; override() replaces one provider",
                key=target,
                hint=f"override what depends on list[{describe(target)}] instead",
            )
        return Override(target, functools.partial(runtime.push_override, target, provider, local=local), local=local)


def runtime_of(container: Container) -> Runtime:
    """The runtime of a container (for ``@inject(container=...)`` and the integrations)."""
    return container._runtime


def check(container: Container, handlers: Iterable[Callable[..., Any]]) -> None:
    """``container.validate()``, also checking ``handlers`` (``@inject`` functions an integration
    found in an app: routes, dependencies, tasks), whichever container they name.
    """
    runtime = container._runtime
    runtime.freeze("validate()")
    layer = runtime.active()
    plans = list(runtime.handlers)
    for handler in handlers:
        plan = getattr(handler, "__injectq_like__", None)
        if isinstance(plan, HandlerPlan) and plan not in runtime.handlers and plan not in plans:
            plans.append(plan)
    found: list[DIError] = []
    checked = []
    for plan in plans:
        try:
            checked.append((plan.handler, plan.dependencies()))
        except DIError as error:  # an annotation that cannot be read: reported with the handler
            found.append(error.with_path((plan.handler,)))
    found += problems(layer.graph, handlers=checked)
    if found:
        raise InvalidContainerError(found)
    for key in layer.graph.registry.single:
        runtime.resolver_in(layer, key, ASYNC)
        runtime.resolver_in(layer, key, SYNC)
