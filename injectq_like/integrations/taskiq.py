"""taskiq: one call installs injectq_like on a taskiq broker.

    from injectq_like.integrations.taskiq import setup
    setup(broker, container)

It opens a REQUEST scope per task execution (a retry is a new execution,
with a scope of its own), supplies the ``taskiq.TaskiqMessage`` being run as
a context value of that scope (declared for you; when you registered a
provider for it yourself, yours is used and the message is not supplied),
starts the container at
the worker's startup and closes it at the worker's shutdown, after the
broker's own shutdown handlers. ``@inject`` tasks then resolve from the
execution's scope; taskiq sees only their caller's parameters, so its
argument casting and its own dependency parser (``TaskiqDepends``) ignore
the injected ones. At startup the container is validated together with the
broker's ``@inject`` tasks: one needing something unregistered stops the
start with ``InvalidContainerError``.

The scope is opened by a wrapper put around each registered task's function
(``task.original_func``, what taskiq's receiver calls), so that it is the
current one in the very task (or, for a ``def`` task, the executor's thread)
that runs the function, and closes when the function has returned or raised:
the task's exception is thrown into the scope's cleanups, then reaches
taskiq unchanged (its result, its retry middleware). A middleware's hooks
cannot do this: taskiq runs them before and after the call but catches the
task's exception in between. The middleware ``setup`` adds only hands the
message being run to the wrapper (``pre_execute``), and wraps a task
registered after the start on its first run. A direct call of a task
function, outside a worker's execution, opens no scope.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

import taskiq

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, install

__all__ = ["handlers", "setup"]

#: The message whose execution is about to call its task function (set by the middleware).
_running: ContextVar[taskiq.TaskiqMessage | None] = ContextVar("injectq_like_taskiq_message", default=None)
_WRAPPED: Final = "__injectq_like_taskiq__"


def setup(broker: taskiq.AsyncBroker, container: Container) -> None:
    """Install ``container`` on a taskiq ``broker``.

    Call it before the worker starts, and before the container's first
    resolution (it declares the ``TaskiqMessage`` context value). A second
    call on the same broker raises ``RegistrationError``.
    """
    supplied = taskiq.TaskiqMessage in install(
        broker,
        container,
        what="broker",
        unit="task",
        context={taskiq.TaskiqMessage: Scope.REQUEST},
        handlers=handlers,
    )
    middleware = _ScopePerTask(container, supplied=supplied)
    started = False

    async def startup(_: taskiq.TaskiqState) -> None:
        nonlocal started
        check_handlers(container, handlers(broker))  # a task missing a provider stops the start
        for task in broker.get_all_tasks().values():
            _wrap_task(task, container, supplied=supplied)
        _move(broker.middlewares, middleware)  # last: it sees the message the others prepared
        _move(broker.event_handlers[taskiq.TaskiqEvents.WORKER_SHUTDOWN], shutdown)  # after the broker's own
        await container.__aenter__()  # APP autouse instances, before the broker's other startup code
        started = True

    async def shutdown(_: taskiq.TaskiqState) -> None:
        nonlocal started
        if started:
            started = False
            await container.aclose()

    broker.event_handlers[taskiq.TaskiqEvents.WORKER_STARTUP].insert(0, startup)
    broker.add_event_handler(taskiq.TaskiqEvents.WORKER_SHUTDOWN, shutdown)
    broker.add_middlewares(middleware)


class _ScopePerTask(taskiq.TaskiqMiddleware):
    """Hands the message being run to its task's wrapper, in the task that calls the function."""

    def __init__(self, container: Container, *, supplied: bool) -> None:
        super().__init__()
        self.container = container
        self.supplied = supplied  # whether the scopes are given the message

    def pre_execute(self, message: taskiq.TaskiqMessage) -> taskiq.TaskiqMessage:
        task = self.broker.find_task(message.task_name)
        if task is not None:
            _wrap_task(task, self.container, supplied=self.supplied)  # a task registered after the start
        _running.set(message)
        return message

    def post_execute(self, message: taskiq.TaskiqMessage, result: taskiq.TaskiqResult[Any]) -> None:  # noqa: ARG002
        _running.set(None)


def _wrap_task(task: taskiq.AsyncTaskiqDecoratedTask[Any, Any], container: Container, *, supplied: bool) -> None:
    """Put a scope per execution around ``task``'s function, once."""
    function = task.original_func
    if getattr(function, _WRAPPED, None) is None:
        task.original_func = _scoped(function, container, supplied=supplied)


def _scoped(function: Callable[..., Any], container: Container, *, supplied: bool) -> Callable[..., Any]:
    """``function`` of the same kind and visible signature, run in a REQUEST scope when a worker
    executes it (the message is handed over, and given to the scope when it is ``supplied``),
    called as it is otherwise.
    """
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def scoped_coroutine(*args: Any, **kwargs: Any) -> Any:
            message = _running.get()
            if message is None:
                return await function(*args, **kwargs)
            token = _running.set(None)  # a task function it calls directly gets no scope of its own
            try:
                async with container.scope(REQUEST, context={taskiq.TaskiqMessage: message} if supplied else None):
                    return await function(*args, **kwargs)
            finally:
                _running.reset(token)

        wrapper: Callable[..., Any] = scoped_coroutine
    else:

        @functools.wraps(function)
        def scoped_function(*args: Any, **kwargs: Any) -> Any:
            message = _running.get()  # the executor's thread runs in a copy of the receiver's context
            if message is None:
                return function(*args, **kwargs)
            token = _running.set(None)
            try:
                with container.scope(REQUEST, context={taskiq.TaskiqMessage: message} if supplied else None):
                    return function(*args, **kwargs)
            finally:
                _running.reset(token)

        wrapper = scoped_function
    setattr(wrapper, _WRAPPED, function)
    return wrapper


def _move(hooks: list[Any], hook: Any) -> None:
    """Put ``hook`` last in ``hooks``."""
    if hooks and hooks[-1] is not hook:
        hooks.remove(hook)
        hooks.append(hook)


def handlers(broker: taskiq.AsyncBroker) -> list[Callable[..., Any]]:
    """The broker's registered task functions that are ``@inject``, each once."""
    found: dict[int, Callable[..., Any]] = {}
    for task in broker.get_all_tasks().values():
        function = getattr(task.original_func, _WRAPPED, task.original_func)
        if getattr(function, "__injectq_like__", None) is not None:
            found.setdefault(id(function), function)
    return list(found.values())
