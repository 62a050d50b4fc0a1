"""injectq_like, with its documented defaults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from benchmarks.scenarios import (
    A9,
    F1,
    F2,
    F3,
    F4,
    GRAPH,
    Client,
    Config,
    HandlerResult,
    Mailer,
    OrderRepo,
    RequestRepo,
    Root,
    ScopeOps,
    Service,
    Session,
    Settings,
    SyncOp,
    UserRepo,
    make_client,
    make_f1,
    make_f2,
    make_f3,
    make_f4,
    open_session,
)
from injectq_like import Container, Inject, Scope, inject

NAME = "injectq_like"
DISTRIBUTION = "injectq_like"


def s1() -> SyncOp:
    container = Container()
    container.register(Config, scope=Scope.APP)
    return SyncOp(container.resolve_sync, (Config,))


def s2() -> SyncOp:
    container = Container()
    for cls in GRAPH:
        container.register(cls)  # TRANSIENT is the default
    return SyncOp(container.resolve_sync, (A9,))


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    container = Container()
    container.register(Settings, scope=Scope.APP)
    container.register(Client, factory=make_client, scope=Scope.REQUEST)
    container.register(Session, factory=open_session, scope=Scope.REQUEST)
    for cls in (UserRepo, OrderRepo, Mailer, Service):
        container.register(cls)

    async def once() -> Service:
        async with container.scope() as scope:
            return await scope.resolve(Service)

    async def twice() -> tuple[Service, Service]:
        async with container.scope() as scope:
            return await scope.resolve(Service), await scope.resolve(Service)

    async with container:
        yield ScopeOps(once, twice)


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = Container()
    container.register(Settings, scope=Scope.APP)
    container.register(RequestRepo, scope=Scope.REQUEST)

    # The decorator opens the REQUEST scope of each call, as wireup's and rodi's wrappers do; the
    # same call inside an explicit `async with container.scope()` is measured by
    # `python -m benchmarks.inject_handler`.
    @inject(container=container, scope=Scope.REQUEST)
    async def handler(user_id: int, settings: Inject[Settings], repo: Inject[RequestRepo]) -> HandlerResult:
        return user_id, settings, repo

    async def call() -> HandlerResult:
        return await handler(7)

    async with container:
        yield call


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = Container()
    for cls, factory in ((F1, make_f1), (F2, make_f2), (F3, make_f3), (F4, make_f4)):
        container.register(cls, factory=factory)
    container.register(Root)

    async def resolve() -> Root:
        return await container.resolve(Root)

    async with container:
        yield resolve
