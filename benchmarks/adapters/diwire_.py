"""diwire, with its documented defaults (``Container()``; ``Lifetime.SCOPED`` unless told otherwise)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import cast

from diwire import Container, Injected, Lifetime, Scope, resolver_context

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

NAME = "diwire"
DISTRIBUTION = "diwire"


def s1() -> SyncOp:
    container = Container()
    container.add(Config)  # SCOPED at the root scope: one per container
    return SyncOp(container.resolve, (Config,))


def s2() -> SyncOp:
    container = Container()
    for cls in GRAPH:
        container.add(cls, lifetime=Lifetime.TRANSIENT)
    return SyncOp(container.resolve, (A9,))


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    container = Container()
    container.add(Settings)
    container.add_factory(make_client, provides=Client, scope=Scope.REQUEST)
    # typed as an AsyncIterator factory; diwire's signature asks for an AsyncGenerator one
    session_factory = cast("Callable[..., AsyncGenerator[Session, None]]", open_session)
    container.add_generator(session_factory, provides=Session, scope=Scope.REQUEST)
    for cls in (UserRepo, OrderRepo, Mailer, Service):
        container.add(cls, scope=Scope.REQUEST, lifetime=Lifetime.TRANSIENT)

    async def once() -> Service:
        async with container.enter_scope() as scope:
            service: Service = await scope.aresolve(Service)
            return service

    async def twice() -> tuple[Service, Service]:
        async with container.enter_scope() as scope:
            return await scope.aresolve(Service), await scope.aresolve(Service)

    async with container:
        yield ScopeOps(once, twice)


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = Container()
    container.add(Settings)
    container.add(RequestRepo, scope=Scope.REQUEST)

    # The wrapper opens a REQUEST scope for each call (auto_open_scope, the default).
    @resolver_context.inject(scope=Scope.REQUEST)  # type: ignore[untyped-decorator, unused-ignore]
    async def handler(user_id: int, settings: Injected[Settings], repo: Injected[RequestRepo]) -> HandlerResult:
        return user_id, settings, repo

    async def call() -> HandlerResult:
        result: HandlerResult = await handler(7)
        return result

    async with container:
        yield call


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = Container()
    for cls, factory in ((F1, make_f1), (F2, make_f2), (F3, make_f3), (F4, make_f4)):
        container.add_factory(factory, provides=cls, lifetime=Lifetime.TRANSIENT)
    container.add(Root, lifetime=Lifetime.TRANSIENT)

    async def resolve() -> Root:
        root: Root = await container.aresolve(Root)
        return root

    async with container:
        yield resolve
