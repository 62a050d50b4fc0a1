"""The Django integration, against Django's own test clients: ``Client`` (WSGI, sync middleware
chain) and ``AsyncClient`` (ASGI, async chain), on a small article service over SQLite.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse  # type: ignore[import-untyped]
from django.test import AsyncClient, AsyncRequestFactory, Client, override_settings  # type: ignore[import-untyped]
from integration_django_app import SETTINGS, configure
from integration_django_app.service import Database, make_container
from integration_django_app.urls import Meeting

from injectq_like import AsyncProviderError, Container, InvalidContainerError, RegistrationError, Scope
from injectq_like.__main__ import main
from injectq_like.integrations.django import ScopeMiddleware, handlers, setup, teardown


class Flush:
    """A REQUEST instance with a cleanup of its own."""


@pytest.fixture(params=[pytest.param(("asyncio", {}), id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """Django's async machinery (asgiref) runs only on asyncio."""
    return request.param


@pytest.fixture(autouse=True)
def django_settings() -> Iterator[None]:
    """Django configured once per process; this service's URLconf and middleware for each test."""
    configure()
    teardown()
    with override_settings(**SETTINGS):
        yield
    teardown()


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    container = make_container(tmp_path / "articles.sqlite")
    setup(container)
    yield container
    container.close()


def database(container: Container) -> Database:
    return container.resolve_sync(Database)


def body(response: Any) -> Any:
    return json.loads(response.content)


# -- sync views, WSGI ---------------------------------------------------------------------------


def test_a_sync_view_commits_its_unit_of_work(container: Container) -> None:
    client = Client()
    created = client.post("/articles", "second", content_type="text/plain")
    listed = client.get("/articles")
    assert (created.status_code, body(created)) == (201, {"id": 2, "unit": 0, "path": "/articles"})
    assert body(listed) == {"titles": ["first", "second"], "unit": 1}
    assert database(container).log == ["commit 0", "commit 1"]


def test_a_sync_view_that_raises_rolls_back_and_answers_500(container: Container) -> None:
    response = Client(raise_request_exception=False).post("/articles", "boom", content_type="text/plain")
    assert response.status_code == 500
    assert database(container).log == ["rollback 0 RuntimeError"]
    assert database(container).titles() == ["first"]


def test_the_view_exception_also_reaches_the_test_client(container: Container) -> None:
    with pytest.raises(RuntimeError, match="the view failed"):
        Client().post("/articles", "boom", content_type="text/plain")
    assert database(container).log == ["rollback 0 RuntimeError"]


def test_http404_is_answered_404_and_seen_by_the_unit_of_work(container: Container) -> None:
    client = Client()
    found = client.get("/articles/1")
    missing = client.get("/articles/7")
    assert (found.status_code, body(found)) == (200, {"title": "first", "unit": 0})
    assert missing.status_code == 404
    assert database(container).log == ["commit 0", "rollback 1 Http404"]


def test_the_request_is_a_context_value_and_the_view_runs_in_the_callers_thread(container: Container) -> None:
    response = Client().get("/where")
    assert body(response) == {"thread": threading.get_ident(), "same": True, "unit": 0}


def test_class_based_views_are_injected_and_roll_back(container: Container) -> None:
    client = Client(raise_request_exception=False)
    read = client.get("/views/articles/1")
    failed = client.post("/views/articles/1", "lost", content_type="text/plain")
    assert body(read) == {"title": "first", "unit": 0, "view": "class"}
    assert failed.status_code == 500
    assert database(container).log == ["commit 0", "rollback 1 ValueError"]
    assert database(container).titles() == ["first"]


def test_an_async_view_under_wsgi_runs_in_the_requests_scope(container: Container) -> None:
    client = Client()
    response = client.get("/async/where")
    created = client.post("/async/articles", "third", content_type="text/plain")
    assert body(response)["same"] is True
    assert created.status_code == 201
    assert database(container).log == ["commit 0", "commit 1"]


def test_a_sync_view_needing_an_async_provider_names_it_and_the_fix(container: Container) -> None:
    with pytest.raises(AsyncProviderError) as raised:
        Client().get("/remote")
    message = str(raised.value)
    assert "connect_remote" in message
    assert "await" in message or "async" in message


def test_concurrent_threads_have_scopes_of_their_own_and_share_app_instances(container: Container) -> None:
    """Four requests at once, in four threads, all inside their views together (a barrier)."""
    threads = 4
    Meeting.barrier = threading.Barrier(threads, timeout=30)
    made = Database.made
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def request() -> None:
        try:
            response = Client().get("/meet")
            results.append({**body(response), "thread": threading.get_ident()})
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=request) for _ in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        Meeting.barrier = None
    assert errors == []
    assert sorted(r["unit"] for r in results) == list(range(threads))
    assert all(r["unit_thread"] == r["thread"] for r in results)  # made in the thread that ran the view
    assert len({r["database"] for r in results}) == 1
    assert Database.made == made + 1
    assert sorted(database(container).log) == [f"commit {n}" for n in range(threads)]


# -- streaming ----------------------------------------------------------------------------------


def test_a_sync_stream_is_committed_after_its_last_chunk(container: Container) -> None:
    response = Client().get("/stream")
    assert database(container).log == []  # the view returned, the body is not made yet
    assert b"".join(response.streaming_content) == b"first\n"
    assert database(container).log == ["commit 0"]


def test_a_failing_sync_stream_rolls_back(container: Container) -> None:
    Client().post("/articles", "second", content_type="text/plain")
    response = Client().get("/stream?fail")
    chunks = iter(response.streaming_content)
    assert next(chunks) == b"first\n"
    with pytest.raises(RuntimeError, match="the stream failed"):
        next(chunks)
    assert database(container).log == ["commit 0", "rollback 1 RuntimeError"]


def test_a_stream_closed_before_its_end_rolls_back(container: Container) -> None:
    response = Client().get("/stream")
    response.close()  # what a WSGI server does when the client went away
    response.close()
    assert database(container).log == ["rollback 0 GeneratorExit"]
    assert list(response.streaming_content) == []


def test_an_inject_generator_streamed_resolves_in_the_requests_scope(container: Container) -> None:
    response = Client().get("/stream/injected")
    assert b"".join(response.streaming_content) == b"0:first\n"
    assert database(container).log == ["commit 0"]


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators:Warning")
def test_an_async_stream_under_wsgi_is_committed_after_its_last_chunk(container: Container) -> None:
    response = Client().get("/async/stream")
    assert database(container).log == []
    assert b"".join(response) == b"first\n"
    assert database(container).log == ["commit 0"]


def test_an_async_stream_under_wsgi_closed_before_its_end_rolls_back(container: Container) -> None:
    response = Client().get("/async/stream")
    response.close()
    assert database(container).log == ["rollback 0 GeneratorExit"]


# -- ASGI ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_views_commit_roll_back_and_answer_404(container: Container) -> None:
    client = AsyncClient(raise_request_exception=False)
    created = await client.post("/async/articles", "second", content_type="text/plain")
    found = await client.get("/async/articles/2")
    missing = await client.get("/async/articles/9")
    failed = await client.post("/async/articles", "boom", content_type="text/plain")
    assert (created.status_code, found.status_code, missing.status_code, failed.status_code) == (201, 200, 404, 500)
    assert body(found) == {"title": "second", "unit": 1}
    assert database(container).log == ["commit 0", "commit 1", "rollback 2 Http404", "rollback 3 RuntimeError"]
    assert database(container).titles() == ["first", "second"]


@pytest.mark.anyio
async def test_a_sync_view_under_asgi_runs_in_a_thread_where_the_scope_is_current(container: Container) -> None:
    client = AsyncClient(raise_request_exception=False)
    response = await client.get("/where")
    failed = await client.post("/articles", "boom", content_type="text/plain")
    assert body(response)["same"] is True
    assert body(response)["thread"] != threading.get_ident()  # asgiref's sync_to_async thread
    assert failed.status_code == 500
    assert database(container).log == ["commit 0", "rollback 1 RuntimeError"]


@pytest.mark.anyio
async def test_async_class_based_views_are_injected(container: Container) -> None:
    response = await AsyncClient().get("/views/async/articles/1")
    assert body(response) == {"title": "first", "unit": 0, "view": "async class"}


@pytest.mark.anyio
async def test_an_async_stream_is_committed_after_its_last_chunk(container: Container) -> None:
    await AsyncClient().post("/async/articles", "second", content_type="text/plain")
    response = await AsyncClient().get("/async/stream")
    assert database(container).log == ["commit 0"]
    chunks = [chunk async for chunk in response.streaming_content]
    assert chunks == [b"first\n", b"second\n"]
    assert database(container).log == ["commit 0", "commit 1"]


@pytest.mark.anyio
async def test_a_failing_async_stream_rolls_back(container: Container) -> None:
    await AsyncClient().post("/async/articles", "second", content_type="text/plain")
    response = await AsyncClient().get("/async/stream?fail")
    with pytest.raises(RuntimeError, match="the async stream failed"):
        [chunk async for chunk in response.streaming_content]
    assert database(container).log == ["commit 0", "rollback 1 RuntimeError"]


@pytest.mark.anyio
async def test_a_sync_stream_under_asgi_is_made_chunk_by_chunk_in_the_scope(container: Container) -> None:
    """Under ASGI a sync body becomes an async one (each chunk made in a thread), so Django does
    not consume it whole ahead of sending (and does not warn).
    """
    response = await AsyncClient().get("/stream/injected")
    assert response.is_async
    assert database(container).log == []
    chunks = [chunk async for chunk in response.streaming_content]
    assert chunks == [b"0:first\n"]
    assert database(container).log == ["commit 0"]


@pytest.mark.anyio
async def test_an_async_stream_closed_from_a_worker_thread_rolls_back(container: Container) -> None:
    """Django's ASGI handler closes the response in a thread (``sync_to_async``) when the client went away."""
    response = await AsyncClient().get("/async/stream")
    await sync_to_async(response.close)()
    assert database(container).log == ["rollback 0 GeneratorExit"]
    assert [chunk async for chunk in response.streaming_content] == []


@pytest.mark.anyio
async def test_an_async_stream_closed_from_the_event_loop_rolls_back_in_a_task(container: Container) -> None:
    response = await AsyncClient().get("/async/stream")
    response.close()
    for _ in range(100):
        if database(container).log:
            break
        await asyncio.sleep(0)
    assert database(container).log == ["rollback 0 GeneratorExit"]


# -- the middleware itself ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_cancelled_request_rolls_back_and_stays_cancelled(container: Container) -> None:
    """A client that went away: Django's ASGI handler cancels the request's task."""
    entered = asyncio.Event()

    async def view(request: HttpRequest) -> HttpResponse:
        await container.resolve(Database)
        from integration_django_app.service import UnitOfWork

        await container.resolve(UnitOfWork)
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover

    middleware = ScopeMiddleware(view)
    task = asyncio.create_task(middleware(AsyncRequestFactory().get("/gone")))
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert database(container).log == ["rollback 0 CancelledError"]


@pytest.mark.anyio
async def test_a_cancellation_during_the_cleanups_waits_for_them_then_is_raised(tmp_path: Path) -> None:
    """The client goes away while the unit of work commits: the commit is not cut short."""
    container = make_container(tmp_path / "articles.sqlite")
    committing, committed = asyncio.Event(), asyncio.Event()
    log: list[str] = []

    async def slow_commit() -> AsyncIterator[Flush]:
        yield Flush()
        committing.set()
        await committed.wait()
        log.append("committed")

    container.register(Flush, factory=slow_commit, scope=Scope.REQUEST)
    setup(container)

    async def view(request: HttpRequest) -> HttpResponse:
        await container.resolve(Flush)
        return HttpResponse("done")

    task = asyncio.create_task(ScopeMiddleware(view)(AsyncRequestFactory().get("/slow")))
    await committing.wait()
    task.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    committed.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["committed"]
    await container.aclose()


@pytest.mark.anyio
async def test_a_failing_cleanup_after_a_close_from_the_event_loop_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    container = make_container(tmp_path / "articles.sqlite")

    def broken() -> Iterator[Flush]:
        try:
            yield Flush()
        finally:
            raise RuntimeError("cleanup failed")

    container.register(Flush, factory=broken, scope=Scope.REQUEST, autouse=True)
    setup(container)
    response = await AsyncClient().get("/async/stream")
    response.close()
    for _ in range(100):
        if "closing a request's scope failed" in caplog.text:
            break
        await asyncio.sleep(0)
    assert "closing a request's scope failed" in caplog.text
    assert "cleanup failed" in caplog.text
    container.close()


def test_an_exception_django_did_not_answer_is_thrown_in_and_propagates(container: Container) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        container.resolve_sync(Database)
        from integration_django_app.service import UnitOfWork

        container.resolve_sync(UnitOfWork)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ScopeMiddleware(view)(AsyncRequestFactory().get("/x"))
    assert database(container).log == ["rollback 0 KeyboardInterrupt"]


def test_a_stream_closed_unread_makes_no_chunk_afterwards(container: Container) -> None:
    made: list[str] = []

    def chunks() -> Iterator[bytes]:
        made.append("chunk")
        yield b"late"

    response = ScopeMiddleware(lambda _: StreamingHttpResponse(chunks()))(AsyncRequestFactory().get("/x"))
    response.close()
    assert list(response.streaming_content) == []
    assert made == []


def test_process_exception_outside_a_request_does_nothing(container: Container) -> None:
    middleware = ScopeMiddleware(lambda _: HttpResponse())
    middleware.process_exception(HttpRequest(), ValueError("elsewhere"))  # no request of its own: ignored


def test_the_middleware_without_setup_says_what_to_do() -> None:
    with pytest.raises(RegistrationError, match=r"setup\(container\) was not called"):
        Client().get("/plain")


def test_a_second_setup_is_refused(container: Container) -> None:
    with pytest.raises(RegistrationError, match="already called in this process"):
        setup(Container())


def test_a_view_needing_an_unregistered_type_fails_every_request_until_fixed(tmp_path: Path) -> None:
    container = make_container(tmp_path / "articles.sqlite", with_remote=False)
    setup(container)
    for _ in range(2):
        with pytest.raises(InvalidContainerError) as raised:
            Client().get("/plain")
        assert "remote -> Remote" in str(raised.value)


def test_handlers_reach_included_decorated_and_class_based_views() -> None:
    names = sorted(function.__qualname__ for function in handlers())
    assert names == [
        "ArticleView.get",
        "ArticleView.post",
        "AsyncArticleView.get",
        "article",
        "articles",
        "async_article",
        "async_articles",
        "async_stream",
        "async_where",
        "meet",
        "remote",
        "stream",
        "where",
    ]


def test_check_names_the_container_and_reports_its_views() -> None:
    out = io.StringIO()
    assert main(["check", "integration_django_app.project:container"], out) == 1
    assert "remote -> Remote" in out.getvalue()


def test_check_in_a_fresh_process_sets_django_up() -> None:
    """``DJANGO_SETTINGS_MODULE=... python -m injectq_like check MODULE:CONTAINER``, as a user runs it."""
    tests = Path(__file__).parent
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "integration_django_app.settings"}
    environment["PYTHONPATH"] = os.pathsep.join([str(tests), str(tests.parent)])
    command = [sys.executable, "-m", "injectq_like", "check", "integration_django_app.project:container"]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert done.returncode == 1, done.stderr
    assert "remote -> Remote" in done.stdout


def test_a_scope_per_request_nests_in_no_other(container: Container) -> None:
    """After a request, no scope is left current in the caller's context (a server's thread)."""
    Client().get("/stream")  # a stream never consumed: its scope stays open, but not current here
    with container.scope(Scope.REQUEST) as scope:
        assert scope.parent is not None
        assert scope.parent.level is Scope.APP
