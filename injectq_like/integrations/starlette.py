"""Starlette and FastAPI: one call installs injectq_like on an app.

    from injectq_like.integrations.starlette import setup
    setup(app, container)

It opens a REQUEST scope per HTTP request and a SESSION scope per WebSocket
connection, supplies ``Request`` and ``WebSocket`` as context values of
those scopes (declared for you), starts the container when the app starts
and closes it when the app stops, around any lifespan the app already has.
``@inject`` endpoints then resolve from the request's scope; FastAPI sees
only their own parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket

from injectq_like import Container, Scope
from injectq_like._registrations import declare_context
from injectq_like.exceptions import RegistrationError

from ._base import Receive, ScopePerConnection, Send

__all__ = ["setup"]


def _request(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
    return {Request: Request(scope, receive, send)}


def _websocket(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
    return {WebSocket: WebSocket(scope, receive, send)}


def setup(app: Any, container: Container) -> None:
    """Install ``container`` on a Starlette or FastAPI ``app``.

    Call it before the app starts, and before the container's first
    resolution (it declares the ``Request`` and ``WebSocket`` context values).
    """
    installed = getattr(app.state, "injectq_like_container", None)
    if installed is not None:
        raise RegistrationError(
            "setup() was already called on this app",
            hint="call setup(app, container) once per app; it opens one scope per connection",
        )
    app.state.injectq_like_container = container
    declare_context(container, Request, Scope.REQUEST)
    declare_context(container, WebSocket, Scope.SESSION)
    app.add_middleware(
        ScopePerConnection,
        container=container,
        context={"http": _request, "websocket": _websocket},
    )
    router = app.router
    original: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]] = router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with container, original(application) as state:
            yield state

    router.lifespan_context = lifespan
