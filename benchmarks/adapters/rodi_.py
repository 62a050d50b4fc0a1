"""rodi, with its documented defaults: ``add_singleton``/``add_scoped``/``add_transient``.

rodi is synchronous: it has no async factories (S3, S5). Its function
injection is ``Services.get_executor(handler)``, which opens an activation
scope per call and resolves every parameter, so the caller's argument is handed
over as a scoped value keyed by its type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from rodi import Container, inject

from benchmarks.scenarios import A9, GRAPH, Config, HandlerResult, RequestRepo, Settings, SyncOp

NAME = "rodi"
DISTRIBUTION = "rodi"
UNSUPPORTED = {
    "S3": "no async factories or async-generator resources (rodi is synchronous)",
    "S5": "no async factories (rodi is synchronous)",
}


def s1() -> SyncOp:
    container = Container()
    container.add_singleton(Config)
    provider = container.build_provider()
    return SyncOp(provider.get, (Config,))


def s2() -> SyncOp:
    container = Container()
    for cls in GRAPH:
        container.add_transient(cls)
    provider = container.build_provider()
    return SyncOp(provider.get, (A9,))


@inject()  # type: ignore[untyped-decorator, unused-ignore]  # keeps the annotations' namespace (PEP 563)
async def handler(user_id: int, settings: Settings, repo: RequestRepo) -> HandlerResult:
    return user_id, settings, repo


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = Container()
    container.add_singleton(Settings)
    container.add_scoped(RequestRepo)
    provider = container.build_provider()
    executor: Callable[[dict[Any, Any]], Awaitable[HandlerResult]] = provider.get_executor(handler)

    async def call() -> HandlerResult:
        return await executor({int: 7})

    yield call
