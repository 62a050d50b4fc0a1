"""Starlette and FastAPI: one call installs injectq_like on an app.

    from injectq_like.integrations.starlette import setup
    setup(app, container)

It opens a REQUEST scope per HTTP request and a SESSION scope per WebSocket
connection, supplies ``Request`` and ``WebSocket`` as context values of
those scopes (declared for you), starts the container when the app starts
and closes it when the app stops, around any lifespan the app already has.
``@inject`` endpoints then resolve from the request's scope; FastAPI sees
only their own parameters. When the app starts, the container is validated
together with every ``@inject`` handler the app calls (endpoints and FastAPI
dependencies, in included routers and mounted apps too): a handler needing
something unregistered stops the start with ``InvalidContainerError``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from injectq_like import Container, Scope

from ._base import Receive, ScopePerConnection, Send, check_handlers, install

__all__ = ["handlers", "setup"]


def _request(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
    return {Request: Request(scope, receive, send)}


def _websocket(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
    return {WebSocket: WebSocket(scope, receive, send)}


def setup(app: Any, container: Container) -> None:
    """Install ``container`` on a Starlette or FastAPI ``app``.

    Call it before the app starts, and before the container's first
    resolution (it declares the ``Request`` and ``WebSocket`` context values).
    """
    install(
        app,
        container,
        what="app",
        unit="connection",
        context={Request: Scope.REQUEST, WebSocket: Scope.SESSION},
        handlers=lambda: handlers(app),
    )
    app.state.injectq_like_container = container
    app.add_middleware(
        ScopePerConnection,
        container=container,
        context={"http": _request, "websocket": _websocket},
    )
    router = app.router
    original: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]] = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        check_handlers(container, handlers(app))  # a handler missing a provider stops the start
        async with container, original(application) as state:
            yield state

    router.lifespan_context = lifespan


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
