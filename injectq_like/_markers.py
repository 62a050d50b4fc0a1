"""The annotation markers: ``Inject[T]`` for a handler's injected parameters, ``Lazy[T]`` for late resolution.

They sit at the bottom of the package so that reading annotations
(``_signature``), checking keys and compiling resolvers can all recognise them
without importing anything above.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Generic, Protocol, TypeVar, final, get_origin

from ._keys import MISSING, describe, key_problem

__all__ = ["INJECT", "Inject", "Lazy", "Marker", "is_injected", "why_not_a_key"]

T = TypeVar("T")


class Marker:
    """Base of the annotation markers (``Inject``): metadata that is not part of the key."""

    __slots__ = ()


@final
class _InjectMarker(Marker):
    __slots__ = ()

    def __repr__(self) -> str:
        return "Inject"


INJECT: Final = _InjectMarker()

#: ``Inject[T]`` marks a handler parameter to be resolved as ``T``. To a type
#: checker it is ``T`` itself.
Inject = Annotated[T, INJECT]


def is_injected(annotation: Any) -> bool:
    """Whether an (evaluated) annotation is ``Inject[...]``."""
    return any(m is INJECT for m in getattr(annotation, "__metadata__", ()))


class Resolves(Protocol):
    """What a ``Lazy`` handle resolves in: a scope."""

    async def resolve(self, key: Any, /) -> Any: ...


@final
class Lazy(Generic[T]):
    """A handle resolving ``T`` on its first ``await handle()``, in the scope it was made in.

    Depend on ``Lazy[T]`` (or ``Inject[Lazy[T]]`` in a handler) for a
    dependency that is expensive and not always needed, or to break a cycle.
    """

    __slots__ = ("_key", "_scope", "_value")

    def __init__(self, scope: Resolves, key: Any) -> None:
        self._scope = scope
        self._key = key
        self._value: Any = MISSING

    async def __call__(self) -> T:
        value = self._value
        if value is MISSING:
            value = self._value = await self._scope.resolve(self._key)
        return value  # type: ignore[no-any-return]

    @property
    def resolved(self) -> bool:
        """Whether the value has been resolved already."""
        return self._value is not MISSING

    def __repr__(self) -> str:
        state = "resolved" if self.resolved else "not resolved yet"
        return f"<Lazy[{describe(self._key)}] {state}>"


def why_not_a_key(key: Any) -> str | None:
    """Why ``key`` cannot be a key, markers included, or ``None`` when it can."""
    base = key.__origin__ if get_origin(key) is Annotated else key
    if base is Lazy or get_origin(base) is Lazy:
        return "Lazy[T] is not a key: register T, and depend on Lazy[T] where it should be resolved late"
    return key_problem(key)
