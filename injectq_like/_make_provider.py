"""``register(...)`` arguments turned into a checked, frozen ``Provider``.

Every check that can be made from one registration alone is made here, at
the ``register`` call, so that a mistake points at the line that made it.
Checks that need the whole graph (missing providers, cycles, lifetimes) are
``_validate``'s.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import sys
import typing
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Coroutine,
    Generator,
    Iterable,
    Iterator,
)
from types import FrameType
from typing import Any, get_args, get_origin

from ._keys import MISSING, Named, base_of, describe, name_of, normalize, runtime_class
from ._markers import why_not_a_key
from ._providers import Kind, Provider, Scope, Shape, shape_of
from ._signature import annotated_function, callable_name, type_hints
from .exceptions import AnnotationError, RegistrationError

__all__ = [
    "KEY_HINT",
    "caller",
    "check_key",
    "check_scope",
    "class_provider",
    "context_provider",
    "factory_provider",
    "instance_provider",
    "with_options",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))  # noqa: PTH100, PTH120 - hot enough to avoid pathlib

_AWAITABLES = (Awaitable, Coroutine, typing.Awaitable, typing.Coroutine)
_ITERATORS = (Iterator, Iterable, Generator, typing.Iterator, typing.Iterable, typing.Generator)
_ASYNC_ITERATORS = (
    AsyncIterator,
    AsyncIterable,
    AsyncGenerator,
    typing.AsyncIterator,
    typing.AsyncIterable,
    typing.AsyncGenerator,
)


# Frames of event loops and runners stand between user code and this package.
_RUNNERS = frozenset({"asyncio", "anyio", "trio", "uvloop", "contextlib", "runpy", "threading", "concurrent"})


def caller() -> str:
    """``file:line`` of the first frame outside this package, for messages."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (
        os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR  # noqa: PTH120
        or str(frame.f_globals.get("__name__", "")).partition(".")[0] in _RUNNERS
    ):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - there is always a caller
        return "<unknown>"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"  # noqa: PTH119


KEY_HINT = (
    "keys are classes (Database), Protocols and ABCs, generic aliases (Repo[User]), NewTypes, "
    'or Annotated[T, Named("x")] (the same as name="x")'
)


def check_scope(scope: Any, key: Any) -> Scope:
    if not isinstance(scope, Scope):
        raise RegistrationError(
            f"scope={scope!r} for {describe(key)} is not a Scope",
            key=key,
            hint="use Scope.APP, Scope.SESSION, Scope.REQUEST or Scope.TRANSIENT",
        )
    return scope


def check_key(key: Any, name: str | None) -> Any:
    problem = why_not_a_key(normalize(key))
    if problem is not None:
        raise RegistrationError(f"cannot register {describe(key)}: {problem}", key=key, hint=KEY_HINT)
    key = normalize(key)
    if name is not None:
        candidate: object = name
        if not isinstance(candidate, str) or not candidate:
            raise RegistrationError(
                f"name={name!r} for {describe(key)} must be a non-empty string",
                key=key,
                hint=f'name a registration with a string: register({describe(key)}, ..., name="primary")',
            )
        if name_of(key) is not None:
            raise RegistrationError(
                f"{describe(key)} is already qualified by Named(...); name={name!r} would qualify it twice",
                key=key,
                hint="pass either name= or an Annotated[T, Named(...)] key, not both",
            )
        key = typing.Annotated[key, Named(name)]
    return key


def _is_abstract(cls: type) -> bool:
    return inspect.isabstract(cls) or bool(getattr(cls, "_is_protocol", False))


def _subclass_problem(implementation: type, key: Any) -> str | None:
    """Why ``implementation`` cannot provide ``key``, where that can be checked."""
    interface = runtime_class(key)
    if interface is None:
        return None
    try:
        ok = issubclass(implementation, interface)
    except TypeError:  # a Protocol that is not runtime_checkable, say: nothing to check
        return None
    if ok:
        return None
    return f"{implementation.__qualname__} is not a subclass of {describe(base_of(key))}"


def _return_annotation(factory: Any, owner: str, key: Any) -> Any:
    """A factory's evaluated return annotation (MISSING if none); its parameters are read later."""
    function = annotated_function(factory)
    try:
        return type_hints(function, owner=owner).get("return", MISSING)
    except AnnotationError as error:
        written = getattr(function, "__annotations__", {}).get("return", MISSING)
        if not isinstance(written, str):
            return written  # a parameter's annotation failed: validate() reports it, with its path
        try:
            return eval(written, getattr(function, "__globals__", {}))  # noqa: S307 - evaluating an annotation
        except Exception:  # noqa: BLE001 - reported as the registration error below
            raise RegistrationError(error.message, key=key if key is not MISSING else None, hint=error.hint) from None


def _unwrap_return(annotation: Any, shape: Shape) -> tuple[Any, bool]:
    """(the provided type, whether a plain def returns an awaitable) from a factory's return type."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if shape is Shape.GENERATOR:
        if origin in _ITERATORS and args:
            return args[0], False
        return MISSING, False
    if shape is Shape.ASYNC_GENERATOR:
        if origin in _ASYNC_ITERATORS and args:
            return args[0], False
        return MISSING, False
    if origin in _AWAITABLES and args:
        return args[-1], shape is Shape.VALUE
    return annotation, False


def instance_provider(
    key: Any,
    implementation: Any,
    instance: Any,
    factory: Any,
    scope: Scope | None,
    name: str | None,
    source: str,
    *,
    double: bool = False,
) -> Provider:
    """A ready object; ``double`` (an override's test double, a ``Mock`` say) skips the type check."""
    if implementation is not MISSING or factory is not None:
        raise RegistrationError(
            "register() takes one of an implementation, instance= or factory=, not several",
            key=key if key is not MISSING else None,
            hint="register(Key, Implementation), register(Key, instance=obj) or register(Key, factory=function)",
        )
    if key is MISSING:
        key = type(instance)
    key = check_key(key, name)
    if scope is not None and check_scope(scope, key) is not Scope.APP:
        raise RegistrationError(
            f"the instance registered for {describe(key)} is one object, so it has APP lifetime, not {scope.name}",
            key=key,
            hint="drop scope=, or register a factory to get an instance per scope",
        )
    cls = None if double else runtime_class(key)
    if cls is not None:
        try:
            ok = isinstance(instance, cls)
        except TypeError:  # a non-runtime-checkable Protocol: nothing to check
            ok = True
        if not ok:
            raise RegistrationError(
                f"the instance registered for {describe(key)} is a {type(instance).__qualname__}, "
                f"not a {describe(base_of(key))}",
                key=key,
                hint="register it under its own type, or pass an instance of the key",
            )
    return Provider(key=key, kind=Kind.INSTANCE, scope=Scope.APP, instance=instance, source=source)


def class_provider(key: Any, implementation: Any, scope: Scope | None, name: str | None, source: str) -> Provider:
    key = check_key(key, name)
    scope = check_scope(scope if scope is not None else Scope.TRANSIENT, key)
    target = base_of(normalize(implementation))
    if get_origin(target) is not None and isinstance(get_origin(target), type):
        target = get_origin(target)  # register(Repo[User]): build the generic class
    if not isinstance(target, type):
        if callable(target):
            raise RegistrationError(
                f"{callable_name(target)} is not a class: to register a function for "
                f"{describe(key)}, pass it as factory=",
                key=key,
                hint=f"register({describe(key)}, factory={callable_name(target)})",
            )
        raise RegistrationError(
            f"{target!r} is not a class, so it cannot implement {describe(key)}",
            key=key,
            hint="pass a class (register(Key, Implementation)), an instance= or a factory=",
        )
    if _is_abstract(target):
        what = "a Protocol" if getattr(target, "_is_protocol", False) else "abstract"
        raise RegistrationError(
            f"{target.__qualname__} is {what} and cannot be built",
            key=key,
            hint=f"register an implementation: register({describe(key)}, Implementation)",
        )
    if target is not implementation or implementation is not key:
        problem = _subclass_problem(target, key)
        if problem is not None:
            raise RegistrationError(
                f"cannot register {target.__qualname__} for {describe(key)}: {problem}",
                key=key,
                hint="register it under its own type, or make it implement the interface",
            )
    return Provider(key=key, kind=Kind.CLASS, scope=scope, target=target, source=source)


def factory_provider(
    key: Any,
    implementation: Any,
    factory: Any,
    scope: Scope | None,
    name: str | None,
    source: str,
) -> Provider:
    if implementation is not MISSING:
        raise RegistrationError(
            "register() takes one of an implementation, instance= or factory=, not several",
            key=key if key is not MISSING else None,
            hint="register(Key, Implementation), register(Key, instance=obj) or register(Key, factory=function)",
        )
    if not callable(factory) or isinstance(factory, type):
        raise RegistrationError(
            f"factory={factory!r} is not a function",
            key=key if key is not MISSING else None,
            hint="pass a class as the implementation: register(Key, Class)"
            if isinstance(factory, type)
            else "pass a function, coroutine function, generator or async generator",
        )
    owner = callable_name(factory)
    raw_return = _return_annotation(factory, owner, key)
    shape = shape_of(factory, returns_awaitable=False)
    provided, returns_awaitable = _unwrap_return(raw_return, shape) if raw_return is not MISSING else (MISSING, False)
    if returns_awaitable:
        shape = Shape.AWAIT
    if provided is type(None) or provided is None:
        provided = MISSING
    if key is MISSING:
        if provided is MISSING:
            raise RegistrationError(
                f"factory {owner}() has no usable return annotation, so the type it provides is unknown",
                hint="annotate its return type (`-> T`"
                + (", `-> Iterator[T]`" if shape is Shape.GENERATOR else "")
                + (", `-> AsyncIterator[T]`" if shape is Shape.ASYNC_GENERATOR else "")
                + f"), or pass the key: register(T, factory={owner})",
            )
        key = provided
    key = check_key(key, name)
    if provided is not MISSING:
        returned = runtime_class(normalize(provided))
        if returned is not None and why_not_a_key(normalize(provided)) is None:
            problem = _subclass_problem(returned, key)
            if problem is not None:
                raise RegistrationError(
                    f"factory {owner}() returns {describe(provided)}, which cannot provide {describe(key)}: {problem}",
                    key=key,
                    hint="fix the return annotation, or register the factory under the type it returns",
                )
    scope = check_scope(scope if scope is not None else Scope.TRANSIENT, key)
    return Provider(key=key, kind=Kind.FACTORY, scope=scope, target=factory, shape=shape, source=source)


def with_options(provider: Provider, *, multi: bool, autouse: bool, enter: bool) -> Provider:
    key = provider.key
    if autouse and provider.scope is Scope.TRANSIENT:
        raise RegistrationError(
            f"autouse=True needs a lifetime for {describe(key)}: a TRANSIENT has no scope to be created in",
            key=key,
            hint="give it scope=Scope.APP, Scope.SESSION or Scope.REQUEST",
        )
    async_enter = False
    if enter:
        if provider.kind is Kind.INSTANCE:
            raise RegistrationError(
                f"enter=True does not apply to the instance of {describe(key)}: it was made elsewhere, "
                "so it is entered and exited there",
                key=key,
                hint="register a factory or class with enter=True to have the container manage it",
            )
        if provider.shape in (Shape.GENERATOR, Shape.ASYNC_GENERATOR):
            raise RegistrationError(
                f"enter=True does not apply to {provider.describe()}: a generator cleans up after its yield",
                key=key,
                hint="enter the context manager inside the generator (`with ...: yield value`)",
            )
        created = provider.target if provider.kind is Kind.CLASS else runtime_class(key)
        if created is not None and hasattr(created, "__aenter__"):
            async_enter = True
        elif created is None or not hasattr(created, "__enter__"):
            raise RegistrationError(
                f"enter=True, but {describe(key)} is not a context manager (it has neither __aenter__ nor __enter__)",
                key=key,
                hint="drop enter=True, or register the context manager's own type",
            )
    return dataclasses.replace(provider, multi=multi, autouse=autouse, enter=enter, async_enter=async_enter)


def context_provider(key: Any, scope: Any, name: str | None, source: str) -> Provider:
    """A value that scopes of ``scope`` level are given when they open."""
    key = check_key(key, name)
    scope = check_scope(scope, key)
    if scope not in (Scope.SESSION, Scope.REQUEST):
        raise RegistrationError(
            f"context value {describe(key)} cannot have {scope.name} lifetime",
            key=key,
            hint="context values are supplied when a SESSION or REQUEST scope opens; "
            "for an APP-wide object use register(T, instance=obj)",
        )
    return Provider(key=key, kind=Kind.CONTEXT, scope=scope, source=source)
