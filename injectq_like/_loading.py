"""Finding the container a ``MODULE:ATTR`` target names, for the command line and the pytest plugin."""

from __future__ import annotations

import importlib
from typing import Any

from ._container import Container

__all__ = ["TargetError", "load_container"]


class TargetError(Exception):
    """A target that cannot be loaded. Each kind is also the builtin error it is a case of."""


class MalformedTarget(TargetError, ValueError):  # noqa: N818 - named for what it is, like the builtins it joins
    """Not of the form ``module:attribute``."""


class UnimportableTarget(TargetError, ImportError):  # noqa: N818
    """Its module cannot be imported."""


class MissingTarget(TargetError, AttributeError):  # noqa: N818
    """Its module has no such attribute."""


class NotAContainer(TargetError, TypeError):  # noqa: N818
    """It names something else than a container (or a function returning one)."""


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise MalformedTarget(f"{target!r} is not of the form module:attribute (for example myapp.di:container)")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise UnimportableTarget(f"cannot import {module_name!r}: {error}", name=module_name) from error
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise MissingTarget(f"{module_name!r} has no attribute {attribute!r}") from None
    return found


def load_container(target: str) -> Container:
    """The container named by ``module:attribute``; a zero-argument function named there is called.

    A target that cannot be loaded is a ``TargetError`` that is also a
    ``ValueError`` (malformed), ``ImportError``, ``AttributeError`` (no such
    attribute) or ``TypeError`` (not a container); whatever the module itself
    raises while it is imported (a ``DIError`` while it builds its container,
    say) propagates unchanged.
    """
    found = _load(target)
    if callable(found) and not isinstance(found, Container):
        found = found()
    if not isinstance(found, Container):
        raise NotAContainer(f"{target} is a {type(found).__name__}, not a Container (or a function returning one)")
    return found
