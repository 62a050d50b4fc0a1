"""The Starlette integration with ``Request`` and ``WebSocket`` declared by the application itself."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

from injectq_like import Container, Inject, RegistrationError, Scope, inject
from injectq_like.integrations.starlette import setup


class Caller:
    def __init__(self, request: Request) -> None:
        self.path = request.url.path


class Peer:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket


@pytest.mark.anyio
async def test_setup_keeps_context_values_the_application_declared_itself() -> None:
    """An app that declared ``Request`` and ``WebSocket`` before ``setup`` keeps its declarations, and they work."""
    container = Container()
    container.register_context(Request, scope=Scope.REQUEST)
    container.register_context(WebSocket, scope=Scope.SESSION)
    container.register(Caller, scope=Scope.REQUEST)
    container.register(Peer, scope=Scope.SESSION)

    @inject
    async def where(request: Request, caller: Inject[Caller]) -> PlainTextResponse:
        return PlainTextResponse(f"{caller.path} {request.url.path}")

    app = Starlette(routes=[Route("/where", where)])
    setup(app, container)
    container.validate()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/where")
    assert response.text == "/where /where"


def test_setup_twice_on_one_app_is_refused() -> None:
    """A second ``setup`` on the same app would open two scopes per connection: a RegistrationError."""
    app = Starlette()
    setup(app, Container())
    with pytest.raises(RegistrationError) as raised:
        setup(app, Container())
    assert str(raised.value).splitlines() == [
        "setup() was already called on this app",
        "  hint: call setup(app, container) once per app; it opens one scope per connection",
    ]
