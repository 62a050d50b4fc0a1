"""What porting a real FastAPI application asked for: endpoints whose signature FastAPI reads,
overrides entered before the app is built (and test doubles in them), and the freeze message.
"""

from __future__ import annotations

import importlib
import io
import sys
from pathlib import Path
from unittest.mock import AsyncMock, Mock

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from injectq_like import (
    AnnotationError,
    Container,
    Inject,
    InvalidContainerError,
    MissingProviderError,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    inject,
)
from injectq_like.__main__ import main
from injectq_like._container import runtime_of
from injectq_like._keys import describe_path
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


# -- handlers checked by validate(), at the app's start, and by check MODULE:APP ------------------------


class UseCase:
    """Needed only by an endpoint: forgetting to register it must not wait for the first request."""


class Notifier:
    pass


def test_validate_checks_the_handlers_of_its_container_with_paths_from_the_handler() -> None:
    """``@inject(container=c)`` handlers are checked by ``c.validate()``: their ``Inject[...]`` parameters
    and ``uses=``, each problem with a path that starts at the handler.
    """
    container = Container()
    container.register(ArticleRepo)

    @inject(container=container, uses=(Notifier,))
    async def list_articles(page: int, repo: Inject[ArticleRepo], use_case: Inject[UseCase]) -> None:
        pass

    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    assert [(type(e), describe_path(e.path)) for e in raised.value.errors] == [
        (MissingProviderError, "list_articles -> UseCase"),
        (MissingProviderError, "list_articles -> Notifier"),
    ]
    assert "resolution path: list_articles -> UseCase" in str(raised.value)


def make_app_with_nested_handlers(container: Container) -> FastAPI:
    """Handlers in a router included in a router, in a mounted app, and as a sub-dependency."""
    inner = APIRouter()

    @inner.get("/inner")
    @inject
    async def inner_endpoint(use_case: Inject[UseCase]) -> str:
        return "inner"

    outer = APIRouter(prefix="/outer")
    outer.include_router(inner)

    @inject
    async def current_settings(request: Request, notifier: Inject[Notifier]) -> str:
        return request.url.path

    app = FastAPI()
    app.include_router(outer)

    @app.get("/uses-dependency")
    async def uses_dependency(path: str = Depends(current_settings)) -> str:  # noqa: FAST002 - a local function: no Annotated under postponed annotations
        return path

    mounted = FastAPI()

    @mounted.get("/deep")
    @inject
    async def mounted_endpoint(repo: Inject[ArticleRepo]) -> str:
        return "deep"

    app.mount("/sub", mounted)
    setup(app, container)
    return app


@pytest.mark.anyio
async def test_an_app_with_a_handler_missing_a_provider_does_not_start() -> None:
    """``setup(app, container)`` checks every ``@inject`` handler the app calls when it starts: nested
    routers, mounted apps and FastAPI sub-dependencies; the start fails listing them all.
    """
    container = Container()  # registers none of UseCase, Notifier, ArticleRepo
    app = make_app_with_nested_handlers(container)
    with pytest.raises(InvalidContainerError) as raised:
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - the start fails
    assert sorted(describe_path(e.path) for e in raised.value.errors) == [
        "current_settings -> Notifier",
        "inner_endpoint -> UseCase",
        "mounted_endpoint -> ArticleRepo",
    ]


@pytest.mark.anyio
async def test_the_same_app_starts_once_everything_is_registered() -> None:
    """With the three types registered, the app starts and serves the nested routes."""
    container = Container()
    for cls in (UseCase, Notifier, ArticleRepo):
        container.register(cls)
    app = make_app_with_nested_handlers(container)
    async with app.router.lifespan_context(app):
        assert (await call(app, "GET", "/outer/inner")).json() == "inner"
        assert (await call(app, "GET", "/uses-dependency")).json() == "/uses-dependency"
        assert (await call(app, "GET", "/sub/deep")).json() == "deep"


def test_check_given_an_app_reports_its_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m injectq_like check MODULE:APP`` validates the app's container with its handlers:
    exit 1 listing a handler's missing provider, exit 0 with the handlers counted once fixed.
    """
    source = [
        "from injectq_like import Container",
        "from tests_porting_support import build",
        "broken = build(Container())",
    ]
    (tmp_path / "porting_app.py").write_text("\n".join(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_porting_support", sys.modules[__name__])
    out = io.StringIO()
    assert main(["check", "porting_app:broken"], out) == 1
    assert "inner_endpoint -> UseCase" in out.getvalue()
    assert "Traceback" not in out.getvalue()

    fixed = Container()
    for cls in (UseCase, Notifier, ArticleRepo):
        fixed.register(cls)
    monkeypatch.setattr(sys.modules["porting_app"], "fixed", build(fixed), raising=False)
    out = io.StringIO()
    assert main(["check", "porting_app:fixed"], out) == 0
    assert out.getvalue() == "porting_app:fixed: valid (5 providers, 0 dependencies, 3 handlers)\n"
    sys.modules.pop("porting_app", None)


def build(container: Container) -> FastAPI:
    return make_app_with_nested_handlers(container)


@pytest.mark.anyio
async def test_a_handler_called_in_a_fastapi_request_without_setup_names_the_integration() -> None:
    """An app that forgot ``setup()``: the NoActiveScopeError's hint names the integration's setup."""
    app = FastAPI()

    @app.get("/")
    @inject
    async def endpoint(settings: Inject[Settings]) -> str:
        return settings.name  # pragma: no cover - the call fails first

    with pytest.raises(NoActiveScopeError) as raised:
        await call(app, "GET", "/")
    assert "inside a FastAPI request" in raised.value.hint
    assert "injectq_like.integrations.starlette.setup(app, container)" in raised.value.hint


# -- near misses ----------------------------------------------------------------------------------------


class UserRepository:
    pass


class UserRepo:
    pass


class NeedsUserRepo:
    def __init__(self, repo: UserRepo) -> None:
        self.repo = repo


def test_a_missing_key_close_to_a_registered_one_says_did_you_mean() -> None:
    """``UserRepo`` missing while ``UserRepository`` is registered: the hint names it and where it was
    registered, before the usual advice.
    """
    container = Container()
    container.register(UserRepository)
    container.register(NeedsUserRepo)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (error,) = raised.value.errors
    assert error.hint.startswith("did you mean UserRepository (registered at test_porting.py:")
    assert error.hint.endswith("? If not, register it: container.register(UserRepo) or with a factory")


def test_the_same_class_name_from_another_module_is_pointed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``UserRepo`` registered from another module than the one asked for: the hint says it is
    another class of that name, and where it comes from.
    """
    (tmp_path / "other_models.py").write_text("class UserRepo:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    other_models = importlib.import_module("other_models")  # written by this test

    container = Container()
    container.register(other_models.UserRepo)
    container.register(NeedsUserRepo)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (error,) = raised.value.errors
    assert error.hint.startswith("did you mean UserRepo from other_models (registered at test_porting.py:")
    assert "another class of that name?" in error.hint
    sys.modules.pop("other_models", None)


def test_no_near_miss_means_the_usual_hint() -> None:
    """With nothing close registered, the hint is the plain advice."""
    container = Container()
    container.register(NeedsUserRepo)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    assert raised.value.errors[0].hint == "register it: container.register(UserRepo) or with a factory"


def test_a_handler_whose_annotations_cannot_be_read_is_reported_with_it() -> None:
    """A handler annotated with a name that does not exist at run time is an AnnotationError in the
    list of ``validate()``, with the handler as its path.
    """
    container = Container()

    @inject(container=container)
    async def broken(repo: Inject[Undefined]) -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (error,) = raised.value.errors
    assert isinstance(error, AnnotationError)
    assert error.path == (broken.__wrapped__,)  # type: ignore[attr-defined]
    assert "name 'Undefined' is not defined at runtime" in str(error)


@pytest.mark.anyio
async def test_the_methods_of_an_endpoint_class_are_checked_at_start() -> None:
    """A Starlette ``HTTPEndpoint`` whose ``@inject`` method needs an unregistered type stops the start."""

    class Articles(HTTPEndpoint):
        @inject
        async def get(self, request: Request, use_case: Inject[UseCase]) -> PlainTextResponse:
            return PlainTextResponse("ok")  # pragma: no cover - the start fails

    app = Starlette(routes=[Route("/articles", Articles)])
    container = Container()
    setup(app, container)
    with pytest.raises(InvalidContainerError) as raised:
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - the start fails
    assert [describe_path(e.path) for e in raised.value.errors] == ["Articles.get -> UseCase"]
