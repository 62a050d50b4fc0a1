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


#: What a given context key stands for, once checked: (the level it belongs to, its slot, the class
#: its values must be instances of, or ``None``).
Target = tuple[Any, int, "type | None"]


def fill_context(
    scope: AsyncRequestScope,
    context: Mapping[Any, Any] | None,
    compiler: Compiler,
    slots: tuple[int, ...],
    targets: dict[Any, Target],
) -> None:
    """Put a new scope's context values in its cache: those of its parent of the same level
    (``slots`` are the context values' of that level), then those it is given.

    ``targets`` keeps what each key given so far stands for (this compiler's), so that a scope
    opened per request checks its keys with one lookup each.
    """
    level = scope.level
    cache = scope.cache
    if slots:
        parent = scope.parent
        same_level = parent.levels[level] if parent is not None else None
        if same_level is not None:
            for slot in slots:
                if slot in same_level.cache:
                    cache[slot] = same_level.cache[slot]
    if not context:
        return
    for given, value in context.items():
        try:
            owner, slot, expected = targets[given]
        except (KeyError, TypeError):  # the first time (an unhashable key is refused in full there)
            target = _target(given, level, compiler)
            targets[given] = target
            owner, slot, expected = target
        if owner is not level:
            raise _wrong_level(normalize(given), owner, level)
        if expected is not None:
            try:
                wrong = not isinstance(value, expected)
            except TypeError:  # a class that cannot be tested so: taken as given
                wrong = False
            if wrong:
                raise _not_an_instance(normalize(given), value)
        cache[slot] = value


def _target(given: Any, level: Any, compiler: Compiler) -> Target:
    key = normalize(given)
    provider = compiler.graph.provider(key)
    if provider is None or provider.kind is not Kind.CONTEXT:
        raise MissingProviderError(
            key,
            message=f"the scope was given a value for {describe(key)}, which is not a declared context value",
            hint=f"declare it first: container.register_context({describe(key)}, scope=Scope.{level.name})",
        )
    return provider.scope, compiler.slots[provider], runtime_class(key)


def _wrong_level(key: Any, owner: Any, level: Any) -> ScopeError:
    return ScopeError(
        f"{describe(key)} is a context value of {owner.name} scopes, but was given to a {level.name} scope",
        key=key,
        hint=f"pass it when opening the {owner.name} scope",
    )


def _not_an_instance(key: Any, value: Any) -> RegistrationError:
    return RegistrationError(
        f"the context value given for {describe(key)} is a {type(value).__qualname__}",
        key=key,
        hint=f"pass an instance of {describe(key)}",
    )
