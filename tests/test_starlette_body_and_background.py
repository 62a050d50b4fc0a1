"""The Starlette integration, completed: one request body for the context's ``Request`` and the endpoint's,
background tasks inside the request's scope, concurrent WebSocket connections kept apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import anyio
import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from injectq_like import Container, Inject, Scope, inject
from injectq_like.integrations.starlette import SharedBody, setup

Message = MutableMapping[str, Any]


class Audit:
    """A provider that reads the request body (an audit log, a signature check)."""

    def __init__(self, body: bytes) -> None:
        self.body = body


async def read_audit(request: Request) -> Audit:
    return Audit(await request.body())


class Item(BaseModel):
    name: str
    price: float


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []


class Work:
    def __init__(self, number: int) -> None:
        self.number = number


def make_container(log: Log) -> Container:
    container = Container()
    counter = iter(range(1000))

    async def open_work() -> AsyncIterator[Work]:
        work = Work(next(counter))
        log.events.append(f"open {work.number}")
        yield work
        log.events.append(f"close {work.number}")

    container.register(Audit, factory=read_audit, scope=Scope.REQUEST)
    container.register(Work, factory=open_work, scope=Scope.REQUEST)
    container.register(Log, instance=log)
    return container


@pytest.mark.anyio
async def test_a_body_parameter_and_a_provider_reading_the_body_both_get_all_of_it() -> None:
    """FastAPI reads the body for ``item`` first; the provider's ``Request`` then gets the same bytes."""
    app = FastAPI()

    @app.post("/items")
    @inject
    async def create(item: Item, audit: Inject[Audit]) -> dict[str, Any]:
        return {"name": item.name, "price": item.price, "audited": audit.body.decode()}

    setup(app, make_container(Log()))
    payload = '{"name": "lamp", "price": 12.5}'
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/items", content=payload, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"name": "lamp", "price": 12.5, "audited": payload}


@pytest.mark.anyio
async def test_a_provider_reading_the_body_first_leaves_it_whole_for_the_endpoint() -> None:
    """The provider reads first (a Starlette endpoint resolves it, then reads its own request)."""
    container = make_container(Log())

    async def echo(request: Request) -> JSONResponse:
        audit = await container.resolve(Audit)
        return JSONResponse({"provider": audit.body.decode(), "endpoint": (await request.body()).decode()})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    setup(app, container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/echo", content=b"x" * 100_000)
    assert response.json() == {"provider": "x" * 100_000, "endpoint": "x" * 100_000}


def chunked(*chunks: bytes, then: list[Message] | None = None) -> tuple[list[Message], Any]:
    """An ASGI ``receive`` sending ``chunks`` as a body in several messages, then ``then``; and its log."""
    messages: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ]
    messages += then or [{"type": "http.disconnect"}]
    received: list[Message] = []

    async def receive() -> Message:
        await anyio.lowlevel.checkpoint()
        message = messages.pop(0) if len(messages) > 1 else messages[0]
        received.append(message)
        return message

    return received, receive


@pytest.mark.anyio
async def test_a_body_in_several_messages_is_read_from_the_server_once() -> None:
    """Two readers each get the three chunks in order; the server was asked for each chunk once."""
    received, receive = chunked(b"ab", b"cd", b"ef")
    body = SharedBody(receive)
    first, second = body.reader(), body.reader()
    assert [(await first())["body"] for _ in range(3)] == [b"ab", b"cd", b"ef"]
    assert [(await second())["body"] for _ in range(3)] == [b"ab", b"cd", b"ef"]
    assert len(received) == 3
    assert (await second())["type"] == "http.disconnect"  # after the body: straight from the server
    assert len(received) == 4


@pytest.mark.anyio
async def test_readers_pulling_at_the_same_time_each_get_every_chunk() -> None:
    """Concurrent readers never split the body between them."""
    received, receive = chunked(b"1", b"2", b"3", b"4")
    body = SharedBody(receive)
    got: dict[str, list[bytes]] = {"a": [], "b": []}

    async def read(name: str) -> None:
        reader = body.reader()
        while True:
            message = await reader()
            got[name].append(message["body"])
            if not message["more_body"]:
                return

    async with anyio.create_task_group() as group:
        group.start_soon(read, "a")
        group.start_soon(read, "b")
    assert got == {"a": [b"1", b"2", b"3", b"4"], "b": [b"1", b"2", b"3", b"4"]}
    assert len(received) == 4


@pytest.mark.anyio
async def test_a_disconnect_in_the_middle_of_the_body_goes_to_the_reader_that_asked() -> None:
    receive_messages: list[Message] = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def cut_off() -> Message:
        await anyio.lowlevel.checkpoint()
        return receive_messages.pop(0) if len(receive_messages) > 1 else receive_messages[0]

    body = SharedBody(cut_off)
    first, second = body.reader(), body.reader()
    assert (await first())["body"] == b"a"
    assert (await first())["type"] == "http.disconnect"
    assert (await second())["body"] == b"a"  # kept
    assert (await second())["type"] == "http.disconnect"  # the server says so again
    assert body.pulled == 1
    assert not body.complete


@pytest.mark.anyio
async def test_past_the_limit_the_body_is_no_longer_kept_and_a_late_reader_is_told_why() -> None:
    """A streamed upload read by one reader is not held in memory for a reader that never comes."""
    _, receive = chunked(b"x" * 6, b"y" * 6, b"z" * 6)
    body = SharedBody(receive, limit=10)
    streaming = body.reader()
    assert [(await streaming())["body"] for _ in range(3)] == [b"x" * 6, b"y" * 6, b"z" * 6]
    assert body.messages is None  # nothing kept once past 10 bytes
    late = body.reader()
    with pytest.raises(RuntimeError, match=r"over 10 bytes\) was read by another reader and is no longer kept"):
        await late()


@pytest.mark.anyio
async def test_a_request_without_a_body_read_by_the_provider_lets_the_endpoint_see_the_disconnect() -> None:
    """The provider reads the empty body; the endpoint's own read of it still returns, then a disconnect."""
    container = make_container(Log())
    seen: list[Any] = []

    async def endpoint(request: Request) -> PlainTextResponse:
        audit = await container.resolve(Audit)
        seen.extend([audit.body, await request.body(), (await request.receive())["type"]])
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint)])
    setup(app, container)
    _, receive = chunked(b"")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    with anyio.fail_after(5):
        await app(scope, receive, send)
    assert seen == [b"", b"", "http.disconnect"]
    assert sent[0]["status"] == 200


@pytest.mark.anyio
async def test_fastapi_background_tasks_run_in_the_requests_scope_before_its_cleanup() -> None:
    """The background task resolves the request's own instance; the scope closes after the task ran."""
    log = Log()
    app = FastAPI()

    @inject
    async def after_response(note: str, work: Inject[Work], log: Inject[Log]) -> None:
        await anyio.lowlevel.checkpoint()
        log.events.append(f"background {note} with {work.number}")

    @app.post("/jobs")
    @inject
    async def start(background: BackgroundTasks, work: Inject[Work], log: Inject[Log]) -> dict[str, int]:
        log.events.append(f"endpoint with {work.number}")
        background.add_task(after_response, "sent")
        return {"work": work.number}

    setup(app, make_container(log))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first = await client.post("/jobs")
        second = await client.post("/jobs")
    assert (first.json(), second.json()) == ({"work": 0}, {"work": 1})
    assert log.events == [
        "open 0",
        "endpoint with 0",
        "background sent with 0",
        "close 0",
        "open 1",
        "endpoint with 1",
        "background sent with 1",
        "close 1",
    ]


@pytest.mark.anyio
async def test_a_starlette_background_task_runs_after_the_response_and_before_the_cleanup() -> None:
    log = Log()
    sent: list[str] = []

    @inject
    def sync_background(work: Inject[Work], log: Inject[Log]) -> None:  # run in a worker thread
        log.events.append(f"background with {work.number} after {sent}")

    @inject
    async def endpoint(request: Request, work: Inject[Work]) -> PlainTextResponse:
        return PlainTextResponse(str(work.number), background=BackgroundTask(sync_background))

    app = Starlette(routes=[Route("/", endpoint)])
    setup(app, make_container(log))
    _, receive = chunked(b"")

    async def send(message: Message) -> None:
        sent.append(message["type"])

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    assert log.events == [
        "open 0",
        "background with 0 after ['http.response.start', 'http.response.body']",
        "close 0",
    ]


class Peer:
    """A SESSION instance: one per WebSocket connection."""

    def __init__(self, websocket: WebSocket) -> None:
        self.path = websocket.url.path
        self.texts: list[str] = []


@pytest.mark.anyio
async def test_concurrent_websocket_connections_each_have_their_own_session() -> None:
    """Two connections interleaving their messages: each sees only its own SESSION instance, closed with it."""
    log = Log()
    closed: list[str] = []
    container = Container()

    async def open_peer(websocket: WebSocket) -> AsyncIterator[Peer]:
        peer = Peer(websocket)
        yield peer
        closed.append(f"{peer.path}: {peer.texts}")

    container.register(Peer, factory=open_peer, scope=Scope.SESSION)
    container.register(Log, instance=log)

    @inject
    async def chat(websocket: WebSocket, peer: Inject[Peer]) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            again = await container.resolve(Peer)
            peer.texts.append(text)
            await websocket.send_text(f"{peer.path} {peer.texts} {again is peer}")

    app = Starlette(routes=[WebSocketRoute("/room/{name}", chat)])
    setup(app, container)
    turns = {"a": anyio.Event(), "b": anyio.Event()}
    sent: dict[str, list[str]] = {"a": [], "b": []}

    async def connect(name: str, other: str) -> None:
        script: list[Message] = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": f"{name}1"},
            {"type": "websocket.receive", "text": f"{name}2"},
            {"type": "websocket.disconnect", "code": 1000},
        ]

        async def receive() -> Message:
            message = script.pop(0)
            if message["type"] == "websocket.receive" and message["text"].endswith("2"):
                turns[other].set()  # let the other connection speak between this one's messages
                await turns[name].wait()
            return message

        async def send(message: Message) -> None:
            if message["type"] == "websocket.send":
                sent[name].append(message["text"])

        scope = {"type": "websocket", "path": f"/room/{name}", "headers": [], "query_string": b"", "subprotocols": []}
        await app(scope, receive, send)

    async with app.router.lifespan_context(app):
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(connect, "a", "b")
                group.start_soon(connect, "b", "a")
    assert sent == {
        "a": ["/room/a ['a1'] True", "/room/a ['a1', 'a2'] True"],
        "b": ["/room/b ['b1'] True", "/room/b ['b1', 'b2'] True"],
    }
    assert sorted(closed) == ["/room/a: ['a1', 'a2']", "/room/b: ['b1', 'b2']"]
