"""The Flask integration, through Flask's own test client, on an article service whose requests
each get a unit of work on SQLite (the standard library's ``sqlite3``): commit on success, rollback
on error.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from flask.views import MethodView
from werkzeug.exceptions import NotFound
from werkzeug.serving import make_server

from injectq_like import AsyncProviderError, Container, Inject, NoActiveScopeError, RegistrationError, Scope, inject
from injectq_like.integrations.flask import setup


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path


class Database:
    """The APP-lived database: its file, and what every request's unit of work did."""

    made = 0

    def __init__(self, settings: Settings) -> None:
        Database.made += 1
        self.path = settings.path
        self.events: list[str] = []


class UnitOfWork:
    """One request's connection and transaction."""

    def __init__(self, number: int, connection: sqlite3.Connection) -> None:
        self.number = number
        self.connection = connection
        self.thread = threading.current_thread().name
        self.closed_by = ""


class ArticleRepo:
    def __init__(self, unit: UnitOfWork, request: flask.Request) -> None:
        self.unit = unit
        self.path = request.path

    def add(self, title: str) -> int:
        cursor = self.unit.connection.execute("INSERT INTO articles (title) VALUES (?)", (title,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def get(self, article_id: int) -> str:
        row = self.unit.connection.execute("SELECT title FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            flask.abort(404, description=f"no article {article_id}")
        return str(row[0])

    def titles(self) -> list[str]:
        return [row[0] for row in self.unit.connection.execute("SELECT title FROM articles ORDER BY id")]


class Mailer:
    """Has an async cleanup: a sync view cannot have it."""


class Audit:
    """Created at the opening of every REQUEST scope, by an async factory."""


class Conflict(Exception):  # noqa: N818 - named like an HTTP status
    pass


def make_container(path: Path) -> Container:
    container = Container()
    numbers = itertools.count(1)

    def open_database(settings: Settings) -> Iterator[Database]:
        with sqlite3.connect(settings.path) as connection:
            connection.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
            connection.execute("INSERT INTO articles (title) VALUES ('first')")
        connection.close()
        database = Database(settings)
        yield database
        database.events.append("database closed")

    def unit_of_work(database: Database) -> Iterator[UnitOfWork]:
        # check_same_thread=False: an async view resolves it in asgiref's thread, the scope closes in the request's
        connection = sqlite3.connect(database.path, check_same_thread=False)
        unit = UnitOfWork(next(numbers), connection)
        database.events.append(f"begin {unit.number}")
        try:
            yield unit
        except BaseException as error:
            connection.rollback()
            database.events.append(f"rollback {unit.number} {type(error).__name__}")
            raise
        else:
            connection.commit()
            database.events.append(f"commit {unit.number}")
        finally:
            connection.close()
            unit.closed_by = threading.current_thread().name

    async def open_mailer() -> AsyncIterator[Mailer]:
        yield Mailer()
        await asyncio.sleep(0)

    container.register(Settings, instance=Settings(path))
    container.register(factory=open_database, scope=Scope.APP)
    container.register(factory=unit_of_work, scope=Scope.REQUEST)
    container.register(ArticleRepo, scope=Scope.REQUEST)
    container.register(factory=open_mailer, scope=Scope.REQUEST)
    return container


articles = flask.Blueprint("articles", __name__, url_prefix="/articles")


@articles.before_request
@inject
def remember_unit(unit: Inject[UnitOfWork]) -> None:
    """A blueprint's before_request function sees the request's scope: the view's unit of work."""
    flask.g.unit = unit.number


@articles.get("/<int:article_id>")
@inject
def read(article_id: int, repo: Inject[ArticleRepo]) -> dict[str, Any]:
    return {"title": repo.get(article_id), "unit": repo.unit.number, "seen_before": flask.g.unit}


@articles.post("")
@inject
def create(repo: Inject[ArticleRepo]) -> tuple[dict[str, Any], int]:
    payload = flask.request.get_json()
    article_id = repo.add(payload["title"])
    if payload.get("fail") == "value":
        raise ValueError("bad title")
    if payload.get("fail") == "conflict":
        raise Conflict(payload["title"])
    if payload.get("fail") == "runtime":
        raise RuntimeError("view failed")
    if payload.get("fail") == "abort":
        flask.abort(404)
    return {"id": article_id, "unit": repo.unit.number, "path": repo.path}, 201


@articles.get("")
@inject
def listing(repo: Inject[ArticleRepo]) -> flask.Response:
    """A streamed body: the scope stays open while it is produced."""
    database = flask.current_app.extensions["database"]

    def rows() -> Iterator[str]:
        for title in repo.titles():
            database.events.append(f"sent {title}")
            if title == "boom" and flask.request.args.get("fail"):
                raise RuntimeError("stream failed")
            yield title + "\n"

    return flask.Response(flask.stream_with_context(rows()), mimetype="text/plain")


@articles.get("/numbers")
def numbers() -> flask.Response:
    """A plain generator body (no request context while it runs) resolving from the current scope."""

    @inject
    def unit_numbers(unit: Inject[UnitOfWork]) -> Iterator[str]:
        for _ in range(2):
            yield f"{unit.number} "

    return flask.Response(unit_numbers())


@articles.get("/async/<int:article_id>")
@inject
async def read_async(article_id: int, repo: Inject[ArticleRepo]) -> dict[str, Any]:
    await asyncio.sleep(0)
    if article_id == 0:
        raise RuntimeError("async view failed")
    return {"title": repo.get(article_id), "unit": repo.unit.number, "seen_before": flask.g.unit}


class ArticleCount(MethodView):
    @inject
    def get(self, repo: Inject[ArticleRepo]) -> dict[str, Any]:
        return {"count": len(repo.titles()), "unit": repo.unit.number}


articles.add_url_rule("/count", view_func=ArticleCount.as_view("count"))


@articles.errorhandler(ValueError)
@inject
def bad_value(error: ValueError, unit: Inject[UnitOfWork]) -> tuple[dict[str, Any], int]:
    """An error handler sees the open scope: the failed view's unit of work."""
    return {"error": str(error), "unit": unit.number, "seen_before": flask.g.unit}, 400


def make_app(container: Container, *, testing: bool = True) -> flask.Flask:
    app = flask.Flask(__name__)
    app.testing = testing  # PROPAGATE_EXCEPTIONS: an unhandled error reaches the test client
    app.register_blueprint(articles)

    @app.before_request
    @inject
    def maintenance(unit: Inject[UnitOfWork]) -> tuple[str, int] | None:
        """An earlier before_request function that answers by itself."""
        if flask.request.headers.get("X-Maintenance"):
            return f"closed (unit {unit.number})", 503
        return None

    @app.get("/whoami")
    @inject
    def whoami(request: Inject[flask.Request], repo: Inject[ArticleRepo]) -> dict[str, Any]:
        with app.test_request_context("/elsewhere"):  # a request context made by a view opens no scope
            again = container.resolve_sync(flask.Request)
        return {
            "real": request is flask.request._get_current_object(),  # type: ignore[attr-defined]
            "again": again is request,
            "path": repo.path,
        }

    @app.get("/mail")
    @inject
    def mail(mailer: Inject[Mailer]) -> str:
        return "sent"  # pragma: no cover - the async provider is refused

    @app.errorhandler(Conflict)
    def conflict(error: Conflict) -> tuple[str, int]:
        return f"conflict: {error}", 409

    setup(app, container)
    with app.app_context():
        app.extensions["database"] = container.resolve_sync(Database)
    return app


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    container = make_container(tmp_path / "app.db")
    yield container
    container.close()


@pytest.fixture
def app(container: Container) -> flask.Flask:
    return make_app(container)


def events_of(app: flask.Flask) -> list[str]:
    database: Database = app.extensions["database"]
    return database.events


def stored(app: flask.Flask) -> list[str]:
    database: Database = app.extensions["database"]
    with sqlite3.connect(database.path) as connection:
        titles = [row[0] for row in connection.execute("SELECT title FROM articles ORDER BY id")]
    connection.close()
    return titles


def test_a_successful_request_commits_once_and_the_next_request_sees_it(app: flask.Flask) -> None:
    client = app.test_client()
    created = client.post("/articles", json={"title": "second"}, buffered=True)
    assert created.status_code == 201
    assert created.get_json() == {"id": 2, "unit": 1, "path": "/articles"}
    found = client.get("/articles/2")
    assert found.get_json() == {"title": "second", "unit": 2, "seen_before": 2}
    assert events_of(app) == ["begin 1", "commit 1", "begin 2", "commit 2"]
    assert stored(app) == ["first", "second"]


def test_the_request_context_value_is_flasks_real_request_object(app: flask.Flask) -> None:
    response = app.test_client().get("/whoami")
    assert response.get_json() == {"real": True, "again": True, "path": "/whoami"}


def test_a_view_error_rolls_back_and_propagates_unchanged_in_testing(app: flask.Flask) -> None:
    with pytest.raises(RuntimeError, match="view failed"):
        app.test_client().post("/articles", json={"title": "lost", "fail": "runtime"})
    assert events_of(app) == ["begin 1", "rollback 1 RuntimeError"]
    assert stored(app) == ["first"]


def test_a_view_error_that_flask_answers_with_500_still_rolls_back(container: Container) -> None:
    app = make_app(container, testing=False)
    with app.test_client().post("/articles", json={"title": "lost", "fail": "runtime"}) as response:
        assert events_of(app) == ["begin 1"]  # not sent yet: the test client has not read the body
    assert response.status_code == 500
    assert events_of(app) == ["begin 1", "rollback 1 RuntimeError"]
    assert stored(app) == ["first"]


def test_an_error_turned_into_a_response_by_an_error_handler_rolls_back(app: flask.Flask) -> None:
    """The error handler runs inside the scope (the view's unit of work); the unit of work sees the error."""
    client = app.test_client()
    response = client.post("/articles", json={"title": "lost", "fail": "value"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "bad title", "unit": 1, "seen_before": 1}
    conflict = client.post("/articles", json={"title": "twice", "fail": "conflict"})
    assert (conflict.status_code, conflict.text) == (409, "conflict: twice")
    assert events_of(app) == ["begin 1", "rollback 1 ValueError", "begin 2", "rollback 2 Conflict"]
    assert stored(app) == ["first"]


def test_abort_reaches_the_client_unchanged_and_rolls_back(app: flask.Flask) -> None:
    client = app.test_client()
    aborted = client.post("/articles", json={"title": "lost", "fail": "abort"}, buffered=True)
    missing = client.get("/articles/9", buffered=True)
    assert aborted.status_code == 404
    assert "The requested URL was not found on the server." in aborted.text
    assert missing.status_code == 404
    assert "no article 9" in missing.text
    assert events_of(app) == ["begin 1", "rollback 1 NotFound", "begin 2", "rollback 2 NotFound"]
    assert stored(app) == ["first"]


def test_an_unknown_url_is_flasks_404_and_its_scope_closes(app: flask.Flask) -> None:
    response = app.test_client().get("/nowhere", buffered=True)
    assert response.status_code == 404
    assert events_of(app) == ["begin 1", "rollback 1 NotFound"]  # the app's before_request ran first


def test_an_earlier_before_request_answering_closes_the_scope_once(app: flask.Flask) -> None:
    """The app's before_request answers: the blueprint's and the view never run, the scope closes once."""
    response = app.test_client().post("/articles", json={"title": "x"}, headers={"X-Maintenance": "1"})
    assert (response.status_code, response.text) == (503, "closed (unit 1)")
    assert events_of(app) == ["begin 1", "commit 1"]


def test_a_streamed_body_is_produced_inside_the_scope_which_closes_after_it(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/articles", json={"title": "second"}, buffered=True)
    response = client.get("/articles")  # not buffered: the body is produced as the client reads it
    assert events_of(app) == ["begin 1", "commit 1", "begin 2", "sent first"]
    assert response.text == "first\nsecond\n"
    assert events_of(app)[3:] == ["sent first", "sent second", "commit 2"]
    response.close()  # the server's close() after the last chunk: nothing more to do
    assert events_of(app)[-1] == "commit 2"


def test_the_scope_is_current_while_a_plain_generator_body_runs(app: flask.Flask) -> None:
    assert app.test_client().get("/articles/numbers").text == "1 1 "  # the before_request's unit of work
    assert events_of(app) == ["begin 1", "commit 1"]


def test_a_stream_that_fails_rolls_back_and_the_error_reaches_the_server(app: flask.Flask) -> None:
    client = app.test_client()
    client.post("/articles", json={"title": "boom"}, buffered=True)
    response = client.get("/articles?fail=1")
    with pytest.raises(RuntimeError, match="stream failed"):
        response.get_data()
    assert events_of(app)[2:] == ["begin 2", "sent first", "sent boom", "rollback 2 RuntimeError"]
    response.close()
    assert events_of(app)[-1] == "rollback 2 RuntimeError"


def test_a_body_closed_before_its_end_still_closes_the_scope(app: flask.Flask, container: Container) -> None:
    """A client gone away: the server closes the body early; the scope closes then, in its own context."""
    client = app.test_client()
    client.post("/articles", json={"title": "second"}, buffered=True)
    response = client.get("/articles")
    with pytest.raises(NoActiveScopeError):  # the request's scope is not current in the server's context
        container.resolve_sync(UnitOfWork)
    response.close()
    assert events_of(app)[2:] == ["begin 2", "sent first", "commit 2"]


def test_a_failing_close_of_the_body_is_thrown_into_the_cleanups(app: flask.Flask) -> None:
    @app.get("/closing")
    @inject
    def closing(unit: Inject[UnitOfWork]) -> flask.Response:
        response = flask.Response("body")

        @response.call_on_close
        def fail() -> None:
            raise OSError("socket gone")

        return response

    client = app.test_client()
    with pytest.raises(OSError, match="socket gone"):
        client.get("/closing", buffered=True)
    assert events_of(app) == ["begin 1", "rollback 1 OSError"]


def test_a_failing_cleanup_after_the_response_reaches_the_server(app: flask.Flask, container: Container) -> None:
    @app.get("/flush")
    @inject
    def flush(request: Inject[flask.Request]) -> str:
        container.resolve_sync(UnitOfWork).connection.close()  # the commit will fail
        return "flushed"

    response = app.test_client().get("/flush")
    with pytest.raises(ExceptionGroup) as raised:
        response.get_data()
    assert [type(e) for e in raised.value.exceptions] == [sqlite3.ProgrammingError]
    assert events_of(app) == ["begin 1"]


def test_an_async_view_runs_in_the_requests_scope(app: flask.Flask) -> None:
    """asgiref runs the coroutine in another thread, in a copy of the request's context: same scope."""
    client = app.test_client()
    response = client.get("/articles/async/1")
    assert response.get_json() == {"title": "first", "unit": 1, "seen_before": 1}
    with pytest.raises(RuntimeError, match="async view failed"):
        client.get("/articles/async/0")
    assert events_of(app) == ["begin 1", "commit 1", "begin 2", "rollback 2 RuntimeError"]


def test_a_class_based_view_is_injected(app: flask.Flask) -> None:
    assert app.test_client().get("/articles/count").get_json() == {"count": 1, "unit": 1}


def test_an_async_provider_needed_by_a_sync_view_is_refused_by_name(container: Container) -> None:
    app = make_app(container)
    with pytest.raises(AsyncProviderError) as raised:
        app.test_client().get("/mail")
    assert "Mailer is provided by the async generator factory open_mailer()" in str(raised.value)
    assert "hint:" in str(raised.value)
    assert events_of(app) == ["begin 1", "rollback 1 AsyncProviderError"]
    other = make_container(Path(app.extensions["database"].path).with_name("other.db"))
    served = make_app(other, testing=False)
    assert served.test_client().get("/mail", buffered=True).status_code == 500
    assert events_of(served) == ["begin 1", "rollback 1 AsyncProviderError"]
    other.close()


def test_concurrent_requests_in_threads_each_have_their_own_scope(container: Container) -> None:
    """Eight threads in their requests at once: eight units of work, one database, nothing shared."""
    barrier = threading.Barrier(8)
    Database.made = 0
    app = make_app(container)

    @app.get("/together")
    @inject
    def together(unit: Inject[UnitOfWork], database: Inject[Database]) -> dict[str, Any]:
        barrier.wait(timeout=30)  # every request's scope is open now
        same = container.resolve_sync(UnitOfWork)
        return {"unit": unit.number, "same": same is unit, "thread": unit.thread, "database": id(database)}

    results: list[dict[str, Any]] = []

    def one() -> None:
        results.append(app.test_client().get("/together").get_json())

    threads = [threading.Thread(target=one, name=f"worker-{n}") for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result["unit"] for result in results) == list(range(1, 9))
    assert all(result["same"] for result in results)
    assert sorted(result["thread"] for result in results) == [f"worker-{n}" for n in range(8)]
    assert {result["database"] for result in results} == {id(app.extensions["database"])}
    assert Database.made == 1
    assert sorted(events_of(app)) == sorted([f"begin {n}" for n in range(1, 9)] + [f"commit {n}" for n in range(1, 9)])


def test_the_container_is_closed_by_its_owner_not_by_the_app(app: flask.Flask, container: Container) -> None:
    app.test_client().get("/articles/1")
    assert "database closed" not in events_of(app)
    container.close()
    assert events_of(app)[-1] == "database closed"


def test_a_second_setup_on_the_same_app_is_refused(app: flask.Flask, container: Container) -> None:
    with pytest.raises(RegistrationError, match="already called"):
        setup(app, container)


def test_flask_used_without_its_wsgi_app_opens_no_scope(app: flask.Flask) -> None:
    """A request context of one's own, dispatched by hand: no scope, nothing noted."""
    with app.test_request_context("/articles/1"):
        assert app.handle_user_exception(NotFound()).code == 404  # type: ignore[union-attr]
    assert events_of(app) == []


def test_a_middleware_that_answers_before_flask_opens_no_scope(app: flask.Flask) -> None:
    """A WSGI middleware put around the app before setup, answering by itself: no Flask request, no scope."""
    inner = app.wsgi_app

    def health(environ: Any, start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/health":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return inner(environ, start_response)  # pragma: no cover - not asked

    container = make_container(Path(app.extensions["database"].path).with_name("other.db"))
    other = flask.Flask(__name__)
    other.wsgi_app = health  # type: ignore[method-assign]
    setup(other, container)
    response = other.test_client().get("/health")
    assert response.text == "ok"
    container.close()


def test_the_test_clients_preserved_context_is_flasks_not_the_scope(app: flask.Flask, container: Container) -> None:
    """In ``with client:`` Flask keeps its request context for the test; the request's scope is closed."""
    with app.test_client() as client:
        assert client.get("/articles/1").get_json()["title"] == "first"
        assert flask.request.path == "/articles/1"
        with pytest.raises(NoActiveScopeError):
            container.resolve_sync(flask.Request)
    assert events_of(app) == ["begin 1", "commit 1"]


def test_a_scope_that_cannot_open_fails_the_request_with_the_cores_error(tmp_path: Path) -> None:
    """An async autouse REQUEST provider cannot be created in a scope entered with ``with``."""

    async def audit() -> Audit:
        return Audit()  # pragma: no cover - refused before it runs

    container = Container()
    container.register(Audit, factory=audit, scope=Scope.REQUEST, autouse=True)
    app = flask.Flask(__name__)
    app.add_url_rule("/", view_func=lambda: "home")
    setup(app, container)
    with pytest.raises(AsyncProviderError, match="Audit"):
        app.test_client().get("/")
    container.close()


def test_a_real_threaded_server_closes_every_scope_in_the_thread_that_served_it(container: Container) -> None:
    """Werkzeug's threaded server: requests in their own threads at once, each scope closed by the server."""
    barrier = threading.Barrier(4)
    app = make_app(container, testing=False)
    units: list[UnitOfWork] = []

    @app.get("/served/<int:n>")
    @inject
    def served(n: int, unit: Inject[UnitOfWork]) -> flask.Response:
        barrier.wait(timeout=30)  # four requests in their scopes at once
        units.append(unit)

        def body() -> Iterator[str]:
            yield f"{n}:"
            yield str(unit.number)

        return flask.Response(body())

    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    answers: list[str] = []

    def ask(n: int) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/served/{n}", timeout=30) as reply:
            answers.append(reply.read().decode())

    askers = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    server.shutdown()
    serving.join()
    server.server_close()
    assert sorted(answer.partition(":")[0] for answer in answers) == ["0", "1", "2", "3"]
    assert sorted(int(answer.partition(":")[2]) for answer in answers) == [1, 2, 3, 4]
    assert len({unit.thread for unit in units}) == 4
    assert all(unit.closed_by == unit.thread for unit in units)  # created and cleaned up in the serving thread
    assert sorted(e for e in events_of(app) if e.startswith("commit")) == [f"commit {n}" for n in range(1, 5)]
