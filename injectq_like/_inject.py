"""``Inject``, ``Lazy`` and ``@inject``: handing resolved dependencies to handlers.

A handler marks the parameters it wants injected with ``Inject[T]``; every
other parameter is the caller's. The first call reads the handler's
annotations into an injection plan (which parameters, at which positions,
resolved how); every later call only checks which injected arguments the
caller left out and resolves those in the current scope.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, overload

from ._markers import Inject, Lazy, is_injected
from ._plan import Requests
from ._providers import Scope
from ._scope import CURRENT
from ._signature import Dependency, DepKind, callable_name, read_dependencies, type_hints
from .exceptions import AnnotationError, NoActiveScopeError

if TYPE_CHECKING:
    from ._container import Container
    from ._scope import AsyncRequestScope

__all__ = ["Inject", "Lazy", "inject"]

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Injected(Protocol[R_co]):
    """What ``@inject`` returns, to a type checker: callable without its injected arguments.

    Its parameters are typed ``object`` rather than ``Any`` so that overloads
    taking it (``container.call``) still infer the return type.
    """

    def __call__(self, *args: object, **kwargs: object) -> R_co: ...


# -- injection plans ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    position: int  # index among positional parameters; a large number for keyword-only ones
    request: Any  # what is resolved: the key, list[key] or key | None
    lazy: bool
    dependency: Dependency


_KEYWORD_ONLY: Final = 1 << 30


def _request_of(dependency: Dependency) -> Any:
    key = dependency.key
    if dependency.kind is DepKind.LIST:
        return list[key]  # type: ignore[valid-type]
    if dependency.kind is DepKind.OPTIONAL:
        return key | None
    return key


def injection_plan(function: Callable[..., Any]) -> tuple[_Param, ...]:
    """The ``Inject[...]`` parameters of ``function``, read once."""
    dependencies = read_dependencies(function, only_marked=True)
    positions: dict[str, int] = {}
    for position, parameter in enumerate(inspect.signature(function).parameters.values()):
        if parameter.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positions[parameter.name] = position
    return tuple(
        _Param(
            name=d.name,
            position=positions.get(d.name, _KEYWORD_ONLY),
            request=_request_of(d),
            lazy=d.kind is DepKind.LAZY,
            dependency=d,
        )
        for d in dependencies
    )


def _visible_signature(function: Callable[..., Any]) -> inspect.Signature:
    """``function``'s signature without its ``Inject[...]`` parameters."""
    signature = inspect.signature(function)
    try:
        hints = _hints(function)
    except AnnotationError:
        hints = None
    kept = []
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        if hints is not None:
            annotation = hints.get(parameter.name, annotation)
            if is_injected(annotation):
                continue
        elif isinstance(annotation, str) and annotation.replace(" ", "").startswith(("Inject[", "Inject[Lazy[")):
            continue  # not evaluable yet: recognise Inject[...] by its text
        elif is_injected(annotation):
            continue
        kept.append(parameter.replace(annotation=annotation))
    returns = hints.get("return", signature.return_annotation) if hints is not None else signature.return_annotation
    return signature.replace(parameters=kept, return_annotation=returns)


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    return type_hints(function, owner=callable_name(function))


class _Plans:
    """The injection plan of one handler, made at its first call (thread-safe).

    ``requests`` is the key of the compiled plan resolving every injected
    parameter at once, used when the caller passed none of them (the usual case).
    """

    __slots__ = ("_function", "_lock", "first_position", "names", "params", "requests", "visible")

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function: Callable[..., Any] | None = function
        self._lock = threading.Lock()
        self.params: tuple[_Param, ...] | None = None
        self.requests: Requests | None = None
        self.first_position = 0
        self.names: frozenset[str] = frozenset()
        #: The caller's positional parameters, when an injected one comes before one of them
        #: (``handler(repo: Inject[Repo], user_id: int)``); empty otherwise.
        self.visible: tuple[str, ...] = ()

    def rebind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Give positional arguments to the caller's parameters, as the visible signature says.

        With more positional arguments than the caller has parameters, the
        call names injected ones explicitly: the positions are the function's own.
        """
        if len(args) > len(self.visible):
            return args, kwargs
        return (), {**dict(zip(self.visible, args, strict=False)), **kwargs}

    def get(self) -> tuple[_Param, ...]:
        params = self.params
        if params is None:
            with self._lock:
                if self.params is None:
                    function = self._function
                    assert function is not None
                    found = injection_plan(function)
                    self.requests = Requests(function, [p.dependency for p in found])
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
                    self.params = found
                    self._function = None  # no longer needed: do not keep it alive
                params = self.params
        return params


def _scope_for(container: Container | None, function: Callable[..., Any]) -> AsyncRequestScope:
    if container is not None:
        return container._current()
    scope = CURRENT.get()
    if scope is None:
        raise NoActiveScopeError(
            function,
            Scope.REQUEST,
            message=f"@inject handler {callable_name(function)}() was called with no scope open to resolve from",
            hint=(
                "open a scope around the call (`async with container.scope():`), or decorate with "
                "@inject(container=container) to resolve from that container's APP scope"
            ),
        )
    return scope


async def _resolve_param(scope: AsyncRequestScope, param: _Param) -> Any:
    if param.lazy:
        return Lazy(scope, param.dependency.key)
    return await scope.resolve(param.request)


def _resolve_param_sync(scope: AsyncRequestScope, param: _Param) -> Any:
    if param.lazy:
        return Lazy(scope, param.dependency.key)
    return scope.resolve_sync(param.request)


def _missing(params: tuple[_Param, ...], args: Sequence[Any], kwargs: dict[str, Any]) -> list[_Param]:
    count = len(args)
    return [p for p in params if p.position >= count and p.name not in kwargs]


def _skippable(scope: AsyncRequestScope, param: _Param) -> bool:
    """An injected parameter with a default is injected only when its type is registered."""
    if not param.dependency.has_default:
        return False
    container = scope._container
    return container._provides(param.dependency.key) is False


@overload
def inject(function: Callable[..., R], /) -> Injected[R]: ...


@overload
def inject(
    *,
    container: Container | None = None,
    uses: Sequence[Any] = (),
) -> Callable[[Callable[..., R]], Injected[R]]: ...


def inject(
    function: Callable[..., Any] | None = None,
    /,
    *,
    container: Container | None = None,
    uses: Sequence[Any] = (),
) -> Any:
    """Resolve a handler's ``Inject[T]`` parameters when it is called.

    ``@inject`` resolves from the innermost scope open in this context, of
    whatever container; ``@inject(container=c)`` from ``c``'s current scope,
    else ``c``'s APP scope. An argument the caller passes always wins; when
    every injected argument is passed (and there is no ``uses=``), nothing
    is resolved. ``uses=(T, ...)`` resolves providers the handler needs for
    their effect before each call. Works on ``async def`` and on ``def``
    (resolved with ``resolve_sync``), on methods, static and class methods.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(function, staticmethod | classmethod):
            return type(function)(decorate(function.__func__))
        return _wrap(function, container, tuple(uses))

    if function is not None:
        return decorate(function)
    return decorate


def _wrap(function: Callable[..., Any], container: Container | None, uses: tuple[Any, ...]) -> Callable[..., Any]:
    plans = _Plans(function)
    asynchronous = inspect.iscoroutinefunction(function)

    if asynchronous:

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            params = plans.params or plans.get()
            if plans.visible and args:
                args, kwargs = plans.rebind(args, kwargs)
            if not params and not uses:
                return await function(*args, **kwargs)
            if len(args) <= plans.first_position and plans.names.isdisjoint(kwargs) and not uses:  # all ours
                scope = _scope_for(container, function)
                owner = scope._container
                try:
                    resolve, is_async = owner._async_plans[plans.requests]
                except KeyError:
                    resolve, is_async = await owner._async_plan(plans.requests)
                if scope._state != 1:
                    raise scope._not_open()
                values = await resolve(scope) if is_async else resolve(scope)
                if kwargs:
                    values.update(kwargs)
                return await function(*args, **values)
            needed = _missing(params, args, kwargs)
            if needed or uses:
                scope = _scope_for(container, function)
                for param in needed:
                    if _skippable(scope, param):
                        continue
                    kwargs[param.name] = await _resolve_param(scope, param)
                for used in uses:
                    await scope.resolve(used)
            return await function(*args, **kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(function)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            params = plans.params or plans.get()
            if plans.visible and args:
                args, kwargs = plans.rebind(args, kwargs)
            if not params and not uses:
                return function(*args, **kwargs)
            if len(args) <= plans.first_position and plans.names.isdisjoint(kwargs) and not uses:  # all ours
                scope = _scope_for(container, function)
                owner = scope._container
                try:
                    resolve = owner._sync_plans[plans.requests]
                except KeyError:
                    resolve = owner._sync_plan(plans.requests)
                if scope._state != 1:
                    raise scope._not_open()
                values = resolve(scope)
                if kwargs:
                    values.update(kwargs)
                return function(*args, **values)
            needed = _missing(params, args, kwargs)
            if needed or uses:
                scope = _scope_for(container, function)
                for param in needed:
                    if _skippable(scope, param):
                        continue
                    kwargs[param.name] = _resolve_param_sync(scope, param)
                for used in uses:
                    scope.resolve_sync(used)
            return function(*args, **kwargs)

        wrapper = sync_wrapper

    wrapper.__signature__ = _visible_signature(function)  # type: ignore[attr-defined]
    wrapper.__injectq_like__ = plans  # type: ignore[attr-defined]
    return wrapper


# -- container.call -----------------------------------------------------------------

# Plans of functions passed to container.call, made once per function. Bound
# methods are made anew at each attribute access, so they are cached by their
# function, apart from plain functions (their positions differ by `self`).
_CALL_PLANS: Final[weakref.WeakKeyDictionary[Any, _Plans]] = weakref.WeakKeyDictionary()
_BOUND_PLANS: Final[weakref.WeakKeyDictionary[Any, _Plans]] = weakref.WeakKeyDictionary()


def call_plan(function: Callable[..., Any]) -> tuple[_Param, ...]:
    """The injection plan of a function passed to ``container.call``."""
    underlying = getattr(function, "__func__", None)
    cache, key = (_BOUND_PLANS, underlying) if underlying is not None else (_CALL_PLANS, function)
    try:
        plans = cache.get(key)
        if plans is None:
            plans = cache.setdefault(key, _Plans(function))
    except TypeError:  # not weak-referenceable (a builtin, say): read it each time
        return injection_plan(function)
    return plans.get()


async def call(
    container: Container,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    scope = container._current()
    for param in _missing(call_plan(function), args, kwargs):
        if _skippable(scope, param):
            continue
        kwargs[param.name] = await _resolve_param(scope, param)
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result
