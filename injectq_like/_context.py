"""Context values: what a new scope is given when it opens (``container.scope(context={...})``),
checked against the declared context values, and what it inherits from its parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._keys import describe, normalize, runtime_class
from ._plan import Compiler
from ._providers import Kind
from ._scope import AsyncRequestScope
from .exceptions import MissingProviderError, RegistrationError, ScopeError

__all__ = ["fill_context"]


def fill_context(
    scope: AsyncRequestScope,
    context: Mapping[Any, Any] | None,
    compiler: Compiler,
    slots: tuple[int, ...],
) -> None:
    """Put a new scope's context values in its cache: those of its parent of the same level
    (``slots`` are the context values' of that level), then those it is given.
    """
    level = scope.level
    cache = scope.cache
    parent = scope.parent
    same_level = parent.levels[level] if parent is not None else None
    if same_level is not None:
        for slot in slots:
            if slot in same_level.cache:
                cache[slot] = same_level.cache[slot]
    if not context:
        return
    for given, value in context.items():
        key = normalize(given)
        provider = compiler.graph.provider(key)
        if provider is None or provider.kind is not Kind.CONTEXT:
            raise MissingProviderError(
                key,
                message=f"the scope was given a value for {describe(key)}, which is not a declared context value",
                hint=f"declare it first: container.register_context({describe(key)}, scope=Scope.{level.name})",
            )
        if provider.scope is not level:
            raise ScopeError(
                f"{describe(key)} is a context value of {provider.scope.name} scopes, "
                f"but was given to a {level.name} scope",
                key=key,
                hint=f"pass it when opening the {provider.scope.name} scope",
            )
        _check_value(key, value)
        cache[compiler.slots[provider]] = value


def _check_value(key: Any, value: Any) -> None:
    expected = runtime_class(key)
    if expected is None:
        return
    try:
        ok = isinstance(value, expected)
    except TypeError:
        ok = True
    if not ok:
        raise RegistrationError(
            f"the context value given for {describe(key)} is a {type(value).__qualname__}",
            key=key,
            hint=f"pass an instance of {describe(key)}",
        )
