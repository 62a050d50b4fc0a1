"""Async dependencies made in place (their trier) or together in tasks: every path, on asyncio and trio.

A REQUEST or SESSION async factory that has finished without waiting before is made in place, in the
resolving task; the first time, and whenever one waits, the others are made together, each in a task.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator
from typing import Any, Self

import anyio
import pytest

from injectq_like import Container, Scope


class A:
    pass


class B:
    pass


class Pair:
    def __init__(self, a: A, b: B) -> None:
        self.a = a
        self.b = b


class Log:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.wait: set[str] = set()  # the factories that wait (a checkpoint) before returning


def make_container(log: Log, *, generators: bool = False) -> Container:
    container = Container()
    container.register(Log, instance=log)

    async def make_a(log: Log) -> A:
        log.events.append("a starts")
        if "a" in log.wait:
            await anyio.lowlevel.checkpoint()
        log.events.append("a made")
        return A()

    async def open_b(log: Log) -> AsyncIterator[B]:
        log.events.append("b starts")
        if "b" in log.wait:
            await anyio.lowlevel.checkpoint()
        log.events.append("b made")
        yield B()
        log.events.append("b closed")

    async def make_b(log: Log) -> B:
        log.events.append("b starts")
        if "b" in log.wait:
            await anyio.lowlevel.checkpoint()
        log.events.append("b made")
        return B()

    container.register(A, factory=make_a, scope=Scope.REQUEST)
    container.register(B, factory=open_b if generators else make_b, scope=Scope.REQUEST)
    container.register(Pair)
    return container


@pytest.mark.anyio
async def test_two_factories_waiting_for_each_other_are_made_together_the_first_time() -> None:
    """Neither has finished before: both are made in tasks of their own, so they can meet."""
    container = Container()
    met = {"a": anyio.Event(), "b": anyio.Event()}

    async def make_a() -> A:
        met["a"].set()
        await met["b"].wait()
        return A()

    async def make_b() -> B:
        met["b"].set()
        await met["a"].wait()
        return B()

    container.register(A, factory=make_a, scope=Scope.REQUEST)
    container.register(B, factory=make_b, scope=Scope.REQUEST)
    container.register(Pair)
    with anyio.fail_after(5):
        for _ in range(3):  # and every time after: they wait, so they are never tried in place
            met = {"a": anyio.Event(), "b": anyio.Event()}
            async with container.scope() as scope:
                pair = await scope.resolve(Pair)
            assert isinstance(pair.a, A)
            assert isinstance(pair.b, B)


@pytest.mark.anyio
async def test_quiet_factories_are_made_in_place_in_order_once_they_have_been_quiet() -> None:
    log = Log()
    container = make_container(log)
    async with container.scope() as scope:  # the first time: in tasks, where they prove quiet
        first = await scope.resolve(Pair)
        assert await scope.resolve(A) is first.a
    assert sorted(log.events) == ["a made", "a starts", "b made", "b starts"]
    log.events.clear()
    async with container.scope() as scope:
        second = await scope.resolve(Pair)
    assert log.events == ["a starts", "a made", "b starts", "b made"]  # in place, one after the other
    assert second.a is not first.a


@pytest.mark.anyio
async def test_a_quiet_factory_that_waits_after_all_is_finished_first_then_the_rest_is_made() -> None:
    log = Log()
    container = make_container(log, generators=True)
    async with container.scope() as scope:
        await scope.resolve(Pair)
    log.events.clear()
    log.wait = {"a"}  # a waits now: it is finished alone, in this task, before b starts
    async with container.scope() as scope:
        pair = await scope.resolve(Pair)
        assert await scope.resolve(B) is pair.b
    assert log.events == ["a starts", "a made", "b starts", "b made", "b closed"]
    log.events.clear()
    log.wait = set()  # b, still quiet, is made in place; a after it, where it proves quiet once more
    async with container.scope() as scope:
        await scope.resolve(Pair)
    assert log.events == ["b starts", "b made", "a starts", "a made", "b closed"]
    log.events.clear()
    async with container.scope() as scope:
        await scope.resolve(Pair)
    assert log.events == ["a starts", "a made", "b starts", "b made", "b closed"]


@pytest.mark.anyio
async def test_a_generator_that_waits_before_its_value_is_cleaned_up_like_any_other() -> None:
    log = Log()
    container = make_container(log, generators=True)
    async with container.scope() as scope:
        await scope.resolve(Pair)
    log.events.clear()
    log.wait = {"b"}  # a made in place, then b starts in place and waits: finished in this task
    async with container.scope() as scope:
        pair = await scope.resolve(Pair)
        assert isinstance(pair.b, B)
    assert log.events == ["a starts", "a made", "b starts", "b made", "b closed"]


class NotYielding:
    pass


@pytest.mark.anyio
@pytest.mark.parametrize("waits", [False, True], ids=["at-once", "after-waiting"])
async def test_a_generator_that_returns_without_a_value_is_named(waits: bool) -> None:
    container = Container()
    calls: list[int] = []

    async def empty() -> AsyncIterator[NotYielding]:
        calls.append(len(calls))
        if waits and len(calls) > 1:
            await anyio.lowlevel.checkpoint()
        if len(calls) > 1:
            return
        yield NotYielding()

    async def make_a() -> A:
        return A()

    class Both:
        def __init__(self, a: A, missing: NotYielding) -> None:
            self.a = a

    container.register(NotYielding, factory=empty, scope=Scope.REQUEST)
    container.register(A, factory=make_a, scope=Scope.REQUEST)
    container.register(Both)
    async with container.scope() as scope:
        await scope.resolve(Both)  # the first time: it yields, and proves quiet
    with pytest.raises(RuntimeError, match=r"async generator factory empty\(\) for NotYielding returned without"):
        async with container.scope() as scope:
            await scope.resolve(Both)
    assert calls == [0, 1]


@pytest.mark.anyio
async def test_two_tasks_of_one_scope_make_a_factory_once() -> None:
    """The second task finds the slot claimed (BUSY) and waits for the first one's instance."""
    log = Log()
    container = make_container(log)
    async with container.scope() as scope:
        await scope.resolve(Pair)  # both quiet from now on
    log.events.clear()
    log.wait = {"a"}
    results: list[Pair] = []
    async with container.scope() as scope:

        async def resolve() -> None:
            results.append(await scope.resolve(Pair))

        async with anyio.create_task_group() as group:
            group.start_soon(resolve)
            group.start_soon(resolve)
    assert log.events.count("a starts") == 1
    assert log.events.count("b starts") == 1
    assert results[0].a is results[1].a
    assert results[0].b is results[1].b


@pytest.mark.anyio
async def test_when_factories_made_together_fail_the_first_failure_is_raised_with_the_others_noted() -> None:
    container = Container()

    async def make_a() -> A:
        raise LookupError("a failed")

    async def make_b() -> B:
        raise KeyError("b failed")

    container.register(A, factory=make_a, scope=Scope.REQUEST)
    container.register(B, factory=make_b, scope=Scope.REQUEST)
    container.register(Pair)
    with pytest.raises((LookupError, KeyError)) as caught:
        async with container.scope() as scope:
            await scope.resolve(Pair)
    notes = getattr(caught.value, "__notes__", [])
    assert any("a sibling dependency also failed" in note for note in notes)


class Ticket:
    def __init__(self, number: int) -> None:
        self.number = number


class Steps:
    """An awaitable that is not a coroutine: it waits ``waits`` times, then gives a ticket."""

    def __init__(self, waits: int, number: int) -> None:
        self.waits = waits
        self.number = number

    def __await__(self) -> Generator[Any, None, Ticket]:
        for _ in range(self.waits):
            yield from anyio.lowlevel.checkpoint().__await__()
        return Ticket(self.number)


class Desk:
    def __init__(self, ticket: Ticket, a: A) -> None:
        self.ticket = ticket


@pytest.mark.anyio
async def test_a_factory_returning_another_awaitable_is_tried_in_place_too() -> None:
    container = Container()
    numbers = iter(range(10))
    waits = [0]

    def book() -> Awaitable[Ticket]:
        return Steps(waits[0], next(numbers))

    async def make_a() -> A:
        return A()

    container.register(Ticket, factory=book, scope=Scope.REQUEST)
    container.register(A, factory=make_a, scope=Scope.REQUEST)
    container.register(Desk)
    tickets = []
    for wait in (0, 0, 1, 0):
        waits[0] = wait
        async with container.scope() as scope:
            tickets.append((await scope.resolve(Desk)).ticket.number)
    assert tickets == [0, 1, 2, 3]
    assert "tried in place" in container.explain(Desk)


class C:
    def __init__(self, a: A) -> None:
        self.a = a


class UsesC:
    def __init__(self, c: C) -> None:
        self.c = c


class Three:
    def __init__(self, c: C, b: B, uses: UsesC) -> None:
        self.c = c
        self.b = b
        self.uses = uses


@pytest.mark.anyio
async def test_a_factory_whose_own_dependency_waits_is_made_by_the_async_getters() -> None:
    """``C`` needs ``A``, itself async: ``C`` has no trier, and ``C`` and ``B`` are gathered as before."""
    log = Log()
    container = make_container(log)

    async def make_c(a: A) -> C:
        return C(a)

    container.register(C, factory=make_c, scope=Scope.REQUEST)
    container.register(UsesC)
    container.register(Three)
    assert "tried in place" not in container.explain(Three).split("def t")[0]
    for _ in range(2):
        async with container.scope() as scope:
            three = await scope.resolve(Three)
            assert three.uses.c is three.c
            assert three.c.a is await scope.resolve(A)


class Handle:
    """An ``enter=True`` async context manager whose exit misbehaves."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        raise StopAsyncIteration


@pytest.mark.anyio
async def test_an_async_exit_raising_stop_async_iteration_is_a_cleanup_failure() -> None:
    container = Container()
    container.register(Handle, scope=Scope.REQUEST, enter=True)
    with pytest.raises(ExceptionGroup) as caught:
        async with container.scope() as scope:
            await scope.resolve(Handle)
    (failure,) = caught.value.exceptions
    assert isinstance(failure, StopAsyncIteration)
    assert "raised while cleaning up the class Handle for Handle" in failure.__notes__[0]


class Solo:
    def __init__(self, a: A) -> None:
        self.a = a


@pytest.mark.anyio
async def test_a_lone_async_dependency_is_tried_in_place_and_finished_here_when_it_waits() -> None:
    """With nothing to overlap, it is always tried in place; one that waits is finished in this task,
    and a second task of the scope asking for it meanwhile waits for that instance (made once).
    """
    log = Log()
    container = make_container(log)
    container.register(Solo)
    assert "tried in place" in container.explain(Solo)
    async with container.scope() as scope:
        assert isinstance((await scope.resolve(Solo)).a, A)
    log.wait = {"a"}
    found: list[Solo] = []
    async with container.scope() as scope:

        async def resolve() -> None:
            found.append(await scope.resolve(Solo))

        async with anyio.create_task_group() as group:
            group.start_soon(resolve)
            group.start_soon(resolve)
    assert found[0].a is found[1].a
    assert log.events.count("a starts") == 2  # once per scope


class Repository:
    """A plain class over an async resource: tried in place through its dependency's trier."""

    def __init__(self, b: B) -> None:
        self.b = b


class Desk2:
    def __init__(self, repository: Repository, a: A) -> None:
        self.repository = repository
        self.a = a


@pytest.mark.anyio
async def test_a_class_over_an_async_resource_is_made_in_place_and_once_when_the_resource_waits() -> None:
    log = Log()
    container = make_container(log, generators=True)
    container.register(Repository, scope=Scope.REQUEST)
    container.register(Desk2)
    assert "class Repository for Repository, REQUEST: tried in place" in container.explain(Repository)
    async with container.scope() as scope:
        repository = await scope.resolve(Repository)
        assert repository.b is await scope.resolve(B)
    assert log.events == ["b starts", "b made", "b closed"]
    log.events.clear()
    log.wait = {"b"}  # the resource waits: it is finished here, then the repository is made over it
    found: list[Repository] = []
    async with container.scope() as scope:

        async def resolve() -> None:
            found.append(await scope.resolve(Repository))

        async with anyio.create_task_group() as group:
            group.start_soon(resolve)
            group.start_soon(resolve)
        assert found[0] is found[1]
        assert found[0].b is await scope.resolve(B)
    assert log.events == ["b starts", "b made", "b closed"]
    log.events.clear()
    log.wait = set()
    for wait in (set(), set(), {"b"}):  # gathered with another async dependency: in tasks, in place, then
        log.wait = wait  # in place until the resource waits: finished here, the repository made after it
        async with container.scope() as scope:
            desk = await scope.resolve(Desk2)
            assert desk.repository is await scope.resolve(Repository)
    assert log.events.count("b closed") == 3
