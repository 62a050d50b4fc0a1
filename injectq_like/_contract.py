"""What compiled resolvers, scopes, cleanup and the runtime share.

The words, once:

* a *slot* is a provider's place in the scope caches (an ``int``); an
  override layer gives new slots to the providers it replaces;
* a *resolver* is a function compiled from the graph that takes a scope and
  returns an instance of a key (``Resolver``); in async mode it may be a
  coroutine function, so compiling gives a ``CompiledResolver``:
  ``(resolver, awaits)``;
* a scope's *exits* are the cleanups it owes, in creation order, each an
  ``Exit``: (the slot of the provider it cleans up, or ``CALLBACK_SLOT`` for
  an ``on_close`` callback; how to close it; the object to close);
* a scope's *state* goes ``NEW`` -> ``OPEN`` -> ``CLOSING`` -> ``CLOSED``.

``ScopeRuntime`` is what a scope needs from the container it belongs to,
and ``CleanupFacts`` what closing needs: the scope depends on these
protocols, never on the container itself.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol

from ._providers import Provider, Scope

__all__ = [
    "ASYNC",
    "ASYNC_CONTEXT_MANAGER",
    "ASYNC_GENERATOR",
    "CALLBACK",
    "CALLBACK_SLOT",
    "CLOSED",
    "CLOSING",
    "CONTEXT_MANAGER",
    "GENERATOR",
    "MAY_AWAIT",
    "NEW",
    "OPEN",
    "SYNC",
    "CleanupFacts",
    "CompiledResolver",
    "Exit",
    "Mode",
    "Resolver",
    "ScopeRuntime",
]

# How an exit is closed.
GENERATOR: Final = 0  # a generator factory's generator: finish it
ASYNC_GENERATOR: Final = 1  # an async generator factory's: finish it
CONTEXT_MANAGER: Final = 2  # an enter=True instance: __exit__
ASYNC_CONTEXT_MANAGER: Final = 3  # an enter=True instance: __aexit__
CALLBACK: Final = 4  # an on_close callback: call it, await what it returns
MAY_AWAIT: Final = frozenset({ASYNC_GENERATOR, ASYNC_CONTEXT_MANAGER, CALLBACK})

#: The slot of an exit that cleans up no provider's instance (an ``on_close`` callback).
CALLBACK_SLOT: Final = -1

Exit = tuple[int, int, Any]

# A scope's state.
NEW: Final = 0
OPEN: Final = 1
CLOSING: Final = 2
CLOSED: Final = 3


class Mode(enum.Enum):
    """The two ways a key is compiled."""

    SYNC = "sync"  # for resolve_sync: an async provider raises AsyncProviderError
    ASYNC = "async"  # for resolve: only what needs the event loop is awaited


SYNC: Final = Mode.SYNC
ASYNC: Final = Mode.ASYNC

Resolver = Callable[[Any], Any]
CompiledResolver = tuple[Resolver, bool]  # the resolver, and whether its result must be awaited (never, in sync mode)


class CleanupFacts(Protocol):
    """What closing a scope needs to know about the providers whose instances it cleans up."""

    @property
    def quiet_cleanups(self) -> set[int]:
        """Slots whose async cleanups have always finished without waiting."""

    def closure(self, slot: int) -> frozenset[int]:
        """The slots the provider at ``slot`` depends on, directly or not."""

    def provider_at(self, slot: int) -> Provider:
        """The provider a slot was given to."""


class ScopeRuntime(CleanupFacts, Protocol):
    """What a scope needs from its container at run time."""

    @property
    def async_resolvers(self) -> Mapping[Any, CompiledResolver]:
        """The compiled async resolvers by key (empty while only the slow path may be used)."""

    @property
    def sync_resolvers(self) -> Mapping[Any, Resolver]:
        """The compiled sync resolvers by key (likewise)."""

    @property
    def quiet_creations(self) -> set[int]:
        """Slots whose async creations have always finished without waiting."""

    @property
    def scopes_lock(self) -> threading.RLock:
        """The lock that sync creation in every scope but the APP one takes."""

    @property
    def frozen(self) -> bool:
        """Whether the registry is frozen (and ``autouse_runners`` is filled in)."""

    @property
    def autouse_runners(self) -> Mapping[Scope, Callable[[Any], Awaitable[None]]]:
        """What a new scope of each level runs when it opens (levels without autouse: absent)."""

    @property
    def context_slots(self) -> Mapping[Scope, tuple[int, ...]]:
        """The slots of the context values of each level (filled in only once frozen; levels
        without any are absent).
        """

    def async_resolver(self, key: Any) -> Awaitable[CompiledResolver]:
        """The slow path of ``resolve``: freeze, compile and start as needed."""

    def sync_resolver(self, key: Any) -> Resolver:
        """The slow path of ``resolve_sync``."""

    def provides(self, key: Any) -> bool:
        """Whether ``key`` has a provider in the layer this context resolves with."""

    @property
    def sync_autouse_runners(self) -> Mapping[Scope, Callable[[Any], None]]:
        """What a new scope of each level entered with ``with`` runs when it opens."""

    def sync_autouse_runner(self, level: Scope) -> Callable[[Any], None] | None:
        """Likewise, before the registry is frozen (it freezes it if there is something to run)."""

    def autouse_runner(self, level: Scope) -> Callable[[Any], Awaitable[None]] | None:
        """What a new scope of ``level`` runs when it opens, ``None`` when nothing."""

    def fill_context(self, scope: Any, context: Mapping[Any, Any] | None) -> None:
        """Put a new scope's context values in its cache."""

    def child_scope(self, parent: Any, level: Scope, context: Mapping[Any, Any] | None) -> Any:
        """A new scope of ``level`` inside ``parent``, after checking the nesting rules."""
