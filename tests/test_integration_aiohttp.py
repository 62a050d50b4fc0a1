"""The aiohttp integration, against a real aiohttp server in process (``TestServer``/``TestClient``)."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from injectq_like import Container, Inject, InvalidContainerError, RegistrationError, Scope, inject
from injectq_like.__main__ import main
from injectq_like._keys import describe_path
from injectq_like.integrations.aiohttp import setup


@pytest.fixture(params=[pytest.param(("asyncio", {}), id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """aiohttp runs only on asyncio."""
    return request.param


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Database:
    """The APP-lived store: what every unit of work committed, or why it rolled back."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.articles: dict[int, str] = {1: "first"}
        self.opened = 0


class UnitOfWork:
    def __init__(self, number: int, database: Database) -> None:
        self.number = number
        self.database = database
        self.pending: dict[int, str] = {}


class ArticleRepo:
    def __init__(self, unit: UnitOfWork, request: web.Request) -> None:
        self.unit = unit
        self.path = request.path

    def get(self, article_id: int) -> str:
        title = self.unit.database.articles.get(article_id)
        if title is None:
            raise web.HTTPNotFound(text=f"no article {article_id}")
        return title

    def add(self, article_id: int, title: str) -> None:
        self.unit.pending[article_id] = title


def make_container(events: list[str]) -> Container:
    """A database for the app's life, a unit of work per request: commit on success, else roll back."""
    container = Container()
    numbers = iter(range(1_000_000))

    async def open_database() -> AsyncIterator[Database]:
        events.append("database open")
        yield Database()
        events.append("database close")

    async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
        unit = UnitOfWork(next(numbers), database)
        database.log.append(f"begin {unit.number}")
        try:
            yield unit
        except BaseException as error:
            await asyncio.sleep(0)  # a rollback that awaits, even when the request was cancelled
            database.log.append(f"rollback {unit.number} {type(error).__name__}")
            raise
        await asyncio.sleep(0)  # a cleanup that awaits, like a real commit
        database.articles.update(unit.pending)
        database.log.append(f"commit {unit.number}")

    container.register(Database, factory=open_database, scope=Scope.APP, autouse=True)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(ArticleRepo, scope=Scope.REQUEST)
    return container


def make_app(container: Container, events: list[str]) -> web.Application:
    """A small article service with its own middleware and hooks, then the integration."""
    routes = web.RouteTableDef()

    @routes.get("/articles/{article_id}")
    @inject
    async def read_article(request: web.Request, repo: Inject[ArticleRepo]) -> web.Response:
        title = repo.get(int(request.match_info["article_id"]))
        current = await container.resolve(UnitOfWork)
        return web.json_response({"title": title, "unit": repo.unit.number, "current": current is repo.unit})

    @routes.post("/articles/{article_id}")
    @inject
    async def add_article(request: web.Request, repo: Inject[ArticleRepo]) -> web.Response:
        repo.add(int(request.match_info["article_id"]), await request.text())
        return web.json_response({"unit": repo.unit.number, "path": repo.path})

    @routes.post("/fail")
    @inject
    async def fail(request: web.Request, repo: Inject[ArticleRepo]) -> web.Response:
        repo.add(99, "never stored")
        raise RuntimeError("handler failed")

    @routes.get("/old")
    @inject
    async def moved(request: web.Request, unit: Inject[UnitOfWork]) -> web.Response:
        raise web.HTTPFound("/articles/1")

    @routes.get("/who")
    @inject
    async def who(request: web.Request, given: Inject[web.Request], repo: Inject[ArticleRepo]) -> web.Response:
        return web.json_response({"same": given is request, "path": repo.path})

    @routes.view("/view")
    class ArticleView(web.View):
        @inject
        async def get(self, repo: Inject[ArticleRepo]) -> web.Response:
            return web.json_response({"title": repo.get(1), "unit": repo.unit.number})

    @web.middleware
    async def own_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        unit = await container.resolve(UnitOfWork)  # the request's scope is open around the app's middleware
        events.append(f"middleware {unit.number}")
        response = await handler(request)
        response.headers["X-Unit"] = str(unit.number)
        return response

    async def own_context(app: web.Application) -> AsyncIterator[None]:
        events.append(f"own context start {len(events)}")
        yield
        events.append("own context stop")

    async def own_startup(app: web.Application) -> None:
        database = await container.resolve(Database)  # the container is started before the app's hooks
        events.append(f"own startup {database.log}")

    async def own_cleanup(app: web.Application) -> None:
        database = await container.resolve(Database)  # still open: the container closes after this
        events.append(f"own cleanup {len(database.log)}")

    app = web.Application(middlewares=[own_middleware])
    app.add_routes(routes)
    app.cleanup_ctx.append(own_context)
    app.on_startup.append(own_startup)
    setup(app, container)
    app.on_cleanup.append(own_cleanup)  # added after setup: still runs before the container closes
    return app


def serve(app: web.Application) -> TestClient[web.Request, web.Application]:
    return TestClient(TestServer(app))


@pytest.mark.anyio
async def test_concurrent_requests_each_get_their_own_unit_of_work() -> None:
    """20 requests at once: 20 distinct units of work, each current in its handler, each committed."""
    events: list[str] = []
    container = make_container(events)
    app = make_app(container, events)
    async with serve(app) as client:

        async def read() -> dict[str, Any]:
            response = await client.get("/articles/1")
            body: dict[str, Any] = await response.json()
            assert response.headers["X-Unit"] == str(body["unit"])
            return body

        results = await asyncio.gather(*(read() for _ in range(20)))
        database = await container.resolve(Database)
    assert sorted(r["unit"] for r in results) == list(range(20))
    assert all(r["title"] == "first" and r["current"] for r in results)
    assert sorted(database.log) == sorted([f"begin {n}" for n in range(20)] + [f"commit {n}" for n in range(20)])


@pytest.mark.anyio
async def test_a_successful_request_commits_and_providers_see_the_request() -> None:
    """A POST commits its unit of work; the repository was built from the current Request."""
    events: list[str] = []
    container = make_container(events)
    async with serve(make_app(container, events)) as client:
        response = await client.post("/articles/2", data="second")
        body = await response.json()
        database = await container.resolve(Database)
    assert (response.status, body) == (200, {"unit": 0, "path": "/articles/2"})
    assert database.log == ["begin 0", "commit 0"]
    assert database.articles == {1: "first", 2: "second"}


@pytest.mark.anyio
async def test_a_handler_error_rolls_back_and_answers_500() -> None:
    """A handler's exception is thrown into the unit of work (rollback), and aiohttp answers 500."""
    events: list[str] = []
    container = make_container(events)
    async with serve(make_app(container, events)) as client:
        response = await client.post("/fail")
        database = await container.resolve(Database)
    assert response.status == 500
    assert database.log == ["begin 0", "rollback 0 RuntimeError"]
    assert 99 not in database.articles


@pytest.mark.anyio
async def test_http_exceptions_roll_back_and_reach_the_client_unchanged() -> None:
    """HTTPNotFound and HTTPFound: the unit of work sees them, the client gets their own responses."""
    events: list[str] = []
    container = make_container(events)
    async with serve(make_app(container, events)) as client:
        missing = await client.get("/articles/7")
        missing_text = await missing.text()
        redirect = await client.get("/old", allow_redirects=False)
        database = await container.resolve(Database)
    assert (missing.status, missing_text) == (404, "no article 7")
    assert (redirect.status, redirect.headers["Location"]) == (302, "/articles/1")
    assert database.log == ["begin 0", "rollback 0 HTTPNotFound", "begin 1", "rollback 1 HTTPFound"]


@pytest.mark.anyio
async def test_the_request_context_value_is_the_handlers_request() -> None:
    """``Inject[web.Request]`` is the very Request the handler receives."""
    events: list[str] = []
    container = make_container(events)
    async with serve(make_app(container, events)) as client:
        body = await (await client.get("/who")).json()
    assert body == {"same": True, "path": "/who"}


@pytest.mark.anyio
async def test_the_apps_middlewares_run_inside_the_scope_even_one_inserted_first_after_setup() -> None:
    """The app's middlewares resolve the request's instances, also one inserted at index 0 after setup."""
    events: list[str] = []
    container = make_container(events)
    app = make_app(container, events)

    @web.middleware
    async def inserted_first(request: web.Request, handler: Handler) -> web.StreamResponse:
        unit = await container.resolve(UnitOfWork)
        events.append(f"inserted {unit.number}")
        return await handler(request)

    app.middlewares.insert(0, inserted_first)  # would be outside the scope: setup moves its own back first
    async with serve(app) as client:
        view = await client.get("/view")
        body = await view.json()
    assert body == {"title": "first", "unit": 0}
    assert view.headers["X-Unit"] == "0"
    assert [e for e in events if e.startswith(("inserted", "middleware"))] == ["inserted 0", "middleware 0"]


@pytest.mark.anyio
async def test_a_streamed_response_is_cleaned_up_after_its_last_chunk() -> None:
    """A StreamResponse written by the handler, and a returned one with a lazy body: commit comes last."""
    events: list[str] = []
    container = make_container(events)

    @inject
    async def written(request: web.Request, unit: Inject[UnitOfWork]) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for chunk in range(3):
            unit.database.log.append(f"chunk {chunk} of {unit.number}")
            await response.write(f"{chunk};".encode())
        return response  # no write_eof: aiohttp finishes it, still inside the scope

    @inject
    async def lazy(request: web.Request, unit: Inject[UnitOfWork]) -> web.Response:
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in range(3):
                unit.database.log.append(f"lazy {chunk} of {unit.number}")
                yield f"{chunk};".encode()

        return web.Response(body=chunks())  # the body is read while the response is sent

    app = web.Application()
    app.router.add_get("/written", written)
    app.router.add_get("/lazy", lazy)
    setup(app, container)
    async with serve(app) as client:
        first = await (await client.get("/written")).text()
        second = await (await client.get("/lazy")).text()
        database = await container.resolve(Database)
    assert first == second == "0;1;2;"
    assert database.log == [
        "begin 0",
        "chunk 0 of 0",
        "chunk 1 of 0",
        "chunk 2 of 0",
        "commit 0",
        "begin 1",
        "lazy 0 of 1",
        "lazy 1 of 1",
        "lazy 2 of 1",
        "commit 1",
    ]


@pytest.mark.anyio
async def test_a_websocket_connection_is_one_request_scope() -> None:
    """Every message of one WebSocket connection sees the same unit of work, committed at its end."""
    events: list[str] = []
    container = make_container(events)

    @inject
    async def echo(request: web.Request, unit: Inject[UnitOfWork]) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            same = await container.resolve(UnitOfWork) is unit
            await socket.send_str(f"{message.data}:{unit.number}:{same}")
        return socket

    app = web.Application()
    app.router.add_get("/ws", echo)
    setup(app, container)
    replies: list[str] = []
    async with serve(app) as client:
        async with client.ws_connect("/ws") as socket:
            for text in ("a", "b", "c"):
                await socket.send_str(text)
                replies.append(await socket.receive_str())
        database = await container.resolve(Database)
        async with client.ws_connect("/ws") as socket:
            await socket.send_str("d")
            replies.append(await socket.receive_str())
    assert replies == ["a:0:True", "b:0:True", "c:0:True", "d:1:True"]
    assert database.log == ["begin 0", "commit 0", "begin 1", "commit 1"]


@pytest.mark.anyio
async def test_a_client_that_goes_away_still_closes_the_scope() -> None:
    """A disconnect cancels the handler; its unit of work rolls back with the cancellation, once."""
    events: list[str] = []
    container = make_container(events)
    started = asyncio.Event()
    closed = asyncio.Event()

    @inject
    async def slow(request: web.Request, unit: Inject[UnitOfWork]) -> web.Response:
        unit.database.log.append("handler started")
        started.set()
        await asyncio.Event().wait()  # until the client leaves
        return web.Response(text="never")  # pragma: no cover - cancelled first

    app = web.Application()
    app.router.add_get("/slow", slow)
    setup(app, container)
    async with serve(app) as client:
        database = await container.resolve(Database)
        container.on_close(closed.set)
        request = asyncio.ensure_future(client.get("/slow"))
        await started.wait()
        request.cancel()  # the client closes the connection
        with pytest.raises(asyncio.CancelledError):
            await request
        async with asyncio.timeout(10):  # a guard: the server's cleanup runs in its own task
            while len(database.log) < 3:  # noqa: ASYNC110 - nothing to wait on but the log
                await asyncio.sleep(0.01)
        assert database.log == ["begin 0", "handler started", "rollback 0 CancelledError"]
        assert not closed.is_set()  # the APP scope is untouched by a request's end


@pytest.mark.anyio
async def test_the_container_closes_at_cleanup_once_after_the_apps_own_hooks() -> None:
    """Start: container first, then the app's hooks; stop: the app's hooks, then the container, once."""
    events: list[str] = []
    container = make_container(events)
    closes: list[str] = []
    container.on_close(lambda: closes.append("closed"))
    app = make_app(container, events)
    async with serve(app) as client:
        assert (await client.get("/articles/1")).status == 200
        events.append("serving")
    assert [e for e in events if not e.startswith("middleware")] == [
        "database open",
        "own context start 1",
        "own startup []",
        "serving",
        "own context stop",
        "own cleanup 2",
        "database close",
    ]
    assert closes == ["closed"]
    await app.cleanup()  # a second cleanup does not close the container again
    assert events.count("database close") == 1
    assert closes == ["closed"]


def test_a_second_setup_on_the_same_app_is_refused() -> None:
    """setup() twice on one app raises RegistrationError; a frozen app is refused too."""
    container = make_container([])
    app = web.Application()
    setup(app, container)
    with pytest.raises(RegistrationError, match="already called"):
        setup(app, container)
    frozen = web.Application()
    frozen.freeze()
    with pytest.raises(RegistrationError, match="not frozen"):
        setup(frozen, make_container([]))


class Mailer:
    """Needed by handlers only, and never registered."""


class Clock:
    """Needed by a view in a sub-app only, and never registered."""


def make_broken_app(container: Container) -> web.Application:
    """Handlers needing unregistered types: in the app, in a class-based view of a sub-app, and a
    sub-app's middleware.
    """

    @inject
    async def notify(request: web.Request, mailer: Inject[Mailer]) -> web.Response:
        return web.Response(text="sent")  # pragma: no cover - the app does not start

    class TimeView(web.View):
        @inject
        async def get(self, clock: Inject[Clock]) -> web.Response:
            return web.Response(text="now")  # pragma: no cover

    @web.middleware
    @inject
    async def stamp(request: web.Request, handler: Handler, repo: Inject[ArticleRepo]) -> web.StreamResponse:
        return await handler(request)  # pragma: no cover

    app = web.Application()
    app.router.add_post("/notify", notify)
    sub = web.Application(middlewares=[stamp])
    sub.router.add_view("/time", TimeView)
    app.add_subapp("/sub", sub)
    setup(app, container)
    return app


@pytest.mark.anyio
async def test_a_handler_needing_an_unregistered_type_stops_the_start() -> None:
    """The start fails with InvalidContainerError naming every handler's problem, sub-apps included."""
    events: list[str] = []
    server = TestServer(make_broken_app(Container()))
    with pytest.raises(InvalidContainerError) as raised:
        await server.start_server()
    await server.close()
    assert sorted(describe_path(e.path) for e in raised.value.errors) == [
        "TimeView.get -> Clock",
        "notify -> Mailer",
        "stamp -> ArticleRepo",
    ]
    assert events == []


def test_check_given_an_aiohttp_app_reports_its_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m injectq_like check MODULE:APP`` on an aiohttp app: exit 1 listing the handlers'
    problems, exit 0 with the handlers counted once everything is registered.
    """
    source = [
        "from injectq_like import Container",
        "from tests_aiohttp_support import build, build_fixed",
        "broken = build(Container())",
        "fixed = build_fixed()",
    ]
    (tmp_path / "aiohttp_app.py").write_text("\n".join(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_aiohttp_support", sys.modules[__name__])
    out = io.StringIO()
    assert main(["check", "aiohttp_app:broken"], out) == 1
    assert "notify -> Mailer" in out.getvalue()
    assert "TimeView.get -> Clock" in out.getvalue()
    assert "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert main(["check", "aiohttp_app:fixed"], out) == 0
    assert out.getvalue() == "aiohttp_app:fixed: valid (6 providers, 3 dependencies, 3 handlers)\n"
    sys.modules.pop("aiohttp_app", None)


def build(container: Container) -> web.Application:
    return make_broken_app(container)


def build_fixed() -> web.Application:
    container = make_container([])
    container.register(Mailer)
    container.register(Clock)
    return make_broken_app(container)
