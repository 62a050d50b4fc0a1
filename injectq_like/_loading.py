"""Finding the container a ``MODULE:ATTR`` target names, for the command line and the pytest plugin."""

from __future__ import annotations

import importlib
from typing import Any

from ._container import Container
from .exceptions import DIError

__all__ = ["TargetError", "load_container"]


class TargetError(LookupError):
    """A ``MODULE:ATTR`` target that cannot be imported or found; the message says why."""


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise TargetError(f"{target!r} is not of the form MODULE:ATTR (for example myapp.di:container)")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(f"cannot import {module_name!r}: {error}") from None
    except DIError:
        raise  # the module's container is wrong: the caller reports it as invalid
    except Exception as error:  # noqa: BLE001 - any failure to import is reported, never a traceback
        raise TargetError(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise TargetError(f"{module_name!r} has no attribute {attribute!r}") from None
    return found


def load_container(target: str) -> Container:
    """The container named by ``MODULE:ATTR``; a zero-argument function named there is called.

    Raises ``TargetError`` when the target cannot be imported or found, and lets
    a ``DIError`` raised while its module builds the container through.
    """
    found = _load(target)
    if callable(found) and not isinstance(found, Container):
        found = found()
    if not isinstance(found, Container):
        raise TargetError(f"{target} is a {type(found).__name__}, not a Container (or a function returning one)")
    return found
