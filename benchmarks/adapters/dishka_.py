"""dishka, with its documented defaults: providers with scopes, ``cache=False`` for transients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from dishka import FromDishka, Provider, Scope, make_async_container, make_container
from dishka.integrations.base import wrap_injection

from benchmarks.scenarios import (
    A9,
    GRAPH,
    Config,
    HandlerResult,
    Mailer,
    OrderRepo,
    RequestRepo,
    Root,
    ScopeOps,
    Service,
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

NAME = "dishka"
DISTRIBUTION = "dishka"


def s1() -> SyncOp:
    provider = Provider()
    provider.provide(Config, scope=Scope.APP)
    container = make_container(provider)
    return SyncOp(container.get, (Config,))


def s2() -> SyncOp:
    provider = Provider()
    for cls in GRAPH:
        provider.provide(cls, scope=Scope.APP, cache=False)
    container = make_container(provider)
    return SyncOp(container.get, (A9,))


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    provider = Provider()
    provider.provide(Settings, scope=Scope.APP)
    provider.provide(make_client, scope=Scope.REQUEST)
    provider.provide(open_session, scope=Scope.REQUEST)
    for cls in (UserRepo, OrderRepo, Mailer, Service):
        provider.provide(cls, scope=Scope.REQUEST, cache=False)
    container = make_async_container(provider)

    async def once() -> Service:
        async with container() as request:
            service: Service = await request.get(Service)
            return service

    async def twice() -> tuple[Service, Service]:
        async with container() as request:
            return await request.get(Service), await request.get(Service)

    try:
        yield ScopeOps(once, twice)
    finally:
        await container.close()


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    provider = Provider()
    provider.provide(Settings, scope=Scope.APP)
    provider.provide(RequestRepo, scope=Scope.REQUEST)
    container = make_async_container(provider)

    async def handler(user_id: int, settings: FromDishka[Settings], repo: FromDishka[RequestRepo]) -> HandlerResult:
        return user_id, settings, repo

    # What dishka's integrations do for a framework without one: the wrapper
    # opens a REQUEST scope from the container for each call (manage_scope).
    injected: Callable[..., Awaitable[HandlerResult]] = wrap_injection(
        func=handler, container_getter=lambda _, __: container, is_async=True, manage_scope=True
    )

    async def call() -> HandlerResult:
        return await injected(7)

    try:
        yield call
    finally:
        await container.close()


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    provider = Provider()
    for factory in (make_f1, make_f2, make_f3, make_f4):
        provider.provide(factory, scope=Scope.APP, cache=False)
    provider.provide(Root, scope=Scope.APP, cache=False)
    container = make_async_container(provider)

    async def resolve() -> Root:
        root: Root = await container.get(Root)
        return root

    try:
        yield resolve
    finally:
        await container.close()
