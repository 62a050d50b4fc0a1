"""Every integration, with one of its context keys registered by the user as an ordinary provider
(a factory or an instance) before ``setup``: the user's provider is used, the integration does not
give the scope a value for that key, and each unit of work runs (through the framework's own test
tools). A key the user declared as a context value of another level is refused at ``setup``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_origin

import celery  # type: ignore[import-untyped]
import click
import click.testing
import flask
import httpx
import pytest
import taskiq
import typer
import typer.core
import typer.testing
from aiogram import Bot, Dispatcher, Router
from aiogram.types import Chat, Message, Update
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from celery import _state as celery_state
from django.http import HttpRequest, HttpResponse  # type: ignore[import-untyped]
from django.test import AsyncClient, override_settings  # type: ignore[import-untyped]
from django.urls import path  # type: ignore[import-untyped]
from faststream import StreamMessage
from faststream.nats import NatsBroker, TestNatsBroker
from integration_django_app import SETTINGS, configure
from litestar import Litestar, get
from litestar import Request as LitestarRequest
from litestar.testing import AsyncTestClient
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

from injectq_like import Container, Inject, RegistrationError, Scope, inject
from injectq_like.integrations import aiogram as aiogram_integration
from injectq_like.integrations import aiohttp as aiohttp_integration
from injectq_like.integrations import celery as celery_integration
from injectq_like.integrations import click as click_integration
from injectq_like.integrations import django as django_integration
from injectq_like.integrations import faststream as faststream_integration
from injectq_like.integrations import flask as flask_integration
from injectq_like.integrations import litestar as litestar_integration
from injectq_like.integrations import starlette as starlette_integration
from injectq_like.integrations import taskiq as taskiq_integration
from injectq_like.integrations import typer as typer_integration


@pytest.fixture
def anyio_backend() -> Any:
    return ("asyncio", {})  # taskiq, aiohttp, Django's asgiref and FastStream's test broker run on asyncio


#: What a handler was injected with, by key.
Seen = dict[Any, object]

#: Sets up an app on ``container``, runs one unit of work through it, and records what was injected.
Run = Callable[[Container, Seen], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    key: Any  # the key the user registers
    mine: Callable[[], object]  # makes the user's object
    run: Run
    how: str  # "factory" or "instance"
    supplied_too: Any = None  # a key the integration still supplies (the other spelling), if any


# --- one unit of work per framework, its handler injected with the key (and the other spelling) -----


async def run_starlette(container: Container, seen: Seen) -> None:
    @inject
    async def endpoint(request: StarletteRequest, given: Inject[StarletteRequest]) -> PlainTextResponse:
        seen[StarletteRequest] = given
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", endpoint)])
    starlette_integration.setup(app, container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/")).text == "ok"


async def run_litestar(container: Container, seen: Seen) -> None:
    @get("/")
    @inject
    async def endpoint(
        given: Inject[LitestarRequest],  # type: ignore[type-arg]
        supplied: Inject[LitestarRequest[Any, Any, Any]],
    ) -> str:
        seen[LitestarRequest] = given
        seen[LitestarRequest[Any, Any, Any]] = supplied
        return "ok"

    app = Litestar(route_handlers=[endpoint])
    litestar_integration.setup(app, container)
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/")).text == "ok"


async def run_aiohttp(container: Container, seen: Seen) -> None:
    @inject
    async def endpoint(request: web.Request, given: Inject[web.Request]) -> web.Response:
        seen[web.Request] = given
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", endpoint)
    aiohttp_integration.setup(app, container)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/")
        assert await response.text() == "ok"


async def run_faststream(container: Container, seen: Seen) -> None:
    broker = NatsBroker()
    faststream_integration.setup(broker, container)

    @broker.subscriber("echo")
    @inject
    async def echo(
        body: str,
        given: Inject[StreamMessage[Any]],
        supplied: Inject[StreamMessage],  # type: ignore[type-arg]
    ) -> str:
        seen[StreamMessage[Any]] = given
        seen[StreamMessage] = supplied
        return body

    async with TestNatsBroker(broker) as test_broker:
        response = await test_broker.request("ok", "echo")
    assert await response.decode() == "ok"


async def run_taskiq(container: Container, seen: Seen) -> None:
    broker = taskiq.InMemoryBroker()
    taskiq_integration.setup(broker, container)

    @broker.task
    @inject
    async def work(given: Inject[taskiq.TaskiqMessage]) -> str:
        seen[taskiq.TaskiqMessage] = given
        return "ok"

    await broker.startup()
    try:
        result = await (await work.kiq()).wait_result(timeout=5)
    finally:
        await broker.shutdown()
    assert result.return_value == "ok"


async def run_aiogram(container: Container, seen: Seen) -> None:
    dispatcher = Dispatcher()
    router = Router()
    dispatcher.include_router(router)

    @router.message()
    @inject
    async def echo(message: Message, given: Inject[Bot], supplied: Inject[Update]) -> str:
        seen[Bot] = given
        seen[Update] = supplied
        return "ok"

    aiogram_integration.setup(dispatcher, container)
    chat = Chat(id=7, type="private")
    update = Update(update_id=1, message=Message(message_id=1, date=dt.datetime.now(dt.UTC), chat=chat, text="hi"))
    bot = Bot(token="42:TEST-TOKEN")  # noqa: S106 - a fake token; no request is made
    assert await dispatcher.feed_update(bot, update) == "ok"
    await container.aclose()


async def run_flask(container: Container, seen: Seen) -> None:
    app = flask.Flask(__name__)

    @app.get("/")
    @inject
    def view(given: Inject[flask.Request]) -> str:
        seen[flask.Request] = given
        return "ok"

    flask_integration.setup(app, container)
    assert app.test_client().get("/").text == "ok"


#: The Django view's record (a URLconf is a module: its view cannot close over the test's list).
django_seen: Seen = {}


@inject
async def django_view(request: HttpRequest, given: Inject[HttpRequest]) -> HttpResponse:
    django_seen[HttpRequest] = given
    return HttpResponse("ok")


urlpatterns = [path("", django_view)]


@pytest.fixture
def django_settings() -> Iterator[None]:
    configure()
    django_integration.teardown()
    with override_settings(**(SETTINGS | {"ROOT_URLCONF": __name__})):
        yield
    django_integration.teardown()
    django_seen.clear()


async def run_django(container: Container, seen: Seen) -> None:
    django_integration.setup(container)
    response = await AsyncClient().get("/")
    assert response.content == b"ok"
    seen.update(django_seen)


async def run_celery(container: Container, seen: Seen) -> None:
    default, current = celery_state.default_app, getattr(celery_state._tls, "current_app", None)
    try:
        app = celery.Celery("keys", broker="memory://", backend="cache+memory://", set_as_current=False)
        celery_integration.setup(app, container)

        @inject
        def work(given: Inject[celery.Task]) -> str:
            seen[celery.Task] = given
            return "ok"

        task = app.task(name="keys.work")(work)
        assert task.apply().get() == "ok"
    finally:
        celery_state.set_default_app(default)
        celery_state._tls.current_app = current


async def run_click(container: Container, seen: Seen) -> None:
    @click.command()
    @inject
    def command(given: Inject[click.Context]) -> None:
        seen[click.Context] = given
        click.echo("ok")

    click_integration.setup(command, container)
    result = click.testing.CliRunner().invoke(command, [])
    assert (result.exception, result.output) == (None, "ok\n")


async def run_typer(container: Container, seen: Seen) -> None:
    app = typer.Typer()

    @app.command()
    @inject
    def command(given: Inject[typer.Context]) -> None:
        seen[typer.Context] = given
        typer.echo("ok")

    typer_integration.setup(app, container)
    result = typer.testing.CliRunner().invoke(app, [])
    assert (result.exception, result.output) == (None, "ok\n")


# --- the user's objects ----------------------------------------------------------------------------


def stream_message() -> StreamMessage[Any]:
    return StreamMessage(raw_message=None, body=b"mine")


CASES = {
    "starlette": Case(StarletteRequest, lambda: StarletteRequest({"type": "http"}), run_starlette, "factory"),
    "litestar": Case(
        LitestarRequest,
        lambda: LitestarRequest({"type": "http"}),  # type: ignore[arg-type]
        run_litestar,
        "factory",
        supplied_too=LitestarRequest[Any, Any, Any],
    ),
    "litestar, the other spelling": Case(
        LitestarRequest[Any, Any, Any],
        lambda: LitestarRequest({"type": "http"}),  # type: ignore[arg-type]
        run_litestar,
        "factory",
        supplied_too=LitestarRequest,
    ),
    "aiohttp": Case(web.Request, lambda: make_mocked_request("GET", "/mine"), run_aiohttp, "factory"),
    "faststream": Case(StreamMessage[Any], stream_message, run_faststream, "factory", supplied_too=StreamMessage),
    "faststream, the other spelling": Case(
        StreamMessage, stream_message, run_faststream, "factory", supplied_too=StreamMessage[Any]
    ),
    "taskiq": Case(
        taskiq.TaskiqMessage,
        lambda: taskiq.TaskiqMessage(task_id="mine", task_name="mine", labels={}, args=[], kwargs={}),
        run_taskiq,
        "factory",
    ),
    "aiogram": Case(Bot, lambda: Bot(token="99:OWN-TOKEN"), run_aiogram, "instance", supplied_too=Update),  # noqa: S106
    "aiogram, the update": Case(Update, lambda: Update(update_id=99), run_aiogram, "factory", supplied_too=Bot),
    "flask": Case(flask.Request, lambda: flask.Request.from_values("/mine"), run_flask, "factory"),
    "django": Case(HttpRequest, HttpRequest, run_django, "factory"),
    "celery": Case(celery.Task, celery.Task, run_celery, "instance"),
    "click": Case(click.Context, lambda: click.Context(click.Command("mine")), run_click, "factory"),
    "typer": Case(typer.Context, lambda: typer.Context(typer.core.TyperCommand("mine")), run_typer, "instance"),
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(CASES))
async def test_a_context_key_the_user_registered_as_a_provider_is_theirs(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The key registered with a factory (REQUEST) or an instance before ``setup``: the handler gets
    the user's object, every unit of work runs, and the other spelling of the key (where there is
    one) is still the framework's object.
    """
    case = CASES[name]
    if case.run is run_django:
        request.getfixturevalue("django_settings")
    mine = case.mine()
    container = Container()
    if case.how == "factory":
        container.register(case.key, factory=lambda: mine, scope=Scope.REQUEST)
    else:
        container.register(case.key, instance=mine)
    seen: Seen = {}
    await case.run(container, seen)
    assert seen[case.key] is mine
    other = case.supplied_too
    if other is not None:  # the framework's own object, for the key the user left alone
        assert seen[other] is not mine
        assert isinstance(seen[other], get_origin(other) or other)
    await container.aclose()


@pytest.mark.parametrize(
    ("key", "declared", "supplied"),
    [(StarletteRequest, Scope.SESSION, Scope.REQUEST), (WebSocket, Scope.REQUEST, Scope.SESSION)],
    ids=["Request", "WebSocket"],
)
def test_a_context_key_the_user_declared_at_another_level_is_refused_at_setup(
    key: Any, declared: Scope, supplied: Scope
) -> None:
    """A context value of the wrong level would never be given: ``setup`` says so, with the fix."""
    container = Container()
    container.register_context(key, scope=declared)
    with pytest.raises(RegistrationError) as raised:
        starlette_integration.setup(Starlette(), container)
    name = key.__name__
    headline, hint = str(raised.value).splitlines()
    assert re.fullmatch(
        rf"{name} is registered as a context value of {declared.name} scopes \(at {Path(__file__).name}:\d+\), "
        rf"but the integration gives it to {supplied.name} scopes",
        headline,
    ), headline
    assert hint == (
        f"  hint: declare it at the integration's level, register_context({name}, scope=Scope.{supplied.name}), "
        "or leave it to setup(), which declares it; to provide it yourself, register a factory for it"
    )
    assert raised.value.key is key
