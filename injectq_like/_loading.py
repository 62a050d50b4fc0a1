"""Finding the container a ``MODULE:ATTR`` target names (directly, or through an app an
integration was set up on), for the command line and the pytest plugin.
"""

from __future__ import annotations

import importlib
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ._container import Container

__all__ = ["TargetError", "installed_on", "load_container", "load_target", "register_app"]


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


#: What lists an app's ``@inject`` handlers, given the app.
Handlers = Callable[[Any], Iterable[Callable[..., Any]]]

#: Apps an integration's ``setup`` was called on: their container (``None`` when the app is the
#: container itself, as for Django), and what finds their handlers. Nothing in a value refers to its
#: app, so an app that is dropped is freed, and its entry with it.
_APPS: weakref.WeakKeyDictionary[Any, tuple[Container | None, Handlers]] = weakref.WeakKeyDictionary()


_STRONG: dict[int, tuple[Any, Container, Handlers]] = {}


def register_app(app: Any, container: Container, handlers: Handlers) -> None:
    """Remember that ``setup(app, container)`` was called (for ``python -m injectq_like check MODULE:APP``);
    ``handlers(app)`` lists the app's ``@inject`` handlers. Neither ``container`` nor ``handlers``
    should keep ``app`` alive (pass a function of the app, not a closure over it).
    """
    try:
        _APPS[app] = (None if container is app else container, handlers)
    except TypeError:  # an app that cannot be weakly referenced (Litestar's): kept for the process's life
        _STRONG[id(app)] = (app, container, handlers)


def installed_on(app: Any) -> Container | None:
    """The container an integration's ``setup`` installed on ``app``, if any."""
    found = _registered(app)
    return found[0] if found is not None else None


def load_target(target: str) -> tuple[Container, list[Callable[..., Any]]]:
    """The container a ``module:attribute`` target names, with the ``@inject`` handlers to check with
    it: none for a container, the app's for an app an integration's ``setup`` was called on.
    """
    found = _load(target)
    app = _registered(found)
    if app is None and callable(found) and not isinstance(found, Container):
        found = found()
        app = _registered(found)
    if app is not None:
        container, handlers = app
        return container, list(handlers(found))
    if not isinstance(found, Container):
        raise NotAContainer(
            f"{target} is a {type(found).__name__}, not a Container, a function returning one, "
            "or an app an integration's setup() was called on"
        )
    return found, []


def _registered(found: Any) -> tuple[Container, Handlers] | None:
    try:
        entry = _APPS.get(found)
    except TypeError:
        kept = _STRONG.get(id(found))
        return (kept[1], kept[2]) if kept is not None and kept[0] is found else None
    if entry is None:
        return None
    container, handlers = entry
    return (found if container is None else container), handlers


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
