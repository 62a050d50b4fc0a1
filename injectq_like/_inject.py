"""``@inject``: a handler's wrapper, of the same kind as the handler (coroutine function, async
generator function, generator function or plain function), and what callers and frameworks
see of it: the signature and annotations without the injected parameters.

A handler marks the parameters it wants injected with ``Inject[T]``; every
other parameter is the caller's. What a call resolves is ``_handlers``' job;
each wrapper only asks it, awaits when async, and calls (or iterates) the
handler, inside a scope of its own when ``scope=`` asks for one.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator, Sequence
from typing import Any, Protocol, TypeVar, overload

from ._container import Container, runtime_of
from ._contract import ASYNC, OPEN, SYNC
from ._handlers import HandlerPlan
from ._markers import is_injected
from ._providers import Scope
from ._scope import CURRENT, AsyncRequestScope
from ._signature import callable_name, type_hints
from .exceptions import AnnotationError, RegistrationError

__all__ = ["InjectDecorator", "Injected", "inject"]

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class Injected(Protocol[R_co]):
    """What ``@inject`` returns, to a type checker: callable without its injected arguments.

    Its parameters are typed ``object`` rather than ``Any`` so that overloads
    taking it (``container.call``) still infer the return type. The mypy
    plugin (``plugins = ["injectq_like.mypy"]``) replaces it with the
    handler's own signature, the injected parameters made optional.
    """

    def __call__(self, *args: object, **kwargs: object) -> R_co: ...


class InjectDecorator(Protocol):
    """What ``@inject(...)`` with arguments returns: the decorator itself."""

    def __call__(self, function: Callable[..., R], /) -> Injected[R]: ...


@overload
def inject(function: Callable[..., R], /) -> Injected[R]: ...


@overload
def inject(
    *,
    container: Container | None = None,
    uses: Sequence[Any] = (),
    scope: Scope | None = None,
) -> InjectDecorator: ...


def inject(
    function: Callable[..., Any] | None = None,
    /,
    *,
    container: Container | None = None,
    uses: Sequence[Any] = (),
    scope: Scope | None = None,
) -> Any:
    """Resolve a handler's ``Inject[T]`` parameters when it is called.

    ``@inject`` resolves from the innermost scope open in this context, of
    whatever container; ``@inject(container=c)`` from ``c``'s current scope,
    else ``c``'s APP scope. An argument the caller passes always wins; when
    every injected argument is passed (and there is no ``uses=``), nothing
    is resolved. ``uses=(T, ...)`` resolves providers the handler needs for
    their effect before each call. ``scope=Scope.REQUEST`` (or ``SESSION``)
    runs every call in a new scope of that level, a child of the current
    one, closed when the call returns or raises (for a generator handler,
    when it finishes or is closed).

    The wrapper is of the handler's kind: ``async def``, ``async def`` with
    ``yield``, ``def`` with ``yield`` or plain ``def`` (resolved with
    ``resolve_sync``, its scope entered with ``with``); methods, static and
    class methods work too.
    """
    if scope is not None and scope not in (Scope.SESSION, Scope.REQUEST):
        raise RegistrationError(
            f"@inject(scope={scope!r}) cannot open a scope of that level for each call",
            hint="use scope=Scope.REQUEST (or Scope.SESSION), or leave it out to resolve in the current scope",
        )

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(function, staticmethod | classmethod):
            return type(function)(decorate(function.__func__))
        runtime = runtime_of(container) if container is not None else None
        plan = HandlerPlan(function, runtime, tuple(uses), handler=function)
        if runtime is not None:
            runtime.handlers[plan] = None  # checked by container.validate()
        wrapper = _wrap(function, plan, scope)
        signature = _visible_signature(function)
        wrapper.__signature__ = signature  # type: ignore[attr-defined]
        wrapper.__annotations__ = _annotations(signature)
        wrapper.__injectq_like__ = plan  # type: ignore[attr-defined]
        return wrapper

    if function is not None:
        return decorate(function)
    return decorate


def _wrap(function: Callable[..., Any], plan: HandlerPlan, level: Scope | None) -> Callable[..., Any]:
    """The wrapper of ``function``'s kind; with ``level``, each call in a new scope of that level."""
    if inspect.isasyncgenfunction(function):
        return _async_generator_wrapper(function, plan, level)
    if inspect.isgeneratorfunction(function):
        return _generator_wrapper(function, plan, level)
    if inspect.iscoroutinefunction(function):
        wrapper = _coroutine_wrapper(function, plan)
        if level is None:
            return wrapper

        @functools.wraps(function)
        async def scoped_coroutine_wrapper(*args: Any, **kwargs: Any) -> Any:
            if plan.params is None:  # made before the scope opens: a handler that cannot be planned opens none
                plan.get()
            scope = plan.new_scope(function, level)
            # `async with scope:`, without its two coroutines when there is nothing to await
            if not scope.enter_quietly():
                await scope.__aenter__()
            try:
                # the usual call, as in coroutine_wrapper, resolved in the new scope without looking it up
                found = (
                    scope.runtime.async_resolvers.get(plan.resolver_key)
                    if plan.plain and len(args) <= plan.first_position and (not kwargs or plan.names.isdisjoint(kwargs))
                    else None
                )
                if found is None:
                    result = await wrapper(*args, **kwargs)
                else:
                    values = found[0](scope)
                    if values.__class__ is not dict:
                        values = await values
                    if kwargs:
                        values.update(kwargs)
                    result = await function(*args, **values)
            except BaseException as error:
                await scope.__aexit__(type(error), error, error.__traceback__)
                raise
            if not scope.exit_quietly():
                await scope.__aexit__(None, None, None)
            return result

        return scoped_coroutine_wrapper
    sync_wrapper = _function_wrapper(function, plan)
    if level is None:
        return sync_wrapper

    @functools.wraps(function)
    def scoped_function_wrapper(*args: Any, **kwargs: Any) -> Any:
        with plan.new_scope(function, level):
            return sync_wrapper(*args, **kwargs)

    return scoped_function_wrapper


def _coroutine_wrapper(function: Callable[..., Any], plan: HandlerPlan) -> Callable[..., Any]:
    @functools.wraps(function)
    async def coroutine_wrapper(*args: Any, **kwargs: Any) -> Any:
        # `plain` is set once the plan is made (by the first call, below): no test for that first
        if plan.plain and len(args) <= plan.first_position and (not kwargs or plan.names.isdisjoint(kwargs)):
            # The usual call: the caller passed none of the injected arguments, and their resolver
            # is compiled for the current scope's container (else: plan.arguments, in full).
            scope = CURRENT.get()
            runtime = plan.runtime
            if runtime is not None and (scope is None or scope.runtime is not runtime):
                scope = runtime.current()  # another container's scope is innermost: look further
            if scope is not None and scope.state == OPEN:
                found = scope.runtime.async_resolvers.get(plan.resolver_key)
                if found is not None:
                    values = found[0](scope)
                    if values.__class__ is not dict:
                        values = await values
                    if kwargs:
                        values.update(kwargs)
                    return await function(*args, **values)
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

    return coroutine_wrapper


def _function_wrapper(function: Callable[..., Any], plan: HandlerPlan) -> Callable[..., Any]:
    @functools.wraps(function)
    def function_wrapper(*args: Any, **kwargs: Any) -> Any:
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

    return function_wrapper


def _generator_wrapper(function: Callable[..., Any], plan: HandlerPlan, level: Scope | None) -> Callable[..., Any]:
    call = _function_wrapper(function, plan)  # makes the generator, its arguments resolved

    if level is None:

        @functools.wraps(function)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            return (yield from call(*args, **kwargs))

        return generator_wrapper

    @functools.wraps(function)
    def scoped_generator_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        # The call's scope is current only while the handler runs, never in the caller between
        # steps: a generator runs in its caller's context.
        scope = plan.new_scope(function, level)
        _aside(scope.__enter__)
        try:
            generator = _within(scope, functools.partial(call, *args, **kwargs))
            value = _within(scope, next, generator)
            while True:  # hand every value out, and what the caller sends or throws in
                try:
                    sent = yield value
                except GeneratorExit:
                    _within(scope, generator.close)
                    break  # closed early (a `break`, a client gone): the scope ends normally
                except BaseException as error:  # noqa: BLE001 - thrown into the handler, as the caller meant
                    value = _within(scope, generator.throw, error)
                else:
                    value = _within(scope, generator.send, sent)
        except StopIteration as stop:
            _aside(scope.__exit__, None, None, None)
            return stop.value
        except BaseException as error:
            _aside(scope.__exit__, type(error), error, error.__traceback__)
            raise
        _aside(scope.__exit__, None, None, None)
        raise GeneratorExit

    return scoped_generator_wrapper


def _async_generator_wrapper(
    function: Callable[..., Any], plan: HandlerPlan, level: Scope | None
) -> Callable[..., Any]:
    make = _coroutine_wrapper(_returning(function), plan)  # the async generator, its arguments resolved

    @functools.wraps(function)
    async def async_generator_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        # With a scope of its own, the call's scope is current only while the handler runs, never
        # in the caller between steps: an async generator runs in its caller's context.
        scope = plan.new_scope(function, level) if level is not None else None
        if scope is not None:
            await _aside_async(scope.__aenter__())
        try:
            generator = await _within_async(scope, make(*args, **kwargs))
            value = await _within_async(scope, generator.__anext__())
            while True:  # hand every value out, and what the caller sends or throws in
                try:
                    sent = yield value
                except GeneratorExit:
                    await _within_async(scope, generator.aclose())
                    break  # closed early (a `break`, a client gone): the scope ends normally
                except BaseException as error:  # noqa: BLE001 - thrown into the handler, as the caller meant
                    value = await _within_async(scope, generator.athrow(error))
                else:
                    value = await _within_async(scope, generator.asend(sent))
        except StopAsyncIteration:
            if scope is not None:
                await _aside_async(scope.__aexit__(None, None, None))
            return
        except BaseException as error:
            if scope is not None:
                await _aside_async(scope.__aexit__(type(error), error, error.__traceback__))
            raise
        if scope is not None:
            await _aside_async(scope.__aexit__(None, None, None))
        raise GeneratorExit

    return async_generator_wrapper


def _within(scope: AsyncRequestScope, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` with ``scope`` current, and what was current restored after."""
    window = CURRENT.set(scope)
    try:
        return function(*args)
    finally:
        CURRENT.reset(window)


def _aside(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` (a scope's enter or exit), leaving what is current here as it was."""
    window = CURRENT.set(CURRENT.get())
    try:
        return function(*args)
    finally:
        CURRENT.reset(window)


async def _within_async(scope: AsyncRequestScope | None, awaitable: Awaitable[T]) -> T:
    """``await awaitable`` with ``scope`` current (if any), and what was current restored after."""
    if scope is None:
        return await awaitable
    window = CURRENT.set(scope)
    try:
        return await awaitable
    finally:
        CURRENT.reset(window)


async def _aside_async(awaitable: Awaitable[T]) -> T:
    """``await awaitable`` (a scope's enter or exit), leaving what is current here as it was."""
    window = CURRENT.set(CURRENT.get())
    try:
        return await awaitable
    finally:
        CURRENT.reset(window)


def _returning(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a coroutine function returning what calling it gives (an async generator)."""

    @functools.wraps(function)
    async def returning(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return returning


# -- what callers see --------------------------------------------------------------


def _visible_signature(function: Callable[..., Any]) -> inspect.Signature:
    """``function``'s signature without its ``Inject[...]`` parameters."""
    signature = inspect.signature(function)
    try:
        hints = type_hints(function, owner=callable_name(function))
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
    returns = signature.return_annotation
    if hints is not None and "return" in hints:
        # get_type_hints turns `-> None` into NoneType; frameworks read None as "no body"
        returns = None if hints["return"] is type(None) else hints["return"]
    return signature.replace(parameters=kept, return_annotation=returns)


def _annotations(signature: inspect.Signature) -> dict[str, Any]:
    """``__annotations__`` matching the visible signature (what ``get_type_hints`` reads)."""
    found = {
        name: parameter.annotation
        for name, parameter in signature.parameters.items()
        if parameter.annotation is not inspect.Parameter.empty
    }
    if signature.return_annotation is not inspect.Signature.empty:
        found["return"] = signature.return_annotation
    return found
