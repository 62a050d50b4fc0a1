"""Disposal: dependents first, concurrently where independent, exactly once, whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.lowlevel
import pytest

from injectq_like import Container, Scope


class Base:
    pass


class A(Base):
    pass


class B(Base):
    pass


class C(Base):
    pass


class D(Base):
    pass


class E(Base):
    pass


class Recorder:
    """Async generator factories that record their opening and closing."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.events: list[str] = []
        self.delay = delay
        self.seen: dict[str, BaseException | None] = {}

    def factory(self, name: str, cls: type[Base], *needs: type[Base]) -> Any:
        """An async generator factory named ``name`` providing ``cls`` and needing ``needs``."""
        parameters = ", ".join(f"d{i}: {n.__name__}" for i, n in enumerate(needs))
        source = (
            f"async def {name}({parameters}) -> AsyncIterator[{cls.__name__}]:\n"
            f"    recorder.events.append('open {name}')\n"
            f"    try:\n"
            f"        yield {cls.__name__}()\n"
            f"    except BaseException as error:\n"
            f"        recorder.seen['{name}'] = error\n"
            f"        raise\n"
            f"    finally:\n"
            f"        recorder.events.append('start close {name}')\n"
            f"        if recorder.delay:\n"
            f"            await anyio.sleep(recorder.delay)\n"
            f"        recorder.events.append('close {name}')\n"
        )
        namespace: dict[str, Any] = {n.__name__: n for n in (cls, *needs)}
        namespace.update({"AsyncIterator": AsyncIterator, "anyio": anyio, "recorder": self})
        exec(source, namespace)
        return namespace[name]


def diamond(recorder: Recorder, scope: Scope = Scope.REQUEST) -> Container:
    """D needs B and C, which both need A."""
    container = Container()
    container.register(A, factory=recorder.factory("a", A), scope=scope)
    container.register(B, factory=recorder.factory("b", B, A), scope=scope)
    container.register(C, factory=recorder.factory("c", C, A), scope=scope)
    container.register(D, factory=recorder.factory("d", D, B, C), scope=scope)
    return container


@pytest.mark.anyio
async def test_diamond_disposed_dependents_first_and_independent_ones_concurrently() -> None:
    """D closes first, then B and C together, then A."""
    recorder = Recorder(delay=0.05)
    container = diamond(recorder)
    async with container.scope() as scope:
        await scope.resolve(D)
        opened = list(recorder.events)
        recorder.events.clear()
    assert opened[0] == "open a"
    assert opened[-1] == "open d"
    events = recorder.events
    assert events[:2] == ["start close d", "close d"]
    assert events[-2:] == ["start close a", "close a"]
    middle = events[2:-2]
    assert sorted(middle) == ["close b", "close c", "start close b", "start close c"]
    assert middle[0].startswith("start")  # both started before either ended: they overlapped
    assert middle[1].startswith("start")


@pytest.mark.anyio
async def test_app_instances_disposed_dependents_first_on_container_close() -> None:
    """Closing the container disposes APP instances in reverse dependency order."""
    recorder = Recorder()
    container = diamond(recorder, Scope.APP)
    async with container:
        await container.resolve(D)
    closes = [e for e in recorder.events if e.startswith("close")]
    assert closes[0] == "close d"
    assert closes[-1] == "close a"
    assert len(closes) == 4


@pytest.mark.anyio
async def test_body_exception_is_thrown_into_generators_and_propagates_unchanged() -> None:
    """Generators see the body's exception at their yield; the same object propagates."""
    recorder = Recorder()
    container = diamond(recorder)
    error = KeyError("boom")
    with pytest.raises(KeyError) as caught:
        async with container.scope() as scope:
            await scope.resolve(D)
            raise error
    assert caught.value is error
    assert set(recorder.seen) == {"a", "b", "c", "d"}
    assert all(seen is error for seen in recorder.seen.values())
    assert getattr(caught.value, "__notes__", []) == []  # propagated as it was raised


@pytest.mark.anyio
async def test_generator_that_swallows_the_exception_does_not_stop_it() -> None:
    """A generator catching the body's exception cannot swallow it."""
    caught_inside: list[BaseException] = []

    async def resource() -> AsyncIterator[A]:
        try:
            yield A()
        except ValueError as error:
            caught_inside.append(error)  # and does not re-raise

    def sync_resource() -> Iterator[B]:
        try:
            yield B()
        except ValueError as error:
            caught_inside.append(error)

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    container.register(factory=sync_resource, scope=Scope.REQUEST)
    with pytest.raises(ValueError, match="body"):
        async with container.scope() as scope:
            await scope.resolve(A)
            await scope.resolve(B)
            raise ValueError("body")
    assert [str(e) for e in caught_inside] == ["body", "body"]


@pytest.mark.anyio
async def test_cleanup_failures_are_grouped_after_every_cleanup_ran() -> None:
    """Failing cleanups do not stop the others; one ExceptionGroup holds them all."""
    closed: list[str] = []

    async def first() -> AsyncIterator[A]:
        yield A()
        closed.append("a")
        raise RuntimeError("a failed")

    def second(a: A) -> Iterator[B]:
        yield B()
        closed.append("b")
        raise OSError("b failed")

    async def third(b: B) -> AsyncIterator[C]:
        yield C()
        closed.append("c")

    container = Container()
    container.register(factory=first, scope=Scope.REQUEST)
    container.register(factory=second, scope=Scope.REQUEST)
    container.register(factory=third, scope=Scope.REQUEST)
    with pytest.raises(ExceptionGroup) as caught:
        async with container.scope() as scope:
            await scope.resolve(C)
    assert closed == ["c", "b", "a"]
    failures = caught.value.exceptions
    assert [type(e) for e in failures] == [OSError, RuntimeError]
    assert [str(e) for e in failures] == ["b failed", "a failed"]
    assert "generator factory second()" in failures[0].__notes__[0]
    assert "async generator factory first()" in failures[1].__notes__[0]


@pytest.mark.anyio
async def test_body_exception_comes_first_in_the_group() -> None:
    """With a failing body and failing cleanups, the group holds the body's exception first."""

    async def broken() -> AsyncIterator[A]:
        try:
            yield A()
        finally:
            raise RuntimeError("cleanup failed")

    container = Container()
    container.register(factory=broken, scope=Scope.REQUEST)
    body = LookupError("body failed")
    with pytest.raises(ExceptionGroup) as caught:
        async with container.scope() as scope:
            await scope.resolve(A)
            raise body
    assert caught.value.exceptions[0] is body
    assert [str(e) for e in caught.value.exceptions] == ["body failed", "cleanup failed"]


@pytest.mark.anyio
async def test_generator_yielding_twice_is_a_cleanup_failure() -> None:
    """A generator factory must yield exactly once."""

    def twice() -> Iterator[A]:
        yield A()
        yield A()

    container = Container()
    container.register(factory=twice, scope=Scope.REQUEST)
    with pytest.raises(ExceptionGroup) as caught:
        async with container.scope() as scope:
            await scope.resolve(A)
    (failure,) = caught.value.exceptions
    assert isinstance(failure, RuntimeError)
    assert "yielded more than once" in str(failure)


@pytest.mark.anyio
async def test_generator_that_never_yields_fails_at_resolution() -> None:
    """A generator factory that returns without yielding is an error naming it."""

    def empty() -> Iterator[A]:
        yield from ()

    container = Container()
    container.register(factory=empty, scope=Scope.REQUEST)
    async with container.scope() as scope:
        with pytest.raises(RuntimeError, match=r"generator factory empty\(\) for A returned without yielding"):
            await scope.resolve(A)


@pytest.mark.anyio
async def test_cancelled_body_still_runs_every_cleanup_once() -> None:
    """Cancelling a request mid-body runs each cleanup exactly once, shielded."""
    recorder = Recorder(delay=0.02)
    container = diamond(recorder)
    with anyio.move_on_after(0.05) as deadline:
        async with container.scope() as scope:
            await scope.resolve(D)
            await anyio.sleep(10)
    assert deadline.cancelled_caught
    for name in "abcd":
        assert recorder.events.count(f"open {name}") == 1
        assert recorder.events.count(f"close {name}") == 1
    assert set(recorder.seen) == {"a", "b", "c", "d"}
    assert all(isinstance(e, anyio.get_cancelled_exc_class()) for e in recorder.seen.values())


@pytest.mark.anyio
async def test_cancelled_during_resolution_cleans_what_was_created() -> None:
    """Cancelled while creating the graph: what exists is cleaned up once, nothing else."""
    events: list[str] = []
    started = anyio.Event()

    async def first() -> AsyncIterator[A]:
        events.append("open a")
        try:
            yield A()
        finally:
            events.append("close a")

    async def blocked(a: A) -> AsyncIterator[B]:
        events.append("open b")
        started.set()
        await anyio.sleep(10)
        yield B()  # pragma: no cover - cancelled first
        events.append("close b")  # pragma: no cover

    container = Container()
    container.register(factory=first, scope=Scope.REQUEST)
    container.register(factory=blocked, scope=Scope.REQUEST)

    async def request() -> None:
        async with container.scope() as scope:
            await scope.resolve(B)

    async with anyio.create_task_group() as group:
        group.start_soon(request)
        await started.wait()
        group.cancel_scope.cancel()
    assert events == ["open a", "open b", "close a"]


@pytest.mark.anyio
async def test_cancellation_with_failing_cleanup_gives_a_base_exception_group() -> None:
    """When the body was cancelled and a cleanup fails, the group is a BaseExceptionGroup, body first."""

    async def broken() -> AsyncIterator[A]:
        try:
            yield A()
        finally:
            raise RuntimeError("cleanup failed")

    container = Container()
    container.register(factory=broken, scope=Scope.REQUEST)
    caught: list[BaseExceptionGroup[BaseException]] = []
    outer = anyio.CancelScope()

    async def run() -> None:
        try:
            async with container.scope() as scope:
                await scope.resolve(A)
                outer.cancel()
                await anyio.sleep(10)
        except BaseExceptionGroup as group:
            caught.append(group)
            raise

    # The cancel scope takes its own cancellation out of the group; the cleanup failure remains.
    with pytest.raises(ExceptionGroup) as remaining, outer:
        await run()
    assert [str(e) for e in remaining.value.exceptions] == ["cleanup failed"]
    (group,) = caught
    assert not isinstance(group, ExceptionGroup)
    assert isinstance(group.exceptions[0], anyio.get_cancelled_exc_class())
    assert str(group.exceptions[1]) == "cleanup failed"


@pytest.mark.anyio
async def test_failing_factory_mid_graph_leaves_nothing_undisposed() -> None:
    """What was created before a factory failed is cleaned up at scope exit."""
    events: list[str] = []

    async def first() -> AsyncIterator[A]:
        events.append("open a")
        try:
            yield A()
        finally:
            events.append("close a")

    def failing(a: A) -> B:
        raise ConnectionError("no")

    container = Container()
    container.register(factory=first, scope=Scope.REQUEST)
    container.register(factory=failing, scope=Scope.REQUEST)
    with pytest.raises(ConnectionError) as caught:
        async with container.scope() as scope:
            await scope.resolve(B)
    assert events == ["open a", "close a"]
    assert "failing() while resolving B" in caught.value.__notes__[0]


@pytest.mark.anyio
async def test_on_close_callbacks_run_before_earlier_instances_cleanups() -> None:
    """Each on_close callback runs before the cleanups of instances that existed when it was added."""
    events: list[str] = []

    async def resource() -> AsyncIterator[A]:
        yield A()
        events.append("close a")

    def other() -> Iterator[B]:
        yield B()
        events.append("close b")

    async def flush() -> None:
        await anyio.lowlevel.checkpoint()
        events.append("flush")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    container.register(factory=other, scope=Scope.REQUEST)
    async with container.scope() as scope:
        await scope.resolve(A)
        scope.on_close(flush)
        scope.on_close(lambda: events.append("sync callback"))
        await scope.resolve(B)
    assert events.index("flush") < events.index("close a")
    assert events.index("sync callback") < events.index("close a")
    assert events.index("sync callback") < events.index("flush")  # later callbacks first
    assert sorted(events) == ["close a", "close b", "flush", "sync callback"]


@pytest.mark.anyio
async def test_container_on_close_runs_at_aclose() -> None:
    """``container.on_close`` joins the APP scope's cleanup."""
    events: list[str] = []
    container = Container()
    container.on_close(lambda: events.append("closed"))
    assert events == []
    await container.aclose()
    assert events == ["closed"]


class SyncManager:
    def __init__(self) -> None:
        self.events: list[str] = []

    def __enter__(self) -> str:
        self.events.append("enter")
        return "not the instance"

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.events.append(f"exit {type(error).__name__ if error else None}")


class AsyncManager:
    fail_enter = False

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __aenter__(self) -> Self:
        if self.fail_enter:
            raise OSError("cannot connect")
        self.events.append("enter")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self.events.append(f"exit {type(error).__name__ if error else None}")
        return True  # tries to swallow: the body's exception still propagates


@pytest.mark.anyio
async def test_enter_true_enters_and_exits_context_managers() -> None:
    """``enter=True`` instances are entered when created and exited with the body's exception."""
    container = Container()
    container.register(SyncManager, scope=Scope.REQUEST, enter=True)
    container.register(AsyncManager, scope=Scope.REQUEST, enter=True)
    with pytest.raises(ZeroDivisionError):
        async with container.scope() as scope:
            sync_manager = await scope.resolve(SyncManager)
            async_manager = await scope.resolve(AsyncManager)
            assert isinstance(sync_manager, SyncManager)  # the instance, not what __enter__ returned
            assert sync_manager.events == ["enter"]
            assert async_manager.events == ["enter"]
            1 / 0  # noqa: B018
    assert sync_manager.events == ["enter", "exit ZeroDivisionError"]
    assert async_manager.events == ["enter", "exit ZeroDivisionError"]


@pytest.mark.anyio
async def test_enter_true_not_exited_when_enter_failed() -> None:
    """An instance whose ``__aenter__`` failed is not exited."""
    created: list[AsyncManager] = []

    def make() -> AsyncManager:
        manager = AsyncManager()
        manager.fail_enter = True
        created.append(manager)
        return manager

    container = Container()
    container.register(AsyncManager, factory=make, scope=Scope.REQUEST, enter=True)
    with pytest.raises(OSError, match="cannot connect"):
        async with container.scope() as scope:
            await scope.resolve(AsyncManager)
    assert created[0].events == []


@pytest.mark.anyio
async def test_transient_cleanup_belongs_to_the_scope_that_created_it() -> None:
    """A TRANSIENT with cleanup is cleaned up when the scope that created it closes."""
    events: list[str] = []
    count = 0

    def transient() -> Iterator[A]:
        nonlocal count
        count += 1
        number = count
        events.append(f"open {number}")
        yield A()
        events.append(f"close {number}")

    class Singleton:
        def __init__(self, a: A) -> None:
            self.a = a

    container = Container()
    container.register(factory=transient)
    container.register(Singleton, scope=Scope.APP)
    async with container:
        async with container.scope() as scope:
            await scope.resolve(A)
            await scope.resolve(A)
            await scope.resolve(Singleton)  # its A belongs to the APP scope
        assert events == ["open 1", "open 2", "open 3", "close 2", "close 1"]
    assert events[-1] == "close 3"


class CountingGroups:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = anyio.create_task_group

        def counting() -> anyio.abc.TaskGroup:
            self.count += 1
            return real()

        monkeypatch.setattr("injectq_like._cleanup.anyio.create_task_group", counting)


@pytest.mark.anyio
async def test_task_group_only_for_two_or_more_async_cleanups(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty scope, or one with a single async cleanup, starts no task group."""
    groups = CountingGroups(monkeypatch)

    async def one() -> AsyncIterator[A]:
        yield A()

    async def two() -> AsyncIterator[B]:
        yield B()

    container = Container()
    container.register(factory=one, scope=Scope.REQUEST)
    container.register(factory=two, scope=Scope.REQUEST)
    async with container.scope():
        pass
    async with container.scope() as scope:
        await scope.resolve(A)
    assert groups.count == 0
    async with container.scope() as scope:
        await scope.resolve(A)
        await scope.resolve(B)
    assert groups.count == 1


@pytest.mark.anyio
async def test_cleanup_that_starts_waiting_later_still_completes() -> None:
    """A cleanup that finished without waiting before may wait later, even inside its own cancel scope."""
    rounds: list[str] = []
    wait = False

    async def resource() -> AsyncIterator[A]:
        yield A()
        if wait:
            with anyio.move_on_after(5):  # a cancel scope entered before the first suspension
                await anyio.sleep(0.01)
            rounds.append("waited")
        else:
            rounds.append("quick")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    for _ in range(2):
        async with container.scope() as scope:
            await scope.resolve(A)
    wait = True
    for _ in range(2):
        async with container.scope() as scope:
            await scope.resolve(A)
    assert rounds == ["quick", "quick", "waited", "waited"]


@pytest.mark.anyio
async def test_quick_cleanup_is_shielded_when_the_body_was_cancelled() -> None:
    """After a cancelled body, cleanups are shielded, even those that never waited before."""
    events: list[str] = []
    wait = False

    async def resource() -> AsyncIterator[A]:
        try:
            yield A()
        finally:
            if wait:
                await anyio.sleep(0.01)  # would raise at once if the cancellation reached it
            events.append("closed")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    async with container.scope() as scope:
        await scope.resolve(A)
    wait = True
    with anyio.move_on_after(0.01):
        async with container.scope() as scope:
            await scope.resolve(A)
            await anyio.sleep(5)
    assert events == ["closed", "closed"]
