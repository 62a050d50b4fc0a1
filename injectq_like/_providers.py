"""``Scope`` (the lifetimes), and the frozen ``Provider`` record of one registration."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, final

from ._keys import describe
from ._signature import callable_name

__all__ = ["APP", "REQUEST", "SESSION", "Kind", "Provider", "Scope", "Shape", "shape_of"]


class Scope(enum.IntEnum):
    """Lifetimes, longest first. ``APP`` ⊃ ``SESSION`` ⊃ ``REQUEST``; ``TRANSIENT`` is not cached."""

    APP = 0
    SESSION = 1
    REQUEST = 2
    TRANSIENT = 3

    def __repr__(self) -> str:
        return f"Scope.{self.name}"


# Reading an enum member off its class runs a Python-level descriptor on CPython 3.11 (about
# 120 ns, as much as a whole APP resolve): code run per request compares with these instead.
APP: Final = Scope.APP
SESSION: Final = Scope.SESSION
REQUEST: Final = Scope.REQUEST


class Kind(enum.Enum):
    CLASS = "class"  # a class autowired from __init__
    FACTORY = "factory"  # def / async def / generator / async generator
    INSTANCE = "instance"  # a ready object
    CONTEXT = "context"  # a value supplied when a scope opens


class Shape(enum.Enum):
    """How calling the target gives the value (decided once, at registration)."""

    VALUE = "value"  # target(...) is the value
    AWAIT = "await"  # await target(...)
    GENERATOR = "generator"  # next(target(...)); the rest of the generator is the cleanup
    ASYNC_GENERATOR = "async generator"  # await anext(target(...)); likewise


@final
@dataclass(frozen=True, slots=True, eq=False)
class Provider:
    """One registration. Identity matters: two equal-looking registrations are two providers."""

    key: Any
    kind: Kind
    scope: Scope
    target: Callable[..., Any] | None = None
    instance: Any = None
    shape: Shape = Shape.VALUE
    multi: bool = False
    autouse: bool = False
    enter: bool = False  # enter and exit the created object as a context manager
    async_enter: bool = False  # ... as an async context manager
    source: str = ""  # where it was registered, for messages
    serial: int = field(default=0)  # registration order, for stable output

    @property
    def is_async(self) -> bool:
        """Creating the value itself (not counting dependencies) needs an event loop."""
        return self.shape in (Shape.AWAIT, Shape.ASYNC_GENERATOR) or self.async_enter

    @property
    def cached(self) -> bool:
        return self.scope is not Scope.TRANSIENT

    def describe(self) -> str:
        """``SqlUserRepo``, ``factory open_db``, ``instance of Settings``, ``context Request``."""
        if self.kind is Kind.INSTANCE:
            return f"instance of {describe(self.key)}"
        if self.kind is Kind.CONTEXT:
            return f"context value {describe(self.key)}"
        assert self.target is not None
        name = callable_name(self.target)
        if self.kind is Kind.FACTORY:
            adjective = {
                Shape.VALUE: "factory",
                Shape.AWAIT: "async factory",
                Shape.GENERATOR: "generator factory",
                Shape.ASYNC_GENERATOR: "async generator factory",
            }[self.shape]
            return f"{adjective} {name}()"
        return f"class {name}"


def shape_of(target: Callable[..., Any], returns_awaitable: bool) -> Shape:
    if inspect.isasyncgenfunction(target):
        return Shape.ASYNC_GENERATOR
    if inspect.isgeneratorfunction(target):
        return Shape.GENERATOR
    if inspect.iscoroutinefunction(target) or returns_awaitable:
        return Shape.AWAIT
    call = getattr(target, "__call__", None)  # noqa: B004 - a callable object's method
    if not inspect.isroutine(target) and not isinstance(target, type) and call is not None:
        return shape_of(call, returns_awaitable)
    return Shape.VALUE
