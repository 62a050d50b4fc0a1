"""svcs, as documented: a ``Registry`` of factories and values, one ``Container`` per request.

svcs is a service locator: every service is cached in the container that
made it, so it has no transient lifetime (S2, and S3's transients), and
handlers ask their container for what they need instead of having it
injected (S4). Factories are autowired with ``svcs.aautowire`` (26.1+).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import svcs

from benchmarks.scenarios import (
    F1,
    F2,
    F3,
    F4,
    Config,
    HandlerResult,
    RequestRepo,
    Root,
    Settings,
    SyncOp,
    make_f1,
    make_f2,
    make_f3,
    make_f4,
)

NAME = "svcs"
DISTRIBUTION = "svcs"
UNSUPPORTED = {
    "S2": "no transient lifetime: svcs caches every service in its container",
    "S3": "no transient lifetime: svcs caches every service in its container",
}


def s1() -> SyncOp:
    registry = svcs.Registry()
    registry.register_value(Config, Config())
    container = svcs.Container(registry)
    return SyncOp(container.get, (Config,))


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    registry = svcs.Registry()
    registry.register_value(Settings, Settings())
    registry.register_factory(RequestRepo, svcs.aautowire(RequestRepo))

    async def handler(user_id: int, services: svcs.Container) -> HandlerResult:
        settings, repo = await services.aget(Settings, RequestRepo)
        return user_id, settings, repo

    async def call() -> HandlerResult:
        async with svcs.Container(registry) as services:  # the request's container
            return await handler(7, services)

    try:
        yield call
    finally:
        await registry.aclose()


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    registry = svcs.Registry()
    for cls, factory in ((F1, make_f1), (F2, make_f2), (F3, make_f3), (F4, make_f4)):
        registry.register_factory(cls, svcs.aautowire(factory))
    registry.register_factory(Root, svcs.aautowire(Root))

    async def resolve() -> Root:
        async with svcs.Container(registry) as services:
            root: Root = await services.aget(Root)
            return root

    try:
        yield resolve
    finally:
        await registry.aclose()
