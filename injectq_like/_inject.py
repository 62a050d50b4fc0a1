"""``@inject``: a handler's wrapper, one body with thin sync and async entries, and the
signature callers and frameworks see (without the injected parameters).

A handler marks the parameters it wants injected with ``Inject[T]``; every
other parameter is the caller's. What a call resolves is ``_handlers``'
job; the wrapper only asks it, awaits when async, and calls the handler.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar, overload

from ._container import Container, runtime_of
from ._contract import ASYNC, SYNC
from ._handlers import HandlerPlan
from ._markers import is_injected
from ._signature import callable_name, type_hints
from .exceptions import AnnotationError

__all__ = ["Injected", "inject"]

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Injected(Protocol[R_co]):
    """What ``@inject`` returns, to a type checker: callable without its injected arguments.

    Its parameters are typed ``object`` rather than ``Any`` so that overloads
    taking it (``container.call``) still infer the return type.
    """

    def __call__(self, *args: object, **kwargs: object) -> R_co: ...


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
    plan = HandlerPlan(function, runtime_of(container) if container is not None else None, uses)

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if plan.params is None:
                plan.get()
            if plan.visible and args:
                args, kwargs = plan.rebind(args, kwargs)
            values = plan.arguments(function, args, kwargs, ASYNC)
            if values is None:
                return await function(*args, **kwargs)
            if values.__class__ is not dict:
                values = await values
            if kwargs:
                values.update(kwargs)
            return await function(*args, **values)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(function)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            if plan.params is None:
                plan.get()
            if plan.visible and args:
                args, kwargs = plan.rebind(args, kwargs)
            values = plan.arguments(function, args, kwargs, SYNC)
            if values is None:
                return function(*args, **kwargs)
            if kwargs:
                values.update(kwargs)
            return function(*args, **values)

        wrapper = sync_wrapper

    wrapper.__signature__ = _visible_signature(function)  # type: ignore[attr-defined]
    wrapper.__injectq_like__ = plan  # type: ignore[attr-defined]
    return wrapper
