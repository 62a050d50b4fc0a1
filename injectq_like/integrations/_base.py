"""What every ASGI integration shares: a scope per connection, opened around the app.

A pure ASGI middleware (not one that wraps responses) so that the scope is
the current one in the very task that runs the endpoint, streaming responses
included, and is closed only after the response is sent, or when the client
went away and the server cancelled the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final

from injectq_like import Container, Scope

__all__ = ["ASGIApp", "ContextFactory", "ScopePerConnection"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]
#: Builds the context values of a new scope from the ASGI connection.
ContextFactory = Callable[[MutableMapping[str, Any], Receive, Send], Mapping[Any, Any]]

_LEVELS: Final = {"http": Scope.REQUEST, "websocket": Scope.SESSION}


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
