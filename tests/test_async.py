"""Async resolution: concurrency of independent factories, exactly-once creation, failures."""

from __future__ import annotations

import threading
import time
from typing import Any

import anyio
import pytest

from injectq_like import AsyncProviderError, Container, Scope


class Slow:
    pass


class SlowToo:
    pass


class Pair:
    def __init__(self, slow: Slow, slow_too: SlowToo) -> None:
        self.slow, self.slow_too = slow, slow_too


class CountingTaskGroups:
    """Counts the task groups injectq_like's plans start."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = anyio.create_task_group

        def counting() -> anyio.abc.TaskGroup:
            self.count += 1
            return real()

        monkeypatch.setattr("injectq_like._codegen.anyio.create_task_group", counting)


@pytest.mark.anyio
async def test_independent_async_factories_run_concurrently(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two factories that each wait resolve together: both start before either ends.

    (Which is why two that each wait 0.1 s resolve in about 0.1 s; the order of
    events says so without timing anything.)
    """
    groups = CountingTaskGroups(monkeypatch)
    events: list[str] = []

    async def slow() -> Slow:
        events.append("slow starts")
        await anyio.sleep(0.01)
        events.append("slow ends")
        return Slow()

    async def slow_too() -> SlowToo:
        events.append("slow_too starts")
        await anyio.sleep(0.01)
        events.append("slow_too ends")
        return SlowToo()

    container = Container()
    container.register(factory=slow)
    container.register(factory=slow_too, scope=Scope.APP)
    container.register(Pair)
    pair = await container.resolve(Pair)
    assert isinstance(pair.slow, Slow)
    assert isinstance(pair.slow_too, SlowToo)
    assert sorted(events[:2]) == ["slow starts", "slow_too starts"]
    assert sorted(events[2:]) == ["slow ends", "slow_too ends"]
    assert groups.count == 1

    events.clear()
    again = await container.resolve(Pair)  # SlowToo is cached now: only one to create, no group
    assert events == ["slow starts", "slow ends"]
    assert again.slow_too is pair.slow_too
    assert groups.count == 1


@pytest.mark.anyio
async def test_no_task_group_for_a_single_async_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one async dependency there is nothing to overlap, so nothing is started."""
    groups = CountingTaskGroups(monkeypatch)

    async def slow() -> Slow:
        return Slow()

    def slow_too() -> SlowToo:
        return SlowToo()

    container = Container()
    container.register(factory=slow)
    container.register(factory=slow_too)
    container.register(Pair)
    for _ in range(3):
        await container.resolve(Pair)
    assert groups.count == 0


@pytest.mark.anyio
async def test_app_instance_created_once_under_a_thousand_tasks() -> None:
    """A thousand tasks asking for an APP instance at once all get the one instance."""
    calls = 0

    async def slow() -> Slow:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.01)
        return Slow()

    container = Container()
    container.register(factory=slow, scope=Scope.APP)
    results: list[Slow] = []

    async def ask() -> None:
        results.append(await container.resolve(Slow))

    async with anyio.create_task_group() as group:
        for _ in range(1000):
            group.start_soon(ask)
    assert calls == 1
    assert len(results) == 1000
    assert all(result is results[0] for result in results)


@pytest.mark.anyio
async def test_cancelled_creator_hands_creation_to_a_waiter() -> None:
    """When the task creating an APP instance is cancelled, a waiting task takes creation over."""
    attempts: list[str] = []
    release = anyio.Event()

    async def slow() -> Slow:
        attempts.append("started")
        await release.wait()
        attempts.append("finished")
        return Slow()

    container = Container()
    container.register(factory=slow, scope=Scope.APP)
    got: list[Slow] = []

    first = anyio.CancelScope()

    async def waiter() -> None:
        got.append(await container.resolve(Slow))

    async def creator() -> None:
        with first:
            await container.resolve(Slow)

    async with anyio.create_task_group() as group:
        group.start_soon(creator)
        await anyio.sleep(0.01)  # the creator is inside the factory now
        group.start_soon(waiter)
        group.start_soon(waiter)
        await anyio.sleep(0.01)
        first.cancel()
        await anyio.sleep(0.01)
        release.set()
    assert attempts == ["started", "started", "finished"]
    assert len(got) == 2
    assert got[0] is got[1]
    assert await container.resolve(Slow) is got[0]


@pytest.mark.anyio
async def test_cancelling_a_waiter_does_not_disturb_the_others() -> None:
    """A cancelled waiter leaves; the creator and the other waiters still get the instance."""
    release = anyio.Event()
    calls = 0

    async def slow() -> Slow:
        nonlocal calls
        calls += 1
        await release.wait()
        return Slow()

    container = Container()
    container.register(factory=slow, scope=Scope.APP)
    got: list[Slow] = []

    async def ask() -> None:
        got.append(await container.resolve(Slow))

    cancelled = anyio.CancelScope()

    async def cancelled_waiter() -> None:
        with cancelled:
            await container.resolve(Slow)
            got.append(Slow())  # never reached

    async with anyio.create_task_group() as group:
        group.start_soon(ask)
        await anyio.sleep(0.01)
        group.start_soon(cancelled_waiter)
        group.start_soon(ask)
        await anyio.sleep(0.01)
        cancelled.cancel()
        await anyio.sleep(0.01)
        release.set()
    assert calls == 1
    assert len(got) == 2
    assert got[0] is got[1]


@pytest.mark.anyio
async def test_failing_factory_cancels_siblings_and_raises_its_own_error() -> None:
    """A failing factory's own exception propagates, its siblings are cancelled, a note names the path."""
    cancelled: list[str] = []

    async def slow() -> Slow:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            cancelled.append("slow")
            raise
        return Slow()  # pragma: no cover - cancelled first

    async def broken() -> SlowToo:
        await anyio.sleep(0.01)
        msg = "database unreachable"
        raise ConnectionError(msg)

    container = Container()
    container.register(factory=slow)
    container.register(factory=broken)
    container.register(Pair)
    started = anyio.current_time()
    with pytest.raises(ConnectionError, match="database unreachable") as caught:
        await container.resolve(Pair)
    assert anyio.current_time() - started < 1
    assert cancelled == ["slow"]
    notes = caught.value.__notes__
    assert len(notes) == 1
    assert "async factory" in notes[0]
    assert "broken()" in notes[0]
    assert "Pair -> SlowToo" in notes[0]


@pytest.mark.anyio
async def test_failing_constructor_note_names_the_path() -> None:
    """An exception from a constructor deep in the graph keeps its type and gains a path note."""

    class Deep:
        def __init__(self) -> None:
            msg = "bad config"
            raise ValueError(msg)

    class Middle:
        def __init__(self, deep: Deep) -> None:
            self.deep = deep

    class Top:
        def __init__(self, middle: Middle) -> None:
            self.middle = middle

    container = Container()
    for cls in (Deep, Middle, Top):
        container.register(cls)
    with pytest.raises(ValueError, match="bad config") as caught:
        await container.resolve(Top)
    assert caught.value.__notes__ == ["injectq_like: raised by class Deep while resolving Top -> Middle -> Deep"]


def test_app_instance_created_once_across_threads() -> None:
    """Several threads calling resolve_sync at once share one APP instance."""
    calls = 0

    class Heavy:
        def __init__(self) -> None:
            nonlocal calls
            calls += 1
            time.sleep(0.05)

    container = Container()
    container.register(Heavy, scope=Scope.APP)
    results: list[Heavy] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        results.append(container.resolve_sync(Heavy))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == 1
    assert len(results) == 8
    assert all(result is results[0] for result in results)


@pytest.mark.anyio
async def test_resolve_sync_from_a_worker_thread_sees_app_instances() -> None:
    """An APP instance made by await resolve is what resolve_sync returns in a worker thread."""

    async def slow() -> Slow:
        return Slow()

    container = Container()
    container.register(factory=slow, scope=Scope.APP)
    made = await container.resolve(Slow)
    assert await anyio.to_thread.run_sync(container.resolve_sync, Slow) is made


@pytest.mark.anyio
async def test_app_autouse_created_at_first_resolution() -> None:
    """APP autouse providers exist once the container resolved anything."""
    created: list[str] = []

    class Audit:
        def __init__(self) -> None:
            created.append("audit")

    async def warm() -> Slow:
        created.append("slow")
        return Slow()

    container = Container()
    container.register(Audit, scope=Scope.APP, autouse=True)
    container.register(factory=warm, scope=Scope.APP, autouse=True)
    container.register(SlowToo)
    assert created == []
    await container.resolve(SlowToo)
    assert created == ["audit", "slow"]
    await container.resolve(SlowToo)
    assert created == ["audit", "slow"]


def test_async_autouse_blocks_a_sync_first_resolution() -> None:
    """With an async APP autouse provider, the first resolution must be awaited (or the container entered)."""

    async def warm() -> Slow:
        return Slow()

    container = Container()
    container.register(factory=warm, scope=Scope.APP, autouse=True)
    container.register(SlowToo)
    with pytest.raises(AsyncProviderError, match="async with container"):
        container.resolve_sync(SlowToo)


@pytest.mark.anyio
async def test_container_context_manager_starts_and_closes() -> None:
    """``async with container`` creates APP autouse providers on entry and disposes APP instances on exit."""
    events: list[str] = []

    async def resource() -> Any:
        events.append("open")
        yield Slow()
        events.append("close")

    container = Container()
    container.register(Slow, factory=resource, scope=Scope.APP, autouse=True)
    async with container:
        assert events == ["open"]
        first = await container.resolve(Slow)
        assert await container.resolve(Slow) is first
    assert events == ["open", "close"]
    async with container:  # a closed container starts again with a fresh APP scope
        assert await container.resolve(Slow) is not first
    assert events == ["open", "close", "open", "close"]


@pytest.mark.anyio
async def test_factories_that_never_wait_are_not_given_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Async factories seen to finish without waiting are created in turn; one that starts waiting
    is finished, and from then on created concurrently again.
    """
    groups = CountingTaskGroups(monkeypatch)
    delay = 0.0
    events: list[str] = []

    async def slow() -> Slow:
        events.append("slow starts")
        if delay:
            await anyio.sleep(delay)
        events.append("slow ends")
        return Slow()

    async def slow_too() -> SlowToo:
        events.append("slow_too starts")
        if delay:
            await anyio.sleep(delay)
        events.append("slow_too ends")
        return SlowToo()

    container = Container()
    container.register(factory=slow)
    container.register(factory=slow_too)
    container.register(Pair)
    await container.resolve(Pair)  # learns that neither waits
    assert groups.count == 1
    for _ in range(3):
        pair = await container.resolve(Pair)
        assert isinstance(pair.slow, Slow)
        assert isinstance(pair.slow_too, SlowToo)
    assert groups.count == 1
    delay = 0.01
    events.clear()
    await container.resolve(Pair)  # both wait now: this once, one after the other
    assert events == ["slow starts", "slow ends", "slow_too starts", "slow_too ends"]
    assert groups.count == 1
    events.clear()
    await container.resolve(Pair)  # and concurrently from then on
    assert sorted(events[:2]) == ["slow starts", "slow_too starts"]
    assert sorted(events[2:]) == ["slow ends", "slow_too ends"]
    assert groups.count == 2
