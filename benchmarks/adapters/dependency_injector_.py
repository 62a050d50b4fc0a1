"""dependency-injector, with its documented idioms: declarative containers with explicit providers.

It has no REQUEST scope as such: its documented per-request pattern is a
``ContextLocalResource`` injected with ``Closing[Provide[...]]`` into an
``@inject`` function, which shuts the resource down when the call returns;
that call is the scope here. ``@inject`` works on wired module-level
functions, hence the module-level containers and handlers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

from dependency_injector import containers, providers
from dependency_injector.wiring import Closing, Provide, inject

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

NAME = "dependency-injector"
DISTRIBUTION = "dependency-injector"
TRIO_UNSUPPORTED = "asyncio only: async providers are driven with asyncio futures"


class S1Container(containers.DeclarativeContainer):  # type: ignore[misc, unused-ignore]
    config = providers.Singleton(Config)


class S2Container(containers.DeclarativeContainer):  # type: ignore[misc, unused-ignore]
    a0 = providers.Factory(A0)
    a1 = providers.Factory(A1, a0)
    a2 = providers.Factory(A2, a0, a1)
    a3 = providers.Factory(A3, a2)
    a4 = providers.Factory(A4, a3, a1)
    a5 = providers.Factory(A5)
    a6 = providers.Factory(A6, a5, a4)
    a7 = providers.Factory(A7, a6)
    a8 = providers.Factory(A8, a7, a0)
    a9 = providers.Factory(A9, a8, a5)


class S3Container(containers.DeclarativeContainer):  # type: ignore[misc, unused-ignore]
    settings = providers.Singleton(Settings)
    client = providers.ContextLocalResource(make_client, settings)
    session = providers.ContextLocalResource(open_session, settings)
    users = providers.Factory(UserRepo, session)
    orders = providers.Factory(OrderRepo, session)
    mailer = providers.Factory(Mailer, client)
    service = providers.Factory(Service, settings, client, session, users, orders, mailer)


class S4Container(containers.DeclarativeContainer):  # type: ignore[misc, unused-ignore]
    settings = providers.Singleton(Settings)
    repo = providers.ContextLocalResource(RequestRepo, settings)


class S5Container(containers.DeclarativeContainer):  # type: ignore[misc, unused-ignore]
    f1 = providers.Coroutine(make_f1)
    f2 = providers.Coroutine(make_f2)
    f3 = providers.Coroutine(make_f3)
    f4 = providers.Coroutine(make_f4)
    root = providers.Factory(Root, f1, f2, f3, f4)


@inject  # type: ignore[untyped-decorator, unused-ignore]
async def s3_once(service: Service = Closing[Provide[S3Container.service]]) -> Service:
    return service


@inject  # type: ignore[untyped-decorator, unused-ignore]
async def s3_twice(
    one: Service = Closing[Provide[S3Container.service]], two: Service = Closing[Provide[S3Container.service]]
) -> tuple[Service, Service]:
    return one, two


@inject  # type: ignore[untyped-decorator, unused-ignore]
async def s4_handler(
    user_id: int,
    settings: Settings = Provide[S4Container.settings],
    repo: RequestRepo = Closing[Provide[S4Container.repo]],
) -> HandlerResult:
    return user_id, settings, repo


def s1() -> SyncOp:
    container = S1Container()
    return SyncOp(container.config)


def s2() -> SyncOp:
    container = S2Container()
    return SyncOp(container.a9)


@asynccontextmanager
async def _wired(container: Any) -> AsyncIterator[None]:
    container.wire(modules=[__name__])
    try:
        yield
    finally:
        container.unwire()


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    async with _wired(S3Container()):
        yield ScopeOps(s3_once, s3_twice)


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    async def call() -> HandlerResult:
        result: HandlerResult = await s4_handler(7)
        return result

    async with _wired(S4Container()):
        yield call


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = S5Container()

    async def resolve() -> Root:
        # with async dependencies, the factory returns an awaitable
        root: Root = await cast("Awaitable[Root]", container.root())
        return root

    yield resolve
