"""``container.override``: replacing providers for a while, globally or for one context."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from injectq_like import Container, RegistrationError, Scope
from injectq_like._container import runtime_of


class Database:
    def __init__(self, name: str = "real") -> None:
        self.name = name


class FakeDatabase(Database):
    def __init__(self) -> None:
        super().__init__("fake")


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db


class Service:
    def __init__(self, repository: Repository) -> None:
        self.repository = repository


class Clock:
    pass


class Unrelated:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


def make_container() -> Container:
    container = Container()
    container.register(Database, scope=Scope.APP)
    container.register(Repository, scope=Scope.APP)
    container.register(Service)
    container.register(Clock, scope=Scope.APP)
    container.register(Unrelated, scope=Scope.APP)
    return container


def test_instance_override_is_returned_everywhere_and_undone() -> None:
    """An ``instance=`` override is what every injection point gets, until the block ends."""
    container = make_container()
    real = container.resolve_sync(Service)
    fake = FakeDatabase()
    with container.override(Database, instance=fake):
        assert container.resolve_sync(Database) is fake
        assert container.resolve_sync(Service).repository.db is fake
    assert container.resolve_sync(Database) is real.repository.db
    assert container.resolve_sync(Service).repository is real.repository


def test_cached_dependents_are_not_served_stale() -> None:
    """APP instances built from the overridden key are rebuilt during the override, and not kept after."""
    container = make_container()
    before = container.resolve_sync(Repository)
    unrelated = container.resolve_sync(Unrelated)
    with container.override(Database, FakeDatabase):
        during = container.resolve_sync(Repository)
        assert during is not before
        assert during.db.name == "fake"
        assert container.resolve_sync(Repository) is during  # still APP: one per override
        assert container.resolve_sync(Unrelated) is unrelated  # untouched by the override
    assert container.resolve_sync(Repository) is before


def test_override_keeps_the_lifetime_unless_given_one() -> None:
    """A class override keeps the APP lifetime of what it replaces; ``scope=`` changes it."""
    container = make_container()
    with container.override(Database, FakeDatabase):
        assert container.resolve_sync(Database) is container.resolve_sync(Database)
    with container.override(Database, FakeDatabase, scope=Scope.TRANSIENT):
        assert container.resolve_sync(Database) is not container.resolve_sync(Database)


def test_factory_override_and_nesting() -> None:
    """Overrides nest; each exit restores what was active before it."""
    container = make_container()
    with container.override(Database, factory=lambda: Database("outer")):
        assert container.resolve_sync(Database).name == "outer"
        with container.override(Database, factory=lambda: Database("inner")):
            assert container.resolve_sync(Service).repository.db.name == "inner"
        assert container.resolve_sync(Service).repository.db.name == "outer"
    assert container.resolve_sync(Database).name == "real"


def test_override_works_on_a_frozen_container_and_can_add_a_key() -> None:
    """override() works after the freeze, even for a key that was never registered."""

    class Extra:
        pass

    container = make_container()
    container.validate()
    with pytest.raises(RegistrationError):
        container.register(Extra)
    extra = Extra()
    with container.override(Extra, instance=extra):
        assert container.resolve_sync(Extra) is extra


@pytest.mark.anyio
async def test_sync_override_of_an_async_provider() -> None:
    """A plain instance or sync factory may replace an async factory; resolve_sync then works."""

    async def connect() -> AsyncIterator[Database]:
        yield Database("async")

    container = Container()
    container.register(Database, factory=connect, scope=Scope.REQUEST)
    container.register(Repository)
    async with container.scope() as scope:
        assert (await scope.resolve(Repository)).db.name == "async"
        with container.override(Database, factory=lambda: Database("sync")):
            assert scope.resolve_sync(Repository).db.name == "sync"
            assert (await scope.resolve(Repository)).db.name == "sync"


@pytest.mark.anyio
async def test_async_with_override() -> None:
    """The override is usable as an async context manager too."""
    container = make_container()
    fake = FakeDatabase()
    async with container.override(Database, instance=fake) as active:
        assert await container.resolve(Database) is fake
        assert "active" in repr(active)
    assert await container.resolve(Database) is not fake


@pytest.mark.anyio
async def test_local_overrides_are_invisible_to_other_tasks() -> None:
    """``local=True``: concurrent tasks each see only their own override."""
    container = make_container()
    seen: dict[str, list[str]] = {}
    both_inside = anyio.Event()
    inside = 0

    async def test_case(name: str) -> None:
        nonlocal inside
        with container.override(Database, factory=lambda: Database(name), local=True):
            inside += 1
            if inside == 2:
                both_inside.set()
            await both_inside.wait()
            seen[name] = [
                (await container.resolve(Database)).name,
                container.resolve_sync(Service).repository.db.name,
            ]

    async with anyio.create_task_group() as group:
        group.start_soon(test_case, "first")
        group.start_soon(test_case, "second")
        await both_inside.wait()
        assert (await container.resolve(Database)).name == "real"  # the parent task sees no override
    assert seen == {"first": ["first", "first"], "second": ["second", "second"]}
    assert container.resolve_sync(Database).name == "real"
    assert runtime_of(container).layers.local_count == 0


@pytest.mark.anyio
async def test_local_override_seen_by_tasks_it_starts() -> None:
    """Tasks started inside a local override see it."""
    container = make_container()
    fake = FakeDatabase()
    found: list[Database] = []

    async def child() -> None:
        found.append(await container.resolve(Database))

    with container.override(Database, instance=fake, local=True):
        async with anyio.create_task_group() as group:
            group.start_soon(child)
    assert found == [fake]


def test_override_of_a_multi_key_is_rejected() -> None:
    """multi=True registrations are collections: override() names what to do instead."""
    container = Container()
    container.register(Clock, multi=True)
    with pytest.raises(RegistrationError, match="multi=True"):
        container.override(Clock, Clock)


def test_an_override_enters_once() -> None:
    """Entering the same override object twice is an error."""
    container = make_container()
    override = container.override(Database, FakeDatabase)
    with override, pytest.raises(RegistrationError, match="active already"), override:
        pass  # pragma: no cover - never reached
