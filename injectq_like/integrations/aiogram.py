"""aiogram: one call installs injectq_like on an ``aiogram.Dispatcher``.

    from injectq_like.integrations.aiogram import setup
    setup(dispatcher, container)

It opens a REQUEST scope per update, supplies the ``aiogram.types.Update``
being handled and the ``aiogram.Bot`` it came through as context values of
that scope (declared for you; a key you registered a provider for yourself
is left to your provider, and not supplied),
starts the container at the dispatcher's startup and closes it at its
shutdown, after every router's own shutdown handlers. ``@inject`` handlers,
filters, middlewares and error handlers then resolve from the update's
scope, beside aiogram's own arguments (``message``, ``bot``, ``state``,
``command``, middleware and workflow data). At startup the container is
validated together with every ``@inject`` callable of the router tree: one
needing something unregistered stops the start with ``InvalidContainerError``.

The scope is opened by an outer middleware of the ``update`` observer that
``setup`` puts first, before aiogram's own (``ErrorsMiddleware``, the user
context and FSM ones): ``Dispatcher.feed_update`` runs that chain around
``update.trigger`` -> ``_listen_update`` -> ``propagate_event``, so the one
middleware call wraps the whole processing of one update, in the task that
runs it: every router's outer and inner middlewares, filters, the handler,
and the error handlers. The handler's exception is thrown into the scope's
cleanups, then propagates unchanged (``SkipHandler``, ``CancelHandler``
included). An exception an error handler (``@router.error()``) answered is
thrown into the cleanups too, so the unit of work rolls back, and the error
handler's answer is then returned as aiogram would.

aiogram reads a callable's parameters after ``inspect.unwrap``
(``CallableObject.__post_init__``), which leads past an ``@inject`` wrapper
to the function with the injected parameters: it would pass a data key of
the same name as an explicit argument, which wins over the injected value.
``setup``, the startup and the first update correct what aiogram cached for
every ``@inject`` callable of the router tree (its parameters, and the flags
put on the wrapper); for a handler registered after that, call
``hide_injected(dispatcher)`` again.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final, cast

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.handler import CallableObject, HandlerObject
from aiogram.dispatcher.flags import extract_flags_from_object
from aiogram.dispatcher.middlewares.base import BaseMiddleware
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.types import ErrorEvent, TelegramObject, Update

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST
from injectq_like.exceptions import RegistrationError

from ._base import check_handlers, install

__all__ = ["handlers", "hide_injected", "setup"]

Next = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

#: The exceptions error handlers were given during the update being handled in this context.
_answered: ContextVar[list[BaseException] | None] = ContextVar("injectq_like_aiogram_answered", default=None)
#: On a stand-in callback: the ``@inject`` callable it calls.
_ORIGINAL: Final = "__injectq_like_aiogram__"
_CONTEXT: Final = (Update, Bot)
_NAMED: Final = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)


def setup(dispatcher: Dispatcher, container: Container) -> None:
    """Install ``container`` on an aiogram ``dispatcher``.

    Call it before the dispatcher starts, and before the container's first
    resolution (it declares the ``Update`` and ``Bot`` context values). A
    second call on the same dispatcher raises ``RegistrationError``.
    """
    if not isinstance(dispatcher, Dispatcher):
        raise RegistrationError(
            f"setup() needs an aiogram Dispatcher, not a {type(dispatcher).__qualname__}",
            hint="call setup(dispatcher, container) on the root Dispatcher; its sub-routers are covered",
        )
    supplied = install(
        dispatcher,
        container,
        what="dispatcher",
        unit="update",
        context=dict.fromkeys(_CONTEXT, Scope.REQUEST),
        handlers=handlers,
    )
    middleware = _ScopePerUpdate(dispatcher, container, update=Update in supplied, bot=Bot in supplied)
    _put_first(dispatcher.update.outer_middleware, middleware)
    dispatcher.errors.outer_middleware(_note_answered)
    hide_injected(dispatcher)
    started = False

    async def startup() -> None:
        nonlocal started
        check_handlers(container, handlers(dispatcher))  # a handler missing a provider stops the start
        hide_injected(dispatcher)
        middleware.prepared = True
        _move_last(dispatcher, closing)  # after every router's own shutdown handlers
        await container.__aenter__()  # APP autouse instances, before the dispatcher's own startup handlers
        started = True

    async def shutdown() -> None:
        nonlocal started
        if started:
            started = False
            await container.aclose()

    dispatcher.startup.register(startup)
    dispatcher.startup.handlers.insert(0, dispatcher.startup.handlers.pop())  # first
    dispatcher.shutdown.register(shutdown)
    closing = dispatcher.shutdown.handlers[-1]


class _ScopePerUpdate(BaseMiddleware):
    """The outermost middleware of the ``update`` observer: a REQUEST scope per update."""

    def __init__(self, dispatcher: Dispatcher, container: Container, *, update: bool, bot: bool) -> None:
        self.dispatcher = dispatcher
        self.container = container
        self.update = update  # whether the scope is given the update (not when the user provides it)
        self.bot = bot  # ... and the bot
        self.prepared = False  # aiogram's readings of @inject callables corrected at the start

    async def __call__(self, handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not self.prepared:  # the dispatcher was not started: the first update corrects them
            hide_injected(self.dispatcher)
            self.prepared = True
        context: dict[Any, Any] = {}
        if self.update:
            context[Update] = event
        if self.bot:
            context[Bot] = data["bot"]
        answered: list[BaseException] = []
        token = _answered.set(answered)
        try:
            return await self.handle(handler, event, data, context, answered)
        finally:
            _answered.reset(token)

    async def handle(
        self, handler: Next, event: TelegramObject, data: dict[str, Any], context: dict[Any, Any], answered: list[Any]
    ) -> Any:
        """The update's processing in its scope; an exception an error handler answered (in
        ``answered``) is thrown into the scope's exit, and the answer returned if nothing else failed.
        """
        thrown = False
        try:
            async with self.container.scope(REQUEST, context=context):
                response = await handler(event, data)
                thrown = bool(answered)  # an error handler answered: the cleanups still see the failure
                _raise_first(answered)
        except Exception as error:
            if thrown and error is answered[0]:  # came back unchanged: no cleanup failed
                return response
            raise
        return response


def _raise_first(answered: list[Any]) -> None:
    """Raise the first exception of ``answered``, if any (into the scope's exit)."""
    if answered:
        raise answered[0]


async def _note_answered(handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
    """Outer middleware of the dispatcher's ``error`` observer: remembers the exception handed to
    the error handlers, for the update's scope to throw into its cleanups.
    """
    answered = _answered.get()
    if answered is not None:  # else an error event propagated by hand, outside any update
        answered.append(cast("ErrorEvent", event).exception)
    return await handler(event, data)


def hide_injected(dispatcher: Dispatcher) -> None:
    """Make aiogram read every ``@inject`` callable of the router tree as its callers see it: the
    parameters it passes by name, and the flags set on the wrapper. Idempotent.
    """
    for handler in _callable_objects(dispatcher):
        callback = handler.callback
        if getattr(callback, "__injectq_like__", None) is None:
            continue
        visible = inspect.signature(callback).parameters.values()  # the wrapper's __signature__
        params = {parameter.name for parameter in visible if parameter.kind in _NAMED}
        hidden = handler.params - params  # aiogram's reading of the unwrapped function had them
        handler.params = params
        handler.varkw = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in visible)
        if handler.varkw and hidden:  # aiogram passes every data key: drop those named like injected ones
            handler.callback = _without(callback, frozenset(hidden))
        if isinstance(handler, HandlerObject):
            handler.flags.update(extract_flags_from_object(callback))


def _without(callback: Callable[..., Any], hidden: frozenset[str]) -> Callable[..., Any]:
    """``callback`` called without the keyword arguments named in ``hidden``."""
    if inspect.iscoroutinefunction(callback):

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            return await callback(*args, **{k: v for k, v in kwargs.items() if k not in hidden})

        stand_in: Callable[..., Any] = call_async
    else:

        def call(*args: Any, **kwargs: Any) -> Any:
            return callback(*args, **{k: v for k, v in kwargs.items() if k not in hidden})

        stand_in = call
    setattr(stand_in, _ORIGINAL, callback)
    stand_in.__name__ = stand_in.__qualname__ = getattr(callback, "__qualname__", "handler")
    return stand_in


def _callable_objects(dispatcher: Dispatcher) -> Iterator[CallableObject]:
    """Every handler and filter aiogram calls with data by name, through the router tree."""
    for router in dispatcher.chain_tail:
        for observer in router.observers.values():
            root = getattr(observer, "_handler", None)  # holds the observer's own filters (observer.filter(...))
            yield from getattr(root, "filters", None) or ()
            for handler in observer.handlers:
                yield handler
                yield from handler.filters or ()
        yield from router.startup.handlers
        yield from router.shutdown.handlers


def _put_first(manager: MiddlewareManager, middleware: BaseMiddleware) -> None:
    """Register ``middleware`` before those already in ``manager``."""
    existing = list(manager)
    for other in existing:
        manager.unregister(other)
    manager.register(middleware)
    for other in existing:
        manager.register(other)


def _move_last(dispatcher: Dispatcher, closing: HandlerObject) -> None:
    """Move the ``closing`` shutdown handler to the end of the shutdown handlers of the router that
    ``emit_shutdown`` visits last (the last of the tree, depth first).
    """
    routers = list(dispatcher.chain_tail)
    for router in routers:
        router.shutdown.handlers[:] = [handler for handler in router.shutdown.handlers if handler is not closing]
    routers[-1].shutdown.handlers.append(closing)


def handlers(dispatcher: Dispatcher) -> list[Callable[..., Any]]:
    """The ``@inject`` callables the dispatcher calls, through its sub-routers at any depth: handlers
    (functions, methods, class-based handlers' ``handle``), their filters and the observers' own,
    inner and outer middlewares, error handlers and startup and shutdown handlers, each once.
    """
    found: dict[int, Callable[..., Any]] = {}

    def add(candidate: Any) -> None:
        candidate = getattr(candidate, _ORIGINAL, candidate)
        if getattr(candidate, "__injectq_like__", None) is not None:
            found.setdefault(id(getattr(candidate, "__func__", candidate)), candidate)
        elif inspect.isclass(candidate):
            add(getattr(candidate, "handle", None))  # a class-based handler
        elif callable(candidate) and not inspect.isroutine(candidate):
            add(candidate.__call__)  # a Filter or middleware object

    for handler in _callable_objects(dispatcher):
        add(handler.callback)
    for router in dispatcher.chain_tail:
        for observer in router.observers.values():
            for middleware in (*observer.outer_middleware, *observer.middleware):
                add(middleware)
    return list(found.values())
