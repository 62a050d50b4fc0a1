"""Keys: what a key is, how keys are normalised and named in messages, and ``MISSING``.

A key is a type form that providers are registered against:

* a class (``Database``), including ``Protocol`` and ABC interfaces;
* a parametrised generic (``Repo[User]``), kept as the alias itself;
* a ``typing.NewType``;
* ``Annotated[T, Named("x")]`` for a qualified registration. Any other
  ``Annotated`` metadata is dropped, so ``Annotated[T, "doc"]`` is ``T``.

``list[T]`` and ``T | None`` are not keys: they are ways of *depending* on a
key, read by ``_signature``.
"""

from __future__ import annotations

import collections.abc
import enum
import functools
import operator
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Final, get_args, get_origin

import typing_inspect

__all__ = [
    "MISSING",
    "Named",
    "base_of",
    "describe",
    "describe_path",
    "key_problem",
    "name_of",
    "normalize",
    "runtime_class",
]


class _Missing(enum.Enum):
    """The sentinel for "not given", distinct from ``None``."""

    MISSING = enum.auto()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING


@dataclass(frozen=True, slots=True)
class Named:
    """Qualifies a key: ``Annotated[Cache, Named("redis")]``."""

    name: str

    def __post_init__(self) -> None:
        name: object = self.name
        if not isinstance(name, str) or not name:
            msg = f"Named() takes a non-empty string, got {self.name!r}"
            raise TypeError(msg)


_NOT_KEYS: Final = (typing.Any, type(None), None, typing.NoReturn, typing.Never)


def normalize(annotation: Any) -> Any:
    """The canonical key for a type form: one key for every spelling of one type.

    ``Annotated`` is reduced to its ``Named``; the ``typing`` aliases of
    builtins and of ``collections.abc`` become the builtins and ABCs
    themselves (``typing.List[int]`` is ``list[int]``, ``typing.Callable``
    is ``collections.abc.Callable``), inside other generics too; unions are
    written with ``|`` (``Optional[X]`` is ``X | None``).
    """
    origin: Any = get_origin(annotation)
    if origin is None:
        return annotation
    if origin is Annotated:
        named = next((m for m in annotation.__metadata__ if isinstance(m, Named)), None)
        base = normalize(annotation.__origin__)
        return base if named is None else Annotated[base, named]
    args = get_args(annotation)
    try:
        if typing_inspect.is_union_type(annotation):
            return functools.reduce(operator.or_, (normalize(arg) for arg in args))
        if not isinstance(origin, type):
            return annotation  # Literal, ClassVar and the like: left as written
        if not args:
            return origin  # a bare typing.List is list
        generic: Any = origin  # subscriptable: it was subscripted
        if generic is collections.abc.Callable and isinstance(args[0], list):
            return generic[[normalize(arg) for arg in args[0]], normalize(args[1])]
        return generic[tuple(normalize(arg) for arg in args)]
    except TypeError:  # a form that cannot be rebuilt (a string inside, say): kept as written
        return annotation


def base_of(key: Any) -> Any:
    """The key without its ``Named`` qualifier."""
    if get_origin(key) is Annotated:
        return key.__origin__
    return key


def name_of(key: Any) -> str | None:
    """The ``Named`` qualifier of a key, if any."""
    if get_origin(key) is Annotated:
        for meta in key.__metadata__:
            if isinstance(meta, Named):
                return meta.name
    return None


def key_problem(key: Any) -> str | None:
    """Why ``key`` cannot be a key, or ``None`` when it can (after ``normalize``).

    Markers (``Lazy[T]``) are recognised one level up, by ``_markers.why_not_a_key``.
    """
    base = base_of(key)
    if isinstance(base, str | typing.ForwardRef):
        return "a string is not a key: pass the type itself"
    if any(base is bad for bad in _NOT_KEYS):
        return f"{describe(base)} is not a key: register a concrete type"
    if isinstance(base, typing.TypeVar):
        return f"the type variable {base} is not a key: register a concrete type"
    if typing_inspect.is_union_type(base):
        for member in get_args(base):
            problem = None if member is type(None) else key_problem(member)
            if problem is not None:
                return f"in the union {describe(base)}: {problem}"
        return None
    origin = get_origin(base)
    if origin is not None:
        if origin is list:
            return "list[T] is not a key: register T with multi=True and depend on list[T]"
        if isinstance(origin, type):
            return None
    elif isinstance(base, type | typing.NewType):
        return None
    return f"{base!r} is not a type: keys are classes, generic aliases or NewTypes"


def runtime_class(key: Any) -> type | None:
    """The class an ``isinstance`` check can use for ``key``, if there is one (never for a union)."""
    base = base_of(key)
    if typing_inspect.is_union_type(base):
        return None  # types.UnionType is a class too, but no member is an instance of it
    while isinstance(base, typing.NewType):
        base = base.__supertype__
    origin = get_origin(base)
    if origin is not None:
        base = origin
    return base if isinstance(base, type) else None


def describe(key: Any) -> str:
    """A short, readable name for a key or annotation, for messages and graphs."""
    if get_origin(key) is Annotated:
        name = name_of(key)
        inner = describe(key.__origin__)
        return f'{inner} (named "{name}")' if name is not None else inner
    if isinstance(key, typing.NewType):
        return key.__name__
    if key is None or key is type(None):
        return "None"
    if key is Ellipsis:
        return "..."
    if isinstance(key, list):  # the parameters of Callable[[A, B], R]
        return f"[{', '.join(describe(arg) for arg in key)}]"
    if isinstance(key, type) and get_origin(key) is None:
        return key.__name__
    if typing_inspect.is_union_type(key):
        return " | ".join(describe(arg) for arg in get_args(key))
    origin = get_origin(key)
    if origin is not None:
        args = get_args(key)
        name = getattr(origin, "__name__", None) or repr(origin).removeprefix("typing.")
        if origin is typing.Literal:
            return f"Literal[{', '.join(repr(arg) for arg in args)}]"
        if args:
            return f"{name}[{', '.join(describe(a) for a in args)}]"
        return str(name)
    if isinstance(key, typing.TypeVar):
        return str(key)
    name = getattr(key, "__qualname__", None) or getattr(key, "__name__", None)
    if isinstance(name, str):
        return name.rpartition("<locals>.")[2]  # a handler defined in a function: its own name
    return repr(key).removeprefix("typing.")


def describe_path(path: typing.Iterable[Any]) -> str:
    return " -> ".join(describe(key) for key in path)
