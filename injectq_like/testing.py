"""A pytest plugin for testing code that uses injectq_like.

Installed with the package (entry point ``pytest11``), it offers three fixtures:

``di_container``
    The container under test. Override this fixture in your ``conftest.py``
    to return yours, or name it in the ``injectq_like_container`` ini option
    as ``module:attribute`` (a ``Container``, or a zero-argument function
    returning a fresh one for each test).

``di_scope``
    An open REQUEST scope of ``di_container`` for the duration of an async
    test (run it with ``@pytest.mark.anyio``); closed, with every cleanup run,
    when the test ends.

``di_override``
    A helper that overrides providers of ``di_container`` for the rest of
    the test: ``di_override(Database, instance=fake)``. Every override it
    made is undone when the test ends, even when it fails. Pass
    ``local=True`` to keep an override to the test's own context.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, final

import pytest

from ._container import Container
from ._loading import load_container
from ._overrides import Override
from ._scope import AsyncRequestScope

__all__ = ["Overrides", "di_container", "di_override", "di_scope", "load_container"]

INI_OPTION = "injectq_like_container"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        "the container under test, as module:attribute (a Container, or a function returning one)",
        default="",
    )


@pytest.fixture
def di_container(request: pytest.FixtureRequest) -> Container:
    """The container under test: override this fixture, or set the ``injectq_like_container`` ini option."""
    target = str(request.config.getini(INI_OPTION))
    if not target:
        pytest.fail(
            "the di_container fixture needs your container: define a `di_container` fixture in "
            f"conftest.py that returns it, or set `{INI_OPTION} = module:attribute` in the pytest configuration",
            pytrace=False,
        )
    return load_container(target)


@pytest.fixture
async def di_scope(di_container: Container) -> AsyncIterator[AsyncRequestScope]:
    """An open REQUEST scope of ``di_container``, closed when the test ends."""
    async with di_container.scope() as scope:
        yield scope


@final
class Overrides:
    """Overrides providers of one container until :meth:`undo` (the fixture calls it at teardown)."""

    __slots__ = ("_container", "_stack")

    def __init__(self, container: Container) -> None:
        self._container = container
        self._stack = contextlib.ExitStack()

    def __call__(
        self,
        key: Any,
        implementation: Any = None,
        /,
        *,
        local: bool = False,
        **options: Any,
    ) -> Override:
        """Override ``key`` (arguments as for ``container.override``) for the rest of the test."""
        arguments = (key,) if implementation is None else (key, implementation)
        override = self._container.override(*arguments, local=local, **options)
        return self._stack.enter_context(override)

    def undo(self) -> None:
        """Undo every override made through this helper, the latest first."""
        self._stack.close()


@pytest.fixture
def di_override(di_container: Container) -> Iterator[Callable[..., Override]]:
    """Override providers for the rest of the test: ``di_override(Database, instance=fake)``."""
    overrides = Overrides(di_container)
    try:
        yield overrides
    finally:
        overrides.undo()
