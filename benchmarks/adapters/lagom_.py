"""lagom, with its documented defaults: reflection autowiring (a new instance each time unless
registered as a ``Singleton``), ``Container.partial`` with ``injectable`` for functions.

S4's REQUEST instance is lagom's per-call sharing (``partial(..., shared=[T])``).
An async factory's product is available only as ``Awaitable[T]``, so a class
whose ``__init__`` takes ``T`` cannot be built from it (S3, S5).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from lagom import Container, Singleton, injectable

from benchmarks.scenarios import A9, Config, HandlerResult, RequestRepo, Settings, SyncOp

NAME = "lagom"
DISTRIBUTION = "lagom"
_AWAITABLE_ONLY = (
    "an async factory's product is injectable only as Awaitable[T] (TypeOnlyAvailableAsAwaitable):"
    " the scenario's classes take T"
)
UNSUPPORTED = {"S3": _AWAITABLE_ONLY, "S5": _AWAITABLE_ONLY}


def s1() -> SyncOp:
    container = Container()
    container[Config] = Singleton(Config)
    return SyncOp(container.resolve, (Config,))


def s2() -> SyncOp:
    container = Container()  # every class of the graph is autowired, new at each injection point
    return SyncOp(container.resolve, (A9,))


async def handler(user_id: int, settings: Settings = injectable, repo: RequestRepo = injectable) -> HandlerResult:
    return user_id, settings, repo


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    container = Container()
    container[Settings] = Singleton(Settings)
    injected: Callable[..., Awaitable[HandlerResult]] = container.partial(handler, shared=[RequestRepo])

    async def call() -> HandlerResult:
        return await injected(7)

    yield call
