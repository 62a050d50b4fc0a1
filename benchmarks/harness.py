"""Checks every adapter's scenarios, then times them side by side in this one process.

For each scenario every library's operation is first checked (the lifetimes
the scenario claims: ``scenarios.check_*``), then calibrated to about
``target`` seconds a loop, then timed ``repeat`` times with the libraries
taking turns within each repetition (the order rotates from one repetition to
the next); the minimum per operation is kept. The garbage collector stays on,
as it would be in an application. For S3 and S4, the objects each operation
leaves in reference cycles (what only the cyclic garbage collector frees) are
counted too, with the collector off for 1,000 operations.
"""

from __future__ import annotations

import gc
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from itertools import repeat as _repeat
from types import ModuleType
from typing import Any

import anyio

from benchmarks import adapters
from benchmarks.scenarios import (
    ScopeOps,
    SyncOp,
    Unsupported,
    check_s1,
    check_s2,
    check_s3,
    check_s4,
    check_s5,
)

SCENARIOS: dict[str, str] = {
    "S1": "resolve a cached APP instance (sync)",
    "S2": "resolve a 10-class transient graph (sync)",
    "S3": "REQUEST scope: APP instance, async factory, async-generator resource, 3 transients",
    "S4": "@inject-style async handler, scope opened per call",
    "S5": "root needing 4 async factories of 10 ms each (asyncio)",
    "S5-trio": "the same, on trio",
}


@dataclass
class Settings:
    target: float = 0.2  # seconds per timed loop
    repeat: int = 7  # timed loops per library and scenario
    repeat_slow: int = 5  # for S5, whose operations take milliseconds
    only: tuple[str, ...] = ()  # adapter modules to run (all when empty)


@dataclass
class Outcome:
    """One cell of the table: seconds per operation, or why there is none."""

    seconds: float | None = None
    reason: str | None = None
    loops: int = 0
    runs: list[float] = field(default_factory=list)
    garbage: float | None = None  # objects left in reference cycles per operation (S3, S4)


@dataclass
class Library:
    module: str
    name: str
    adapter: ModuleType | None
    version: str | None
    reason: str | None = None  # why the whole library is n/a


Timer = Callable[[int], Awaitable[float]]


def load_libraries(only: tuple[str, ...] = ()) -> list[Library]:
    from importlib.metadata import PackageNotFoundError, version

    libraries = []
    for module in adapters.MODULES:
        if only and module not in only and adapters.LIBRARIES[module] not in only:
            continue
        name = adapters.LIBRARIES[module]
        try:
            adapter = adapters.load(module)
        except ImportError as error:
            libraries.append(Library(module, name, None, None, f"not installed ({error})"))
            continue
        distribution = adapter.DISTRIBUTION
        try:
            found = version(distribution) if distribution else None
        except PackageNotFoundError:
            found = None
        libraries.append(Library(module, adapter.NAME, adapter, found))
    return libraries


# --------------------------------------------------------------------------- timers


def sync_timer(op: SyncOp) -> Callable[[int], float]:
    """A loop calling ``op.function(*op.args)`` with the arguments spelled out, as timeit would."""
    names = [f"a{index}" for index in range(len(op.args))]
    arguments = ", ".join(names)
    source = (
        f"def timer(loops, function{''.join(', ' + name for name in names)}):\n"
        f"    started = perf_counter()\n"
        f"    for _ in repeat(None, loops):\n"
        f"        function({arguments})\n"
        f"    return perf_counter() - started\n"
    )
    namespace: dict[str, Any] = {"perf_counter": time.perf_counter, "repeat": _repeat}
    exec(compile(source, "<benchmark loop>", "exec"), namespace)
    timer = namespace["timer"]
    return lambda loops: float(timer(loops, op.function, *op.args))


def async_timer(op: Callable[[], Awaitable[object]]) -> Timer:
    async def timer(loops: int) -> float:
        started = time.perf_counter()
        for _ in _repeat(None, loops):
            await op()
        return time.perf_counter() - started

    return timer


def as_async(timer: Callable[[int], float]) -> Timer:
    async def run(loops: int) -> float:
        return timer(loops)

    return run


async def calibrate(timer: Timer, target: float) -> int:
    """Loops that take about ``target`` seconds (at least one)."""
    loops = 1
    while True:
        took = await timer(loops)
        if took >= target / 10 or loops >= 10**8:
            return max(1, round(loops * target / max(took, 1e-9)))
        loops *= 10 if took < target / 100 else 2


async def race(timers: dict[str, Timer], settings: Settings, repeat: int) -> dict[str, Outcome]:
    """Each library's minimum seconds per operation, the libraries taking turns."""
    outcomes = {name: Outcome(loops=await calibrate(timer, settings.target)) for name, timer in timers.items()}
    order = list(timers)
    for repetition in range(repeat):
        shift = repetition % len(order) if order else 0
        for name in order[shift:] + order[:shift]:
            outcome = outcomes[name]
            outcome.runs.append(await timers[name](outcome.loops) / outcome.loops)
    for outcome in outcomes.values():
        outcome.seconds = min(outcome.runs)
    return outcomes


# --------------------------------------------------------------------------- scenarios


def unsupported_reason(library: Library, scenario: str) -> str | None:
    if library.reason is not None:
        return library.reason
    assert library.adapter is not None
    function = scenario.lower().removesuffix("-trio")
    if not hasattr(library.adapter, function):
        reasons: dict[str, str] = getattr(library.adapter, "UNSUPPORTED", {})
        return reasons.get(scenario, reasons.get(function.upper(), "not supported"))
    return None


def failure(error: BaseException) -> str:
    if isinstance(error, Unsupported):
        return error.reason
    if isinstance(error, AssertionError):
        return f"fails the scenario's checks: {error}"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}"[:200]


def sync_scenario(
    scenario: str, libraries: list[Library], log: Callable[[str], None]
) -> tuple[dict[str, Timer], dict[str, Outcome]]:
    check = check_s1 if scenario == "S1" else check_s2
    timers: dict[str, Timer] = {}
    outcomes: dict[str, Outcome] = {}
    for library in libraries:
        reason = unsupported_reason(library, scenario)
        if reason is None:
            try:
                op: SyncOp = getattr(library.adapter, scenario.lower())()
                check(op)
            except Exception as error:  # noqa: BLE001 - a library that fails is reported, not fatal
                reason = failure(error)
                log(f"  {library.name} {scenario}: n/a: {reason}")
                if not isinstance(error, Unsupported | AssertionError):
                    log(traceback.format_exc(limit=-3))
            else:
                timers[library.name] = as_async(sync_timer(op))
                continue
        outcomes[library.name] = Outcome(reason=reason)
    return timers, outcomes


async def cyclic_garbage(op: Callable[[], Awaitable[object]], count: int = 1_000) -> float:
    """Objects per call of ``op`` that only the cyclic garbage collector frees."""
    for _ in range(10):
        await op()
    gc.collect()
    gc.disable()
    try:
        for _ in range(count):
            await op()
        found = gc.collect()
    finally:
        gc.enable()
    return found / count


async def async_scenario(
    scenario: str, libraries: list[Library], stack: AsyncExitStack, log: Callable[[str], None]
) -> tuple[dict[str, Timer], dict[str, Outcome], dict[str, float]]:
    function = scenario.lower().removesuffix("-trio")
    checks: dict[str, Callable[[Any], Awaitable[None]]] = {"s3": check_s3, "s4": check_s4, "s5": check_s5}
    timers: dict[str, Timer] = {}
    outcomes: dict[str, Outcome] = {}
    garbage: dict[str, float] = {}
    for library in libraries:
        reason = unsupported_reason(library, scenario)
        if reason is None:
            try:
                manager: AbstractAsyncContextManager[Any] = getattr(library.adapter, function)()
                op = await stack.enter_async_context(manager)
                with anyio.fail_after(10):
                    await checks[function](op)
            except Exception as error:  # noqa: BLE001 - a library that fails is reported, not fatal
                reason = failure(error)
                why = getattr(library.adapter, "TRIO_UNSUPPORTED", None) if scenario.endswith("-trio") else None
                if why and not isinstance(error, Unsupported):
                    reason = f"{why} ({reason})"
                log(f"  {library.name} {scenario}: n/a: {reason}")
                if not why and not isinstance(error, Unsupported | AssertionError):
                    log(traceback.format_exc(limit=-3))
            else:
                timed = op.once if isinstance(op, ScopeOps) else op
                timers[library.name] = async_timer(timed)
                if function in {"s3", "s4"}:
                    garbage[library.name] = await cyclic_garbage(timed)
                continue
        outcomes[library.name] = Outcome(reason=reason)
    return timers, outcomes, garbage


async def run_async_scenarios(
    scenarios: tuple[str, ...], libraries: list[Library], settings: Settings, log: Callable[[str], None]
) -> dict[str, dict[str, Outcome]]:
    results: dict[str, dict[str, Outcome]] = {}
    for scenario in scenarios:
        log(f"{scenario}: {SCENARIOS[scenario]}")
        async with AsyncExitStack() as stack:
            timers, outcomes, garbage = await async_scenario(scenario, libraries, stack, log)
            repeat = settings.repeat_slow if scenario.startswith("S5") else settings.repeat
            outcomes.update(await race(timers, settings, repeat))
            for name, objects in garbage.items():
                outcomes[name].garbage = objects
        results[scenario] = outcomes
    return results


async def run_sync_scenario(
    scenario: str, libraries: list[Library], settings: Settings, log: Callable[[str], None]
) -> dict[str, Outcome]:
    log(f"{scenario}: {SCENARIOS[scenario]}")
    timers, outcomes = sync_scenario(scenario, libraries, log)
    outcomes.update(await race(timers, settings, settings.repeat))
    return outcomes


def run(settings: Settings, log: Callable[[str], None] = print) -> tuple[list[Library], dict[str, dict[str, Outcome]]]:
    """Every scenario for every library: {scenario: {library name: outcome}}."""
    libraries = load_libraries(settings.only)
    for library in libraries:
        if library.reason:
            log(f"{library.name}: n/a: {library.reason}")
    results: dict[str, dict[str, Outcome]] = {}

    async def on_asyncio() -> None:
        for scenario in ("S1", "S2"):
            results[scenario] = await run_sync_scenario(scenario, libraries, settings, log)
        results.update(await run_async_scenarios(("S3", "S4", "S5"), libraries, settings, log))

    async def on_trio() -> None:
        results.update(await run_async_scenarios(("S5-trio",), libraries, settings, log))

    anyio.run(on_asyncio, backend="asyncio")
    anyio.run(on_trio, backend="trio")
    return libraries, results


async def check_all(module: ModuleType) -> None:
    """Run one adapter's scenario checks (no timing): what the test suite does."""
    for scenario, check in (("s1", check_s1), ("s2", check_s2)):
        if hasattr(module, scenario):
            check(getattr(module, scenario)())
    for scenario, acheck in (("s3", check_s3), ("s4", check_s4), ("s5", check_s5)):
        if hasattr(module, scenario):
            manager: AbstractAsyncContextManager[Any] = getattr(module, scenario)()
            async with manager as op:
                await acheck(op)
