"""The minimal endpoint of the end-to-end benchmark, written once per way of wiring it.

Each ``*_app()`` function returns a FastAPI app serving ``GET /items/{item_id}``
with one APP-scoped dependency (``Settings``) and one REQUEST-scoped one
(``Session``, created and closed per request). Run one with
``uvicorn --factory benchmarks.e2e_apps:manual_app``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from injectq_like import Container, Inject, Scope, inject
from injectq_like.integrations.starlette import setup


class Settings:
    prefix = "item"


class Session:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.open = True

    def close(self) -> None:
        self.open = False


async def open_session(settings: Settings) -> AsyncIterator[Session]:
    session = Session(settings)
    try:
        yield session
    finally:
        session.close()


def body(item_id: int, session: Session) -> dict[str, Any]:
    return {"id": item_id, "name": f"{session.settings.prefix}-{item_id}", "open": session.open}


def manual_app() -> FastAPI:
    """Wired by hand: the settings are a module global, the session made in the endpoint."""
    app = FastAPI()
    settings = Settings()

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, Any]:
        session = Session(settings)
        try:
            return body(item_id, session)
        finally:
            session.close()

    return app


def injectq_like_app() -> FastAPI:
    app = FastAPI()
    container = Container()
    container.register(Settings, scope=Scope.APP)
    container.register(Session, factory=open_session, scope=Scope.REQUEST)
    setup(app, container)
    container.validate()

    @app.get("/items/{item_id}")
    @inject
    async def read(item_id: int, session: Inject[Session]) -> dict[str, Any]:
        return body(item_id, session)

    return app


_SETTINGS = Settings()


def get_settings() -> Settings:
    return _SETTINGS


async def get_session(settings: Annotated[Settings, Depends(get_settings)]) -> AsyncIterator[Session]:
    async for session in open_session(settings):
        yield session


def depends_app() -> FastAPI:
    """FastAPI's own ``Depends`` (its annotations name module-level functions, as FastAPI needs)."""
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read(item_id: int, session: Annotated[Session, Depends(get_session)]) -> dict[str, Any]:
        return body(item_id, session)

    return app


#: name -> the uvicorn factory serving it (the peers' apps live in modules that import them).
VARIANTS: dict[str, str] = {
    "manual": "benchmarks.e2e_apps:manual_app",
    "injectq_like": "benchmarks.e2e_apps:injectq_like_app",
    "fastapi Depends": "benchmarks.e2e_apps:depends_app",
    "dishka": "benchmarks.e2e_peers_dishka:dishka_app",
    "wireup": "benchmarks.e2e_peers_wireup:wireup_app",
}
