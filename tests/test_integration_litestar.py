"""The Litestar integration, against the real framework in process (``litestar.testing.AsyncTestClient``)."""

from __future__ import annotations

import io
import itertools
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from litestar import (
    Controller,
    Litestar,
    Request,
    Response,
    Router,
    WebSocket,
    get,
    post,
    websocket,
    websocket_listener,
)
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import ServerSentEvent, Stream
from litestar.testing import AsyncTestClient

from injectq_like import Container, Inject, InvalidContainerError, RegistrationError, Scope, inject
from injectq_like.__main__ import main
from injectq_like._keys import describe_path
from injectq_like.integrations.litestar import handlers, setup


class Log:
    """What the providers and the app did, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []


class UnitOfWork:
    """One per request: collects the writes, committed or rolled back by its factory."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.writes: list[str] = []


class Repository:
    def __init__(self, work: UnitOfWork, request: Request[Any, Any, Any]) -> None:
        self.work = work
        self.request = request

    def add(self, item: str) -> None:
        self.work.writes.append(item)


class Audit:
    """A plain REQUEST instance, resolved synchronously by an exception handler."""

    counter = itertools.count()

    def __init__(self) -> None:
        self.number = next(self.counter)


class Settings:
    """An APP instance, created when the app starts."""


class Connection:
    """One per WebSocket connection."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.path = socket.url.path
        self.messages = 0


class Message:
    """One per WebSocket message handled by the listener."""

    counter = itertools.count()

    def __init__(self, connection: Connection) -> None:
        self.number = next(self.counter)
        self.connection = connection


@dataclass
class Item:
    name: str
    price: int


def make_container(log: Log) -> Container:
    container = Container()
    numbers = itertools.count()

    async def open_work() -> AsyncIterator[UnitOfWork]:
        work = UnitOfWork(next(numbers))
        log.events.append(f"begin {work.number}")
        try:
            yield work
        except BaseException as error:
            log.events.append(f"rollback {work.number} {type(error).__name__}")
            raise
        log.events.append(f"commit {work.number} {work.writes}")

    async def open_connection(socket: WebSocket[Any, Any, Any]) -> AsyncIterator[Connection]:
        connection = Connection(socket)
        yield connection
        log.events.append(f"close {connection.path} after {connection.messages}")

    container.register(UnitOfWork, factory=open_work, scope=Scope.REQUEST)
    container.register(Repository, scope=Scope.REQUEST)
    container.register(Audit, scope=Scope.REQUEST)
    container.register(Connection, factory=open_connection, scope=Scope.SESSION)
    container.register(Message, scope=Scope.REQUEST)
    container.register(Log, instance=log)
    return container


# The test client runs the app on an event loop of its own, in a thread, and blocks its caller while a
# request runs; from a trio loop that block is refused (trio.from_thread). So the tests run on asyncio and
# the app on each backend: asyncio, uvloop and trio.
BACKENDS: list[Any] = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]


@pytest.fixture
def anyio_backend() -> Any:
    return ("asyncio", {})


@pytest.fixture(params=BACKENDS)
def app_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


def client(app: Litestar, app_backend: Any) -> AsyncTestClient[Litestar]:
    """The test client, running the app on ``app_backend`` (its own event loop, in a thread)."""
    name, options = app_backend
    return AsyncTestClient(app, backend=name, backend_options=options)


# -- HTTP: a unit of work per request ------------------------------------------------------------------


@get("/items/{item_id:int}")
@inject
async def read_item(item_id: FromPath[int], repo: Inject[Repository], q: FromQuery[str] = "none") -> dict[str, Any]:
    repo.add(f"read {item_id}")
    return {"item": item_id, "q": q, "work": repo.work.number, "path": repo.request.url.path}


@post("/items/{item_id:int}")
@inject
async def create_item(
    item_id: FromPath[int],
    data: JSONBody[Item],
    repo: Inject[Repository],
    work: Inject[UnitOfWork],
    tag: FromQuery[str] = "new",
) -> dict[str, Any]:
    repo.add(f"{data.name}:{data.price}:{tag}")
    return {"item": item_id, "same": work is repo.work}


@get("/fail")
@inject
async def fail(repo: Inject[Repository]) -> None:
    repo.add("half")
    raise RuntimeError("handler failed")


@get("/missing/{item_id:int}")
@inject
async def missing(item_id: FromPath[int], repo: Inject[Repository]) -> None:
    repo.add("half")
    raise NotFoundException(f"no item {item_id}")


@get("/sync", sync_to_thread=True)
@inject
def sync_handler(log: Inject[Log], audit: Inject[Audit]) -> str:
    log.events.append("sync handler")  # in a worker thread, resolved with resolve_sync in the request's scope
    return type(audit).__name__


def make_app(log: Log, **options: Any) -> tuple[Litestar, Container]:
    app = Litestar([read_item, create_item, fail, missing, sync_handler], **options)
    container = make_container(log)
    setup(app, container)
    return app, container


@pytest.mark.anyio
async def test_each_request_gets_its_own_unit_of_work_committed_after_the_response(app_backend: Any) -> None:
    """Two requests: two units of work, each shared within its request and committed once."""
    log = Log()
    app, _ = make_app(log)
    async with client(app, app_backend) as http:
        first = (await http.get("/items/7", params={"q": "x"})).json()
        second = (await http.get("/items/8")).json()
        third = (await http.get("/sync")).text
    assert first == {"item": 7, "q": "x", "work": 0, "path": "/items/7"}
    assert second == {"item": 8, "q": "none", "work": 1, "path": "/items/8"}
    assert third == "Audit"
    assert log.events == ["begin 0", "commit 0 ['read 7']", "begin 1", "commit 1 ['read 8']", "sync handler"]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", BACKENDS)  # in the test's own loop: no test client
async def test_concurrent_requests_are_isolated_and_all_cleaned_up() -> None:
    """Twenty requests in flight at once (each waits for all the others): twenty units of work, twenty commits."""
    log = Log()
    inside = 0
    everyone = anyio.Event()

    @get("/together/{number:int}")
    @inject
    async def together(number: FromPath[int], repo: Inject[Repository], work: Inject[UnitOfWork]) -> dict[str, Any]:
        nonlocal inside
        repo.add(f"n{number}")
        inside += 1
        if inside == 20:
            everyone.set()
        await everyone.wait()
        return {"number": number, "work": work.number, "same": work is repo.work}

    app = Litestar([together])
    setup(app, make_container(log))
    results: list[dict[str, Any]] = []
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # Litestar types its ASGI events
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

            async def call(number: int) -> None:
                results.append((await http.get(f"/together/{number}")).json())

            with anyio.fail_after(10):
                async with anyio.create_task_group() as group:
                    for number in range(20):
                        group.start_soon(call, number)
    assert sorted(r["number"] for r in results) == list(range(20))
    assert sorted(r["work"] for r in results) == list(range(20))
    assert all(r["same"] for r in results)
    assert sorted(e for e in log.events if e.startswith("begin")) == sorted(f"begin {n}" for n in range(20))
    commits = {f"commit {r['work']} ['n{r['number']}']" for r in results}
    assert {e for e in log.events if e.startswith("commit")} == commits
    assert len(log.events) == 40


@pytest.mark.anyio
async def test_a_handler_error_rolls_back_and_litestar_still_answers_500(app_backend: Any) -> None:
    """The handler's exception is thrown into the unit of work (rollback); the response is Litestar's 500."""
    log = Log()
    app, _ = make_app(log)
    async with client(app, app_backend) as http:
        response = await http.get("/fail")
        after = (await http.get("/items/1")).json()
    assert response.status_code == 500
    assert response.json() == {"status_code": 500, "detail": "Internal Server Error"}
    assert log.events == ["begin 0", "rollback 0 RuntimeError", "begin 1", "commit 1 ['read 1']"]
    assert after["work"] == 1


@pytest.mark.anyio
async def test_an_http_exception_rolls_back_and_its_response_is_unchanged(app_backend: Any) -> None:
    """A NotFoundException rolls the unit of work back and answers exactly as without the integration."""
    log = Log()
    app, _ = make_app(log)

    @get("/missing/{item_id:int}")
    async def plain_missing(item_id: FromPath[int]) -> None:
        raise NotFoundException(f"no item {item_id}")

    async with client(app, app_backend) as http:
        response = await http.get("/missing/5")
    async with client(Litestar([plain_missing]), app_backend) as http:
        expected = await http.get("/missing/5")
    assert response.status_code == expected.status_code == 404
    assert response.json() == expected.json() == {"status_code": 404, "detail": "no item 5"}
    assert log.events == ["begin 0", "rollback 0 NotFoundException"]


@pytest.mark.anyio
async def test_the_body_and_the_signature_model_work_beside_injected_parameters(app_backend: Any) -> None:
    """Path, query and body parameters are parsed and validated by Litestar; the injected ones are not."""
    log = Log()
    app, _ = make_app(log)
    async with client(app, app_backend) as http:
        created = await http.post("/items/3", params={"tag": "sale"}, json={"name": "pen", "price": 2})
        invalid = await http.post("/items/3", json={"name": "pen"})
        wrong_path = await http.get("/items/abc")
    assert created.status_code == 201
    assert created.json() == {"item": 3, "same": True}
    assert invalid.status_code == 400
    assert wrong_path.status_code == 404
    assert log.events == ["begin 0", "commit 0 ['pen:2:sale']"]


def test_the_openapi_schema_lists_only_the_callers_parameters() -> None:
    """Path, query and body in the schema, the injected Repository and UnitOfWork nowhere."""
    app, _ = make_app(Log())
    schema = app.openapi_schema.to_schema()
    post_item = schema["paths"]["/items/{item_id}"]["post"]
    assert [(p["name"], p["in"]) for p in post_item["parameters"]] == [("item_id", "path"), ("tag", "query")]
    assert post_item["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    get_item = schema["paths"]["/items/{item_id}"]["get"]
    assert [(p["name"], p["in"]) for p in get_item["parameters"]] == [("item_id", "path"), ("q", "query")]
    assert "parameters" not in schema["paths"]["/fail"]["get"]
    assert sorted(schema["components"]["schemas"]) == ["Item"]


# -- the whole unit of work: guards, hooks, exception handlers, streaming -------------------------------


@pytest.mark.anyio
async def test_a_guard_and_a_before_request_hook_see_the_requests_scope(app_backend: Any) -> None:
    """A guard, a before_request hook and the handler share the request's unit of work."""
    log = Log()
    seen: list[tuple[str, int]] = []

    @inject
    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler, work: Inject[UnitOfWork]
    ) -> None:
        seen.append(("guard", work.number))

    @inject
    async def before(request: Request[Any, Any, Any], work: Inject[UnitOfWork]) -> None:
        seen.append(("before_request", work.number))

    @get("/guarded", guards=[guard], before_request=before)
    @inject
    async def guarded(work: Inject[UnitOfWork]) -> int:
        seen.append(("handler", work.number))
        return work.number

    app = Litestar([guarded])
    setup(app, make_container(log))
    async with client(app, app_backend) as http:
        assert (await http.get("/guarded")).json() == 0
        assert (await http.get("/guarded")).json() == 1
    assert seen == [
        ("guard", 0),
        ("before_request", 0),
        ("handler", 0),
        ("guard", 1),
        ("before_request", 1),
        ("handler", 1),
    ]
    assert log.events == ["begin 0", "commit 0 []", "begin 1", "commit 1 []"]


class OutOfStockError(Exception):
    pass


@pytest.mark.anyio
async def test_an_exception_handler_runs_with_the_scope_still_open(app_backend: Any) -> None:
    """The app's exception handler gets the request's instances; the rollback comes after it."""
    log = Log()

    @inject
    def out_of_stock(request: Request[Any, Any, Any], error: OutOfStockError, audit: Inject[Audit]) -> Response[Any]:
        log.events.append("exception handler")
        return Response({"error": str(error), "audit": audit.number}, status_code=409)

    @get("/buy")
    @inject
    async def buy(audit: Inject[Audit], work: Inject[UnitOfWork]) -> None:
        raise OutOfStockError(f"audit {audit.number}")

    app = Litestar([buy], exception_handlers={OutOfStockError: out_of_stock})
    setup(app, make_container(log))
    async with client(app, app_backend) as http:
        response = await http.get("/buy")
    assert response.status_code == 409
    body = response.json()
    assert body == {"error": f"audit {body['audit']}", "audit": body["audit"]}
    assert log.events == ["begin 0", "exception handler", "rollback 0 OutOfStockError"]


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["stream", "sse"])
async def test_a_streaming_response_is_cleaned_up_after_its_last_chunk(app_backend: Any, kind: str) -> None:
    """A Stream and a ServerSentEvent response: every chunk is produced before the commit."""
    log = Log()

    @get("/stream")
    @inject
    async def stream(repo: Inject[Repository]) -> Stream:
        async def chunks() -> AsyncIterator[str]:
            for number in range(3):
                await anyio.lowlevel.checkpoint()
                repo.add(f"chunk {number}")
                log.events.append(f"chunk {number}")
                yield f"{number}\n" if kind == "stream" else str(number)

        return ServerSentEvent(chunks()) if kind == "sse" else Stream(chunks())

    app = Litestar([stream])
    setup(app, make_container(log))
    async with client(app, app_backend) as http:
        response = await http.get("/stream")
    assert response.status_code == 200
    expected = "data: 0\n\ndata: 1\n\ndata: 2\n\n" if kind == "sse" else "0\n1\n2\n"
    assert response.text.replace("\r\n", "\n") == expected
    assert log.events == ["begin 0", "chunk 0", "chunk 1", "chunk 2", "commit 0 ['chunk 0', 'chunk 1', 'chunk 2']"]


# -- context values -------------------------------------------------------------------------------------


class Payload:
    def __init__(self, body: bytes, path: str) -> None:
        self.body = body
        self.path = path


@pytest.mark.anyio
async def test_request_is_a_context_value_over_the_handlers_connection(app_backend: Any) -> None:
    """A provider depending on Request gets this request: its scope, path parameters and the whole body,
    which the handler's body parameter gets too.
    """
    log = Log()
    container = make_container(log)

    async def read_payload(request: Request[Any, Any, Any]) -> Payload:
        return Payload(await request.body(), request.path_params["name"])

    container.register(Payload, factory=read_payload, scope=Scope.REQUEST)

    @post("/echo/{name:str}")
    @inject
    async def echo(
        request: Request[Any, Any, Any],
        name: FromPath[str],
        data: JSONBody[dict[str, int]],
        payload: Inject[Payload],
        repo: Inject[Repository],
    ) -> dict[str, Any]:
        return {
            "data": data,
            "payload": payload.body.decode(),
            "name": payload.path,
            "same_scope": repo.request.scope is request.scope,
            "same_class": type(repo.request) is type(request),
        }

    app = Litestar([echo])
    setup(app, container)
    container.validate()
    async with client(app, app_backend) as http:
        response = await http.post("/echo/box", content=b'{"n": 1}', headers={"content-type": "application/json"})
    assert response.json() == {
        "data": {"n": 1},
        "payload": '{"n": 1}',
        "name": "box",
        "same_scope": True,
        "same_class": True,
    }


# -- WebSocket: a SESSION scope per connection ----------------------------------------------------------


def make_socket_app(log: Log) -> Litestar:
    @websocket("/ws")
    @inject
    async def counter(socket: WebSocket[Any, Any, Any], connection: Inject[Connection]) -> None:
        await socket.accept()
        async for text in socket.iter_data(mode="text"):
            connection.messages += 1
            await socket.send_text(f"{text}:{connection.messages}:{id(connection)}")

    @websocket_listener("/chat")
    @inject(scope=Scope.REQUEST)
    async def chat(data: str, message: Inject[Message], connection: Inject[Connection]) -> dict[str, Any]:
        connection.messages += 1
        return {
            "text": data,
            "message": message.number,
            "connection": id(message.connection),
            "seen": connection.messages,
        }

    app = Litestar([counter, chat])
    setup(app, make_container(log))
    return app


@pytest.mark.anyio
async def test_a_websocket_connection_is_one_session_scope(app_backend: Any) -> None:
    """Two connections open at once: each keeps one Connection for all its messages, closed once when it ends."""
    log = Log()
    app = make_socket_app(log)
    async with client(app, app_backend) as http:
        with await http.websocket_connect("/ws") as first, await http.websocket_connect("/ws") as second:
            first.send_text("a")
            second.send_text("x")
            first.send_text("b")
            replies = [first.receive_text(), second.receive_text(), first.receive_text()]
    (a, a_count, a_id), (x, x_count, x_id), (b, b_count, b_id) = (r.split(":") for r in replies)
    assert (a, a_count, x, x_count, b, b_count) == ("a", "1", "x", "1", "b", "2")
    assert a_id == b_id != x_id
    assert sorted(log.events) == ["close /ws after 1", "close /ws after 2"]


@pytest.mark.anyio
async def test_a_websocket_listener_gets_a_request_scope_per_message(app_backend: Any) -> None:
    """With ``@inject(scope=Scope.REQUEST)`` each message has REQUEST instances of its own, in one SESSION."""
    log = Log()
    app = make_socket_app(log)
    async with client(app, app_backend) as http:
        with await http.websocket_connect("/chat") as socket:
            socket.send_text("hi")
            first = socket.receive_json()
            socket.send_text("again")
            second = socket.receive_json()
    assert (first["text"], first["seen"], second["text"], second["seen"]) == ("hi", 1, "again", 2)
    assert second["message"] == first["message"] + 1
    assert first["connection"] == second["connection"]
    assert log.events == ["close /chat after 2"]


# -- the app's lifespan ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_app_instances_are_closed_once_at_shutdown_after_the_apps_own_hooks(app_backend: Any) -> None:
    """The container starts before the app's startup hooks and closes after its shutdown hooks and lifespan."""
    log = Log()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        log.events.append("own lifespan start")
        yield
        log.events.append("own lifespan stop")

    async def open_settings() -> AsyncIterator[Settings]:
        log.events.append("app start")
        yield Settings()
        log.events.append("app stop")

    @get("/settings")
    @inject
    async def settings(value: Inject[Settings]) -> str:
        return type(value).__name__

    app = Litestar(
        [settings],
        lifespan=[lifespan],
        on_startup=[lambda: log.events.append("own startup")],
        on_shutdown=[lambda: log.events.append("own shutdown")],
    )
    container = make_container(log)
    container.register(Settings, factory=open_settings, scope=Scope.APP, autouse=True)
    setup(app, container)
    async with client(app, app_backend) as http:
        assert (await http.get("/settings")).text == "Settings"
    assert log.events == [
        "own lifespan start",
        "app start",
        "own startup",
        "own lifespan stop",
        "own shutdown",
        "app stop",
    ]


def test_a_second_setup_on_the_same_app_is_refused() -> None:
    """``setup`` twice on one app raises RegistrationError, and the app keeps one scope per request."""
    app, container = make_app(Log())
    with pytest.raises(RegistrationError, match="already called on this app"):
        setup(app, container)
    with pytest.raises(RegistrationError, match="already called on this app"):
        setup(app, Container())


# -- checked when the app starts ------------------------------------------------------------------------


class Mailer:
    """Needed by a Controller's method, never registered."""


class Clock:
    """Needed by a handler in a Router, never registered."""


class Quota:
    """Needed by a Provide(...) dependency, never registered."""


class Orders(Controller):
    path = "/orders"

    @get("/")
    @inject
    async def list_orders(self, mailer: Inject[Mailer], repo: Inject[Repository]) -> int:
        return repo.work.number


@inject
async def remaining_quota(quota: Inject[Quota]) -> int:
    return 1


@get("/now", dependencies={"remaining": Provide(remaining_quota)})
@inject
async def now(remaining: NamedDependency[int], clock: Inject[Clock]) -> int:
    return remaining


def make_checked_app(container: Container) -> Litestar:
    app = Litestar([Orders, Router("/time", route_handlers=[now])])
    setup(app, container)
    return app


def leaves(error: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (nested) exception groups."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaves(inner)
    else:
        yield error


@pytest.mark.anyio
async def test_a_handler_needing_an_unregistered_type_stops_the_start(app_backend: Any) -> None:
    """A Controller method, a handler in a Router and a Provide(...) dependency, each missing a provider:
    the start fails with one InvalidContainerError listing the three.
    """
    app = make_checked_app(make_container(Log()))
    with pytest.raises(BaseException) as raised:
        async with client(app, app_backend):
            pass  # pragma: no cover - the start fails
    [error] = [e for e in leaves(raised.value) if isinstance(e, InvalidContainerError)]
    assert sorted(describe_path(e.path) for e in error.errors) == [
        "Orders.list_orders -> Mailer",
        "now -> Clock",
        "remaining_quota -> Quota",
    ]


@pytest.mark.anyio
async def test_the_same_app_starts_once_everything_is_registered(app_backend: Any) -> None:
    """With the three types registered the app starts, and the handlers found are the three functions."""
    container = make_container(Log())
    for cls in (Mailer, Clock, Quota):
        container.register(cls)
    app = make_checked_app(container)
    assert sorted(getattr(h, "__name__", "") for h in handlers(app)) == ["list_orders", "now", "remaining_quota"]
    async with client(app, app_backend) as http:
        assert (await http.get("/orders")).json() == 0
        assert (await http.get("/time/now")).json() == 1


def test_check_given_a_litestar_app_reports_its_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m injectq_like check MODULE:APP`` on a Litestar app: exit 1 naming what is missing, 0 when fixed."""
    (tmp_path / "litestar_app.py").write_text(
        "from tests_litestar_support import build, fixed_container, make_container, Log\n"
        "broken = build(make_container(Log()))\n"
        "fixed = build(fixed_container())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_litestar_support", sys.modules[__name__])
    monkeypatch.delitem(sys.modules, "litestar_app", raising=False)
    out = io.StringIO()
    assert main(["check", "litestar_app:broken"], out) == 1
    assert "Orders.list_orders -> Mailer" in out.getvalue()
    assert "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert main(["check", "litestar_app:fixed"], out) == 0
    assert out.getvalue().endswith("3 handlers)\n")


def build(container: Container) -> Litestar:
    return make_checked_app(container)


def fixed_container() -> Container:
    container = make_container(Log())
    for cls in (Mailer, Clock, Quota):
        container.register(cls)
    return container
