"""``@inject``: resolving a handler's ``Inject[...]`` parameters when it is called."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
import pytest

import injectq_like._handlers
from injectq_like import (
    AsyncProviderError,
    Container,
    Inject,
    Lazy,
    MissingProviderError,
    Named,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    inject,
)


class Settings:
    def __init__(self, dsn: str = "sqlite://") -> None:
        self.dsn = dsn


class UserRepo:
    pass


class FakeRepo(UserRepo):
    pass


class Cache:
    pass


class RedisCache(Cache):
    pass


class MemoryCache(Cache):
    pass


class Exporter:
    pass


class CsvExporter(Exporter):
    pass


class JsonExporter(Exporter):
    pass


class AuditLog:
    pass


class Clock:
    pass


class Connection:
    pass


class Service:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class Unregistered:
    pass


class HandlerFailedError(Exception):
    pass


UNREGISTERED_DEFAULT = Unregistered()
SETTINGS_DEFAULT = Settings("default")
APP_SETTINGS = Settings("postgres://")


class Counted:
    """A container whose REQUEST ``UserRepo`` and ``AuditLog`` factories record what they create."""

    def __init__(self, repo_scope: Scope = Scope.REQUEST, audit_scope: Scope = Scope.REQUEST) -> None:
        self.repos: list[UserRepo] = []
        self.audits: list[AuditLog] = []
        self.container = Container()
        self.container.register(Settings, instance=APP_SETTINGS)
        self.container.register(UserRepo, factory=self._make_repo, scope=repo_scope)
        self.container.register(AuditLog, factory=self._make_audit, scope=audit_scope)
        self.container.register(Clock, scope=Scope.APP)

    def _make_repo(self) -> UserRepo:
        repo = UserRepo()
        self.repos.append(repo)
        return repo

    def _make_audit(self) -> AuditLog:
        audit = AuditLog()
        self.audits.append(audit)
        return audit


# -- resolution at call time ------------------------------------------------------------


@pytest.mark.anyio
async def test_async_handler_gets_the_open_scopes_instances() -> None:
    """Inject[T] parameters come from the current scope; the others are the caller's."""
    counted = Counted()

    @inject
    async def handler(
        user_id: int, repo: Inject[UserRepo], settings: Inject[Settings]
    ) -> tuple[int, UserRepo, Settings]:
        return user_id, repo, settings

    async with counted.container.scope() as scope:
        user_id, repo, settings = await handler(7)
        assert user_id == 7
        assert repo is await scope.resolve(UserRepo)
        assert settings is APP_SETTINGS
        assert (await handler(user_id=8))[1] is repo
    async with counted.container.scope() as other:
        _, second, _ = await handler(9)
        assert second is await other.resolve(UserRepo)
        assert second is not repo
    assert counted.repos == [repo, second]


@pytest.mark.anyio
async def test_sync_handler_gets_the_open_scopes_instances() -> None:
    """@inject on a plain def resolves with resolve_sync, from the current scope."""
    counted = Counted()

    @inject
    def handler(user_id: int, repo: Inject[UserRepo], clock: Inject[Clock]) -> tuple[int, UserRepo, Clock]:
        return user_id, repo, clock

    async with counted.container.scope() as scope:
        user_id, repo, clock = handler(3)
        assert user_id == 3
        assert repo is await scope.resolve(UserRepo)
        assert clock is await counted.container.resolve(Clock)
        assert handler(4)[1] is repo
    assert counted.repos == [repo]


@pytest.mark.anyio
async def test_explicit_arguments_win_and_nothing_is_resolved() -> None:
    """With every injected argument passed (positionally or by keyword) nothing is resolved: no scope is needed."""
    counted = Counted()
    fake = FakeRepo()
    settings = Settings("explicit")

    @inject
    async def handler(
        user_id: int, repo: Inject[UserRepo], settings: Inject[Settings]
    ) -> tuple[int, UserRepo, Settings]:
        return user_id, repo, settings

    @inject
    def sync_handler(user_id: int, repo: Inject[UserRepo]) -> tuple[int, UserRepo]:
        return user_id, repo

    assert await handler(1, fake, settings) == (1, fake, settings)
    assert await handler(2, repo=fake, settings=settings) == (2, fake, settings)
    assert await handler(settings=settings, repo=fake, user_id=3) == (3, fake, settings)
    assert sync_handler(4, fake) == (4, fake)
    assert sync_handler(5, repo=fake) == (5, fake)
    assert counted.repos == []
    # Nothing was even looked up: the registry is still open for registration.
    counted.container.register(Unregistered)


@pytest.mark.anyio
async def test_an_explicit_argument_wins_and_the_others_are_resolved() -> None:
    """Passing some injected arguments resolves only the ones left out."""
    counted = Counted()
    fake = FakeRepo()

    @inject
    async def handler(repo: Inject[UserRepo], audit: Inject[AuditLog]) -> tuple[UserRepo, AuditLog]:
        return repo, audit

    async with counted.container.scope() as scope:
        repo, audit = await handler(fake)
        assert repo is fake
        assert audit is await scope.resolve(AuditLog)
        repo, audit = await handler(audit=AuditLog())
        assert repo is await scope.resolve(UserRepo)
    assert counted.repos == [repo]
    assert len(counted.audits) == 1


@pytest.mark.anyio
async def test_positional_call_matching_the_visible_signature() -> None:
    """An injected parameter before the caller's: a call that fits the visible signature works.

    The wrapper advertises ``(user_id: int)``, so ``handler(5)`` passes ``user_id``;
    passing every parameter positionally still hands the injected one explicitly.
    """
    counted = Counted()
    fake = FakeRepo()

    @inject
    async def handler(repo: Inject[UserRepo], user_id: int) -> tuple[UserRepo, int]:
        return repo, user_id

    assert list(inspect.signature(handler).parameters) == ["user_id"]
    async with counted.container.scope() as scope:
        repo = await scope.resolve(UserRepo)
        assert await handler(user_id=5) == (repo, 5)
        assert await handler(fake, 6) == (fake, 6)
        inspect.signature(handler).bind(7)  # the advertised signature accepts one positional argument
        assert await handler(7) == (repo, 7)


@pytest.mark.anyio
async def test_keyword_only_injected_parameter() -> None:
    """A keyword-only Inject[T] parameter is resolved too, and an explicit keyword wins."""
    counted = Counted()
    fake = FakeRepo()

    @inject
    async def handler(user_id: int, *, repo: Inject[UserRepo], verbose: bool = False) -> tuple[int, UserRepo, bool]:
        return user_id, repo, verbose

    async with counted.container.scope() as scope:
        assert await handler(1, verbose=True) == (1, await scope.resolve(UserRepo), True)
        assert await handler(2, repo=fake) == (2, fake, False)
    assert len(counted.repos) == 1


@pytest.mark.anyio
async def test_named_dependency() -> None:
    """Inject[Annotated[T, Named("x")]] gets the named registration, Inject[T] the unnamed one."""
    container = Container()
    container.register(Cache, MemoryCache)
    container.register(Cache, RedisCache, name="redis")

    @inject
    async def handler(redis: Inject[Annotated[Cache, Named("redis")]], plain: Inject[Cache]) -> tuple[Cache, Cache]:
        return redis, plain

    async with container.scope():
        redis, plain = await handler()
    assert type(redis) is RedisCache
    assert type(plain) is MemoryCache


def resolved(handle: Lazy[Any]) -> bool:
    """Whether a Lazy handle has resolved (a call, so that a type checker does not narrow it)."""
    return handle.resolved


@pytest.mark.anyio
async def test_lazy_is_resolved_on_first_await_in_the_scope_it_was_made_in() -> None:
    """Inject[Lazy[T]] is a handle: nothing is created until awaited, then the same object every time."""
    counted = Counted()

    @inject
    async def handler(repo: Inject[Lazy[UserRepo]]) -> Lazy[UserRepo]:
        return repo

    async with counted.container.scope() as outer:
        handle = await handler()
        assert isinstance(handle, Lazy)
        assert not resolved(handle)
        assert counted.repos == []
        async with outer.scope() as inner:
            value = await handle()
            assert value is await outer.resolve(UserRepo)
            assert value is not await inner.resolve(UserRepo)
        assert resolved(handle)
        assert await handle() is value
    assert len(counted.repos) == 2
    assert counted.repos[0] is value


@pytest.mark.anyio
async def test_lazy_in_a_sync_handler() -> None:
    """A sync handler gets a Lazy handle too, without resolving anything."""
    counted = Counted()

    @inject
    def handler(repo: Inject[Lazy[UserRepo]]) -> Lazy[UserRepo]:
        return repo

    async with counted.container.scope() as scope:
        handle = handler()
        assert counted.repos == []
        assert await handle() is await scope.resolve(UserRepo)
    assert len(counted.repos) == 1


@pytest.mark.anyio
async def test_list_of_multi_providers() -> None:
    """Inject[list[T]] gets every multi=True provider in registration order, [] when there is none."""
    container = Container()
    container.register(Exporter, CsvExporter, multi=True)
    container.register(Exporter, JsonExporter, multi=True)

    @inject
    async def handler(exporters: Inject[list[Exporter]], audits: Inject[list[AuditLog]]) -> list[object]:
        return [*exporters, audits]

    async with container.scope():
        result = await handler()
    assert [type(item) for item in result[:2]] == [CsvExporter, JsonExporter]
    assert result[2] == []


@pytest.mark.anyio
async def test_optional_gets_none_when_unregistered() -> None:
    """Inject[T | None] is None when T is not registered, the instance when it is."""
    counted = Counted()

    @inject
    async def handler(missing: Inject[Unregistered | None], repo: Inject[UserRepo | None]) -> tuple[object, object]:
        return missing, repo

    @inject
    def sync_handler(missing: Inject[Unregistered | None]) -> Unregistered | None:
        return missing

    async with counted.container.scope() as scope:
        missing, repo = await handler()
        assert missing is None
        assert repo is await scope.resolve(UserRepo)
        assert sync_handler() is None


@pytest.mark.anyio
async def test_default_is_kept_when_unregistered() -> None:
    """An Inject param with a default keeps it when its type is unregistered; a registered type is injected."""
    counted = Counted()

    @inject
    async def handler(
        missing: Inject[Unregistered] = UNREGISTERED_DEFAULT,
        settings: Inject[Settings] = SETTINGS_DEFAULT,
    ) -> tuple[Unregistered, Settings]:
        return missing, settings

    @inject
    def sync_handler(missing: Inject[Unregistered] = UNREGISTERED_DEFAULT) -> Unregistered:
        return missing

    async with counted.container.scope():
        assert await handler() == (UNREGISTERED_DEFAULT, APP_SETTINGS)
        assert sync_handler() is UNREGISTERED_DEFAULT


@pytest.mark.anyio
async def test_missing_provider_without_default() -> None:
    """An unregistered Inject[T] without a default is a MissingProviderError naming T."""
    counted = Counted()

    @inject
    async def handler(missing: Inject[Unregistered]) -> Unregistered:
        return missing  # pragma: no cover - never called

    async with counted.container.scope():
        with pytest.raises(MissingProviderError) as info:
            await handler()
    assert info.value.key is Unregistered
    assert "Unregistered" in str(info.value)


# -- which scope --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_innermost_scope_of_any_container() -> None:
    """@inject without container= uses the innermost scope open in this context, whatever its container."""
    first_settings, second_settings = Settings("first"), Settings("second")
    first, second = Container(), Container()
    first.register(Settings, instance=first_settings)
    first.register(UserRepo, scope=Scope.REQUEST)
    second.register(Settings, instance=second_settings)

    @inject
    async def settings_of(settings: Inject[Settings]) -> Settings:
        return settings

    @inject
    async def repo_of(repo: Inject[UserRepo]) -> UserRepo:
        return repo  # pragma: no cover - never called

    async with first.scope():
        assert await settings_of() is first_settings
        async with second.scope():
            assert await settings_of() is second_settings
            with pytest.raises(MissingProviderError):
                await repo_of()  # second is innermost, and provides no UserRepo
        assert await settings_of() is first_settings
    async with second.scope(), first.scope():
        assert await settings_of() is first_settings


@pytest.mark.anyio
async def test_no_scope_open_is_an_error_that_says_what_to_do() -> None:
    """@inject without container= and with no scope open: NoActiveScopeError with a hint."""
    counted = Counted(repo_scope=Scope.APP)

    @inject
    async def handler(clock: Inject[Clock]) -> Clock:
        return clock  # pragma: no cover - never called

    @inject
    def sync_handler(clock: Inject[Clock]) -> Clock:
        return clock  # pragma: no cover - never called

    for call in (handler, sync_handler):
        with pytest.raises(NoActiveScopeError) as info:
            result = call()
            if inspect.isawaitable(result):
                await result
        message = str(info.value)
        assert "async with container.scope()" in message
        assert "@inject(container=" in message
    assert counted.repos == []


@pytest.mark.anyio
async def test_tasks_started_in_a_scope_see_it() -> None:
    """Handlers called in tasks started inside a scope resolve from it."""
    counted = Counted()
    results: list[UserRepo] = []

    @inject
    async def handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    async def child() -> None:
        results.append(await handler())

    async with counted.container.scope() as scope:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(child)
        assert results == [await scope.resolve(UserRepo)] * 3
    assert len(counted.repos) == 1


@pytest.mark.anyio
async def test_a_scope_opened_in_a_child_task_is_invisible_to_its_parent() -> None:
    """The parent task does not see a scope its child opened: NoActiveScopeError there."""
    counted = Counted()
    opened = anyio.Event()
    release = anyio.Event()
    in_child: list[UserRepo] = []

    @inject
    async def handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    async def child() -> None:
        async with counted.container.scope() as scope:
            in_child.append(await handler())
            in_child.append(await scope.resolve(UserRepo))
            opened.set()
            await release.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(child)
        await opened.wait()
        with pytest.raises(NoActiveScopeError):
            await handler()
        release.set()
    assert in_child[0] is in_child[1]
    assert counted.repos == [in_child[0]]


@pytest.mark.anyio
async def test_container_argument_uses_that_containers_current_scope() -> None:
    """@inject(container=c) resolves from c's current scope, even when another container's scope is inner."""
    counted = Counted()
    other = Container()
    other.register(UserRepo, scope=Scope.REQUEST)

    @inject(container=counted.container)
    async def handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    @inject(container=counted.container)
    def sync_handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    async with counted.container.scope() as scope:
        expected = await scope.resolve(UserRepo)
        assert await handler() is expected
        async with other.scope() as inner:
            assert await handler() is expected
            assert sync_handler() is expected
            assert await inner.resolve(UserRepo) is not expected
    assert counted.repos == [expected]


@pytest.mark.anyio
async def test_container_argument_falls_back_to_the_app_scope() -> None:
    """@inject(container=c) with no scope of c open: APP and TRANSIENT work, REQUEST raises NoActiveScopeError."""
    counted = Counted()
    counted.container.register(Cache, MemoryCache)  # TRANSIENT
    other = Container()

    @inject(container=counted.container)
    async def handler(clock: Inject[Clock], cache: Inject[Cache]) -> tuple[Clock, Cache]:
        return clock, cache

    @inject(container=counted.container)
    def sync_handler(clock: Inject[Clock], cache: Inject[Cache]) -> tuple[Clock, Cache]:
        return clock, cache

    @inject(container=counted.container)
    async def needs_request(repo: Inject[UserRepo]) -> UserRepo:
        return repo  # pragma: no cover - never called

    @inject(container=counted.container)
    def sync_needs_request(repo: Inject[UserRepo]) -> UserRepo:
        return repo  # pragma: no cover - never called

    clock, cache = await handler()
    assert clock is await counted.container.resolve(Clock)
    sync_clock, sync_cache = sync_handler()
    assert sync_clock is clock
    assert isinstance(cache, MemoryCache)
    assert sync_cache is not cache
    async with other.scope():  # a scope of another container changes nothing
        assert (await handler())[0] is clock
    with pytest.raises(NoActiveScopeError) as info:
        await needs_request()
    assert info.value.key is UserRepo
    assert info.value.scope is Scope.REQUEST
    with pytest.raises(NoActiveScopeError):
        sync_needs_request()
    assert counted.repos == []


# -- uses= -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_uses_resolves_before_each_call_even_with_explicit_arguments() -> None:
    """uses=(T,) resolves T before every call; a REQUEST provider is so created once per scope."""
    counted = Counted()
    fake = FakeRepo()
    seen: list[int] = []

    @inject(uses=(AuditLog,))
    async def delete_user(user_id: int, repo: Inject[UserRepo]) -> UserRepo:
        seen.append(len(counted.audits))
        return repo

    @inject(uses=(AuditLog,))
    def sync_delete_user(user_id: int, repo: Inject[UserRepo]) -> UserRepo:
        seen.append(len(counted.audits))
        return repo

    async with counted.container.scope() as scope:
        assert await delete_user(1, repo=fake) is fake
        assert counted.audits == [await scope.resolve(AuditLog)]
        assert await delete_user(2, fake) is fake
        assert sync_delete_user(3, repo=fake) is fake
    assert len(counted.audits) == 1
    async with counted.container.scope():
        assert sync_delete_user(4, fake) is fake
        assert await delete_user(5) is counted.repos[0]
    assert len(counted.audits) == 2
    assert seen == [1, 1, 1, 2, 2]
    assert len(counted.repos) == 1


@pytest.mark.anyio
async def test_uses_needs_a_scope_even_with_explicit_arguments() -> None:
    """uses= resolves even when every injected argument is passed, so a REQUEST provider needs a scope."""
    counted = Counted()

    @inject(uses=(AuditLog,))
    async def handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo  # pragma: no cover - never called

    @inject(container=counted.container, uses=(AuditLog,))
    def sync_handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo  # pragma: no cover - never called

    with pytest.raises(NoActiveScopeError):
        await handler(FakeRepo())
    with pytest.raises(NoActiveScopeError) as info:
        sync_handler(FakeRepo())
    assert info.value.key is AuditLog
    assert counted.audits == []


@pytest.mark.anyio
async def test_uses_with_a_transient_provider_creates_one_per_call() -> None:
    """A TRANSIENT uses= provider is created before each call."""
    counted = Counted(audit_scope=Scope.TRANSIENT)

    @inject(container=counted.container, uses=(AuditLog,))
    async def handler() -> int:
        return len(counted.audits)

    assert [await handler(), await handler(), await handler()] == [1, 2, 3]


# -- the wrapper ---------------------------------------------------------------------------


async def get_user(user_id: int, repo: Inject[UserRepo], *, verbose: bool = False, cache: Inject[Cache]) -> str:
    """Fetch a user."""
    return f"{user_id}:{verbose}"  # pragma: no cover - never called


def count_users(repo: Inject[UserRepo], active: bool) -> int:
    """Count users."""
    return int(active)  # pragma: no cover - never called


def test_wrapper_keeps_metadata_and_hides_injected_parameters() -> None:
    """__name__, __doc__, __wrapped__ survive; the signature shows only the caller's (evaluated) parameters."""
    for function, name, doc in ((get_user, "get_user", "Fetch a user."), (count_users, "count_users", "Count users.")):
        wrapper: Any = inject(function)
        assert wrapper.__name__ == name
        assert wrapper.__qualname__ == name
        assert wrapper.__doc__ == doc
        assert wrapper.__wrapped__ is function
        assert inspect.iscoroutinefunction(wrapper) is inspect.iscoroutinefunction(function)

    signature = inspect.signature(inject(get_user))
    assert list(signature.parameters) == ["user_id", "verbose"]
    assert signature.parameters["user_id"].annotation is int
    assert signature.parameters["verbose"].annotation is bool
    assert signature.parameters["verbose"].default is False
    assert signature.parameters["verbose"].kind is inspect.Parameter.KEYWORD_ONLY
    assert signature.return_annotation is str

    sync_signature = inspect.signature(inject(count_users))
    assert list(sync_signature.parameters) == ["active"]
    assert sync_signature.parameters["active"].annotation is bool
    assert sync_signature.return_annotation is int


class Handlers:
    """Handlers as methods, static and class methods, with both decorator orders."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @inject
    async def method(self, user_id: int, repo: Inject[UserRepo]) -> tuple[str, int, UserRepo]:
        return self.prefix, user_id, repo

    @inject
    def sync_method(self, repo: Inject[UserRepo]) -> tuple[str, UserRepo]:
        return self.prefix, repo

    @staticmethod
    @inject
    async def static_outside(user_id: int, repo: Inject[UserRepo]) -> tuple[int, UserRepo]:
        return user_id, repo

    @inject
    @staticmethod
    async def static_inside(user_id: int, repo: Inject[UserRepo]) -> tuple[int, UserRepo]:
        return user_id, repo

    @inject
    @classmethod
    async def class_inside(cls, user_id: int, repo: Inject[UserRepo]) -> tuple[type[Handlers], int, UserRepo]:
        return cls, user_id, repo

    @classmethod
    @inject
    async def class_outside(cls, user_id: int, repo: Inject[UserRepo]) -> tuple[type[Handlers], int, UserRepo]:
        return cls, user_id, repo


@pytest.mark.anyio
async def test_methods_static_and_class_methods() -> None:
    """@inject works on methods, static and class methods; the signature hides the injected parameter."""
    counted = Counted()
    handlers = Handlers("h")
    async with counted.container.scope() as scope:
        repo = await scope.resolve(UserRepo)
        assert await handlers.method(1) == ("h", 1, repo)
        assert await handlers.method(2, FakeRepo()) != ("h", 2, repo)
        assert handlers.sync_method() == ("h", repo)
        assert await Handlers.static_outside(3) == (3, repo)
        assert await handlers.static_outside(4) == (4, repo)
        assert await Handlers.static_inside(5) == (5, repo)
        assert await handlers.static_inside(6) == (6, repo)
        assert await Handlers.class_inside(7) == (Handlers, 7, repo)
        assert await Handlers.class_outside(8) == (Handlers, 8, repo)
        assert await handlers.class_outside(9) == (Handlers, 9, repo)
    assert counted.repos == [repo]
    assert list(inspect.signature(Handlers.method).parameters) == ["self", "user_id"]
    assert list(inspect.signature(handlers.method).parameters) == ["user_id"]
    assert list(inspect.signature(Handlers.static_inside).parameters) == ["user_id"]
    assert list(inspect.signature(Handlers.class_inside).parameters) == ["user_id"]
    assert list(inspect.signature(Handlers.class_outside).parameters) == ["user_id"]
    assert isinstance(inspect.getattr_static(Handlers, "static_inside"), staticmethod)
    assert isinstance(inspect.getattr_static(Handlers, "class_inside"), classmethod)


@pytest.mark.anyio
async def test_sync_handler_in_a_worker_thread_sees_the_scope() -> None:
    """A sync handler run with anyio.to_thread.run_sync inside a scope resolves from that scope."""
    counted = Counted()

    @inject
    def handler(user_id: int, repo: Inject[UserRepo]) -> tuple[int, UserRepo, int]:
        return user_id, repo, threading.get_ident()

    async with counted.container.scope() as scope:
        user_id, repo, thread = await anyio.to_thread.run_sync(handler, 5)
        assert user_id == 5
        assert thread != threading.get_ident()
        assert repo is await scope.resolve(UserRepo)
    assert counted.repos == [repo]


@pytest.mark.anyio
async def test_injection_plan_is_computed_once_at_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler's annotations are read into a plan at the first call, and only then."""
    counted = Counted()
    planned: list[Callable[..., Any]] = []
    real = injectq_like._handlers.injected_parameters

    def counting(function: Callable[..., Any]) -> Any:
        planned.append(function)
        return real(function)

    monkeypatch.setattr(injectq_like._handlers, "injected_parameters", counting)

    async def raw(user_id: int, repo: Inject[UserRepo]) -> UserRepo:
        return repo

    def sync_raw(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    handler = inject(raw)
    sync_handler = inject(sync_raw)
    assert planned == []
    async with counted.container.scope():
        for user_id in range(5):
            await handler(user_id)
        await handler(5, FakeRepo())
        for _ in range(3):
            sync_handler()
    async with counted.container.scope():
        await handler(6)
    assert planned == [raw, sync_raw]


# -- errors and overrides ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_sync_handler_with_async_dependency() -> None:
    """A sync handler whose dependency needs an async factory raises AsyncProviderError; async works."""

    async def connect() -> Connection:
        return Connection()

    container = Container()
    container.register(Connection, factory=connect, scope=Scope.REQUEST)
    container.register(Service)

    @inject
    def sync_handler(service: Inject[Service]) -> Service:
        return service  # pragma: no cover - never called

    @inject
    async def handler(service: Inject[Service]) -> Service:
        return service

    async with container.scope() as scope:
        with pytest.raises(AsyncProviderError) as info:
            sync_handler()
        assert info.value.key is Connection
        assert "connect" in str(info.value)
        service = await handler()
        assert service.connection is await scope.resolve(Connection)


@pytest.mark.anyio
async def test_overrides_are_seen_by_handlers() -> None:
    """container.override(..., instance=fake) inside a scope is what handlers get, until it ends."""
    counted = Counted()
    fake = FakeRepo()

    @inject
    async def handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    @inject(container=counted.container)
    def sync_handler(repo: Inject[UserRepo]) -> UserRepo:
        return repo

    async with counted.container.scope():
        real = await handler()
        with counted.container.override(UserRepo, instance=fake):
            assert await handler() is fake
            assert sync_handler() is fake
        assert await handler() is real
        with counted.container.override(UserRepo, instance=fake, local=True):
            assert await handler() is fake
            assert sync_handler() is fake
        assert sync_handler() is real
    assert counted.repos == [real]


@pytest.mark.anyio
async def test_an_override_counts_as_registered_for_a_defaulted_parameter() -> None:
    """An Inject param with a default gets the override of its unregistered type, the default otherwise."""
    counted = Counted()
    override = Unregistered()

    @inject
    async def handler(thing: Inject[Unregistered] = UNREGISTERED_DEFAULT) -> Unregistered:
        return thing

    async with counted.container.scope():
        assert await handler() is UNREGISTERED_DEFAULT
        with counted.container.override(Unregistered, instance=override):
            assert await handler() is override
        assert await handler() is UNREGISTERED_DEFAULT


@pytest.mark.anyio
async def test_override_of_an_app_provider_without_a_scope() -> None:
    """@inject(container=c) with no scope open sees an override of an APP provider."""
    counted = Counted()
    fake_clock = Clock()

    @inject(container=counted.container)
    async def handler(clock: Inject[Clock]) -> Clock:
        return clock

    real = await handler()
    with counted.container.override(Clock, instance=fake_clock):
        assert await handler() is fake_clock
    assert await handler() is real


@pytest.mark.anyio
async def test_a_failing_handler_propagates_its_exception_unchanged() -> None:
    """The handler's own exception comes out as is: same object, no notes added."""
    counted = Counted()
    error = HandlerFailedError("boom")
    sync_error = HandlerFailedError("sync boom")

    @inject
    async def handler(repo: Inject[UserRepo]) -> None:
        raise error

    @inject
    def sync_handler(repo: Inject[UserRepo]) -> None:
        raise sync_error

    async with counted.container.scope():
        with pytest.raises(HandlerFailedError) as info:
            await handler()
        assert info.value is error
        assert getattr(error, "__notes__", []) == []
        with pytest.raises(HandlerFailedError) as sync_info:
            sync_handler()
        assert sync_info.value is sync_error
        assert getattr(sync_error, "__notes__", []) == []
    assert len(counted.repos) == 1


# -- container.call ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_container_call_injects_sync_and_async_functions() -> None:
    """container.call resolves the Inject[...] parameters left out, for sync and async functions."""
    counted = Counted()
    fake = FakeRepo()

    async def handler(user_id: int, repo: Inject[UserRepo]) -> tuple[int, UserRepo]:
        return user_id, repo

    def sync_handler(repo: Inject[UserRepo], clock: Inject[Clock]) -> tuple[UserRepo, Clock]:
        return repo, clock

    async with counted.container.scope() as scope:
        repo = await scope.resolve(UserRepo)
        assert await counted.container.call(handler, 1) == (1, repo)
        assert await counted.container.call(handler, 2, repo=fake) == (2, fake)
        assert await counted.container.call(sync_handler) == (repo, await scope.resolve(Clock))
    assert counted.repos == [repo]


def test_registration_after_a_resolving_call_is_rejected() -> None:
    """A call that resolves freezes the registry, unlike one that passes every argument."""
    container = Container()
    container.register(Clock, scope=Scope.APP)

    @inject(container=container)
    def handler(clock: Inject[Clock]) -> Clock:
        return clock

    assert isinstance(handler(), Clock)
    with pytest.raises(RegistrationError):
        container.register(Cache)
