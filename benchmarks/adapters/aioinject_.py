"""aioinject, with its documented defaults: ``Singleton``/``Scoped``/``Transient`` providers.

aioinject's function injection lives in its framework integrations, each built
on ``aioinject.decorators.base_inject``; S4 uses it as they do, the wrapper
entering a context (a REQUEST scope) for each call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aioinject import Container, Injected, Scoped, Singleton, SyncContainer, Transient
from aioinject.decorators import base_inject

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

NAME = "aioinject"
DISTRIBUTION = "aioinject"


def s1() -> SyncOp:
    container = SyncContainer()
    container.register(Singleton(Config))
    return SyncOp(container.root.resolve, (Config,))


def s2() -> SyncOp:
    container = SyncContainer()
    container.register(*(Transient(cls) for cls in GRAPH))
    # Transients live in the REQUEST scope: one context, entered once, serves every call.
    context = container.context().__enter__()
    return SyncOp(context.resolve, (A9,))


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    container = Container()
    container.register(
        Singleton(Settings),
        Scoped(make_client),
        Scoped(asynccontextmanager(open_session)),  # aioinject enters generator factories as context managers
        *(Transient(cls) for cls in (UserRepo, OrderRepo, Mailer, Service)),
    )

    async def once() -> Service:
        async with container.context() as context:
            service: Service = await context.resolve(Service)
            return service

    async def twice() -> tuple[Service, Service]:
        async with container.context() as context:
            return await context.resolve(Service), await context.resolve(Service)

    async with container:
        yield ScopeOps(once, twice)


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = Container()
    container.register(Singleton(Settings), Scoped(RequestRepo))

    async def handler(user_id: int, settings: Injected[Settings], repo: Injected[RequestRepo]) -> HandlerResult:
        return user_id, settings, repo

    injected: Callable[..., Awaitable[HandlerResult]] = base_inject(
        handler, context_parameters=(), context_getter=lambda _, __: container.root, enter_context=True
    )

    async def call() -> HandlerResult:
        return await injected(7)

    async with container:
        yield call


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = Container()
    container.register(Transient(make_f1), Transient(make_f2), Transient(make_f3), Transient(make_f4), Transient(Root))

    async def resolve() -> Root:
        async with container.context() as context:
            root: Root = await context.resolve(Root)
            return root

    async with container:
        yield resolve
