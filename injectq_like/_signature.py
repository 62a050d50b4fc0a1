"""Reading a class's ``__init__`` or a factory's parameters into dependencies.

This runs once per callable, the first time the graph needs its edges
(when a resolver is compiled or ``validate()`` walks the graph); nothing here is
on the per-resolve path. Annotations are evaluated at that point, so string
annotations and ``from __future__ import annotations`` work as long as the
names exist at runtime (a name imported only under ``TYPE_CHECKING`` is an
``AnnotationError`` that says so).
"""

from __future__ import annotations

import enum
import functools
import inspect
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, get_args, get_origin

import typing_inspect

from ._keys import Named, describe, name_of, normalize
from ._markers import Lazy, Marker, why_not_a_key
from .exceptions import AnnotationError

__all__ = [
    "DepKind",
    "Dependency",
    "analyse",
    "annotated_function",
    "callable_name",
    "named_key",
    "read_dependencies",
    "type_hints",
]

_EMPTY: Final = inspect.Parameter.empty


class DepKind(enum.Enum):
    PLAIN = "plain"  # T
    OPTIONAL = "optional"  # T | None: None when T is not registered
    LIST = "list"  # list[T]: every multi=True provider of T
    LAZY = "lazy"  # Lazy[T]: a handle resolved on first await


@dataclass(frozen=True, slots=True)
class Dependency:
    """One parameter of a provider or handler, read from its annotation."""

    name: str
    key: Any  # the normalised key (for LIST and LAZY: of the element / target)
    kind: DepKind
    positional_only: bool
    has_default: bool
    annotation: Any  # as written, for messages
    marked: bool = False  # annotated with a Marker (Inject[...])
    keyword_only: bool = False


def callable_name(target: Any) -> str:
    """``Class`` / ``function`` / ``Class.method`` as written, without ``<locals>`` noise."""
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not name:
        return repr(target)
    return str(name).rpartition("<locals>.")[2]


def named_key(key: Any, name: str) -> Any:
    """``resolve(key, name=name)``'s key: ``Annotated[key, Named(name)]``."""
    if name_of(normalize(key)) is not None:
        raise AnnotationError(
            f"{describe(key)} is already qualified by Named(...); name={name!r} would qualify it twice",
            owner="resolve()",
            parameter="name",
            hint="pass either name= or an Annotated[T, Named(...)] key, not both",
        )
    given: object = name
    if not isinstance(given, str) or not given:
        raise AnnotationError(
            f"name={name!r} must be a non-empty string",
            owner="resolve()",
            parameter="name",
            hint=f'resolve({describe(key)}, name="primary")',
        )
    return Annotated[key, Named(name)]


def analyse(annotation: Any, *, owner: str, parameter: str) -> tuple[Any, DepKind, bool]:
    """Split an annotation into (key, how it is depended on, whether it carries a Marker)."""
    marked = False
    if get_origin(annotation) is Annotated:
        metadata = annotation.__metadata__
        marked = any(isinstance(m, Marker) for m in metadata)
        rest = tuple(m for m in metadata if not isinstance(m, Marker))
        base = annotation.__origin__
        annotation = Annotated[(base, *rest)] if rest else base

    kind = DepKind.PLAIN
    inner = annotation
    origin = get_origin(inner)
    if typing_inspect.is_optional_type(inner) and typing_inspect.is_union_type(inner):
        members = [a for a in get_args(inner) if a is not type(None)]
        if len(members) == 1:  # T | None: the union's provider if it has one, else T's, else None
            kind, inner = DepKind.OPTIONAL, members[0]
    elif origin is list:
        (element,) = get_args(inner) or (typing.Any,)
        kind, inner = DepKind.LIST, element
    elif origin is Lazy:
        (target,) = get_args(inner)
        kind, inner = DepKind.LAZY, target
    elif inner is Lazy:
        raise _unusable(owner, parameter, annotation, "Lazy needs a type argument: Lazy[T]")

    key = normalize(inner)
    problem = why_not_a_key(key)
    if problem is not None:
        raise _unusable(owner, parameter, annotation, problem)
    return key, kind, marked


def _unusable(owner: str, parameter: str, annotation: Any, why: str) -> AnnotationError:
    return AnnotationError(
        f"parameter {parameter!r} of {owner} is annotated {describe(annotation)}: {why}",
        owner=owner,
        parameter=parameter,
        hint="annotate it with the registered type it needs",
    )


def _namespace_of(target: type) -> tuple[dict[str, Any], dict[str, Any]]:
    module = sys.modules.get(target.__module__)
    globalns = dict(vars(module)) if module is not None else {}
    return globalns, {target.__name__: target}


def type_hints(
    function: Any,
    *,
    owner: str,
    namespace_of: type | None = None,
    fallback: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``typing.get_type_hints`` with errors that name the parameter and say what to do.

    ``fallback`` maps names to types (the registered ones) for string
    annotations naming a class that is not in the module's globals, such as
    a class defined inside a function; the module's own names always win.
    """
    globalns, localns = _namespace_of(namespace_of) if namespace_of is not None else (None, None)
    try:
        try:
            return typing.get_type_hints(function, globalns=globalns, localns=localns, include_extras=True)
        except NameError:
            if not fallback:
                raise
            module_globals = globalns if globalns is not None else getattr(function, "__globals__", {})
            merged = {**fallback, **module_globals}
            return typing.get_type_hints(function, globalns=merged, localns=localns, include_extras=True)
    except NameError as error:
        missing = error.name or str(error)
        parameter = _parameter_naming(function, missing)
        where = f"parameter {parameter!r} of {owner}" if parameter else owner
        raise AnnotationError(
            f"cannot evaluate the annotation of {where}: name {missing!r} is not defined at runtime",
            owner=owner,
            parameter=parameter,
            hint=(
                f"injectq_like reads annotations when it builds the graph; if {missing} is imported "
                "only under `if TYPE_CHECKING:`, import it at runtime (or register it, if it is a "
                "class defined inside a function)"
            ),
        ) from None
    except Exception as error:  # noqa: BLE001 - a malformed string annotation, say: reported, not hidden
        raise AnnotationError(
            f"cannot evaluate the annotations of {owner}: {error}",
            owner=owner,
            hint="fix the annotation so that typing.get_type_hints() can evaluate it",
        ) from None


def _parameter_naming(function: Any, name: str) -> str | None:
    annotations = getattr(function, "__annotations__", {})
    for parameter, annotation in annotations.items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__forward_arg__", "")
        if isinstance(text, str) and name in text:
            return str(parameter)
    return None


def _init_of(cls: type) -> Callable[..., Any] | None:
    init: Callable[..., Any] = cls.__init__  # type: ignore[misc] # the class's own constructor
    if init is object.__init__:
        return None
    return init


def read_dependencies(
    target: Callable[..., Any],
    *,
    only_marked: bool = False,
    fallback: Mapping[str, Any] | None = None,
) -> tuple[Dependency, ...]:
    """The dependencies of a class (from ``__init__``) or of a function.

    With ``only_marked``, only parameters annotated with a ``Marker``
    (``Inject[T]``) are returned: every other parameter is the caller's.
    """
    owner = callable_name(target)
    if isinstance(target, type):
        function = _init_of(target)
        if function is None:
            return ()
        owner = f"{owner}.__init__"
        hints = type_hints(function, owner=owner, namespace_of=target, fallback=fallback)
        parameters = list(inspect.signature(function).parameters.values())[1:]
    else:
        function = annotated_function(target)
        hints = type_hints(function, owner=owner, fallback=fallback)
        parameters = list(inspect.signature(target).parameters.values())

    dependencies = []
    for parameter in parameters:
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        has_default = parameter.default is not _EMPTY
        annotation = hints.get(parameter.name, _EMPTY)
        if annotation is _EMPTY:
            if has_default or only_marked:
                continue
            raise AnnotationError(
                f"parameter {parameter.name!r} of {owner} has no annotation",
                owner=owner,
                parameter=parameter.name,
                hint="annotate it with the type to inject, or give it a default",
            )
        if only_marked and not _has_marker(annotation):
            continue
        key, kind, marked = analyse(annotation, owner=owner, parameter=parameter.name)
        dependencies.append(
            Dependency(
                name=parameter.name,
                key=key,
                kind=kind,
                positional_only=parameter.kind is inspect.Parameter.POSITIONAL_ONLY,
                keyword_only=parameter.kind is inspect.Parameter.KEYWORD_ONLY,
                has_default=has_default,
                annotation=annotation,
                marked=marked,
            )
        )
    return tuple(dependencies)


def annotated_function(target: Any) -> Any:
    """Where a callable's annotations live: a partial's function, a callable object's ``__call__``."""
    while isinstance(target, functools.partial):
        target = target.func
    call = getattr(target, "__call__", None)  # noqa: B004 - a callable object
    if not inspect.isroutine(target) and call is not None and inspect.ismethod(call):
        return call
    return target


def _has_marker(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and any(isinstance(m, Marker) for m in annotation.__metadata__)
