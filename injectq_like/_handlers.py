"""A handler's injection plan (which parameters are injected, at which positions, resolved how),
what a call of it resolves, and ``container.call``.

The first call of a handler reads its annotations into a ``HandlerPlan``;
every later call only checks which injected arguments the caller left out.
In the usual case (none passed) one compiled resolver returns them all; else
the missing ones are resolved one by one. ``HandlerPlan.arguments`` does
either, in either mode, so that the sync and async entries of ``@inject``
differ only in whether they await.
"""

from __future__ import annotations

import inspect
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Final

from ._contract import ASYNC, OPEN, Mode
from ._keys import describe
from ._markers import Lazy
from ._plan import HandlerKey
from ._providers import REQUEST, Scope
from ._runtime import Runtime
from ._scope import CURRENT, AsyncRequestScope, not_open
from ._signature import Dependency, DepKind, analyse, callable_name, read_dependencies
from .exceptions import NoActiveScopeError

__all__ = ["HandlerPlan", "call", "injected_parameters"]

_KEYWORD_ONLY: Final = 1 << 30  # the position of a keyword-only parameter: after every positional one


@dataclass(frozen=True, slots=True)
class InjectedParameter:
    """One ``Inject[...]`` parameter of a handler."""

    name: str
    position: int  # index among positional parameters; _KEYWORD_ONLY for keyword-only ones
    request: Any  # what is resolved: the key, list[key] or key | None
    lazy: bool
    dependency: Dependency


def _request_of(dependency: Dependency) -> Any:
    key = dependency.key
    if dependency.kind is DepKind.LIST:
        return list[key]  # type: ignore[valid-type]
    if dependency.kind is DepKind.OPTIONAL:
        return key | None
    return key


def injected_parameters(function: Callable[..., Any]) -> tuple[InjectedParameter, ...]:
    """The ``Inject[...]`` parameters of ``function``, read once."""
    dependencies = read_dependencies(function, only_marked=True)
    positions: dict[str, int] = {}
    for position, parameter in enumerate(inspect.signature(function).parameters.values()):
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positions[parameter.name] = position
    return tuple(
        InjectedParameter(
            name=d.name,
            position=positions.get(d.name, _KEYWORD_ONLY),
            request=_request_of(d),
            lazy=d.kind is DepKind.LAZY,
            dependency=d,
        )
        for d in dependencies
    )


class HandlerPlan:
    """The injection plan of one handler, made at its first call (thread-safe).

    ``resolver_key`` is the key of the compiled resolver returning every injected
    parameter at once, used when the caller passed none of them (the usual case).
    """

    __slots__ = (
        "__weakref__",
        "_function",
        "_lock",
        "first_position",
        "handler",
        "names",
        "params",
        "plain",
        "resolver_key",
        "runtime",
        "uses",
        "visible",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        runtime: Runtime | None = None,
        uses: tuple[Any, ...] = (),
        *,
        handler: Callable[..., Any] | None = None,
    ) -> None:
        self._function: Callable[..., Any] | None = function
        #: The handler, named in resolution paths by ``validate()`` (``@inject``'s plans keep it;
        #: ``container.call``'s, cached by a weak reference to the function, must not).
        self.handler = handler
        self._lock = threading.Lock()
        self.runtime = runtime  # @inject(container=...)'s, else None: the innermost scope of any container
        self.uses = uses
        self.params: tuple[InjectedParameter, ...] | None = None
        self.resolver_key: HandlerKey | None = None
        self.first_position = 0
        self.plain = False
        self.names: frozenset[str] = frozenset()
        #: The caller's positional parameters, when an injected one comes before one of them
        #: (``handler(repo: Inject[Repo], user_id: int)``); empty otherwise.
        self.visible: tuple[str, ...] = ()

    def get(self) -> tuple[InjectedParameter, ...]:
        params = self.params
        if params is None:
            with self._lock:
                if self.params is None:
                    function = self._function
                    assert function is not None
                    found = injected_parameters(function)
                    self.resolver_key = HandlerKey(function, [p.dependency for p in found])
                    self.first_position = min((p.position for p in found), default=0)
                    self.names = frozenset(p.name for p in found)
                    positional = [
                        parameter.name
                        for parameter in inspect.signature(function).parameters.values()
                        if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
                    ]
                    visible = tuple(name for name in positional if name not in self.names)
                    if visible and positional.index(visible[-1]) > self.first_position:
                        self.visible = visible
                    #: Nothing but injected parameters to resolve: the wrappers' fast path applies.
                    self.plain = bool(found) and not self.uses
                    self.params = found
                    self._function = None  # no longer needed: do not keep it alive
                params = self.params
        return params

    def dependencies(self) -> list[Dependency]:
        """What ``validate()`` checks of the handler: its injected parameters, then ``uses=``."""
        found = [param.dependency for param in self.get()]
        for used in self.uses:
            key, kind, _ = analyse(used, owner=describe(self.handler), parameter="uses")
            found.append(Dependency("uses", key, kind, positional_only=False, has_default=False, annotation=used))
        return found

    def rebind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Give positional arguments to the caller's parameters, as the visible signature says.

        With more positional arguments than the caller has parameters, the
        call names injected ones explicitly: the positions are the function's own.
        """
        if len(args) > len(self.visible):
            return args, kwargs
        return (), {**dict(zip(self.visible, args, strict=False)), **kwargs}

    def arguments(
        self,
        function: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        mode: Mode,
    ) -> Any:
        """The injected arguments this call leaves out, as a dict of keywords (in async mode,
        a dict or an awaitable of one), or ``None`` when there is nothing to resolve.

        ``get()`` must have been called (the wrapper does, before ``rebind``).
        """
        if self.uses or len(args) > self.first_position or not self.names.isdisjoint(kwargs):
            return self._each(function, args, kwargs, mode)
        if not self.params:
            return None
        # The usual case: the caller passed none of the injected arguments; one resolver makes them all.
        runtime = self.runtime
        scope = CURRENT.get() if runtime is None else runtime.current()
        if scope is None:
            raise _no_scope(function)
        key = self.resolver_key
        if mode is ASYNC:
            try:
                resolve, _ = scope.runtime.async_resolvers[key]
            except KeyError:
                return _compile_and_resolve(key, scope)
        else:
            try:
                resolve = scope.runtime.sync_resolvers[key]
            except KeyError:
                resolve = scope.runtime.sync_resolver(key)
        if scope.state != OPEN:
            raise not_open(scope)
        return resolve(scope)  # a dict, or (async mode) a coroutine giving one

    def new_scope(self, function: Callable[..., Any], level: Scope) -> AsyncRequestScope:
        """A new scope of ``level`` for one call (``@inject(scope=...)``), not entered yet: a child
        of the container's current scope, else of the innermost scope open here.
        """
        parent = CURRENT.get()
        runtime = self.runtime
        if runtime is not None:
            if parent is None:
                parent = runtime.root
            elif parent.runtime is not runtime:
                parent = runtime.current()  # another container's scope is innermost: look further
        elif parent is None:
            raise _no_scope(function)
        if level is REQUEST and parent.state == OPEN:  # the common case, checked in full by scope()
            return AsyncRequestScope(parent.runtime, level, parent)
        return parent.scope(level)

    def _each(self, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], mode: Mode) -> Any:
        """``arguments`` when the caller passed some injected arguments, or with ``uses``."""
        params = self.params
        assert params is not None
        needed = missing(params, args, kwargs)
        if not needed and not self.uses:
            return None
        runtime = self.runtime
        scope = CURRENT.get() if runtime is None else runtime.current()
        if scope is None:
            raise _no_scope(function)
        if mode is ASYNC:
            return resolve_each(needed, self.uses, scope)
        return resolve_each_sync(needed, self.uses, scope)


async def _compile_and_resolve(key: HandlerKey | None, scope: AsyncRequestScope) -> Any:
    """The first async call of a handler: compile its resolver, then resolve."""
    resolve, awaits = await scope.runtime.async_resolver(key)
    if scope.state != OPEN:
        raise not_open(scope)
    return await resolve(scope) if awaits else resolve(scope)


def _no_scope(function: Callable[..., Any]) -> NoActiveScopeError:
    framework = _framework_calling()
    if framework is not None:
        hint = (
            f"this call runs inside a {framework[0]} request with no scope open: install the integration "
            f"once, `{framework[1]}.setup(app, container)`, and every request opens one"
        )
    else:
        hint = (
            "open a scope around the call (`async with container.scope():`), or decorate with "
            "@inject(container=container) to resolve from that container's APP scope"
        )
    return NoActiveScopeError(
        function,
        Scope.REQUEST,
        message=f"@inject handler {callable_name(function)}() was called with no scope open to resolve from",
        hint=hint,
    )


#: Frameworks whose request a handler may be called in, by top-level package: (name, integration).
_FRAMEWORKS: Final = {
    "fastapi": ("FastAPI", "injectq_like.integrations.starlette"),
    "starlette": ("Starlette", "injectq_like.integrations.starlette"),
}


def _framework_calling() -> tuple[str, str] | None:
    """The web framework whose code is on the stack below this call, if any (errors only)."""
    packages = set()
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        packages.add(str(frame.f_globals.get("__name__", "")).partition(".")[0])
        frame = frame.f_back
    return next((found for name, found in _FRAMEWORKS.items() if name in packages), None)


def missing(
    params: tuple[InjectedParameter, ...], args: Sequence[Any], kwargs: dict[str, Any]
) -> list[InjectedParameter]:
    """The injected parameters the caller did not pass."""
    count = len(args)
    return [p for p in params if p.position >= count and p.name not in kwargs]


def _skipped(scope: AsyncRequestScope, param: InjectedParameter) -> bool:
    """An injected parameter with a default is injected only when its type is registered."""
    if not param.dependency.has_default:
        return False
    return not scope.runtime.provides(param.dependency.key)


async def resolve_each(needed: list[InjectedParameter], uses: tuple[Any, ...], scope: AsyncRequestScope) -> Any:
    """The ``needed`` arguments as keywords, each resolved on its own; then ``uses`` for their effect."""
    values: dict[str, Any] = {}
    for param in needed:
        if not _skipped(scope, param):
            values[param.name] = Lazy(scope, param.dependency.key) if param.lazy else await scope.resolve(param.request)
    for used in uses:
        await scope.resolve(used)
    return values


def resolve_each_sync(needed: list[InjectedParameter], uses: tuple[Any, ...], scope: AsyncRequestScope) -> Any:
    """``resolve_each`` without an event loop."""
    values: dict[str, Any] = {}
    for param in needed:
        if not _skipped(scope, param):
            values[param.name] = Lazy(scope, param.dependency.key) if param.lazy else scope.resolve_sync(param.request)
    for used in uses:
        scope.resolve_sync(used)
    return values


# -- container.call -----------------------------------------------------------------

# Injection plans of functions passed to container.call, made once per function. Bound
# methods are made anew at each attribute access, so they are cached by their
# function, apart from plain functions (their positions differ by `self`).
_CALL_PLANS: Final[weakref.WeakKeyDictionary[Any, HandlerPlan]] = weakref.WeakKeyDictionary()
_BOUND_PLANS: Final[weakref.WeakKeyDictionary[Any, HandlerPlan]] = weakref.WeakKeyDictionary()


def _call_params(function: Callable[..., Any]) -> tuple[InjectedParameter, ...]:
    """The injected parameters of a function passed to ``container.call``."""
    underlying = getattr(function, "__func__", None)
    cache, key = (_BOUND_PLANS, underlying) if underlying is not None else (_CALL_PLANS, function)
    try:
        plan = cache.get(key)
        if plan is None:
            plan = cache.setdefault(key, HandlerPlan(function))
    except TypeError:  # not weak-referenceable (a builtin, say): read it each time
        return injected_parameters(function)
    return plan.get()


async def call(runtime: Runtime, function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``container.call``: call ``function``, resolving the ``Inject[...]`` arguments the caller left out."""
    scope = runtime.current()
    kwargs.update(await resolve_each(missing(_call_params(function), args, kwargs), (), scope))
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result
