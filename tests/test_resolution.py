"""Autowiring and resolution: what gets built, from what, and how often."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Annotated, Generic, NewType, Protocol, TypeVar

import anyio
import anyio.lowlevel
import pytest

from injectq_like import (
    AsyncProviderError,
    Container,
    Inject,
    Lazy,
    MissingProviderError,
    Named,
    Scope,
)
from injectq_like._container import runtime_of

T = TypeVar("T")


class Settings:
    def __init__(self, dsn: str = "sqlite://") -> None:
        self.dsn = dsn


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class UserRepo(Protocol):
    def name(self) -> str: ...


class SqlUserRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def name(self) -> str:
        return "sql"


class UserService:
    def __init__(self, repo: UserRepo, settings: Settings) -> None:
        self.repo = repo
        self.settings = settings


class Notifier(abc.ABC):
    @abc.abstractmethod
    def send(self) -> str: ...


class EmailNotifier(Notifier):
    def send(self) -> str:
        return "email"


class User:
    pass


class Order:
    pass


class Repo(Generic[T]):
    pass


class UserStore(Repo[User]):
    pass


class OrderStore(Repo[Order]):
    pass


class Cache:
    pass


class RedisCache(Cache):
    pass


class MemoryCache(Cache):
    pass


def make_container() -> Container:
    container = Container()
    container.register(Settings, instance=Settings("postgres://"))
    container.register(Database, scope=Scope.APP)
    container.register(UserRepo, SqlUserRepo)
    container.register(UserService)
    return container


@pytest.mark.anyio
async def test_graph_is_autowired_from_init_annotations() -> None:
    """Each constructor receives the instances its annotations name."""
    container = make_container()
    service = await container.resolve(UserService)
    assert isinstance(service.repo, SqlUserRepo)
    assert service.settings.dsn == "postgres://"
    assert service.repo.db.settings is service.settings


@pytest.mark.anyio
async def test_app_is_shared_and_transient_is_fresh() -> None:
    """APP instances are created once per container; TRANSIENT ones at every injection point."""
    container = make_container()
    first = await container.resolve(UserService)
    second = await container.resolve(UserService)
    assert first is not second
    assert first.repo is not second.repo
    assert isinstance(first.repo, SqlUserRepo)
    assert isinstance(second.repo, SqlUserRepo)
    assert first.repo.db is second.repo.db
    assert container.resolve_sync(Database) is first.repo.db


def test_resolve_sync_builds_the_same_graph() -> None:
    """resolve_sync builds a sync graph without an event loop."""
    container = make_container()
    service = container.resolve_sync(UserService)
    assert service.repo.name() == "sql"
    assert container.resolve_sync(Settings) is service.settings


def test_two_containers_do_not_share_instances() -> None:
    """An APP instance belongs to its container."""
    one, two = make_container(), make_container()
    assert one.resolve_sync(Database) is not two.resolve_sync(Database)
    assert one.resolve_sync(Database) is one.resolve_sync(Database)


def test_transient_diamond_gets_two_instances() -> None:
    """Two dependents of a TRANSIENT each get their own instance."""

    class Leaf:
        pass

    class Left:
        def __init__(self, leaf: Leaf) -> None:
            self.leaf = leaf

    class Right:
        def __init__(self, leaf: Leaf) -> None:
            self.leaf = leaf

    class Top:
        def __init__(self, left: Left, right: Right) -> None:
            self.left, self.right = left, right

    container = Container()
    for cls in (Leaf, Left, Right, Top):
        container.register(cls)
    top = container.resolve_sync(Top)
    assert top.left.leaf is not top.right.leaf


def test_app_diamond_shares_one_instance() -> None:
    """Two dependents of an APP provider get the same instance."""

    class Leaf:
        pass

    class Left:
        def __init__(self, leaf: Leaf) -> None:
            self.leaf = leaf

    class Right:
        def __init__(self, leaf: Leaf) -> None:
            self.leaf = leaf

    class Top:
        def __init__(self, left: Left, right: Right) -> None:
            self.left, self.right = left, right

    container = Container()
    container.register(Leaf, scope=Scope.APP)
    for cls in (Left, Right, Top):
        container.register(cls)
    top = container.resolve_sync(Top)
    assert top.left.leaf is top.right.leaf


class NeedsOptional:
    def __init__(self, cache: Cache | None, notifier: Notifier | None = None) -> None:
        self.cache = cache
        self.notifier = notifier


def test_optional_dependency_is_none_when_unregistered() -> None:
    """``T | None`` gets ``None`` when T has no provider, the instance when it has one."""
    container = Container()
    container.register(NeedsOptional)
    assert container.resolve_sync(NeedsOptional).cache is None

    container = Container()
    container.register(NeedsOptional)
    container.register(Cache, RedisCache)
    container.register(Notifier, EmailNotifier)
    built = container.resolve_sync(NeedsOptional)
    assert isinstance(built.cache, RedisCache)
    assert isinstance(built.notifier, EmailNotifier)


class WithDefaults:
    def __init__(self, settings: Settings = Settings("default"), retries: int = 3, *, label: str = "x") -> None:  # noqa: B008
        self.settings = settings
        self.retries = retries
        self.label = label


def test_default_is_used_unless_the_type_is_registered() -> None:
    """A parameter with a default is injected only when its type is registered."""
    container = Container()
    container.register(WithDefaults)
    built = container.resolve_sync(WithDefaults)
    assert built.settings.dsn == "default"
    assert built.retries == 3
    assert built.label == "x"

    container = Container()
    container.register(WithDefaults)
    container.register(Settings, instance=Settings("registered"))
    container.register(str, instance="injected")
    built = container.resolve_sync(WithDefaults)
    assert built.settings.dsn == "registered"
    assert built.retries == 3
    assert built.label == "injected"


def test_protocol_and_abc_keys() -> None:
    """Protocol and ABC interfaces are keys bound to implementations."""
    container = Container()
    container.register(Notifier, EmailNotifier)
    container.register(UserRepo, SqlUserRepo)
    container.register(Database)
    container.register(Settings)
    assert container.resolve_sync(Notifier).send() == "email"
    assert container.resolve_sync(UserRepo).name() == "sql"


def test_generic_aliases_are_distinct_keys() -> None:
    """``Repo[User]`` and ``Repo[Order]`` are two keys."""

    class Consumer:
        def __init__(self, users: Repo[User], orders: Repo[Order]) -> None:
            self.users, self.orders = users, orders

    container = Container()
    container.register(Repo[User], UserStore)
    container.register(Repo[Order], OrderStore)
    container.register(Consumer)
    consumer = container.resolve_sync(Consumer)
    assert type(consumer.users) is UserStore
    assert type(consumer.orders) is OrderStore
    assert type(container.resolve_sync(Repo[Order])) is OrderStore


UserId = NewType("UserId", int)


def test_newtype_key() -> None:
    """A NewType is a key of its own, distinct from its supertype."""

    class NeedsId:
        def __init__(self, user_id: UserId, count: int) -> None:
            self.user_id, self.count = user_id, count

    container = Container()
    container.register(UserId, instance=UserId(7))
    container.register(int, instance=3)
    container.register(NeedsId)
    built = container.resolve_sync(NeedsId)
    assert (built.user_id, built.count) == (7, 3)


def test_named_registrations() -> None:
    """``name=`` registrations are consumed as ``Annotated[T, Named(...)]``, apart from the unnamed one."""

    class Consumer:
        def __init__(
            self,
            fast: Annotated[Cache, Named("memory")],
            shared: Annotated[Cache, Named("redis")],
            default: Cache,
        ) -> None:
            self.fast, self.shared, self.default = fast, shared, default

    container = Container()
    container.register(Cache, MemoryCache, name="memory")
    container.register(Cache, RedisCache, name="redis", scope=Scope.APP)
    container.register(Cache, MemoryCache)
    container.register(Consumer)
    consumer = container.resolve_sync(Consumer)
    assert type(consumer.fast) is MemoryCache
    assert type(consumer.shared) is RedisCache
    assert type(consumer.default) is MemoryCache
    assert container.resolve_sync(Annotated[Cache, Named("redis")]) is consumer.shared


def test_other_annotated_metadata_is_ignored() -> None:
    """``Annotated[T, "doc"]`` is the key T."""

    class Consumer:
        def __init__(self, cache: Annotated[Cache, "the cache"]) -> None:
            self.cache = cache

    container = Container()
    container.register(Cache, RedisCache)
    container.register(Consumer)
    assert type(container.resolve_sync(Consumer).cache) is RedisCache


class Exporter:
    pass


class CsvExporter(Exporter):
    pass


class JsonExporter(Exporter):
    pass


def test_multi_collections_in_registration_order() -> None:
    """``list[T]`` gets every ``multi=True`` provider of T, in registration order."""

    class Report:
        def __init__(self, exporters: list[Exporter]) -> None:
            self.exporters = exporters

    container = Container()
    container.register(Exporter, CsvExporter, multi=True)
    container.register(Exporter, JsonExporter, multi=True, scope=Scope.APP)
    container.register(Report)
    first = container.resolve_sync(Report)
    second = container.resolve_sync(Report)
    assert [type(e) for e in first.exporters] == [CsvExporter, JsonExporter]
    assert first.exporters[0] is not second.exporters[0]
    assert first.exporters[1] is second.exporters[1]
    assert [type(e) for e in container.resolve_sync(list[Exporter])] == [CsvExporter, JsonExporter]


def test_empty_collection() -> None:
    """A ``list[T]`` dependency with no ``multi=True`` registration gets ``[]``."""

    class Report:
        def __init__(self, exporters: list[Exporter]) -> None:
            self.exporters = exporters

    container = Container()
    container.register(Report)
    assert container.resolve_sync(Report).exporters == []


def test_keyword_only_and_positional_only_parameters() -> None:
    """Positional-only and keyword-only parameters are both injected."""

    class Mixed:
        def __init__(self, settings: Settings, /, db: Database, *, cache: Cache) -> None:
            self.settings, self.db, self.cache = settings, db, cache

    container = make_container()
    container.register(Cache, MemoryCache)
    container.register(Mixed)
    mixed = container.resolve_sync(Mixed)
    assert mixed.settings.dsn == "postgres://"
    assert mixed.db.settings is mixed.settings
    assert type(mixed.cache) is MemoryCache


def test_var_args_are_left_alone() -> None:
    """``*args`` and ``**kwargs`` are not dependencies."""

    class Flexible:
        def __init__(self, settings: Settings, *args: int, **kwargs: str) -> None:
            self.settings, self.args, self.kwargs = settings, args, kwargs

    container = make_container()
    container.register(Flexible)
    flexible = container.resolve_sync(Flexible)
    assert (flexible.args, flexible.kwargs) == ((), {})


def test_class_without_init() -> None:
    """A class with no ``__init__`` of its own has no dependencies."""

    class Plain:
        pass

    container = Container()
    container.register(Plain)
    assert isinstance(container.resolve_sync(Plain), Plain)


built: list[str] = []


class Unregistered:
    def __init__(self) -> None:
        built.append("Unregistered")


class Needs:
    def __init__(self, dep: Unregistered) -> None:
        self.dep = dep


def test_unregistered_class_is_never_built() -> None:
    """Only registered types are built: an unregistered dependency is an error, not a guess."""
    container = Container()
    container.register(Needs)
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(Needs)
    assert built == []
    assert caught.value.key is Unregistered
    assert caught.value.path == (Needs, Unregistered)
    assert "Needs -> Unregistered" in str(caught.value)
    with pytest.raises(MissingProviderError) as direct:
        container.resolve_sync(Unregistered)
    assert direct.value.path == (Unregistered,)
    assert built == []


# -- factories -------------------------------------------------------------------------


def test_sync_factory_with_dependencies() -> None:
    """A factory's parameters are autowired like a constructor's."""

    def open_database(settings: Settings) -> Database:
        return Database(Settings(settings.dsn + "?pool=5"))

    container = Container()
    container.register(Settings, instance=Settings("sqlite://"))
    container.register(factory=open_database, scope=Scope.APP)
    assert container.resolve_sync(Database).settings.dsn == "sqlite://?pool=5"


@pytest.mark.anyio
async def test_async_factory() -> None:
    """An ``async def`` factory is awaited by resolve."""

    async def open_database(settings: Settings) -> Database:
        await anyio.lowlevel.checkpoint()
        return Database(settings)

    container = Container()
    container.register(Settings)
    container.register(factory=open_database, scope=Scope.APP)
    container.register(UserRepo, SqlUserRepo)
    repo = await container.resolve(UserRepo)
    assert isinstance(repo, SqlUserRepo)
    assert repo.db is await container.resolve(Database)


@pytest.mark.anyio
async def test_sync_def_returning_an_awaitable_is_awaited() -> None:
    """A plain ``def`` annotated ``-> Awaitable[T]`` provides T and is awaited."""

    async def build() -> Database:
        return Database(Settings("awaited"))

    def open_database() -> Awaitable[Database]:
        return build()

    container = Container()
    container.register(factory=open_database)
    assert (await container.resolve(Database)).settings.dsn == "awaited"


@pytest.mark.anyio
async def test_generator_factories_provide_what_they_yield() -> None:
    """Generator and async generator factories provide their yielded value and clean up at close."""
    events: list[str] = []

    def settings() -> Iterator[Settings]:
        events.append("settings opened")
        yield Settings("generated")
        events.append("settings closed")

    async def database(settings: Settings) -> AsyncIterator[Database]:
        events.append("database opened")
        yield Database(settings)
        events.append("database closed")

    container = Container()
    container.register(factory=settings, scope=Scope.APP)
    container.register(factory=database, scope=Scope.APP)
    db = await container.resolve(Database)
    assert db.settings.dsn == "generated"
    assert events == ["settings opened", "database opened"]
    await container.aclose()
    assert events == ["settings opened", "database opened", "database closed", "settings closed"]


@pytest.mark.anyio
async def test_factory_registered_under_an_explicit_key() -> None:
    """A factory registered with a key needs no return annotation."""

    def make():  # type: ignore[no-untyped-def]  # noqa: ANN202 - the point of the test
        return SqlUserRepo(Database(Settings()))

    container = Container()
    container.register(UserRepo, factory=make)
    assert (await container.resolve(UserRepo)).name() == "sql"


def test_provider_decorator() -> None:
    """``@container.provider`` registers the function and returns it unchanged."""
    container = Container()

    @container.provider(scope=Scope.APP)
    def settings() -> Settings:
        return Settings("decorated")

    @container.provider
    def database(settings: Settings) -> Database:
        return Database(settings)

    assert settings().dsn == "decorated"
    assert container.resolve_sync(Database).settings is container.resolve_sync(Settings)


def test_override_true_replaces_a_registration() -> None:
    """``override=True`` replaces the provider of a key."""
    container = Container()
    container.register(Cache, MemoryCache)
    container.register(Cache, RedisCache, override=True)
    assert type(container.resolve_sync(Cache)) is RedisCache


# -- async graphs and resolve_sync ---------------------------------------------------------


class Connection:
    pass


async def connect() -> Connection:
    await anyio.lowlevel.checkpoint()
    return Connection()


class Dao:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection


def test_resolve_sync_names_the_async_provider_and_path() -> None:
    """resolve_sync on a graph needing an async factory raises AsyncProviderError with the path."""
    container = Container()
    container.register(factory=connect)
    container.register(Dao)
    with pytest.raises(AsyncProviderError) as caught:
        container.resolve_sync(Dao)
    error = caught.value
    assert error.key is Connection
    assert error.path == (Dao, Connection)
    assert "async factory connect()" in str(error)
    assert "Dao -> Connection" in str(error)
    assert "await container.resolve" in str(error)


@pytest.mark.anyio
async def test_resolve_sync_serves_an_async_app_instance_that_exists() -> None:
    """Once an async APP instance exists, resolve_sync can use it."""
    container = Container()
    container.register(factory=connect, scope=Scope.APP)
    container.register(Dao)
    with pytest.raises(AsyncProviderError):
        container.resolve_sync(Dao)
    connection = await container.resolve(Connection)
    assert container.resolve_sync(Dao).connection is connection


@pytest.mark.anyio
async def test_resolve_mixes_sync_and_async() -> None:
    """resolve awaits only what needs it; the sync parts are built in place."""
    container = Container()
    container.register(factory=connect)
    container.register(Dao)
    container.register(Settings)
    first, second = await container.resolve(Dao), await container.resolve(Dao)
    assert first.connection is not second.connection


# -- container.call ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_call_injects_inject_parameters() -> None:
    """``container.call`` resolves the Inject[...] parameters the caller left out."""
    container = make_container()

    async def handler(user_id: int, service: Inject[UserService], *, verbose: bool = False) -> tuple[int, str, bool]:
        return user_id, service.repo.name(), verbose

    def sync_handler(service: Inject[UserService], label: str) -> str:
        return f"{label}:{service.settings.dsn}"

    assert await container.call(handler, 42) == (42, "sql", False)
    assert await container.call(handler, 1, verbose=True) == (1, "sql", True)
    assert await container.call(sync_handler, label="dsn") == "dsn:postgres://"


@pytest.mark.anyio
async def test_call_keeps_explicit_arguments() -> None:
    """An argument passed explicitly is never replaced, positionally or by keyword."""
    container = make_container()
    marker = UserService(SqlUserRepo(Database(Settings("mine"))), Settings("mine"))

    async def handler(service: Inject[UserService], tag: str = "") -> str:
        return service.settings.dsn + tag

    assert await container.call(handler, marker) == "mine"
    assert await container.call(handler, service=marker, tag="!") == "mine!"
    assert await container.call(handler) == "postgres://"


@pytest.mark.anyio
async def test_call_with_lazy_and_named_parameters() -> None:
    """``Inject[Lazy[T]]`` gets a handle resolved on first await; named keys work in Inject."""
    container = Container()
    created: list[Cache] = []

    def make_cache() -> Cache:
        cache = RedisCache()
        created.append(cache)
        return cache

    container.register(Cache, factory=make_cache, name="redis", scope=Scope.APP)

    async def handler(cache: Inject[Lazy[Annotated[Cache, Named("redis")]]]) -> Cache:
        assert created == []
        value = await cache()
        assert await cache() is value
        return value

    result = await container.call(handler)
    assert created == [result]


@pytest.mark.anyio
async def test_call_method() -> None:
    """Bound methods are called with their Inject[...] parameters resolved."""
    container = make_container()

    class Controller:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        async def show(self, service: Inject[UserService]) -> str:
            return self.prefix + service.repo.name()

    assert await container.call(Controller("a:").show) == "a:sql"
    assert await container.call(Controller("b:").show) == "b:sql"


# -- Lazy and cycles --------------------------------------------------------------------------


class Chicken:
    def __init__(self, egg: Lazy[Egg]) -> None:
        self.egg = egg


class Egg:
    def __init__(self, chicken: Chicken) -> None:
        self.chicken = chicken


@pytest.mark.anyio
async def test_lazy_breaks_a_cycle() -> None:
    """A Lazy[T] edge is resolved on first await, so it may point back up the graph."""
    container = Container()
    container.register(Chicken, scope=Scope.APP)
    container.register(Egg)
    container.validate()
    chicken = await container.resolve(Chicken)
    states = [chicken.egg.resolved]
    egg = await chicken.egg()
    assert egg.chicken is chicken
    assert await chicken.egg() is egg
    states.append(chicken.egg.resolved)
    assert states == [False, True]
    assert "resolved" in repr(chicken.egg)


# -- plans ---------------------------------------------------------------------------------------


def test_explain_shows_the_compiled_plan() -> None:
    """``explain`` returns the generated source, a transient graph inlined as constructor calls."""

    class Leaf:
        pass

    class Root:
        def __init__(self, leaf: Leaf) -> None:
            self.leaf = leaf

    container = Container()
    container.register(Leaf)
    container.register(Root)
    source = container.explain(Root)
    assert "def resolve_Root(scope):" in source
    assert "return p1(p0())" in source


def test_plans_are_compiled_once() -> None:
    """Resolving the same key again reuses its plan: no signature is read on the hot path."""
    calls: list[int] = []

    class Counted:
        def __init__(self) -> None:
            calls.append(1)

    container = Container()
    container.register(Counted)
    container.resolve_sync(Counted)
    plan = runtime_of(container).sync_resolvers[Counted]
    for _ in range(3):
        container.resolve_sync(Counted)
    assert runtime_of(container).sync_resolvers[Counted] is plan
    assert len(calls) == 4
