"""Starlette and FastAPI: one call installs injectq_like on an app.

    from injectq_like.integrations.starlette import setup
    setup(app, container)

It opens a REQUEST scope per HTTP request and a SESSION scope per WebSocket
connection, supplies ``Request`` and ``WebSocket`` as context values of
those scopes (declared for you; a key you registered a provider for
yourself is left to your provider, and not supplied), starts the container when the app starts
and closes it when the app stops, around any lifespan the app already has.
``@inject`` endpoints then resolve from the request's scope; FastAPI sees
only their own parameters. When the app starts, the container is validated
together with every ``@inject`` handler the app calls (endpoints and FastAPI
dependencies, in included routers and mounted apps too): a handler needing
something unregistered stops the start with ``InvalidContainerError``.

The scopes are opened by a pure ASGI middleware (``app.add_middleware``),
so that the scope is current in the very task that runs the endpoint and
the response's background tasks, and closes after the response was sent
(streaming ones included) and its background tasks ran. The ``Request`` of
the context and the one the endpoint reads (FastAPI makes its own) share one
body: whichever reads it first, the other gets the same bytes
(``SharedBody``).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any, Final

import anyio
from starlette.requests import Request
from starlette.websockets import WebSocket

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST, SESSION

from ._base import ASGIApp, Message, Receive, Send, check_handlers, install

__all__ = ["KEPT_BODY_LIMIT", "SharedBody", "handlers", "setup"]

#: How many bytes of a request body are kept for a second reader that has not read them yet.
KEPT_BODY_LIMIT: Final = 16 * 1024 * 1024


def setup(app: Any, container: Container) -> None:
    """Install ``container`` on a Starlette or FastAPI ``app``.

    Call it before the app starts, and before the container's first
    resolution (it declares the ``Request`` and ``WebSocket`` context values).
    """
    supplied = install(
        app,
        container,
        what="app",
        unit="connection",
        context={Request: Scope.REQUEST, WebSocket: Scope.SESSION},
        handlers=handlers,
    )
    app.state.injectq_like_container = container
    app.add_middleware(
        _ScopePerConnection, container=container, request=Request in supplied, websocket=WebSocket in supplied
    )
    router = app.router
    original: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]] = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        check_handlers(container, handlers(app))  # a handler missing a provider stops the start
        async with container, original(application) as state:
            yield state

    router.lifespan_context = lifespan


class _ScopePerConnection:
    """ASGI middleware: a REQUEST scope per HTTP request, a SESSION scope per WebSocket."""

    __slots__ = ("app", "container", "request", "websocket")

    def __init__(self, app: ASGIApp, container: Container, *, request: bool, websocket: bool) -> None:
        self.app = app
        self.container = container
        self.request = request  # whether the scopes are given the Request (not when the user provides it)
        self.websocket = websocket

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if not self.request:
                async with self.container.scope(REQUEST):
                    await self.app(scope, receive, send)
                return
            body = SharedBody(receive)
            async with self.container.scope(REQUEST, context={Request: Request(scope, body.reader(), send)}):
                await self.app(scope, body.reader(), send)
        elif kind == "websocket":
            context = {WebSocket: WebSocket(scope, receive, send)} if self.websocket else None
            async with self.container.scope(SESSION, context=context):
                await self.app(scope, receive, send)
        else:  # lifespan: not a connection
            await self.app(scope, receive, send)


class SharedBody:
    """One request body for several readers of an ASGI ``receive``: each ``reader()`` gets every
    ``http.request`` message from the first, whichever reader pulled it from the server.

    A provider reading ``Request.body()`` and an endpoint parsing a body parameter then both get the
    whole body. Messages are kept until the body is complete, up to ``limit`` bytes; past that they
    are no longer kept, and a reader that would have needed them gets a ``RuntimeError`` saying so.
    What comes after the body (``http.disconnect``) goes to whoever asks, straight from the server.
    """

    __slots__ = ("complete", "kept", "limit", "lock", "messages", "pulled", "receive")

    def __init__(self, receive: Receive, limit: int = KEPT_BODY_LIMIT) -> None:
        self.receive = receive
        self.limit = limit
        self.messages: list[Message] | None = []  # None once over the limit
        self.pulled = 0  # http.request messages received from the server
        self.kept = 0  # bytes in messages
        self.complete = False  # the last http.request message was received
        self.lock: anyio.Lock | None = None

    def reader(self) -> Receive:
        """A ``receive`` that starts at the body's first message."""
        return _Reader(self)

    async def pull(self) -> Message:
        """The server's next message, kept if it is part of the body."""
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        self.pulled += 1
        self.complete = not message.get("more_body", False)
        if self.messages is not None:
            self.kept += len(message.get("body", b""))
            if self.kept <= self.limit:
                self.messages.append(message)
            else:
                self.messages = None
        return message


class _Reader:
    __slots__ = ("body", "position")

    def __init__(self, body: SharedBody) -> None:
        self.body = body
        self.position = 0  # the next http.request message this reader gets

    async def __call__(self) -> Message:
        body = self.body
        while True:
            if self.position < body.pulled:  # the body was read further by another reader
                if body.messages is None:
                    raise RuntimeError(
                        f"the request body (over {body.limit} bytes) was read by another reader and is no "
                        "longer kept; read it in one place (the endpoint or a provider) and pass it on from there"
                    )
                message = body.messages[self.position]
                self.position += 1
                return message
            if body.complete:
                return await body.receive()
            if body.lock is None:
                body.lock = anyio.Lock()
            async with body.lock:
                if self.position < body.pulled or body.complete:  # another reader pulled while this one waited
                    continue
                message = await body.pull()
            if message["type"] == "http.request":
                self.position += 1
            return message


def handlers(app: Any) -> list[Callable[..., Any]]:
    """The ``@inject`` functions an app calls: endpoints (functions, and methods of endpoint classes)
    and FastAPI dependencies at any depth, through included routers and ``Mount``s, each once.
    """
    found: dict[int, Callable[..., Any]] = {}
    seen: set[int] = set()

    def add(candidate: Any) -> None:
        if getattr(candidate, "__injectq_like__", None) is not None:
            found.setdefault(id(getattr(candidate, "__func__", candidate)), candidate)
        elif inspect.isclass(candidate) and id(candidate) not in seen:  # an HTTPEndpoint class, say
            seen.add(id(candidate))
            for name in dir(candidate):
                if not name.startswith("__"):
                    add(getattr(candidate, name, None))

    def dependencies(dependant: Any) -> None:
        add(getattr(dependant, "call", None))
        for sub in getattr(dependant, "dependencies", ()):
            dependencies(sub)

    def walk(routes: Any) -> None:
        for route in routes or ():
            if id(route) in seen:
                continue
            seen.add(id(route))
            add(getattr(route, "endpoint", None))
            dependant = getattr(route, "dependant", None)  # FastAPI: the endpoint's dependency tree
            if dependant is not None:
                dependencies(dependant)
            included = getattr(route, "original_router", None)  # FastAPI: an included router, kept nested
            if included is not None:
                walk(included.routes)
            walk(getattr(route, "routes", None))  # Mount, Host, a nested Router

    walk(getattr(app, "routes", None))
    return list(found.values())
