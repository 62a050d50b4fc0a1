"""Closing a scope, with or without an event loop: its exits run in waves, dependents first,
with every failure kept.

A cleanup runs only after the cleanups of every instance that depends on it
(known statically from the graph); the cleanups of one wave are independent
and the async ones run concurrently. Closing throws the body's exception
into generator factories, runs every cleanup even when some fail, is
shielded from cancellation when it may wait, and gives back every failure,
each with a note naming the cleanup that raised it; ``grouped`` turns them
into the one exception group the scope raises.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Final

import anyio

from ._contract import (
    ASYNC_GENERATOR,
    CALLBACK,
    CALLBACK_SLOT,
    CONTEXT_MANAGER,
    GENERATOR,
    MAY_AWAIT,
    CleanupFacts,
    Exit,
)
from ._keys import describe
from ._shield import Resumed, cancel_state, shield_opened
from .exceptions import AsyncProviderError

__all__ = [
    "FINISHED",
    "YieldedAgainError",
    "finish_generator",
    "first_step",
    "grouped",
    "needs_event_loop",
    "run_exits",
    "run_exits_sync",
    "run_stepped",
]


class YieldedAgainError(RuntimeError):
    """A generator factory yielded a second value instead of finishing."""


async def run_exits(exits: list[Exit], exc: BaseException | None, facts: CleanupFacts) -> list[BaseException]:
    """Run every exit, dependents first; return the failures (the body's ``exc`` thrown in, not counted)."""
    failures: list[BaseException] = []
    traceback = exc.__traceback__ if exc is not None else None
    waves = _waves(exits, facts) if len(exits) > 1 else (exits,)
    if _needs_shield(waves, exc, facts):
        with anyio.CancelScope(shield=True):  # a cancellation must not cut cleanups short
            for wave in waves:
                await _run_wave(wave, exc, failures, facts)
    else:  # nothing here waits (so far): a shield would only cost time
        for wave in waves:
            waiting = _run_sync_exits(wave, exc, failures, facts)
            if waiting:  # one quiet async cleanup (_needs_shield allows no more)
                await run_stepped(*waiting[0], exc, failures, facts, shielded=False)
    if exc is not None:
        exc.__traceback__ = traceback
    return failures


def run_exits_sync(exits: list[Exit], exc: BaseException | None, facts: CleanupFacts) -> list[BaseException]:
    """``run_exits`` without an event loop, for a scope entered with ``with``.

    Such a scope never holds an async cleanup (creating one there is refused);
    an ``on_close`` callback that returns an awaitable all the same is a
    failure, its awaitable closed unawaited.
    """
    failures: list[BaseException] = []
    traceback = exc.__traceback__ if exc is not None else None
    for wave in _waves(exits, facts) if len(exits) > 1 else (exits,):
        for entry, awaitable in _run_sync_exits(wave, exc, failures, facts):
            close = getattr(awaitable, "close", None)
            if close is not None:
                close()
            failures.append(_described(needs_event_loop(entry, facts), entry, facts))
    if exc is not None:
        exc.__traceback__ = traceback
    return failures


def needs_event_loop(entry: Exit, facts: CleanupFacts) -> AsyncProviderError:
    """The error for an async exit where no event loop can run it."""
    if entry[0] == CALLBACK_SLOT:
        callback = entry[2]
        name = f"on_close callback {getattr(callback, '__qualname__', callback)!r}"
        return AsyncProviderError(
            None,
            name,
            message=f"the {name} is async, and this scope closes without an event loop",
            hint="register a sync callback on a scope entered with `with`, or enter the scope with `async with`",
        )
    provider = facts.provider_at(entry[0])
    return AsyncProviderError(
        provider.key,
        provider.describe(),
        message=f"{describe(provider.key)} is provided by the {provider.describe()}, whose cleanup needs an event loop",
        hint="close it with `await` (`async with`, `await container.aclose()`), or make its cleanup sync",
    )


def grouped(exc: BaseException | None, failures: list[BaseException]) -> BaseExceptionGroup[BaseException]:
    """The group a scope raises: the body's exception first (if any), then every cleanup failure."""
    members = [exc, *failures] if exc is not None else failures
    message = f"{len(failures)} cleanup(s) failed when the scope closed"
    exceptions = [m for m in members if isinstance(m, Exception)]
    if len(exceptions) == len(members):
        return ExceptionGroup(message, exceptions)
    return BaseExceptionGroup(message, members)


def _waves(exits: list[Exit], facts: CleanupFacts) -> list[list[Exit]]:
    """Group exits so that each runs after every exit of what depends on it.

    Instances of one provider never depend on each other, so exits are
    grouped by provider first; an ``on_close`` callback runs before the
    exits registered before it (and after the callbacks registered after it).
    """
    closure = facts.closure
    groups: list[tuple[int, list[Exit]]] = []  # (slot or CALLBACK_SLOT, exits), creation order
    by_slot: dict[int, int] = {}
    for entry in exits:
        slot = entry[0]
        if slot != CALLBACK_SLOT and slot in by_slot:
            groups[by_slot[slot]][1].append(entry)
            continue
        if slot != CALLBACK_SLOT:
            by_slot[slot] = len(groups)
        groups.append((slot, [entry]))
    count = len(groups)
    wave_of = [0] * count
    for k in range(count - 1, -1, -1):
        mine = groups[k][0]
        wave = 0
        for j in range(k + 1, count):
            theirs = groups[j][0]
            if theirs == CALLBACK_SLOT or (mine != CALLBACK_SLOT and mine in closure(theirs)):
                wave = max(wave, wave_of[j] + 1)
        wave_of[k] = wave
    waves: list[list[Exit]] = [[] for _ in range(max(wave_of) + 1)]
    for k in range(count - 1, -1, -1):
        waves[wave_of[k]].extend(reversed(groups[k][1]))
    return waves


def _needs_shield(waves: Sequence[list[Exit]], exc: BaseException | None, facts: CleanupFacts) -> bool:
    """Whether closing may wait, so that a cancellation could cut a cleanup short.

    Sync cleanups never wait. An async cleanup of a provider whose cleanups
    have always finished without waiting (learned, under a shield, the
    first time) is run without one; if it ever waits, it finishes that
    once unshielded and is shielded from then on. A scope whose body was
    cancelled is always closed under a shield.
    """
    if exc is not None and not isinstance(exc, Exception):
        return True
    quiet = facts.quiet_cleanups
    for wave in waves:
        waiting = 0
        for slot, how, _ in wave:
            if how in MAY_AWAIT:
                if how == CALLBACK or slot not in quiet:
                    return True
                waiting += 1
        if waiting > 1:
            return True
    return False


async def _run_wave(
    wave: list[Exit], exc: BaseException | None, failures: list[BaseException], facts: CleanupFacts
) -> None:
    """Run independent exits: the sync ones in place, the async ones concurrently."""
    waiting = _run_sync_exits(wave, exc, failures, facts)
    if len(waiting) == 1:
        await run_stepped(*waiting[0], exc, failures, facts)
    elif waiting:
        async with anyio.create_task_group() as group:
            for entry, awaitable in waiting:
                group.start_soon(run_stepped, entry, awaitable, exc, failures, facts)


def _run_sync_exits(
    wave: list[Exit], exc: BaseException | None, failures: list[BaseException], facts: CleanupFacts
) -> list[tuple[Exit, Any]]:
    """Run the sync exits of a wave; return the async ones (with an async callback's awaitable)."""
    waiting: list[tuple[Exit, Any]] = []
    for entry in wave:
        how, target = entry[1], entry[2]
        try:
            if how == GENERATOR:
                finish_generator(target, exc)
            elif how == CONTEXT_MANAGER:
                target.__exit__(type(exc) if exc is not None else None, exc, exc.__traceback__ if exc else None)
            elif how == CALLBACK:
                result = target()
                if inspect.isawaitable(result):
                    waiting.append((entry, result))
            else:
                waiting.append((entry, None))
        except BaseException as failure:  # noqa: BLE001 - every cleanup must run
            failures.append(_described(failure, entry, facts))
    return waiting


#: What ``first_step`` answers for an async generator that finished without waiting: the usual end.
FINISHED: Final = object()


def first_step(entry: Exit, awaitable: Any, exc: BaseException | None, facts: CleanupFacts, *, shielded: bool) -> Any:
    """Take the first step of one async exit by hand, learning whether it finishes without waiting.

    Answers ``FINISHED`` for an async generator that finished (nothing left to do), else what
    ``run_stepped`` goes on from: ``(steps, first, error, before)``, where ``steps`` is ``None``
    when the exit ended (``error``: what it raised, if anything) and ``before`` is the cancel
    state it started in when unshielded. Sync: a scope's usual close takes it in place.
    """
    slot, how, target = entry
    quiet = facts.quiet_cleanups
    before = None if shielded else cancel_state()
    try:
        if awaitable is None:
            if how == ASYNC_GENERATOR:
                awaitable = target.__anext__() if exc is None else target.athrow(exc)
            else:
                awaitable = target.__aexit__(
                    type(exc) if exc is not None else None, exc, exc.__traceback__ if exc else None
                )
        steps = awaitable.__await__()
        first = steps.send(None)
    except StopAsyncIteration as raised:
        quiet.add(slot)
        if how == ASYNC_GENERATOR:  # the generator finished: the usual end, nothing to judge
            return FINISHED
        return None, None, raised, before
    except StopIteration:
        if slot != CALLBACK_SLOT:
            quiet.add(slot)
        return None, None, None, before
    except BaseException as raised:  # noqa: BLE001 - judged by run_stepped
        if slot != CALLBACK_SLOT:
            quiet.add(slot)
        return None, None, raised, before
    quiet.discard(slot)
    return steps, first, None, before


async def run_stepped(
    entry: Exit,
    awaitable: Any,
    exc: BaseException | None,
    failures: list[BaseException],
    facts: CleanupFacts,
    *,
    shielded: bool = True,
    stepped: Any = None,
) -> None:
    """Run one async exit (from its ``first_step`` when given ``stepped``); record its failure.

    Unshielded, a cleanup that waits after all is shielded from the wait
    on, provided it opened no cancel scope of its own before waiting (the
    shield must enclose every scope the cleanup opens); it is shielded
    from its start the next times.
    """
    how, target = entry[1], entry[2]
    try:
        if stepped is None:
            stepped = first_step(entry, awaitable, exc, facts, shielded=shielded)
        if stepped is FINISHED:
            return
        steps, first, error, before = stepped
        stepped = None
        if steps is not None:
            try:
                after = None if shielded or before is None else cancel_state()
                if after is not None and after is before:
                    with anyio.CancelScope(shield=True):
                        await Resumed(steps, first)
                else:
                    if after is not None:  # the cleanup opened cancel scopes: shield the outermost
                        shield_opened(after, before)
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
        if isinstance(failure, YieldedAgainError) and how == ASYNC_GENERATOR:
            with anyio.CancelScope(shield=True):
                await target.aclose()
        failures.append(_described(failure, entry, facts))


def _described(failure: BaseException, entry: Exit, facts: CleanupFacts) -> BaseException:
    """Name the cleanup that failed, in a note."""
    if entry[0] == CALLBACK_SLOT:
        callback = entry[2]
        name = f"on_close callback {getattr(callback, '__qualname__', callback)!r}"
    else:
        provider = facts.provider_at(entry[0])
        name = f"{provider.describe()} for {describe(provider.key)}"
    failure.add_note(f"injectq_like: raised while cleaning up the {name}")
    return failure


def _settle(how: int, exc: BaseException | None, error: BaseException | None) -> None:
    """Judge how an async exit ended (``error``: what it raised, ``None`` if it returned)."""
    if how == ASYNC_GENERATOR:
        if error is None:  # the generator yielded a value instead of finishing
            if exc is None:
                raise YieldedAgainError("the generator yielded more than once; it must yield exactly one value")
            raise YieldedAgainError("the generator yielded again after the scope's exception was thrown into it")
        if isinstance(error, StopAsyncIteration) or error is exc:
            return  # finished, re-raised the body's exception, or swallowed it: all fine
    if error is not None:
        raise error


def finish_generator(generator: Any, exc: BaseException | None) -> None:
    """Run a generator factory's cleanup: the rest of it, or ``exc`` thrown in at its ``yield``."""
    if exc is None:
        try:
            next(generator)
        except StopIteration:
            return
        generator.close()
        raise YieldedAgainError("the generator yielded more than once; it must yield exactly one value")
    try:
        generator.throw(exc)
    except StopIteration:
        return  # it swallowed the exception: that does not stop it from propagating
    except BaseException as raised:
        if raised is exc:
            return
        raise
    generator.close()
    raise YieldedAgainError("the generator yielded again after the scope's exception was thrown into it")
