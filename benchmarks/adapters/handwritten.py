"""The baselines: each scenario written by hand, without a container."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from benchmarks.scenarios import (
    HandlerResult,
    Root,
    ScopeOps,
    Settings,
    SyncOp,
    build_graph,
    get_config,
    hand_written_s3,
    hand_written_s4,
    hand_written_s5,
)

NAME = "hand-written"
DISTRIBUTION = None


def s1() -> SyncOp:
    return SyncOp(get_config)


def s2() -> SyncOp:
    return SyncOp(build_graph)


@asynccontextmanager
async def s3() -> AsyncIterator[ScopeOps]:
    yield hand_written_s3(Settings())


@asynccontextmanager
async def s4() -> AsyncIterator[Callable[[], Awaitable[HandlerResult]]]:
    yield hand_written_s4(Settings())


@asynccontextmanager
async def s5() -> AsyncIterator[Callable[[], Awaitable[Root]]]:
    yield hand_written_s5
