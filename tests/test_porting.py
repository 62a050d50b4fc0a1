"""What porting a real FastAPI application asked for: endpoints whose signature FastAPI reads,
overrides entered before the app is built (and test doubles in them), and the freeze message.
"""

from __future__ import annotations

from unittest.mock import AsyncMock, Mock

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import Request

from injectq_like import Container, Inject, RegistrationError, Scope, inject
from injectq_like._container import runtime_of
from injectq_like.integrations.starlette import setup


class Settings:
    def __init__(self, name: str = "production") -> None:
        self.name = name


class ArticleRepo:
    def __init__(self) -> None:
        self.deleted: list[int] = []

    async def delete(self, article_id: int) -> None:
        self.deleted.append(article_id)


class Article(BaseModel):
    id: int
    title: str


def create_app(container: Container) -> FastAPI:
    """An application factory, as a real project has: routes, then the integration."""
    app = FastAPI()

    @app.delete("/articles/{article_id}", status_code=204)
    @inject
    async def delete_article(article_id: int, repo: Inject[ArticleRepo]) -> None:
        await repo.delete(article_id)

    @app.get("/articles/{article_id}")
    @inject
    async def get_article(article_id: int, settings: Inject[Settings]) -> Article:
        return Article(id=article_id, title=f"from {settings.name}")

    @app.get("/whoami")
    @inject
    async def whoami(request: Request, settings: Inject[Settings]) -> dict[str, str]:
        return {"settings": settings.name, "path": request.url.path}

    setup(app, container)
    return app


def make_container() -> Container:
    container = Container()
    container.register(Settings, instance=Settings())
    container.register(ArticleRepo, scope=Scope.APP)
    return container


async def call(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


def test_a_204_endpoint_with_inject_builds_and_has_no_response_body_in_its_schema() -> None:
    """``-> None`` stays ``None`` for FastAPI: a ``status_code=204`` endpoint is accepted at import (it
    used to fail with "Status code 204 must not have a response body"), and the schema has no body.
    """
    app = create_app(make_container())
    operation = app.openapi()["paths"]["/articles/{article_id}"]["delete"]
    assert list(operation["responses"]) == ["204", "422"]
    assert "content" not in operation["responses"]["204"]
    assert [p["name"] for p in operation["parameters"]] == ["article_id"]


def test_the_response_model_is_inferred_from_the_handlers_return_annotation() -> None:
    """FastAPI infers ``response_model`` from the return annotation the wrapper advertises."""
    app = create_app(make_container())
    response = app.openapi()["paths"]["/articles/{article_id}"]["get"]["responses"]["200"]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Article"}


@pytest.mark.anyio
async def test_the_204_endpoint_answers_with_no_body_and_does_its_work() -> None:
    """The DELETE endpoint runs with its injected repository and answers 204 with an empty body."""
    container = make_container()
    app = create_app(container)
    response = await call(app, "DELETE", "/articles/7")
    assert response.status_code == 204
    assert response.content == b""
    assert (await container.resolve(ArticleRepo)).deleted == [7]


@pytest.mark.anyio
async def test_an_override_entered_before_the_app_is_built_applies_and_does_not_freeze() -> None:
    """The natural fixture: override on the container, then build the app on it (``setup()`` registers
    context values, which a freeze would refuse); the override applies, and is undone after.
    """
    container = make_container()
    with container.override(Settings, instance=Settings("test")):
        app = create_app(container)  # registers Request and WebSocket: the container is not frozen
        assert not runtime_of(container).frozen
        response = await call(app, "GET", "/whoami")
        assert response.json() == {"settings": "test", "path": "/whoami"}
    assert (await container.resolve(Settings)).name == "production"


def test_registrations_are_allowed_while_an_early_override_is_active() -> None:
    """An override entered first does not stop registrations until the first resolution; one
    undone before that resolution is simply forgotten.
    """
    container = Container()
    forgotten = container.override(Settings, instance=Settings("forgotten"))
    with forgotten:
        pass
    with container.override(Settings, instance=Settings("test")):
        container.register(Settings, instance=Settings())  # registered after the override: allowed
        assert container.resolve_sync(Settings).name == "test"
        with pytest.raises(RegistrationError, match="frozen"):
            container.register(ArticleRepo)
    assert container.resolve_sync(Settings).name == "production"


@pytest.mark.anyio
async def test_a_local_override_entered_before_the_first_resolution_applies_in_its_context() -> None:
    """``local=True`` before the first resolution: the override applies from the first resolution in
    its context, and is undone with it; the fast path comes back afterwards.
    """
    container = make_container()
    with container.override(Settings, instance=Settings("local"), local=True):
        assert (await container.resolve(Settings)).name == "local"
        assert container.resolve_sync(Settings).name == "local"
    assert container.resolve_sync(Settings).name == "production"
    assert runtime_of(container).values_view  # the fast path is on again


def test_a_test_double_is_accepted_as_an_override_instance() -> None:
    """An override's ``instance=`` is not type-checked: a ``Mock`` or ``AsyncMock`` stands in for the
    class it doubles, for the key and for what depends on it (``register`` still checks types).
    """
    container = make_container()
    double = AsyncMock(spec=ArticleRepo)
    with container.override(ArticleRepo, instance=double):
        assert container.resolve_sync(ArticleRepo) is double
    with container.override(Settings, instance=Mock()) as override:
        assert isinstance(container.resolve_sync(Settings), Mock)
        assert "Settings" in repr(override)
    with pytest.raises(RegistrationError, match="is a Mock, not a Settings"):
        Container().register(Settings, instance=Mock())


def test_the_freeze_error_says_where_it_froze_and_what_to_reorder() -> None:
    """A registration after the first resolution names that resolution and says to register, and to
    call every integration's ``setup()``, before it; overrides are offered for tests.
    """
    container = make_container()
    container.resolve_sync(Settings)  # configuring the app from the container, too early
    with pytest.raises(RegistrationError) as raised:
        create_app(container)
    message = str(raised.value)
    assert "cannot register Request: the container is frozen" in message
    assert "the first resolution of Settings at test_porting.py:" in message
    assert "call every integration's setup(), before the first resolution of Settings" in raised.value.hint
    assert "works before and after the first resolution" in raised.value.hint
