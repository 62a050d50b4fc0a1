"""What every integration shares: ``install`` (the first steps of every ``setup``), and for the
ASGI frameworks a scope per connection opened around the app.

``install`` refuses a second ``setup`` on the same target, declares the
framework's objects as context values (unless the user registered them),
returns the keys the integration must then give its scopes (a key the user
registered with a provider of their own is not one of them: their provider
is used), and records the target with a finder of its ``@inject`` handlers,
so that the app's start and ``python -m injectq_like check MODULE:APP`` can
check them (``check_handlers``).

``ScopePerConnection`` is a pure ASGI middleware (not one that wraps
responses) so that the scope is the current one in the very task that runs
the endpoint, streaming responses included, and is closed only after the
response is sent, or when the client went away and the server cancelled the
request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final

from injectq_like import Container, Scope
from injectq_like._container import check
from injectq_like._loading import installed_on, register_app
from injectq_like._registrations import declare_context
from injectq_like.exceptions import RegistrationError

__all__ = [
    "ASGIApp",
    "ContextFactory",
    "Message",
    "ScopePerConnection",
    "check_handlers",
    "injected",
    "install",
]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]
#: Builds the context values of a new scope from the ASGI connection.
ContextFactory = Callable[[MutableMapping[str, Any], Receive, Send], Mapping[Any, Any]]

_LEVELS: Final = {"http": Scope.REQUEST, "websocket": Scope.SESSION}


def install(
    target: Any,
    container: Container,
    *,
    what: str,
    unit: str,
    context: Mapping[Any, Scope],
    handlers: Callable[[Any], Iterable[Callable[..., Any]]],
) -> tuple[Any, ...]:
    """The first steps of every ``setup(target, container)``; ``what`` names the target in messages
    (``app``, ``broker``), and ``unit`` what a scope is opened for (``connection``, ``message``);
    ``handlers(target)`` lists the target's ``@inject`` handlers.

    Call it before the container's first resolution: it declares context values. Returns the keys
    of ``context`` the integration must supply (in their order): those declared now or declared by
    the user as context values of the same level, not those the user registered a provider for. A
    key the user declared as a context value of another level is a ``RegistrationError``.
    """
    if installed_on(target) is not None:
        raise RegistrationError(
            f"setup() was already called on this {what}",
            hint=f"call setup({what}, container) once per {what}; it opens one scope per {unit}",
        )
    supplied = tuple(key for key, level in context.items() if declare_context(container, key, level))
    register_app(target, container, handlers)
    return supplied


def check_handlers(container: Container, handlers: Iterable[Callable[..., Any]]) -> None:
    """When the app starts: the container validated with the app's ``@inject`` handlers, so that a
    handler needing something unregistered stops the start (``InvalidContainerError``).
    """
    check(container, handlers)


class ScopePerConnection:
    """ASGI middleware: a REQUEST scope per HTTP request, a SESSION scope per WebSocket."""

    __slots__ = ("app", "container", "context")

    def __init__(self, app: ASGIApp, container: Container, context: Mapping[str, ContextFactory]) -> None:
        self.app = app
        self.container = container
        self.context = context  # by ASGI scope type

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        level = _LEVELS.get(kind)
        if level is None:  # lifespan, and anything else: not a connection
            await self.app(scope, receive, send)
            return
        build = self.context.get(kind)
        values = build(scope, receive, send) if build is not None else None
        async with self.container.scope(level, context=values):
            await self.app(scope, receive, send)


def injected(function: Any) -> Callable[..., Any] | None:
    """The ``@inject`` wrapper among ``function`` and what it wraps (``__wrapped__``: through
    ``pass_context`` and the like), if any: how a finder of handlers recognises one.
    """
    while function is not None:
        if getattr(function, "__injectq_like__", None) is not None:
            return function  # type: ignore[no-any-return]
        function = getattr(function, "__wrapped__", None)
    return None
