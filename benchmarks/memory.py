"""Memory of injectq_like's REQUEST scopes, measured with tracemalloc.

- Bytes per open scope holding 5 instances: ``count`` tasks each open a scope,
  resolve five REQUEST-scoped instances and wait, all at once. The same is done
  with the five instances built by hand (no scope) and with tasks that hold
  nothing; the differences, per task, are the scope with its instances, the
  instances themselves, and the scope's own cost beyond them.
- No growth: ``sequential`` scopes opened, filled and closed one after the
  other; the traced memory after them (and a ``gc.collect()``) less the memory
  before them.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Coroutine
from typing import Any

import anyio

from injectq_like import Container, Scope


class M1:
    pass


class M2:
    pass


class M3:
    pass


class M4:
    pass


class M5:
    pass


HELD = (M1, M2, M3, M4, M5)


def build_container() -> Container:
    container = Container()
    for cls in HELD:
        container.register(cls, scope=Scope.REQUEST)
    return container


async def _held_at_once(
    count: int, hold: Callable[[anyio.Event, Callable[[], None]], Coroutine[Any, Any, None]]
) -> int:
    """Traced bytes while ``count`` tasks are inside ``hold``, less the bytes before they started."""
    release = anyio.Event()
    ready = anyio.Event()
    arrived = 0

    def arrive() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            ready.set()

    gc.collect()
    before, _ = tracemalloc.get_traced_memory()
    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(hold, release, arrive)
        await ready.wait()
        gc.collect()
        during, _ = tracemalloc.get_traced_memory()
        release.set()
    return during - before


async def open_scopes(count: int) -> dict[str, float]:
    container = build_container()

    async def with_scope(release: anyio.Event, arrive: Callable[[], None]) -> None:
        async with container.scope() as scope:
            held = [await scope.resolve(cls) for cls in HELD]
            arrive()
            await release.wait()
            del held

    async def by_hand(release: anyio.Event, arrive: Callable[[], None]) -> None:
        held = [cls() for cls in HELD]
        arrive()
        await release.wait()
        del held

    async def nothing(release: anyio.Event, arrive: Callable[[], None]) -> None:
        arrive()
        await release.wait()

    async with container:
        await _held_at_once(100, with_scope)  # warm: plans compiled, caches filled
        tracemalloc.start()
        try:
            scopes = await _held_at_once(count, with_scope)
            instances = await _held_at_once(count, by_hand)
            tasks = await _held_at_once(count, nothing)
        finally:
            tracemalloc.stop()
    return {
        "scopes_open_at_once": count,
        "bytes_per_open_scope_with_5_instances": (scopes - tasks) / count,
        "bytes_per_5_instances_by_hand": (instances - tasks) / count,
        "bytes_per_open_scope_beyond_its_instances": (scopes - instances) / count,
    }


async def sequential_scopes(count: int) -> dict[str, float]:
    container = build_container()

    async def one() -> None:
        async with container.scope() as scope:
            for cls in HELD:
                await scope.resolve(cls)

    async with container:
        for _ in range(1_000):
            await one()
        gc.collect()
        objects_before = len(gc.get_objects())
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for _ in range(count):
                await one()
            gc.collect()
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        objects_after = len(gc.get_objects())
    return {
        "sequential_scopes": count,
        "traced_bytes_delta": after - before,
        "gc_tracked_objects_delta": objects_after - objects_before,
    }


def measure(open_at_once: int = 10_000, sequential: int = 100_000) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        result: dict[str, Any] = {"library": "injectq_like"}
        result.update(await open_scopes(open_at_once))
        result.update(await sequential_scopes(sequential))
        return result

    return anyio.run(main)


def table(result: dict[str, Any]) -> str:
    rows = [
        (
            f"bytes per open scope holding 5 instances ({result['scopes_open_at_once']:,} open at once)",
            f"{result['bytes_per_open_scope_with_5_instances']:,.0f}",
        ),
        ("of which the 5 instances (as built by hand)", f"{result['bytes_per_5_instances_by_hand']:,.0f}"),
        ("the scope's own cost beyond its instances", f"{result['bytes_per_open_scope_beyond_its_instances']:,.0f}"),
        (
            f"traced memory growth over {result['sequential_scopes']:,} sequential scopes",
            f"{result['traced_bytes_delta']:,} bytes",
        ),
        ("GC-tracked objects growth over the same", f"{result['gc_tracked_objects_delta']:,}"),
    ]
    lines = ["| injectq_like REQUEST scopes (tracemalloc) | value |", "|---|---:|"]
    lines.extend(f"| {what} | {value} |" for what, value in rows)
    return "\n".join(lines)
