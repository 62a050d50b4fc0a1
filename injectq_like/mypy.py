"""A mypy plugin that shows mypy an ``@inject`` function as its callers see it.

Enable it in the mypy configuration::

    [tool.mypy]
    plugins = ["injectq_like.mypy"]

Without it, a call of an ``@inject`` function that leaves out its injected
arguments type-checks and keeps its return type, but the caller's own
arguments are not checked. With it, the decorated function keeps its
signature, with each ``Inject[...]`` parameter made optional: a missing or
wrongly typed argument of the caller's is an error, and an injected one
passed explicitly is checked against its type. An injected parameter that
comes before one of the caller's positional parameters becomes
keyword-only, as the wrapper's visible signature says at run time (a call
passing every argument positionally, in the function's own order, is
accepted too).

The plugin recognises ``Inject`` however it was imported (``Inject``,
``injectq_like.Inject``, or under another name) by looking the written name
up in the module that defines the function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mypy.nodes import ARG_NAMED, ARG_NAMED_OPT, ARG_OPT, ARG_POS, ARG_STAR2, ArgKind, FuncDef
from mypy.plugin import FunctionContext, MethodContext, Plugin
from mypy.types import CallableType, Overloaded, Type, UnboundType, get_proper_type

__all__ = ["InjectPlugin", "plugin"]

#: Where ``Inject`` is defined, and the names it is re-exported under.
_INJECT: Final = frozenset({"injectq_like._markers.Inject", "injectq_like.Inject"})
_DECORATOR: Final = "injectq_like._inject.inject"  # @inject
_DECORATOR_CALL: Final = "injectq_like._inject.InjectDecorator.__call__"  # @inject(...)


class InjectPlugin(Plugin):
    """Gives the type of ``@inject`` and ``@inject(...)`` applied to a function."""

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        return _decorated if fullname == _DECORATOR else None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return _decorated if fullname == _DECORATOR_CALL else None


def plugin(version: str) -> type[Plugin]:  # noqa: ARG001 - mypy's entry point; every supported mypy takes this
    """mypy's entry point."""
    return InjectPlugin


def _decorated(ctx: FunctionContext | MethodContext) -> Type:
    """The decorated function's own type, its injected parameters made optional."""
    if not ctx.arg_types or not ctx.arg_types[0]:
        return ctx.default_return_type
    function = get_proper_type(ctx.arg_types[0][0])
    if not isinstance(function, CallableType):
        return ctx.default_return_type
    definition = function.definition
    written = definition.unanalyzed_type if isinstance(definition, FuncDef) else None
    if not isinstance(written, CallableType) or len(written.arg_types) != len(function.arg_types):
        return ctx.default_return_type
    injected = [_is_inject(annotation, ctx) for annotation in written.arg_types]
    return _as_called(function, injected)


def _is_inject(annotation: Type, ctx: FunctionContext | MethodContext) -> bool:
    """Whether a parameter's annotation, as written, is ``Inject[...]``."""
    if not isinstance(annotation, UnboundType) or not annotation.args:
        return False
    name = annotation.name
    if name in _INJECT:
        return True
    try:  # the checker looks the name up in the module that defines the function
        symbol = ctx.api.lookup_qualified(name)  # type: ignore[attr-defined]
    except (KeyError, AssertionError):  # a name mypy cannot find: not ours
        return False
    node = getattr(symbol, "node", None)
    return getattr(node, "fullname", None) in _INJECT


def _as_called(function: CallableType, injected: list[bool]) -> CallableType | Overloaded:
    """``function`` with its injected parameters optional; those before a caller's positional
    parameter become keyword-only (moved after the positional ones).
    """
    last_callers_positional = max(
        (n for n, kind in enumerate(function.arg_kinds) if kind in (ARG_POS, ARG_OPT) and not injected[n]),
        default=-1,
    )
    kept: list[tuple[ArgKind, str | None, Type]] = []
    moved: list[tuple[ArgKind, str | None, Type]] = []
    for n, (kind, name, annotation) in enumerate(
        zip(function.arg_kinds, function.arg_names, function.arg_types, strict=True)
    ):
        if not injected[n]:
            kept.append((kind, name, annotation))
        elif kind in (ARG_POS, ARG_OPT) and n < last_callers_positional and name is not None:
            moved.append((ARG_NAMED_OPT, name, annotation))
        elif kind is ARG_POS:
            kept.append((ARG_OPT, name, annotation))
        elif kind is ARG_NAMED:
            kept.append((ARG_NAMED_OPT, name, annotation))
        else:
            kept.append((kind, name, annotation))
    if moved:  # keyword-only: after the positional parameters and *args, before **kwargs
        keyword = (ARG_NAMED, ARG_NAMED_OPT, ARG_STAR2)
        at = next((n for n, (kind, _, _) in enumerate(kept) if kind in keyword), len(kept))
        kept[at:at] = moved
    kinds, names, types = zip(*kept, strict=True) if kept else ((), (), ())
    called = function.copy_modified(arg_kinds=list(kinds), arg_names=list(names), arg_types=list(types))
    if moved:  # every argument passed positionally: the function's own positions, as at run time
        return Overloaded([called, function])
    return called
