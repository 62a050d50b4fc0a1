"""What a failed resolution says: the errors compiled resolvers raise, and the note naming
the resolution path of a failure that leaves a root resolver.

Everything here runs only when something went wrong.
"""

from __future__ import annotations

import threading
from types import CodeType, TracebackType
from typing import Any, Final

from ._graph import Graph
from ._keys import describe, describe_path
from ._providers import Kind, Provider
from .exceptions import AsyncProviderError, DIError, MissingProviderError, NoActiveScopeError

__all__ = ["PATH_NOTE", "PathNotes", "async_cleanup_in_sync_scope", "async_provider", "no_context", "no_scope"]

#: The start of the note naming where a failure was raised.
PATH_NOTE: Final = "injectq_like: raised"


def no_scope(provider: Provider) -> DIError:
    """A provider of a SESSION or REQUEST lifetime was needed with no such scope open."""
    return NoActiveScopeError(provider.key, provider.scope)


def no_context(provider: Provider) -> DIError:
    """A context value was needed that the open scopes were not given."""
    return MissingProviderError(
        provider.key,
        context=True,
        hint=(
            f"pass it when opening the {provider.scope.name} scope: "
            f"container.scope(context={{{describe(provider.key)}: value}})"
        ),
    )


def async_provider(provider: Provider) -> DIError:
    """``resolve_sync`` reached an async provider whose instance does not exist yet."""
    return AsyncProviderError(provider.key, provider.describe())


def async_cleanup_in_sync_scope(provider: Provider) -> DIError:
    """An instance whose cleanup is async was to be held by a scope entered with ``with``."""
    how = "an async context manager (enter=True)" if provider.async_enter else "async after its yield"
    return AsyncProviderError(
        provider.key,
        provider.describe(),
        message=f"{describe(provider.key)} is provided by the {provider.describe()}, whose cleanup is {how}, "
        f"but the {provider.scope.name if provider.cached else 'current'} scope that would hold it was "
        "entered with `with` and closes without an event loop",
        hint="enter that scope with `async with`, or give the provider a sync cleanup "
        "(a generator factory, or a sync context manager)",
    )


class PathNotes:
    """Adds the resolution path to an error leaving a root resolver (the slow path only)."""

    __slots__ = ("_codes", "_lock", "graph")

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._codes: dict[CodeType, Provider] | None = None
        self._lock = threading.Lock()

    def add(self, root: Provider | None, key: Any, error: BaseException) -> None:
        """Give ``error`` its path: a ``DIError`` in its fields, any other exception in a note."""
        if isinstance(error, DIError):
            if error.key is not None:
                error.with_path(self.graph.path(root, error.key) if root is not None else (key, error.key))
            return
        if not isinstance(error, Exception):
            return  # cancellation and the like pass through untouched
        if any(note.startswith(PATH_NOTE) for note in getattr(error, "__notes__", ())):
            return
        culprit = self._culprit(error.__traceback__)
        if culprit is None:
            error.add_note(f"{PATH_NOTE} while resolving {describe(key)}")
            return
        path = self.graph.path(root, culprit.key) if root is not None else (key, culprit.key)
        error.add_note(f"{PATH_NOTE} by {culprit.describe()} while resolving {describe_path(path)}")

    def _culprit(self, traceback: TracebackType | None) -> Provider | None:
        """The innermost provider whose own code is in the traceback."""
        codes = self._codes
        if codes is None:
            with self._lock:
                codes = {}
                for provider in self.graph.providers:
                    target = provider.target
                    if provider.kind is Kind.CLASS:
                        target = getattr(target, "__init__", None)
                    code = getattr(target, "__code__", None)
                    if isinstance(code, CodeType):
                        codes.setdefault(code, provider)
                self._codes = codes
        found = None
        while traceback is not None:
            found = codes.get(traceback.tb_frame.f_code, found)
            traceback = traceback.tb_next
        return found
