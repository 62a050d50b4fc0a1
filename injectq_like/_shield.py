"""The one module that knows event-loop internals: stepping a coroutine by hand, and late shields.

Cleanups and concurrent creations take the first step of a coroutine by
hand to learn whether it finishes without waiting (most do, and then no task
group or cancel scope is needed). When one does wait, ``Resumed`` hands the
rest of it to the event loop in the task that took the first step.

A cleanup that waits after all can still be shielded from that point on:
with a shield around the rest of it when it has opened no cancel scope of
its own yet, else by shielding the outermost scope it opened. Which cancel
scope a task is in is told by reading anyio's record of its tasks on
asyncio, and the task's cancel status on trio (``cancel_state``). Should
either change shape, ``cancel_state`` answers ``None`` and no late shield is
used: that one cleanup finishes unshielded, and it is shielded from its start
the next times (its provider is no longer counted as quiet).
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from collections.abc import Generator
from typing import Any, Final, final

__all__ = ["NO_CANCEL_SCOPE", "Resumed", "cancel_state", "shield_opened"]

#: What ``cancel_state`` answers for a task inside no anyio cancel scope.
NO_CANCEL_SCOPE: Final = object()

_task_states: Any = None  # anyio's record of its asyncio tasks, once imported
_task_key: Any = None  # what it is keyed by, from a task: a weak reference to it, or the task itself

_running_loop = asyncio.events._get_running_loop  # None outside asyncio, without raising
# The running task of a loop. CPython 3.11's asyncio.current_task is written in Python and gets the
# loop again: its table is read directly there. Later versions have it in C.
_current_tasks = getattr(asyncio.tasks, "_current_tasks", None)
_current_task: Any = (
    _current_tasks.get
    if inspect.isfunction(asyncio.current_task) and isinstance(_current_tasks, dict)
    else asyncio.current_task
)


def cancel_state() -> object | None:
    """The current task's innermost cancel scope (on asyncio, anyio's record of it; on trio, the
    task's cancel status), or ``None`` if it cannot be told.

    The same answer before and after a step of a coroutine means the step
    left no cancel scope of its own open, so a shield entered now encloses
    whatever the coroutine opens later.
    """
    loop = _running_loop()
    if loop is None:  # no asyncio event loop: trio, perhaps
        return _trio_cancel_status()
    try:
        if _task_states is None:
            _read_anyio_task_states()
        state = _task_states.get(_task_key(_current_task(loop)))
        found = state.cancel_scope if state is not None else None
    except Exception:  # noqa: BLE001 - unknown: no late shield
        return None
    # A task anyio never saw has no record; one that has left every cancel scope keeps an empty one.
    return NO_CANCEL_SCOPE if found is None else found


def _read_anyio_task_states() -> None:
    """Find anyio's table of its asyncio tasks: read through its weak references when it is the
    usual ``WeakKeyDictionary`` (whose own ``get`` is a Python call).
    """
    global _task_states, _task_key
    from anyio._backends._asyncio import _task_states as recorded

    states: Any = recorded
    data = getattr(states, "data", None)
    if isinstance(states, weakref.WeakKeyDictionary) and isinstance(data, dict):
        _task_states, _task_key = data, weakref.ref
    else:
        _task_states, _task_key = states, _itself


def _itself(task: Any) -> Any:
    return task


def _trio_cancel_status() -> object | None:
    try:
        import trio

        return trio.lowlevel.current_task()._cancel_status  # a new one for each cancel scope entered
    except Exception:  # noqa: BLE001 - not trio, or trio changed: no late shield
        return None


def shield_opened(innermost: object, before: object) -> None:
    """Shield the outermost of the cancel scopes a coroutine opened (from ``innermost`` up to
    ``before``, the scope it started in), so that no cancellation from outside reaches it.
    Its own deadlines still apply. Does nothing if the chain cannot be followed.
    """
    parent = "_parent" if hasattr(innermost, "_scope") else "_parent_scope"  # trio's status, or anyio's scope
    scope: Any = innermost
    outermost: Any = None
    while scope is not None and scope is not before:
        outermost = scope
        scope = getattr(scope, parent, None)
    if outermost is not None and (scope is before or before is NO_CANCEL_SCOPE):
        if parent == "_parent":
            outermost = getattr(outermost, "_scope", None)  # the trio CancelScope of the status
        if outermost is not None:
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
