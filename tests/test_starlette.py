"""The Starlette / FastAPI integration, in process and under a real uvicorn server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from injectq_like import Container, Inject, Scope, inject
from injectq_like.integrations.starlette import setup


class Settings:
    greeting = "hello"


class Tracker:
    """Records what the providers did, to check every cleanup ran once."""

    def __init__(self) -> None:
        self.opened: list[int] = []
        self.closed: list[int] = []
        self.events: list[str] = []


class Session:
    def __init__(self, number: int, request: Request) -> None:
        self.number = number
        self.path = request.url.path


class Connection:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.messages = 0


def make_container(tracker: Tracker) -> Container:
    container = Container()
    counter = iter(range(1_000_000))

    async def open_session(request: Request) -> AsyncIterator[Session]:
        number = next(counter)
        tracker.opened.append(number)
        try:
            yield Session(number, request)
        finally:
            await anyio.lowlevel.checkpoint()
            tracker.closed.append(number)

    async def open_settings() -> AsyncIterator[Settings]:
        tracker.events.append("app start")
        yield Settings()
        tracker.events.append("app stop")

    container.register(Settings, factory=open_settings, scope=Scope.APP, autouse=True)
    container.register(Session, factory=open_session, scope=Scope.REQUEST)
    container.register(Connection, scope=Scope.SESSION)
    container.register(Tracker, instance=tracker)
    return container


def make_fastapi(tracker: Tracker) -> tuple[FastAPI, Container]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracker.events.append("own lifespan start")
        yield
        tracker.events.append("own lifespan stop")

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    @inject
    async def read_item(
        item_id: int,
        session: Inject[Session],
        settings: Inject[Settings],
        q: str = "none",
    ) -> dict[str, Any]:
        again = await container.resolve(Session)
        return {
            "item": item_id,
            "q": q,
            "session": session.number,
            "same": again is session,
            "path": session.path,
            "greeting": settings.greeting,
        }

    @app.get("/sync")
    @inject
    def sync_endpoint(settings: Inject[Settings], tracker: Inject[Tracker]) -> dict[str, Any]:
        return {"greeting": settings.greeting, "opened": len(tracker.opened)}

    @app.get("/fail")
    @inject
    async def fail(session: Inject[Session]) -> None:
        raise RuntimeError("handler failed")

    container = make_container(tracker)
    setup(app, container)
    return app, container


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client, with the app's lifespan run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.anyio
async def test_fastapi_endpoint_gets_request_scoped_instances() -> None:
    """Each request gets its own REQUEST instances, shared within the request, cleaned up after it."""
    tracker = Tracker()
    app, _ = make_fastapi(tracker)
    async with running(app) as client:
        first = (await client.get("/items/7", params={"q": "x"})).json()
        second = (await client.get("/items/8")).json()
        sync = (await client.get("/sync")).json()
        assert tracker.events == ["app start", "own lifespan start"]
    assert first == {"item": 7, "q": "x", "session": 0, "same": True, "path": "/items/7", "greeting": "hello"}
    assert second["session"] == 1
    assert sync == {"greeting": "hello", "opened": 2}
    assert tracker.opened == [0, 1]
    assert sorted(tracker.closed) == [0, 1]
    assert tracker.events == ["app start", "own lifespan start", "own lifespan stop", "app stop"]


@pytest.mark.anyio
async def test_failing_endpoint_still_cleans_up() -> None:
    """A handler's exception does not leak the request's resources."""
    tracker = Tracker()
    app, _ = make_fastapi(tracker)
    async with running(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/fail")
    assert response.status_code == 500
    assert tracker.opened == [0]
    assert tracker.closed == [0]


def test_openapi_shows_only_the_callers_parameters() -> None:
    """FastAPI's schema lists path and query parameters, never the injected ones."""
    app, _ = make_fastapi(Tracker())
    parameters = app.openapi()["paths"]["/items/{item_id}"]["get"]["parameters"]
    assert [(p["name"], p["in"]) for p in parameters] == [("item_id", "path"), ("q", "query")]
    assert app.openapi()["paths"]["/sync"]["get"].get("parameters", []) == []


def make_starlette(tracker: Tracker) -> tuple[Starlette, Container]:
    container = make_container(tracker)

    @inject
    async def homepage(request: Request, session: Inject[Session]) -> JSONResponse:
        return JSONResponse({"session": session.number, "path": request.url.path})

    async def socket_endpoint(websocket: WebSocket) -> None:
        connection = await container.resolve(Connection)
        assert connection.websocket is not None
        await websocket.accept()
        async for text in websocket.iter_text():
            connection.messages += 1
            same = await container.resolve(Connection)
            await websocket.send_text(f"{text}:{connection.messages}:{same is connection}")

    app = Starlette(routes=[Route("/", homepage), WebSocketRoute("/ws", socket_endpoint)])
    setup(app, container)
    return app, container


@pytest.mark.anyio
async def test_starlette_http_endpoint() -> None:
    """Starlette endpoints get a REQUEST scope per request."""
    tracker = Tracker()
    app, _ = make_starlette(tracker)
    async with running(app) as client:
        assert (await client.get("/")).json() == {"session": 0, "path": "/"}
    assert tracker.closed == [0]


@pytest.mark.anyio
async def test_websocket_connection_has_a_session_scope() -> None:
    """A WebSocket connection is one SESSION scope: its instances last for every message."""
    app, _ = make_starlette(Tracker())
    incoming: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "a"},
        {"type": "websocket.receive", "text": "b"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.lowlevel.checkpoint()
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b"", "subprotocols": []}
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.send"]
    assert [m.get("text") for m in sent[1:]] == ["a:1:True", "b:2:True"]


@pytest.mark.anyio
async def test_request_is_a_context_value_for_providers() -> None:
    """Providers depend on Request without registering it; it is the current request."""
    tracker = Tracker()
    container = make_container(tracker)

    @inject
    async def endpoint(request: Request, session: Inject[Session]) -> PlainTextResponse:
        return PlainTextResponse(session.path)

    app = Starlette(routes=[Route("/some/path", endpoint)])
    setup(app, container)
    container.validate()
    async with running(app) as client:
        assert (await client.get("/some/path")).text == "/some/path"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", [("asyncio", {})], ids=["asyncio"])  # uvicorn runs on asyncio
async def test_under_uvicorn_with_200_concurrent_requests() -> None:
    """A real server on 127.0.0.1: 200 concurrent requests, each with its own session, every cleanup run."""
    tracker = Tracker()
    app, _ = make_fastapi(tracker)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        with anyio.fail_after(10):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
                await anyio.sleep(0.01)
        results: list[dict[str, Any]] = []
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

            async def call(number: int) -> None:
                response = await client.get(f"/items/{number}")
                results.append(response.json())

            async with anyio.create_task_group() as requests:
                for number in range(200):
                    requests.start_soon(call, number)
        server.should_exit = True
    assert len(results) == 200
    assert sorted(r["item"] for r in results) == list(range(200))
    assert len({r["session"] for r in results}) == 200
    assert all(r["same"] for r in results)
    assert sorted(tracker.opened) == list(range(200))
    assert sorted(tracker.closed) == list(range(200))
    assert tracker.events[0] == "app start"
    assert tracker.events[-1] == "app stop"


@pytest.mark.anyio
async def test_cleanup_runs_when_the_client_disconnects_mid_request() -> None:
    """A request cancelled mid-way (the server's reaction to a disconnect) still cleans up, once."""
    tracker = Tracker()
    container = make_container(tracker)
    started = anyio.Event()

    @inject
    async def slow(request: Request, session: Inject[Session]) -> PlainTextResponse:
        started.set()
        await anyio.sleep(30)
        return PlainTextResponse("never")  # pragma: no cover - cancelled first

    app = Starlette(routes=[Route("/slow", slow)])
    setup(app, container)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        raise AssertionError("nothing is sent")  # pragma: no cover

    scope = {"type": "http", "method": "GET", "path": "/slow", "headers": [], "query_string": b""}
    async with app.router.lifespan_context(app):
        async with anyio.create_task_group() as group:
            group.start_soon(app, scope, receive, send)
            await started.wait()
            group.cancel_scope.cancel()
        assert tracker.opened == [0]
        assert tracker.closed == [0]


@pytest.mark.anyio
async def test_streaming_response_cleans_up_after_the_client_left() -> None:
    """A streaming response stopped by a disconnect: the request's scope closes after it, once."""
    tracker = Tracker()
    container = make_container(tracker)

    @inject
    async def stream(request: Request, session: Inject[Session]) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield f"{session.number}\n".encode()
                await anyio.sleep(0.01)

        return StreamingResponse(chunks())

    app = Starlette(routes=[Route("/stream", stream)])
    setup(app, container)
    messages: list[dict[str, Any]] = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[str] = []
    gone = anyio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])
        if sent.count("http.response.body") == 3:
            gone.set()

    scope = {"type": "http", "method": "GET", "path": "/stream", "headers": [], "query_string": b""}
    async with app.router.lifespan_context(app):
        with anyio.fail_after(5):
            await app(scope, receive, send)
        assert sent[0] == "http.response.start"
        assert tracker.closed == [0]
