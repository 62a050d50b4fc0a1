"""wireup, with its documented defaults: ``injectable(..., lifetime=...)``, ``inject_from_container``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from wireup import Injected, create_async_container, create_sync_container, inject_from_container, injectable

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

NAME = "wireup"
DISTRIBUTION = "wireup"


def _declared(obj: Any, lifetime: Literal["singleton", "scoped", "transient"]) -> Any:
    """``@injectable(lifetime=...)`` applied to one of the shared classes or factories."""
    return injectable(obj, lifetime=lifetime)


def s1() -> SyncOp:
    container = create_sync_container(injectables=[_declared(Config, "singleton")])
    return SyncOp(container.get, (Config,))


def s2() -> SyncOp:
    container = create_sync_container(injectables=[_declared(cls, "transient") for cls in GRAPH])
    # wireup resolves transients only in a scope: one scope, entered once, serves every call.
    scope = container.enter_scope().__enter__()
    return SyncOp(scope.get, (A9,))


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    container = create_async_container(
        injectables=[
            _declared(Settings, "singleton"),
            _declared(make_client, "scoped"),
            _declared(open_session, "scoped"),
            *(_declared(cls, "transient") for cls in (UserRepo, OrderRepo, Mailer, Service)),
        ]
    )

    async def once() -> Service:
        async with container.enter_scope() as scope:
            service: Service = await scope.get(Service)
            return service

    async def twice() -> tuple[Service, Service]:
        async with container.enter_scope() as scope:
            return await scope.get(Service), await scope.get(Service)

    try:
        yield ScopeOps(once, twice)
    finally:
        await container.close()


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = create_async_container(injectables=[_declared(Settings, "singleton"), _declared(RequestRepo, "scoped")])

    # Without scoped_container_supplier, the wrapper enters a scope for each call.
    @inject_from_container(container)  # type: ignore[untyped-decorator, unused-ignore]
    async def handler(user_id: int, settings: Injected[Settings], repo: Injected[RequestRepo]) -> HandlerResult:
        return user_id, settings, repo

    async def call() -> HandlerResult:
        result: HandlerResult = await handler(7)
        return result

    try:
        yield call
    finally:
        await container.close()


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    container = create_async_container(
        injectables=[_declared(f, "transient") for f in (make_f1, make_f2, make_f3, make_f4, Root)]
    )

    async def resolve() -> Root:
        async with container.enter_scope() as scope:  # transients are resolved only in a scope
            root: Root = await scope.get(Root)
            return root

    try:
        yield resolve
    finally:
        await container.close()
