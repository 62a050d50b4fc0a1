"""``AsyncRequestScope``: the instance cache of one lifetime level, bound to a ``ContextVar``
while open (entered with ``async with`` or ``with``), closed by running its exits (``_cleanup``).

A scope holds the instances of its own level in ``cache`` (slot ->
instance) and reaches the longer-lived ones through ``levels``, a tuple
indexed by ``Scope`` whose items are the nearest open scope of each level
(``levels[Scope.APP]`` is always the container's root scope). Compiled
resolvers read and fill these directly. A scope knows its container only as
a ``ScopeRuntime`` (``_contract``): the per-request object refers to the
long-lived one, never the reverse.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, final, overload

from ._cleanup import FINISHED, first_step, grouped, needs_event_loop, run_exits, run_exits_sync, run_stepped
from ._contract import ASYNC_GENERATOR, CALLBACK, CALLBACK_SLOT, CLOSED, CLOSING, NEW, OPEN, Exit, ScopeRuntime
from ._providers import Scope
from ._signature import named_key
from .exceptions import DIError, RegistrationError, ScopeError

if TYPE_CHECKING:
    from typing_extensions import TypeForm  # a type checker's name; never imported at run time

__all__ = ["CURRENT", "AsyncRequestScope", "is_async_callable", "not_open"]

T = TypeVar("T")

#: The innermost open scope in this context, of any container. Each scope
#: remembers the one it replaced (``outer``), so a container finds its own
#: current scope by walking that chain.
CURRENT: Final[ContextVar[AsyncRequestScope | None]] = ContextVar("injectq_like_current_scope", default=None)

_NO_LEVELS: Final[tuple[None, None, None]] = (None, None, None)


@final
class AsyncRequestScope:
    """An open scope of one lifetime level: ``async with container.scope() as scope:``.

    It caches the instances of its level, sees its ancestors' longer-lived
    ones, is the current scope of its container while open (so
    ``container.resolve`` and ``@inject`` resolve here), and disposes of what
    it created when it closes.

    Its public API is ``level``, ``parent``, ``closed``, ``resolve``,
    ``resolve_sync``, ``scope`` and ``on_close``, and it is entered with
    ``async with`` or, in sync code, ``with``. The other attributes (``cache``,
    ``levels``, ``exits``, ``pending``, ``lock``, ``sync``, read by compiled
    resolvers; ``state``, ``runtime``, ``outer``, read by the container's
    runtime) are the library's own: not for use by applications.
    """

    __slots__ = (
        "__weakref__",
        "_outer",
        "_parent",
        "_token",
        "cache",
        "exits",
        "level",
        "levels",
        "lock",
        "pending",
        "runtime",
        "state",
        "sync",
    )

    def __init__(
        self,
        runtime: ScopeRuntime,
        level: Scope,
        parent: AsyncRequestScope | None,
        context: Mapping[Any, Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.level = level
        self._parent = parent
        self.cache: dict[int, Any] = {}
        self.exits: list[Exit] = []
        # Creations under way, made on the first async creation of a cached instance.
        self.pending: dict[int, Any] | None = None
        self._token: Token[AsyncRequestScope | None] | None = None  # while bound
        self.state = NEW
        self.sync = False  # entered with `with`: it must never hold an async cleanup
        if parent is None:
            self.levels: tuple[AsyncRequestScope | None, ...] = (self, None, None)
            self.lock: threading.RLock = threading.RLock()  # the APP scope has a lock of its own
        else:
            above = parent.levels
            if level == 2:  # noqa: PLR2004 - REQUEST, the common case: the last of the three
                self.levels = (above[0], above[1], self)
            else:
                levels = list(above)
                levels[level] = self
                self.levels = tuple(levels)
            # Sync creation of cached instances, across threads: the APP scope has its own
            # lock; the others share their container's (they never wait for each other's
            # instances, and an APP instance never waits for theirs).
            self.lock = runtime.scopes_lock
        if context or (level in runtime.context_slots and parent is not None):
            runtime.fill_context(self, context)

    def __repr__(self) -> str:
        state = ("new", "open", "closing", "closed")[self.state]
        return f"<AsyncRequestScope {self.level.name} {state}, {len(self.cache)} cached>"

    @property
    def parent(self) -> AsyncRequestScope | None:
        """The scope this one was opened in (``None`` for the container's APP scope)."""
        return self._parent

    @property
    def closed(self) -> bool:
        return self.state == CLOSED

    @property
    def outer(self) -> AsyncRequestScope | None:
        """The scope that was current where this one was entered (the ``CURRENT`` chain)."""
        token = self._token
        # Unbound: what it was when the scope was closed (a task started inside it may still
        # have it as its current scope), else nothing.
        outer = token.old_value if token is not None else getattr(self, "_outer", None)
        return None if outer is Token.MISSING else outer

    # -- resolution --------------------------------------------------------------

    @overload
    async def resolve(self, key: type[T], /, *, name: str | None = None) -> T: ...
    @overload
    async def resolve(self, key: Callable[..., T], /, *, name: str | None = None) -> T: ...
    @overload
    async def resolve(self, key: TypeForm[T], /, *, name: str | None = None) -> T: ...
    async def resolve(self, key: Any, /, *, name: str | None = None) -> Any:
        """Resolve ``key`` in this scope (``name="x"``: the registration named ``x``)."""
        if name is not None:
            key = named_key(key, name)
        if self.state != OPEN:
            raise not_open(self)
        try:
            function, awaits = self.runtime.async_resolvers[key]
        except (KeyError, TypeError):
            function, awaits = await self.runtime.async_resolver(key)
        if awaits:
            return await function(self)
        return function(self)

    @overload
    def resolve_sync(self, key: type[T], /, *, name: str | None = None) -> T: ...
    @overload
    def resolve_sync(self, key: Callable[..., T], /, *, name: str | None = None) -> T: ...
    @overload
    def resolve_sync(self, key: TypeForm[T], /, *, name: str | None = None) -> T: ...
    def resolve_sync(self, key: Any, /, *, name: str | None = None) -> Any:
        """Resolve ``key`` in this scope without an event loop (``AsyncProviderError`` if it needs one)."""
        if name is not None:
            key = named_key(key, name)
        if self.state != OPEN:
            raise not_open(self)
        try:
            function = self.runtime.sync_resolvers[key]
        except (KeyError, TypeError):
            function = self.runtime.sync_resolver(key)
        return function(self)

    # -- nesting -------------------------------------------------------------------

    def scope(self, level: Scope = Scope.REQUEST, *, context: Mapping[Any, Any] | None = None) -> AsyncRequestScope:
        """A child of this scope: ``async with scope.scope() as inner:``."""
        child: AsyncRequestScope = self.runtime.child_scope(self, level, context)
        return child

    # -- opening and closing -------------------------------------------------------

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync or async) when this scope closes, before the cleanups
        of every instance that exists now.
        """
        if not callable(callback):
            raise RegistrationError(f"on_close() takes a callable, not {callback!r}")
        if self.state >= CLOSING:
            raise not_open(self)
        entry = (CALLBACK_SLOT, CALLBACK, callback)
        if self.sync and is_async_callable(callback):
            raise needs_event_loop(entry, self.runtime)
        self.exits.append(entry)

    def enter_quietly(self) -> bool:
        """Enter without awaiting when entering creates nothing (no autouse providers at this
        level), and say whether it did; else nothing is done: enter with ``__aenter__``.

        With ``exit_quietly``, how ``@inject(scope=...)`` opens and closes its scope per call
        without the two coroutines of ``async with``.
        """
        runtime = self.runtime
        if not runtime.frozen or self.level in runtime.autouse_runners:
            return False
        if self.state != NEW:
            raise _entered_twice()
        self._token = CURRENT.set(self)  # as _bind(), inline
        self.state = OPEN
        return True

    def exit_quietly(self) -> bool:
        """Close without awaiting when there is nothing to clean up, and say whether it did;
        else nothing is done: close with ``__aexit__``.
        """
        if self.exits or self.state >= CLOSING:
            return False
        self.state = CLOSED
        self.cache.clear()
        if self._parent is not None:
            self.levels = _NO_LEVELS  # as in _closed()
        token = self._token  # self._unbind(), inline
        if token is not None:
            self._outer, self._token = token.old_value, None  # the token holds the request's Context
            try:
                CURRENT.reset(token)
            except ValueError:
                self._unbind_elsewhere()
        return True

    async def __aenter__(self) -> Self:
        if self.state != NEW:
            raise _entered_twice()
        self._token = CURRENT.set(self)  # as _bind(), inline: every request opens a scope
        self.state = OPEN
        runtime = self.runtime
        if runtime.frozen and self.level not in runtime.autouse_runners:  # the usual scope: no call
            return self
        autouse = runtime.autouse_runner(self.level)
        if autouse is not None:
            try:
                await autouse(self)
            except BaseException as error:
                await self.__aexit__(type(error), error, error.__traceback__)
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.state >= CLOSING:
            return
        exits = self.exits
        if not exits:  # the usual request: nothing to clean up
            self.exit_quietly()
            return
        self.state = CLOSING
        self.exits = []
        entry = exits[0]
        runtime = self.runtime
        try:
            if exc is None and len(exits) == 1 and entry[1] == ASYNC_GENERATOR and entry[0] in runtime.quiet_cleanups:
                # The usual resource request: one cleanup, which has always finished without waiting.
                # Its first step is taken here; only a cleanup that waits after all needs a coroutine.
                failures: list[BaseException] = []
                stepped = first_step(entry, None, None, runtime, shielded=False)
                if stepped is not FINISHED:
                    await run_stepped(entry, None, None, failures, runtime, shielded=False, stepped=stepped)
                    stepped = None  # what it holds may lead back to this frame: no cycle
            else:
                failures = await run_exits(exits, exc, runtime)
            self._closed(exc, failures)
        finally:
            self._unbind()

    def __enter__(self) -> Self:
        """Enter in sync code: autouse instances are created with ``resolve_sync``, and the
        scope refuses whatever would need an event loop to clean up.
        """
        if self.exits and self.state == NEW:  # on_close callbacks given before entering
            for entry in self.exits:
                if is_async_callable(entry[2]):
                    raise needs_event_loop(entry, self.runtime)
        self._bind()
        self.sync = True
        runtime = self.runtime
        # Once frozen, the runners are known: no call.
        if runtime.frozen:
            autouse = runtime.sync_autouse_runners.get(self.level)
        else:
            autouse = runtime.sync_autouse_runner(self.level)
        if autouse is not None:
            try:
                autouse(self)
            except BaseException as error:
                self.__exit__(type(error), error, error.__traceback__)
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.state >= CLOSING or self.exit_quietly():  # nothing to clean up
            return
        self.state = CLOSING
        exits, self.exits = self.exits, []
        try:
            self._closed(exc, run_exits_sync(exits, exc, self.runtime))
        finally:
            self._unbind()

    def _bind(self) -> None:
        if self.state != NEW:
            raise _entered_twice()
        self._token = CURRENT.set(self)
        self.state = OPEN

    def _unbind(self) -> None:
        """Make current again what was current where this scope was entered (once: on closing)."""
        token = self._token
        if token is None:  # never entered (the APP scope), or unbound already
            return
        self._outer, self._token = token.old_value, None  # the token holds the request's Context
        try:
            CURRENT.reset(token)
        except ValueError:
            self._unbind_elsewhere()

    def _unbind_elsewhere(self) -> None:
        """Unbind in another context than the scope was entered in (its token is not valid here)."""
        if CURRENT.get() is self:
            CURRENT.set(self.outer)

    async def dispose(self, exc: BaseException | None) -> None:
        """Run every exit (``exc``, the body's exception, thrown in) and forget the instances.

        How the container closes its APP scope, which is never entered; ``__aexit__``
        does the same (with no coroutine between it and the cleanups) and unbinds.
        """
        self.state = CLOSING
        exits, self.exits = self.exits, []
        self._closed(exc, await run_exits(exits, exc, self.runtime) if exits else None)

    def dispose_sync(self, exc: BaseException | None) -> None:
        """``dispose`` without an event loop (the container's ``close()``)."""
        self.state = CLOSING
        exits, self.exits = self.exits, []
        self._closed(exc, run_exits_sync(exits, exc, self.runtime) if exits else None)

    def _closed(self, exc: BaseException | None, failures: list[BaseException] | None) -> None:
        """Forget the instances; raise the cleanups' failures (after ``exc``) as one group."""
        self.state = CLOSED
        self.cache.clear()
        if self._parent is not None:
            self.levels = _NO_LEVELS  # a scope is in its own levels while open; closed, it is freed at once
        if failures:
            raise grouped(exc, failures)


def _entered_twice() -> ScopeError:
    return ScopeError(
        "a scope can be entered only once",
        hint="open a new one with container.scope() for each unit of work",
    )


def not_open(scope: AsyncRequestScope) -> DIError:
    """The error for using a scope that is not open (not entered yet, or closed)."""
    if scope.state == NEW:
        return ScopeError(
            f"this {scope.level.name} scope is not open yet",
            hint="enter it first: `async with container.scope() as scope:`",
        )
    return ScopeError(
        f"this {scope.level.name} scope is closed: what it would create now would never be cleaned up",
        hint="resolve inside the `async with` block of an open scope",
    )


def is_async_callable(callback: Any) -> bool:
    """Whether calling ``callback`` gives an awaitable, as far as can be told without calling it."""
    call = getattr(callback, "__call__", None)  # noqa: B004 - a callable object's method
    return inspect.iscoroutinefunction(callback) or (
        not inspect.isroutine(callback) and call is not None and inspect.iscoroutinefunction(call)
    )
