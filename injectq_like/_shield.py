"""The one module that knows event-loop internals: stepping a coroutine by hand, and late shields.

Cleanups and concurrent creations take the first step of a coroutine by
hand to learn whether it finishes without waiting (most do, and then no task
group or cancel scope is needed). When one does wait, ``Resumed`` hands the
rest of it to the event loop in the task that took the first step.

On asyncio, a cleanup that waits after all can still be shielded from that
point on, provided it has opened no cancel scope of its own yet: that is
told by reading anyio's record of its tasks (``cancel_state``). Should that
record change shape, ``cancel_state`` answers ``None`` and no late shield is
used: that one cleanup finishes unshielded, and it is shielded from its start
the next times (its provider is no longer counted as quiet).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, Final, final

__all__ = ["NO_CANCEL_SCOPE", "Resumed", "cancel_state", "on_asyncio", "shield_opened"]

#: What ``cancel_state`` answers for a task inside no anyio cancel scope.
NO_CANCEL_SCOPE: Final = object()

_task_states: Any = None  # anyio's record of its asyncio tasks, once imported


def on_asyncio() -> bool:
    """Whether this thread runs an asyncio event loop (rather than trio, or none)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def cancel_state() -> object | None:
    """The current asyncio task's innermost anyio cancel scope, or ``None`` if it cannot be told.

    The same answer before and after a step of a coroutine means the step
    left no cancel scope of its own open, so a shield entered now encloses
    whatever the coroutine opens later.
    """
    global _task_states  # noqa: PLW0603 - looked up once
    try:
        states = _task_states
        if states is None:
            from anyio._backends._asyncio import _task_states as states

            _task_states = states
        task = asyncio.current_task()
        state = states.get(task) if task is not None else None
        found = state.cancel_scope if state is not None else NO_CANCEL_SCOPE
    except Exception:  # noqa: BLE001 - unknown: no late shield
        return None
    return found


def shield_opened(innermost: object, before: object) -> None:
    """Shield the outermost of the cancel scopes a coroutine opened (from ``innermost`` up to
    ``before``, the scope it started in), so that no cancellation from outside reaches it.
    Its own deadlines still apply. Does nothing if the chain cannot be followed.
    """
    scope: Any = innermost
    outermost: Any = None
    while scope is not None and scope is not before:
        outermost = scope
        scope = getattr(scope, "_parent_scope", None)
    if outermost is not None and (scope is before or before is NO_CANCEL_SCOPE):
        outermost.shield = True


@final
class Resumed:
    """The rest of a coroutine whose first step (taken by hand) waited, run in the task that took it."""

    __slots__ = ("first", "steps")

    def __init__(self, steps: Any, first: Any) -> None:
        self.steps = steps
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        # Hand what the coroutine waits on to the event loop, and the loop's answers back.
        steps, value = self.steps, self.first
        while True:
            try:
                answer = yield value
            except BaseException as error:  # noqa: BLE001 - passed on to the coroutine
                try:
                    value = steps.throw(error)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = steps.send(answer)
                except StopIteration as stop:
                    return stop.value
