"""``AsyncRequestScope``: the instance cache of one level, its ``ContextVar`` binding,
exactly-once creation, and the cleanup stack run dependents-first.

A scope holds the instances of its own level in ``_cache`` (provider index
-> instance) and reaches the longer-lived ones through ``_levels``, a tuple
indexed by ``Scope`` whose slots are the nearest open scope of each level
(``_levels[Scope.APP]`` is always the container's root scope). The compiled
plans of ``_plan`` read and fill these directly.

Creation records every cleanup in ``_exits``, in creation order. Closing
runs them in *waves*: a cleanup runs only after the cleanups of every
instance that depends on it (known statically from the graph); the cleanups
of one wave are independent and run concurrently. Closing is shielded from
cancellation, throws the body's exception into generator factories, runs
every cleanup even when some fail, and raises one exception group holding
the body's exception first and then every cleanup failure.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar, final, overload

import anyio

from ._keys import MISSING, describe
from ._providers import Scope
from .exceptions import DIError, RegistrationError, ScopeError

if TYPE_CHECKING:
    from ._container import Container

__all__ = ["CURRENT", "AsyncRequestScope", "Resumed"]

T = TypeVar("T")

#: The innermost open scope in this context, of any container. Each scope
#: remembers the one it replaced (``_outer``), so a container finds its own
#: current scope by walking that chain.
CURRENT: Final[ContextVar[AsyncRequestScope | None]] = ContextVar("injectq_like_current_scope", default=None)

# What an entry of ``_exits`` holds: (provider index or -1, how to close it, the object)
GENERATOR: Final = 0
ASYNC_GENERATOR: Final = 1
CONTEXT_MANAGER: Final = 2
ASYNC_CONTEXT_MANAGER: Final = 3
CALLBACK: Final = 4

_MAY_AWAIT: Final = frozenset({ASYNC_GENERATOR, ASYNC_CONTEXT_MANAGER, CALLBACK})

_NEW: Final = 0
_OPEN: Final = 1
_CLOSING: Final = 2
_CLOSED: Final = 3

_NO_LEVELS: Final[tuple[None, None, None]] = (None, None, None)

Exit = tuple[int, int, Any]


@final
class AsyncRequestScope:
    """An open scope of one lifetime level: ``async with container.scope() as scope:``.

    It caches the instances of its level, sees its ancestors' longer-lived
    ones, is the current scope of its container while open (so
    ``container.resolve`` and ``@inject`` resolve here), and disposes of what
    it created when it closes.
    """

    __slots__ = (
        "__weakref__",
        "_cache",
        "_container",
        "_exits",
        "_levels",
        "_lock",
        "_outer",
        "_parent",
        "_pending",
        "_state",
        "_token",
        "level",
    )

    def __init__(
        self,
        container: Container,
        level: Scope,
        parent: AsyncRequestScope | None,
        context: Mapping[Any, Any] | None = None,
    ) -> None:
        self._container = container
        self.level = level
        self._parent = parent
        self._cache: dict[int, Any] = {}
        self._exits: list[Exit] = []
        # Creations under way, made on the first async creation of a cached instance.
        self._pending: dict[int, anyio.Event | None] | None = None
        self._outer: AsyncRequestScope | None = None
        self._token: Any = None
        self._state = _NEW
        if parent is None:
            self._levels: tuple[AsyncRequestScope | None, ...] = (self, None, None)
            self._lock: threading.RLock = threading.RLock()
        else:
            levels = list(parent._levels)
            levels[level] = self
            self._levels = tuple(levels)
            # Sync creation of cached instances, across threads: the APP scope has its own
            # lock; the others share their container's (they never wait for each other's
            # instances, and an APP instance never waits for theirs).
            self._lock = container._scopes_lock
        if context or (parent is not None and container._context_indices.get(level)):
            container._fill_context(self, context)

    def __repr__(self) -> str:
        state = ("new", "open", "closing", "closed")[self._state]
        return f"<AsyncRequestScope {self.level.name} {state}, {len(self._cache)} cached>"

    @property
    def parent(self) -> AsyncRequestScope | None:
        """The scope this one was opened in (``None`` for the container's APP scope)."""
        return self._parent

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED

    # -- resolution --------------------------------------------------------------

    @overload
    async def resolve(self, key: type[T], /) -> T: ...
    @overload
    async def resolve(self, key: Callable[..., T], /) -> T: ...
    @overload
    async def resolve(self, key: Any, /) -> Any: ...
    async def resolve(self, key: Any, /) -> Any:
        """Resolve ``key`` in this scope."""
        if self._state != _OPEN:
            raise self._not_open()
        try:
            function, is_async = self._container._async_plans[key]
        except (KeyError, TypeError):
            function, is_async = await self._container._async_plan(key)
        if is_async:
            return await function(self)
        return function(self)

    @overload
    def resolve_sync(self, key: type[T], /) -> T: ...
    @overload
    def resolve_sync(self, key: Callable[..., T], /) -> T: ...
    @overload
    def resolve_sync(self, key: Any, /) -> Any: ...
    def resolve_sync(self, key: Any, /) -> Any:
        """Resolve ``key`` in this scope without an event loop (``AsyncProviderError`` if it needs one)."""
        if self._state != _OPEN:
            raise self._not_open()
        try:
            function = self._container._sync_plans[key]
        except (KeyError, TypeError):
            function = self._container._sync_plan(key)
        return function(self)

    def _not_open(self) -> DIError:
        if self._state == _NEW:
            return ScopeError(
                f"this {self.level.name} scope is not open yet",
                hint="enter it first: `async with container.scope() as scope:`",
            )
        return ScopeError(
            f"this {self.level.name} scope is closed: what it would create now would never be cleaned up",
            hint="resolve inside the `async with` block of an open scope",
        )

    # -- nesting -------------------------------------------------------------------

    def scope(self, level: Scope = Scope.REQUEST, *, context: Mapping[Any, Any] | None = None) -> AsyncRequestScope:
        """A child of this scope: ``async with scope.scope() as inner:``."""
        return self._container._child_scope(self, level, context)

    # -- cleanup -------------------------------------------------------------------

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync or async) when this scope closes, before the cleanups
        of every instance that exists now.
        """
        if not callable(callback):
            raise RegistrationError(f"on_close() takes a callable, not {callback!r}")
        if self._state >= _CLOSING:
            raise self._not_open()
        self._exits.append((-1, CALLBACK, callback))

    async def __aenter__(self) -> Self:
        if self._state != _NEW:
            raise ScopeError(
                "a scope can be entered only once",
                hint="open a new one with container.scope() for each unit of work",
            )
        self._outer = CURRENT.get()
        self._token = CURRENT.set(self)
        self._state = _OPEN
        container = self._container
        if container._base is not None:  # frozen: the runners are known
            autouse = container._autouse_runners.get(self.level)
        else:
            autouse = container._autouse_for(self.level)
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
        if self._state >= _CLOSING:
            return
        if not self._exits:  # nothing to clean up: no coroutine, no cancel scope
            self._state = _CLOSED
            self._cache.clear()
            self._levels = _NO_LEVELS
            self._unbind()
            return
        try:
            await self._close(exc)
        finally:
            self._unbind()

    def _unbind(self) -> None:
        token, self._token = self._token, None
        if token is None:
            return
        try:
            CURRENT.reset(token)
        except ValueError:  # exited in another context than it was entered in
            if CURRENT.get() is self:
                CURRENT.set(self._outer)

    async def _close(self, exc: BaseException | None) -> None:
        self._state = _CLOSING
        exits, self._exits = self._exits, []
        failures: list[BaseException] = []
        if exits:
            traceback = exc.__traceback__ if exc is not None else None
            waves = self._waves(exits) if len(exits) > 1 else (exits,)
            if self._needs_shield(waves, exc):
                with anyio.CancelScope(shield=True):  # a cancellation must not cut cleanups short
                    for wave in waves:
                        await self._run_wave(wave, exc, failures)
            else:  # nothing here waits (so far): a shield would only cost time
                for wave in waves:
                    waiting = self._run_sync_exits(wave, exc, failures)
                    if waiting:  # one quiet async cleanup (_needs_shield allows no more)
                        await self._run_stepped(*waiting[0], exc, failures, shielded=False)
            if exc is not None:
                exc.__traceback__ = traceback
        self._state = _CLOSED
        self._cache.clear()
        if self._parent is not None:
            self._levels = _NO_LEVELS  # a scope is in its own levels while open; closed, it is freed at once
        if failures:
            members = [exc, *failures] if exc is not None else failures
            message = f"{len(failures)} cleanup(s) failed when the scope closed"
            exceptions = [m for m in members if isinstance(m, Exception)]
            if len(exceptions) == len(members):
                raise ExceptionGroup(message, exceptions)
            raise BaseExceptionGroup(message, members)

    def _waves(self, exits: list[Exit]) -> list[list[Exit]]:
        """Group cleanups so that each runs after every cleanup of what depends on it.

        Instances of one provider never depend on each other, so cleanups are
        grouped by provider first; an ``on_close`` callback runs before the
        cleanups registered before it (and after the callbacks registered after it).
        """
        closure = self._container._closure
        groups: list[tuple[int, list[Exit]]] = []  # (provider index or -1, entries), creation order
        by_provider: dict[int, int] = {}
        for entry in exits:
            index = entry[0]
            if index >= 0 and index in by_provider:
                groups[by_provider[index]][1].append(entry)
                continue
            if index >= 0:
                by_provider[index] = len(groups)
            groups.append((index, [entry]))
        count = len(groups)
        wave_of = [0] * count
        for k in range(count - 1, -1, -1):
            mine = groups[k][0]
            wave = 0
            for j in range(k + 1, count):
                theirs = groups[j][0]
                if theirs < 0 or (mine >= 0 and mine in closure(theirs)):
                    wave = max(wave, wave_of[j] + 1)
            wave_of[k] = wave
        waves: list[list[Exit]] = [[] for _ in range(max(wave_of) + 1)]
        for k in range(count - 1, -1, -1):
            waves[wave_of[k]].extend(reversed(groups[k][1]))
        return waves

    def _needs_shield(self, waves: Sequence[list[Exit]], exc: BaseException | None) -> bool:
        """Whether closing may wait, so that a cancellation could cut a cleanup short.

        Sync cleanups never wait. An async cleanup of a provider whose cleanups
        have always finished without waiting (learned, under a shield, the
        first time) is run without one; if it ever waits, it finishes that
        once unshielded and is shielded from then on. A scope whose body was
        cancelled is always closed under a shield.
        """
        if exc is not None and not isinstance(exc, Exception):
            return True
        if not _on_asyncio():
            return True  # trio opens a cancel scope at every sleep: no shield could be added late
        quiet = self._container._quiet_cleanups
        for wave in waves:
            waiting = 0
            for index, how, _ in wave:
                if how in _MAY_AWAIT:
                    if how == CALLBACK or index not in quiet:
                        return True
                    waiting += 1
            if waiting > 1:
                return True
        return False

    async def _run_wave(self, wave: list[Exit], exc: BaseException | None, failures: list[BaseException]) -> None:
        """Run independent cleanups: the sync ones in place, the async ones concurrently."""
        waiting = self._run_sync_exits(wave, exc, failures)
        if len(waiting) == 1:
            await self._run_stepped(*waiting[0], exc, failures)
        elif waiting:
            async with anyio.create_task_group() as group:
                for entry, awaitable in waiting:
                    group.start_soon(self._run_stepped, entry, awaitable, exc, failures)

    def _run_sync_exits(
        self, wave: list[Exit], exc: BaseException | None, failures: list[BaseException]
    ) -> list[tuple[Exit, Any]]:
        """Run the sync cleanups of a wave; return the async ones (with an async callback's awaitable)."""
        waiting: list[tuple[Exit, Any]] = []
        for entry in wave:
            how, target = entry[1], entry[2]
            try:
                if how == GENERATOR:
                    _finish_generator(target, exc)
                elif how == CONTEXT_MANAGER:
                    target.__exit__(type(exc) if exc is not None else None, exc, exc.__traceback__ if exc else None)
                elif how == CALLBACK:
                    result = target()
                    if inspect.isawaitable(result):
                        waiting.append((entry, result))
                else:
                    waiting.append((entry, None))
            except BaseException as failure:  # noqa: BLE001 - every cleanup must run
                failures.append(self._described(failure, entry))
        return waiting

    async def _run_stepped(
        self,
        entry: Exit,
        awaitable: Any,
        exc: BaseException | None,
        failures: list[BaseException],
        *,
        shielded: bool = True,
    ) -> None:
        """Run one async cleanup, learning whether it finishes without waiting.

        Unshielded, a cleanup that waits after all is shielded from the wait
        on, provided it opened no cancel scope of its own before waiting (the
        shield must enclose every scope the cleanup opens); it is shielded
        from its start the next times.
        """
        index, how, target = entry
        try:
            if awaitable is None:
                if how == ASYNC_GENERATOR:
                    awaitable = target.__anext__() if exc is None else target.athrow(exc)
                else:
                    awaitable = target.__aexit__(
                        type(exc) if exc is not None else None, exc, exc.__traceback__ if exc else None
                    )
            steps = awaitable.__await__()
            error: BaseException | None = None
            before = None if shielded else _cancel_state()
            try:
                first = steps.send(None)
            except StopIteration:
                if index >= 0:
                    self._container._quiet_cleanups.add(index)
            except BaseException as raised:  # noqa: BLE001 - judged by _settle
                error = raised
                if index >= 0:
                    self._container._quiet_cleanups.add(index)
            else:
                self._container._quiet_cleanups.discard(index)
                try:
                    after = None if shielded or before is None else _cancel_state()
                    if after is not None and after is before:
                        with anyio.CancelScope(shield=True):
                            await Resumed(steps, first)
                    else:
                        if after is not None:  # the cleanup opened cancel scopes: shield the outermost
                            _shield_opened(after, before)
                        await Resumed(steps, first)
                except BaseException as raised:  # noqa: BLE001 - judged by _settle
                    error = raised
            try:
                _settle(how, exc, error)
            finally:
                # The StopAsyncIteration that ends a generator holds this frame in its traceback:
                # dropping it here spares the garbage collector a cycle per cleanup.
                error = None
        except BaseException as failure:  # noqa: BLE001 - every cleanup must run
            failures.append(await self._failed(failure, entry))

    async def _failed(self, failure: BaseException, entry: Exit) -> BaseException:
        """Name the cleanup that failed; close a generator that yielded again."""
        if isinstance(failure, _YieldedAgainError) and entry[1] == ASYNC_GENERATOR:
            with anyio.CancelScope(shield=True):
                await entry[2].aclose()
        return self._described(failure, entry)

    def _described(self, failure: BaseException, entry: Exit) -> BaseException:
        if entry[0] < 0:
            callback = entry[2]
            name = f"on_close callback {getattr(callback, '__qualname__', callback)!r}"
        else:
            provider = self._container._compiled_provider(entry[0])
            name = f"{provider.describe()} for {describe(provider.key)}"
        failure.add_note(f"injectq_like: raised while cleaning up the {name}")
        return failure

    # -- used by compiled plans ---------------------------------------------------

    async def _wait_pending(self, index: int, getter: Callable[[AsyncRequestScope], Any]) -> Any:
        """Another task is creating instance ``index``: wait for it, or take over if it gave up."""
        while True:
            pending = self._pending
            event = pending.get(index, MISSING) if pending is not None else MISSING
            if event is MISSING:
                return await getter(self)  # created (a cache hit now), or abandoned: create it
            if event is None:
                event = anyio.Event()
                pending[index] = event  # type: ignore[index]
            await event.wait()


def _cancel_state() -> object | None:
    """The current asyncio task's innermost anyio cancel scope, or None if it cannot be told.

    The same answer before and after a step of a coroutine means the step
    left no cancel scope of its own open, so a shield entered now encloses
    whatever the coroutine opens later. This reads anyio's own record of
    its tasks; should it change shape, the answer is None and no late shield
    is used.
    """
    global _TASK_STATES  # noqa: PLW0603 - looked up once
    try:
        states = _TASK_STATES
        if states is None:
            from anyio._backends._asyncio import _task_states as states

            _TASK_STATES = states
        task = asyncio.current_task()
        state = states.get(task) if task is not None else None
        found = state.cancel_scope if state is not None else _NO_SCOPE
    except Exception:  # noqa: BLE001 - unknown: no late shield
        return None
    return found


_TASK_STATES: Any = None  # anyio's record of its asyncio tasks, once imported


_NO_SCOPE: Final = object()


def _shield_opened(innermost: object, before: object) -> None:
    """Shield the outermost of the cancel scopes a cleanup opened (from ``innermost`` up to
    ``before``, the scope it started in), so that no cancellation from outside reaches it.
    Its own deadlines still apply. Does nothing if the chain cannot be followed.
    """
    scope: Any = innermost
    outermost: Any = None
    while scope is not None and scope is not before:
        outermost = scope
        scope = getattr(scope, "_parent_scope", None)
    if outermost is not None and (scope is before or before is _NO_SCOPE):
        outermost.shield = True


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _YieldedAgainError(RuntimeError):
    """A generator factory yielded a second value instead of finishing."""


@final
class Resumed:
    """The rest of a coroutine whose first step (taken by hand) waited, run in the task that took it."""

    __slots__ = ("first", "steps")

    def __init__(self, steps: Any, first: Any) -> None:
        self.steps = steps
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        # Hand what the cleanup waits on to the event loop, and the loop's answers back.
        steps, value = self.steps, self.first
        while True:
            try:
                answer = yield value
            except BaseException as error:  # noqa: BLE001 - passed on to the cleanup
                try:
                    value = steps.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = steps.send(answer)
                except StopIteration as stop:
                    return stop.value


def _settle(how: int, exc: BaseException | None, error: BaseException | None) -> None:
    """Judge how an async cleanup ended (``error``: what it raised, ``None`` if it returned)."""
    if how == ASYNC_GENERATOR:
        if error is None:  # the generator yielded a value instead of finishing
            if exc is None:
                raise _YieldedAgainError("the generator yielded more than once; it must yield exactly one value")
            raise _YieldedAgainError("the generator yielded again after the scope's exception was thrown into it")
        if isinstance(error, StopAsyncIteration) or error is exc:
            return  # finished, re-raised the body's exception, or swallowed it: all fine
    if error is not None:
        raise error


def _finish_generator(generator: Any, exc: BaseException | None) -> None:
    if exc is None:
        try:
            next(generator)
        except StopIteration:
            return
        generator.close()
        raise _YieldedAgainError("the generator yielded more than once; it must yield exactly one value")
    try:
        generator.throw(exc)
    except StopIteration:
        return  # it swallowed the exception: that does not stop it from propagating
    except BaseException as raised:
        if raised is exc:
            return
        raise
    generator.close()
    raise _YieldedAgainError("the generator yielded again after the scope's exception was thrown into it")
