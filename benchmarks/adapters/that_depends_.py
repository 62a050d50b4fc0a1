"""that-depends, with its documented idioms: container classes of explicit providers.

A REQUEST scope is ``container_context(Container, scope=REQUEST)`` (what its
ASGI middleware opens per request; ``@inject(enter_scope=True)`` in S4), and a
per-scope instance is a ``ContextResource``, whose creator must be a generator
or a context manager: the async factory of S3 and the REQUEST class of S4 are
each wrapped in a one-line generator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

from that_depends import BaseContainer, ContextScopes, Provide, container_context, inject, providers

from benchmarks.scenarios import (
    A0,
    A1,
    A2,
    A3,
    A4,
    A5,
    A6,
    A7,
    A8,
    A9,
    Client,
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

NAME = "that-depends"
DISTRIBUTION = "that-depends"


async def client_resource(settings: Settings) -> AsyncIterator[Client]:
    yield await make_client(settings)


def request_repo(settings: Settings) -> Iterator[RequestRepo]:
    yield RequestRepo(settings)


class S1Container(BaseContainer):  # type: ignore[misc, unused-ignore]
    config = providers.Singleton(Config)


class S2Container(BaseContainer):  # type: ignore[misc, unused-ignore]
    a0 = providers.Factory(A0)
    a1 = providers.Factory(A1, a0.cast)
    a2 = providers.Factory(A2, a0.cast, a1.cast)
    a3 = providers.Factory(A3, a2.cast)
    a4 = providers.Factory(A4, a3.cast, a1.cast)
    a5 = providers.Factory(A5)
    a6 = providers.Factory(A6, a5.cast, a4.cast)
    a7 = providers.Factory(A7, a6.cast)
    a8 = providers.Factory(A8, a7.cast, a0.cast)
    a9 = providers.Factory(A9, a8.cast, a5.cast)


class S3Container(BaseContainer):  # type: ignore[misc, unused-ignore]
    default_scope = ContextScopes.REQUEST
    settings = providers.Singleton(Settings)
    client = providers.ContextResource(client_resource, settings.cast)
    session = providers.ContextResource(open_session, settings.cast)
    users = providers.Factory(UserRepo, session.cast)
    orders = providers.Factory(OrderRepo, session.cast)
    mailer = providers.Factory(Mailer, client.cast)
    service = providers.Factory(Service, settings.cast, client.cast, session.cast, users.cast, orders.cast, mailer.cast)


class S4Container(BaseContainer):  # type: ignore[misc, unused-ignore]
    default_scope = ContextScopes.REQUEST
    settings = providers.Singleton(Settings)
    repo = providers.ContextResource(request_repo, settings.cast)


class S5Container(BaseContainer):  # type: ignore[misc, unused-ignore]
    f1 = providers.AsyncFactory(make_f1)
    f2 = providers.AsyncFactory(make_f2)
    f3 = providers.AsyncFactory(make_f3)
    f4 = providers.AsyncFactory(make_f4)
    root = providers.Factory(Root, f1.cast, f2.cast, f3.cast, f4.cast)


# enter_scope: a REQUEST context for each call
@inject(scope=ContextScopes.REQUEST, enter_scope=True)  # type: ignore[untyped-decorator, unused-ignore]
async def s4_handler(
    user_id: int,
    settings: Settings = Provide[S4Container.settings],
    repo: RequestRepo = Provide[S4Container.repo],
) -> HandlerResult:
    return user_id, settings, repo


def s1() -> SyncOp:
    return SyncOp(S1Container.config.resolve_sync)


def s2() -> SyncOp:
    return SyncOp(S2Container.a9.resolve_sync)


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    service = S3Container.service

    async def once() -> Service:
        async with container_context(S3Container, scope=ContextScopes.REQUEST):
            resolved: Service = await service.resolve()
            return resolved

    async def twice() -> tuple[Service, Service]:
        async with container_context(S3Container, scope=ContextScopes.REQUEST):
            return await service.resolve(), await service.resolve()

    try:
        yield ScopeOps(once, twice)
    finally:
        await S3Container.tear_down()


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    async def call() -> HandlerResult:
        result: HandlerResult = await s4_handler(7)
        return result

    try:
        yield call
    finally:
        await S4Container.tear_down()


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    yield S5Container.root.resolve
