"""The end-to-end benchmark's endpoint wired by dishka, with its FastAPI integration's defaults."""

from __future__ import annotations

from typing import Any

from dishka import Provider, make_async_container
from dishka import Scope as DishkaScope
from dishka.integrations.fastapi import FromDishka, inject, setup_dishka
from fastapi import FastAPI

from benchmarks.e2e_apps import Session, Settings, body, open_session


def dishka_app() -> FastAPI:
    provider = Provider()
    provider.provide(Settings, scope=DishkaScope.APP)
    provider.provide(open_session, scope=DishkaScope.REQUEST)
    container = make_async_container(provider)
    app = FastAPI()

    @app.get("/items/{item_id}")
    @inject  # type: ignore[untyped-decorator, unused-ignore]
    async def read(item_id: int, session: FromDishka[Session]) -> dict[str, Any]:
        return body(item_id, session)

    setup_dishka(container, app)
    return app
