"""FastStream: one call installs injectq_like on a FastStream broker (NATS, RabbitMQ, Kafka, Redis...).

    from injectq_like.integrations.faststream import setup
    setup(broker, container)

It opens a REQUEST scope per message handled, supplies the
``faststream.StreamMessage`` being handled as a context value of that scope
(declared for you, also under the key ``StreamMessage[Any]``; a key you
registered a provider for yourself is left to your provider, and not
supplied), starts the container when the broker starts (after
checking the broker's ``@inject`` handlers: one needing something
unregistered stops the start with ``InvalidContainerError``) and closes it
when the broker stops, after the broker's own stop (its subscribers drained).
``@inject`` handlers then resolve from the message's scope; FastDepends, which
parses a handler's arguments and draws its AsyncAPI schema, sees only the
caller's parameters.

The scope is opened in the ``consume_scope`` of a broker middleware (added
with ``broker.add_middleware``, FastStream's generic broker API). FastStream's
``SubscriberUsecase.process_message`` enters every middleware, parses the
message, picks the handler, and then calls ``HandlerItem.call``, which runs
the middlewares' ``consume_scope`` chain around the FastDepends call of the
handler, in the task that handles the message. So the scope is the current
one where the handler runs (in the worker thread for a ``def`` handler, which
gets a copy of the context), it closes once, when the handler has returned or
raised, and the handler's exception is thrown into the scope's cleanups
before it goes on, unchanged, to FastStream: the middlewares' exits, where
``AcknowledgementMiddleware`` acks, nacks or rejects the message. The other
hooks do not fit: ``on_receive`` runs before the message is parsed (no
``StreamMessage`` yet), and ``after_processed`` gets the exception only after
every ``consume_scope`` had its say. The handler's return value is published
after the scope has closed: a reply never announces work that is not
committed yet.

``AckMessage`` raised by the handler means "done": the scope closes as if the
handler had returned (a unit of work commits), then the ``AckMessage`` goes on
to FastStream, which acks. ``NackMessage``, ``RejectMessage`` and every other
exception are thrown into the cleanups (a unit of work rolls back).

``consume_scope`` is also called where no handler runs (a message fetched by
``subscriber.get_one()``, the response of ``broker.request()``): FastStream
then has no handler context for the message, and no scope is opened.

FastStream's ``TestBroker`` replaces ``broker.start`` and ``broker.stop`` with
fakes while it is active: under it the container is neither started nor
closed by the broker (close it yourself).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from faststream import BaseMiddleware
from faststream.exceptions import AckMessage

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, injected, install

try:
    from faststream import StreamMessage
except ImportError:  # pragma: no cover - FastStream 0.5 does not export it at the top
    from faststream.broker.message import StreamMessage  # type: ignore[import-not-found,no-redef]

__all__ = ["handlers", "setup"]

#: The message's keys: ``StreamMessage`` and ``StreamMessage[Any]`` (the spelling ``mypy --strict`` accepts).
_KEYS: Final = (StreamMessage, StreamMessage[Any])


def setup(broker: Any, container: Container) -> None:
    """Install ``container`` on a FastStream ``broker`` (any broker class).

    Call it before the broker starts, before the container's first resolution
    (it declares the ``StreamMessage`` context value), and after adding the
    broker's own middlewares: the scope's middleware is added last, so it
    runs inside them. A second call on the same broker raises
    ``RegistrationError``.
    """
    supplied = install(
        broker,
        container,
        what="broker",
        unit="message",
        context=dict.fromkeys(_KEYS, Scope.REQUEST),
        handlers=handlers,
    )
    broker.add_middleware(functools.partial(_ScopePerMessage, container=container, keys=supplied))
    _hook_lifetime(broker, container)


class _ScopePerMessage(BaseMiddleware):
    """A REQUEST scope around the call of the handler of one message."""

    __slots__ = ("container", "keys")

    def __init__(self, msg: Any = None, /, *, container: Container, keys: tuple[Any, ...], **options: Any) -> None:
        super().__init__(msg, **options)  # FastStream 0.6+ passes ``context=``, 0.5 nothing
        self.container = container
        self.keys = keys  # the message's keys the scope is given (not those the user provides)

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        if not self._handled(msg):  # get_one(), a request's response: no handler runs
            return await call_next(msg)
        async with self.container.scope(REQUEST, context=dict.fromkeys(self.keys, msg)):
            try:
                return await call_next(msg)
            except AckMessage as done:  # "done, acknowledge": the scope closes as on success
                acked = done
        raise acked

    def _handled(self, msg: Any) -> bool:
        """Whether ``msg`` is the message FastStream is calling a handler for."""
        repository = getattr(self, "context", None)
        if repository is None:  # pragma: no cover - FastStream 0.5 middlewares have no context
            return True
        current = repository.get_local("message")  # set by FastStream around a handler's call
        # the same message, or a copy of it that an outer middleware passed on
        return current is msg or getattr(current, "raw_message", self) is getattr(msg, "raw_message", None)


def _hook_lifetime(broker: Any, container: Container) -> None:
    """The container started by the broker's ``start`` and closed by its ``stop`` (0.5: ``close``)."""
    start = broker.start
    stop_name = "stop" if callable(getattr(type(broker), "stop", None)) else "close"
    stop = getattr(broker, stop_name)

    @functools.wraps(start)
    async def start_with_container(*args: Any, **kwargs: Any) -> Any:
        check_handlers(container, handlers(broker))  # a handler missing a provider stops the start
        await container.__aenter__()  # APP autouse instances, before the broker connects
        try:
            return await start(*args, **kwargs)
        except BaseException:
            await container.aclose()  # the broker did not start: nothing stays open
            raise

    @functools.wraps(stop)
    async def stop_then_close(*args: Any, **kwargs: Any) -> Any:
        try:
            return await stop(*args, **kwargs)  # subscribers drained: their scopes are closed
        finally:
            await container.aclose()  # closes what is open: a second stop closes nothing again

    broker.start = start_with_container
    setattr(broker, stop_name, stop_then_close)


def handlers(broker: Any) -> list[Callable[..., Any]]:
    """The ``@inject`` functions of the broker's subscribers (its routers' included), each once."""
    found: dict[int, Callable[..., Any]] = {}
    for subscriber in _subscribers(broker):
        for call in subscriber.calls:
            function = injected(getattr(call.handler, "_original_call", None))
            if function is not None:
                found.setdefault(id(function), function)
    return list(found.values())


def _subscribers(broker: Any) -> Iterable[Any]:
    found = getattr(broker, "subscribers", None)
    if found is None:  # pragma: no cover - FastStream 0.5 keeps them in a dict
        found = broker._subscribers.values()
    return found  # type: ignore[no-any-return]
