"""injectq (the namesake), with its documented defaults: ``bind(..., scope=...)``, ``@inject``.

No ``from __future__ import annotations`` here: injectq's ``@inject`` reads a
string annotation as a string key.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from injectq import InjectQ, ScopeType, inject

from benchmarks.scenarios import (
    A9,
    F1,
    F2,
    F3,
    F4,
    GRAPH,
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

NAME = "injectq"
DISTRIBUTION = "injectq"
UNSUPPORTED = {
    "S3": (
        "no REQUEST-scoped async factory or async-generator resource: async resolution builds every binding anew"
        " (its scopes are not consulted) and @resource is not tied to a scope's exit"
    ),
}


def s1() -> SyncOp:
    container = InjectQ()
    container.bind(Config, Config, scope=ScopeType.SINGLETON)
    return SyncOp(container.get, (Config,))


def s2() -> SyncOp:
    container = InjectQ()
    for cls in GRAPH:
        container.bind(cls, cls, scope=ScopeType.TRANSIENT)
    return SyncOp(container.get, (A9,))


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = InjectQ()
    container.bind(Settings, Settings, scope=ScopeType.SINGLETON)
    container.bind(RequestRepo, RequestRepo, scope=ScopeType.REQUEST)

    async def handler(user_id: int, settings: Settings, repo: RequestRepo) -> HandlerResult:
        return user_id, settings, repo

    injected: Callable[..., Awaitable[HandlerResult]] = inject(container=container)(handler)

    async def call() -> HandlerResult:
        async with container.async_scope(ScopeType.REQUEST):
            return await injected(7)

    yield call


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = InjectQ()
    for cls, factory in ((F1, make_f1), (F2, make_f2), (F3, make_f3), (F4, make_f4)):
        container.bind_factory(cls, factory)
    container.bind(Root, Root, scope=ScopeType.TRANSIENT)

    async def resolve() -> Root:
        root: Root = await container.aget(Root)
        return root

    yield resolve
