"""The end-to-end benchmark's endpoint wired by wireup, with its FastAPI integration's defaults."""

from __future__ import annotations

from typing import Any

import wireup
from fastapi import FastAPI
from wireup import Injected, injectable
from wireup.integration.fastapi import setup

from benchmarks.e2e_apps import Session, Settings, body, open_session


def wireup_app() -> FastAPI:
    container = wireup.create_async_container(
        injectables=[injectable(Settings, lifetime="singleton"), injectable(open_session, lifetime="scoped")]
    )
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read(item_id: int, session: Injected[Session]) -> dict[str, Any]:
        return body(item_id, session)

    setup(container, app)
    return app
