"""An app an integration was set up on is freed once the application drops it: the record that
``python -m injectq_like check MODULE:APP`` reads (``_loading.register_app``) does not keep it alive.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest
from django.test import override_settings  # type: ignore[import-untyped]
from integration_django_app import SETTINGS, configure
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from injectq_like import Container, Inject, Scope, inject
from injectq_like._loading import installed_on
from injectq_like.integrations import django as django_integration
from injectq_like.integrations import flask as flask_integration
from injectq_like.integrations import starlette as starlette_integration


@pytest.fixture
def anyio_backend() -> Any:
    return ("asyncio", {})


class Greeting:
    text = "hello"


def make_container() -> Container:
    container = Container()
    container.register(Greeting, scope=Scope.REQUEST)
    return container


@inject
async def hello(request: Request, greeting: Inject[Greeting]) -> PlainTextResponse:
    return PlainTextResponse(greeting.text)


@pytest.mark.anyio
async def test_a_starlette_app_set_up_then_dropped_is_freed() -> None:
    """Set up, started, served a request, stopped, dropped: collected, its record gone with it."""
    container = make_container()
    app = Starlette(routes=[Route("/", hello)])
    starlette_integration.setup(app, container)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/")).text == "hello"
    assert installed_on(app) is container
    freed = weakref.ref(app)
    del app, transport, client
    gc.collect()
    assert freed() is None


def test_a_flask_app_set_up_then_dropped_is_freed() -> None:
    container = make_container()
    app = flask.Flask(__name__)

    @app.get("/")
    @inject
    def view(greeting: Inject[Greeting]) -> str:
        return greeting.text

    flask_integration.setup(app, container)
    assert app.test_client().get("/").text == "hello"
    assert installed_on(app) is container
    freed = weakref.ref(app)
    del app, view
    gc.collect()
    assert freed() is None
    container.close()


@pytest.fixture
def django_settings() -> Iterator[None]:
    configure()
    django_integration.teardown()
    with override_settings(**SETTINGS):
        yield
    django_integration.teardown()


@pytest.mark.usefixtures("django_settings")
def test_a_django_container_set_up_then_torn_down_and_dropped_is_freed() -> None:
    """Django's target is the container itself: its record does not keep it alive either."""
    container = make_container()
    django_integration.setup(container)
    assert installed_on(container) is container
    django_integration.teardown()
    freed = weakref.ref(container)
    del container
    gc.collect()
    assert freed() is None
