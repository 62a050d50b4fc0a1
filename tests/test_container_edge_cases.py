"""``Container``: freezing under a race, unhashable keys, starting without an event loop,
context values that cannot be type-checked, resolving while a scope closes, and overrides.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any, Literal, NewType, Protocol

import pytest

from injectq_like import Container, MissingProviderError, RegistrationError, Scope, ScopeError
from injectq_like._container import runtime_of


class Clock:
    pass


class Database:
    pass


class FakeDatabase(Database):
    pass


class OtherDatabase(Database):
    pass


class Pool:
    pass


class _InterleavingLock:
    """Stands in for the container's lock: the first time a thread takes it,
    another thread runs ``interloper`` to completion first, as if the scheduler
    had switched threads just before the lock was taken.
    """

    def __init__(self, inner: Any, interloper: Any) -> None:
        self.inner = inner
        self.interloper = interloper
        self.interleaved = False

    def __enter__(self) -> Any:
        if not self.interleaved:
            self.interleaved = True
            thread = threading.Thread(target=self.interloper)
            thread.start()
            thread.join()
        return self.inner.__enter__()

    def __exit__(self, *exc_info: object) -> Any:
        return self.inner.__exit__(*exc_info)


def test_a_freeze_lost_to_another_thread_keeps_the_winners_graph_and_reason() -> None:
    """When another thread freezes the container between our check and our lock, we use its graph."""
    container = Container()
    container.register(Clock)
    frozen_by_other: list[BaseException | None] = []

    def other_thread() -> None:
        try:
            container.validate()
            frozen_by_other.append(None)
        except BaseException as error:  # pragma: no cover - reported by the assertion below
            frozen_by_other.append(error)

    runtime_of(container).lock = _InterleavingLock(threading.RLock(), other_thread)  # type: ignore[assignment]
    clock = container.resolve_sync(Clock)

    assert frozen_by_other == [None]
    assert isinstance(clock, Clock)
    with pytest.raises(RegistrationError) as raised:
        container.register(Database)
    # The registry was frozen once, by the thread that won: validate(), not our resolution.
    assert "its first resolution or validate() was validate() at" in str(raised.value)


# -- unhashable keys ------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_unhashable_key_is_resolved_without_being_cached() -> None:
    """``Annotated[Clock, {...}]`` cannot be hashed; it still resolves as ``Clock``, each time, both ways."""
    unhashable: Any = Annotated[Clock, {"doc": "the wall clock"}]
    with pytest.raises(TypeError):
        hash(unhashable)
    container = Container()
    container.register(Clock, scope=Scope.APP)

    first = await container.resolve(unhashable)
    assert isinstance(first, Clock)
    assert await container.resolve(unhashable) is first  # the container has started: the fast path now
    assert container.resolve_sync(unhashable) is first
    assert container.resolve_sync(unhashable) is first
    assert await container.resolve(Clock) is first


# -- starting ---------------------------------------------------------------------------


def test_resolve_sync_as_the_first_resolution_creates_sync_app_autouse_providers() -> None:
    """APP autouse providers that need no event loop are created by a first ``resolve_sync``."""
    created: list[object] = []

    class Metrics:
        def __init__(self) -> None:
            created.append(self)

    container = Container()
    container.register(Metrics, scope=Scope.APP, autouse=True)
    container.register(Clock)

    assert created == []
    assert isinstance(container.resolve_sync(Clock), Clock)
    assert len(created) == 1
    assert container.resolve_sync(Metrics) is created[0]
    container.resolve_sync(Clock)
    assert len(created) == 1


@pytest.mark.anyio
async def test_entering_a_container_whose_app_scope_was_closed_gives_it_a_fresh_one() -> None:
    """After its APP scope was closed by hand (through ``scope.parent``), ``async with container`` starts anew."""
    events: list[str] = []

    def open_pool() -> Iterator[Pool]:
        events.append("open")
        yield Pool()
        events.append("close")

    container = Container()
    container.register(Pool, factory=open_pool, scope=Scope.APP)
    async with container.scope() as scope:
        first = await scope.resolve(Pool)
        app_scope = scope.parent
    assert app_scope is not None
    assert app_scope.level is Scope.APP
    assert repr(app_scope) == "<AsyncRequestScope APP open, 1 cached>"

    await app_scope.__aexit__(None, None, None)
    assert app_scope.closed
    assert repr(app_scope) == "<AsyncRequestScope APP closed, 0 cached>"
    assert events == ["open", "close"]

    async with container:
        second = await container.resolve(Pool)
        assert second is not first
        assert await container.resolve(Pool) is second
    assert events == ["open", "close", "open", "close"]


@pytest.mark.anyio
async def test_an_app_scope_closed_by_hand_with_nothing_to_clean_up_still_serves_app_instances() -> None:
    """Closing the APP scope by hand when it holds no cleanup (the quick close) leaves it able to
    create APP instances afterwards, as the full close does (a regression: the quick close once
    dropped its links and resolving failed with an ``AttributeError``).
    """
    container = Container()
    container.register(Pool, scope=Scope.APP)
    container.register(Clock, scope=Scope.APP)
    async with container.scope() as scope:
        pool = await scope.resolve(Pool)
        app_scope = scope.parent
    assert app_scope is not None
    await app_scope.__aexit__(None, None, None)
    assert app_scope.closed
    clock = await container.resolve(Clock)
    assert isinstance(clock, Clock)
    assert container.resolve_sync(Clock) is clock
    assert container.resolve_sync(Pool) is pool


# -- context values ---------------------------------------------------------------------


class Request:
    pass


class Tenant:
    pass


@pytest.mark.anyio
async def test_a_nested_scope_inherits_only_the_context_values_its_parent_was_given() -> None:
    """An inner REQUEST scope sees the outer one's context values; one the outer lacked stays missing."""
    container = Container()
    container.register_context(Request, scope=Scope.REQUEST)
    container.register_context(Tenant, scope=Scope.REQUEST)
    request = Request()
    async with container.scope(context={Request: request}) as outer, outer.scope() as inner:
        assert await inner.resolve(Request) is request
        with pytest.raises(MissingProviderError) as raised:
            await inner.resolve(Tenant)
    assert raised.value.context
    assert str(raised.value).splitlines()[0] == "no value for context Tenant: no open scope was given it"


class Now(Protocol):
    def now(self) -> float: ...


class FixedNow:
    def now(self) -> float:
        return 42.0


_new_type: Any = NewType  # mypy accepts only classes as NewType's supertype; these are legal at runtime
Mode = _new_type("Mode", Literal["r", "w"])


@pytest.mark.anyio
async def test_context_values_whose_key_has_no_isinstance_check_are_taken_as_given() -> None:
    """A non-runtime-checkable Protocol or a NewType of a Literal cannot be isinstance-checked: any value goes."""
    container = Container()
    container.register_context(Now, scope=Scope.REQUEST)
    container.register_context(Mode, scope=Scope.REQUEST)
    fixed = FixedNow()
    async with container.scope(context={Now: fixed, Mode: "r"}) as scope:
        now = await scope.resolve(Now)
        assert now is fixed
        assert now.now() == 42.0
        assert await scope.resolve(Mode) == "r"


@pytest.mark.anyio
async def test_a_context_value_of_the_wrong_class_is_still_refused() -> None:
    """Where the key has a class, a value of another class is a RegistrationError naming both."""
    container = Container()
    container.register_context(Request, scope=Scope.REQUEST)
    with pytest.raises(RegistrationError) as raised:
        container.scope(context={Request: Tenant()})
    assert str(raised.value).splitlines()[0] == "the context value given for Request is a Tenant"


# -- resolving while a scope closes -------------------------------------------------


@pytest.mark.anyio
async def test_resolving_from_the_container_while_its_scope_closes_is_refused() -> None:
    """An ``on_close`` callback cannot resolve from its closing scope: that instance would never be cleaned up."""
    container = Container()
    container.register(Clock, scope=Scope.REQUEST)
    refused: list[str] = []

    async def resolve_late() -> None:
        try:
            await container.resolve(Clock)
        except ScopeError as error:
            refused.append(f"async: {error.message}")

    def resolve_late_sync() -> None:
        try:
            container.resolve_sync(Clock)
        except ScopeError as error:
            refused.append(f"sync: {error.message}")

    async with container.scope() as scope:
        await scope.resolve(Clock)
        scope.on_close(resolve_late)
        scope.on_close(resolve_late_sync)

    closed = "this REQUEST scope is closed: what it would create now would never be cleaned up"
    assert refused == [f"sync: {closed}", f"async: {closed}"]  # the later callback runs first


# -- overrides -----------------------------------------------------------------------------


def test_global_overrides_exited_out_of_order_are_all_undone() -> None:
    """Exiting two overrides in the order they were entered: the later one holds until it exits, then neither."""
    container = Container()
    container.register(Database)
    first = container.override(Database, FakeDatabase)
    second = container.override(Database, OtherDatabase)
    first.__enter__()
    second.__enter__()
    assert type(container.resolve_sync(Database)) is OtherDatabase

    first.__exit__(None, None, None)
    assert type(container.resolve_sync(Database)) is OtherDatabase  # the later override still holds
    second.__exit__(None, None, None)
    assert type(container.resolve_sync(Database)) is Database


def test_exiting_an_override_that_is_not_active_does_nothing() -> None:
    """A second exit of an override is a no-op: it does not undo another override, and the override can be reused."""
    container = Container()
    container.register(Database)
    fake = container.override(Database, FakeDatabase)
    with fake:
        assert type(container.resolve_sync(Database)) is FakeDatabase
    fake.__exit__(None, None, None)
    assert repr(fake) == "<Override of Database (global, inactive)>"
    assert type(container.resolve_sync(Database)) is Database

    with container.override(Database, OtherDatabase):
        fake.__exit__(None, None, None)
        assert type(container.resolve_sync(Database)) is OtherDatabase
    with fake:
        assert repr(fake) == "<Override of Database (global, active)>"
        assert type(container.resolve_sync(Database)) is FakeDatabase
    assert type(container.resolve_sync(Database)) is Database


class FakeClock(Clock):
    pass


class Service:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock


def test_exiting_an_override_beneath_others_keeps_the_others_and_their_dependents() -> None:
    """The overrides entered after the one exiting stay active, and what depends on them is rebuilt with them."""
    container = Container()
    container.register(Database)
    container.register(Clock)
    container.register(Service)
    database = container.override(Database, FakeDatabase)
    clock = container.override(Clock, FakeClock)
    other = container.override(Database, OtherDatabase)
    for override in (database, clock, other):
        override.__enter__()
    service = container.resolve_sync(Service)
    assert (type(service.database), type(service.clock)) == (OtherDatabase, FakeClock)

    database.__exit__(None, None, None)
    service = container.resolve_sync(Service)
    assert (type(service.database), type(service.clock)) == (OtherDatabase, FakeClock)
    other.__exit__(None, None, None)
    service = container.resolve_sync(Service)
    assert (type(service.database), type(service.clock)) == (Database, FakeClock)
    clock.__exit__(None, None, None)
    service = container.resolve_sync(Service)
    assert (type(service.database), type(service.clock)) == (Database, Clock)
