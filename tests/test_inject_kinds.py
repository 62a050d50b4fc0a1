"""``@inject`` keeps the handler's kind and hides its injected parameters; ``scope=`` opens a scope per call;
``resolve(T, name=...)``.

This module does not use ``from __future__ import annotations``: its handlers'
annotations are objects; the string-annotation case is a helper module
written to a temporary directory.
"""

import importlib
import inspect
import sys
import textwrap
import typing
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

from injectq_like import (
    AnnotationError,
    AsyncProviderError,
    AsyncRequestScope,
    Container,
    Inject,
    Named,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    inject,
)


class Connection:
    pass


class UserRepo:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class SessionThing:
    pass


class RequestThing:
    pass


class AppThing:
    pass


class Transaction:
    """A unit of work: committed when the call succeeded, rolled back when it raised."""


class Session:
    """Made by an async generator factory: its cleanup needs an event loop."""


class Cache:
    pass


class RedisCache(Cache):
    pass


class MemoryCache(Cache):
    pass


class HandlerFailedError(Exception):
    pass


class Recorded:
    """A container whose REQUEST ``UserRepo`` and ``Connection`` come from generator factories that record
    their opening, closing and what was thrown into them; and a unit of work that commits or rolls back.
    """

    def __init__(self) -> None:
        self.events: list[str] = []
        self.container = Container()
        self.container.register(factory=self._connect, scope=Scope.REQUEST)
        self.container.register(factory=self._open_repo, scope=Scope.REQUEST)
        self.container.register(factory=self._unit_of_work, scope=Scope.REQUEST)
        self.container.register(AppThing, scope=Scope.APP)
        self.container.register(SessionThing, scope=Scope.SESSION)
        self.container.register(RequestThing, scope=Scope.REQUEST)

    def _connect(self) -> Iterator[Connection]:
        self.events.append("open connection")
        try:
            yield Connection()
        finally:
            self.events.append("close connection")

    def _open_repo(self, connection: Connection) -> Iterator[UserRepo]:
        self.events.append("open repo")
        try:
            yield UserRepo(connection)
        finally:
            self.events.append("close repo")

    def _unit_of_work(self) -> Iterator[Transaction]:
        try:
            yield Transaction()
        except Exception as error:
            self.events.append(f"rollback {type(error).__name__}")
            raise
        else:
            self.events.append("commit")


# -- the kind of the wrapper ---------------------------------------------------------------------


def decorators(how: str) -> Callable[[Callable[..., Any]], Any]:
    """``@inject`` in each of its forms."""
    if how == "inject":
        return inject
    if how == "container":
        return inject(container=Container())
    if how == "scope":
        return inject(scope=Scope.REQUEST)
    return inject(container=Container(), scope=Scope.REQUEST, uses=(Connection,))


@pytest.mark.parametrize("how", ["inject", "container", "scope", "container and scope"])
def test_the_wrapper_keeps_the_kind_of_the_handler(how: str) -> None:
    """``inspect`` tells a wrapped coroutine, async generator, generator and plain function apart as before."""
    decorate = decorators(how)

    async def coroutine(repo: Inject[UserRepo]) -> None:
        pass  # pragma: no cover - never called

    async def async_generator(repo: Inject[UserRepo]) -> AsyncIterator[int]:
        yield 1  # pragma: no cover - never called

    def generator(repo: Inject[UserRepo]) -> Iterator[int]:
        yield 1  # pragma: no cover - never called

    def plain(repo: Inject[UserRepo]) -> None:
        pass  # pragma: no cover - never called

    kinds = {
        name: (
            inspect.iscoroutinefunction(wrapper),
            inspect.isasyncgenfunction(wrapper),
            inspect.isgeneratorfunction(wrapper),
        )
        for name, wrapper in [
            ("coroutine", decorate(coroutine)),
            ("async generator", decorate(async_generator)),
            ("generator", decorate(generator)),
            ("plain", decorate(plain)),
        ]
    }
    assert kinds == {
        "coroutine": (True, False, False),
        "async generator": (False, True, False),
        "generator": (False, False, True),
        "plain": (False, False, False),
    }
    wrapped_plain = decorate(plain)
    assert inspect.isfunction(wrapped_plain)
    assert wrapped_plain.__name__ == "plain"


# -- what callers and frameworks see ----------------------------------------------------------------


@inject
async def fetch_user(user_id: int, repo: Inject[UserRepo], *, verbose: bool = False) -> None:
    pass  # pragma: no cover - never called


@inject
def fetch_user_sync(user_id: int, repo: Inject[UserRepo], conn: Inject[Connection]) -> None:
    pass  # pragma: no cover - never called


@inject
async def stream_users(repo: Inject[UserRepo], limit: int) -> AsyncIterator[int]:
    yield limit  # pragma: no cover - never called


@inject
def user_rows(limit: int, repo: Inject[UserRepo]) -> Iterator[str]:
    yield str(limit)  # pragma: no cover - never called


def test_type_hints_and_annotations_omit_injected_parameters() -> None:
    """``typing.get_type_hints`` and ``__annotations__`` of each kind of wrapper omit the ``Inject[...]`` parameters."""
    assert typing.get_type_hints(fetch_user) == {"user_id": int, "verbose": bool, "return": type(None)}
    assert typing.get_type_hints(fetch_user, include_extras=True) == {
        "user_id": int,
        "verbose": bool,
        "return": type(None),
    }
    assert fetch_user.__annotations__ == {"user_id": int, "verbose": bool, "return": None}
    assert typing.get_type_hints(fetch_user_sync) == {"user_id": int, "return": type(None)}
    assert fetch_user_sync.__annotations__ == {"user_id": int, "return": None}
    assert typing.get_type_hints(stream_users) == {"limit": int, "return": AsyncIterator[int]}
    assert stream_users.__annotations__ == {"limit": int, "return": AsyncIterator[int]}
    assert typing.get_type_hints(user_rows) == {"limit": int, "return": Iterator[str]}
    assert user_rows.__annotations__ == {"limit": int, "return": Iterator[str]}


def test_signature_hides_injected_parameters_and_keeps_none_return() -> None:
    """``inspect.signature`` shows the caller's parameters only, and ``-> None`` as ``None``, not ``NoneType``."""
    signature = inspect.signature(fetch_user)
    assert list(signature.parameters) == ["user_id", "verbose"]
    assert signature.return_annotation is None
    assert inspect.signature(fetch_user_sync).return_annotation is None
    assert list(inspect.signature(fetch_user_sync).parameters) == ["user_id"]
    assert list(inspect.signature(stream_users).parameters) == ["limit"]
    assert inspect.signature(stream_users).return_annotation == AsyncIterator[int]
    assert str(inspect.signature(user_rows)) == "(limit: int) -> collections.abc.Iterator[str]"


HELPER = '''
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from injectq_like import Inject, inject

calls: list[object] = []


class Repo:
    pass


@inject
async def fetch(user_id: int, repo: Inject[Repo]) -> None:
    calls.append(repo)


@inject
def fetch_sync(user_id: int, repo: Inject[Repo]) -> None:
    calls.append(repo)


@inject
async def stream(user_id: int, repo: Inject[Repo]) -> AsyncIterator[int]:
    yield user_id


@inject
def rows(user_id: int, repo: Inject[Repo]) -> Iterator[int]:
    yield user_id


@inject
def early(user_id: int, later: Inject[Later]) -> None:
    calls.append(later)


class Later:
    """Defined after `early` was decorated: its annotations could not be evaluated then."""
'''


def test_string_annotations_of_a_future_annotations_module_omit_injected_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``from __future__ import annotations`` the wrappers' type hints and annotations omit injected parameters."""
    name = "inject_kinds_string_annotations"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(HELPER))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        module = importlib.import_module(name)
        for handler in (module.fetch, module.fetch_sync):
            assert typing.get_type_hints(handler) == {"user_id": int, "return": type(None)}
            assert set(handler.__annotations__) == {"user_id", "return"}
            assert list(inspect.signature(handler).parameters) == ["user_id"]
            assert inspect.signature(handler).return_annotation is None
        assert typing.get_type_hints(module.stream) == {"user_id": int, "return": AsyncIterator[int]}
        assert set(module.stream.__annotations__) == {"user_id", "return"}
        assert typing.get_type_hints(module.rows) == {"user_id": int, "return": Iterator[int]}
        assert set(module.rows.__annotations__) == {"user_id", "return"}
        # A forward reference not evaluable at decoration: still hidden, and evaluable later.
        assert typing.get_type_hints(module.early) == {"user_id": int, "return": type(None)}
        assert set(module.early.__annotations__) == {"user_id", "return"}
        assert list(inspect.signature(module.early).parameters) == ["user_id"]
        assert inspect.signature(module.early).return_annotation is not type(None)
        container = Container()
        container.register(module.Repo, scope=Scope.REQUEST)
        container.register(module.Later, scope=Scope.REQUEST)
        with container.scope() as scope:
            module.fetch_sync(1)
            module.early(2)
            assert module.calls == [scope.resolve_sync(module.Repo), scope.resolve_sync(module.Later)]
    finally:
        sys.modules.pop(name, None)


# -- generator handlers -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_generator_handler_keeps_its_scope_until_it_finishes() -> None:
    """An async generator handler's injected values and per-call scope stay open until it is exhausted."""
    recorded = Recorded()
    container = recorded.container
    seen: list[tuple[UserRepo, UserRepo]] = []

    @inject(container=container, scope=Scope.REQUEST)
    async def stream(count: int, repo: Inject[UserRepo]) -> AsyncIterator[int]:
        recorded.events.append("start")
        for number in range(count):
            seen.append((repo, await container.resolve(UserRepo)))
            yield number
        recorded.events.append("end")

    generator = stream(3)
    assert recorded.events == []  # nothing resolved before the first step
    assert await generator.__anext__() == 0
    assert recorded.events == ["open connection", "open repo", "start"]
    assert [number async for number in generator] == [1, 2]
    assert recorded.events == [
        "open connection",
        "open repo",
        "start",
        "end",
        "close repo",
        "close connection",
    ]
    assert len(seen) == 3
    assert all(injected is resolved for injected, resolved in seen)  # the same scope, open throughout
    assert all(injected is seen[0][0] for injected, _ in seen)


@pytest.mark.anyio
async def test_async_generator_handler_closed_early_closes_its_scope_then() -> None:
    """``aclose()`` on an async generator handler runs its ``finally``, then its scope's cleanups, dependents first."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    async def stream(repo: Inject[UserRepo]) -> AsyncGenerator[int, None]:
        try:
            for number in range(10):
                yield number
        finally:
            recorded.events.append("handler finally")

    generator = stream()
    assert await generator.__anext__() == 0
    assert await generator.__anext__() == 1
    assert recorded.events == ["open connection", "open repo"]
    await generator.aclose()
    assert recorded.events == [
        "open connection",
        "open repo",
        "handler finally",
        "close repo",
        "close connection",
    ]


@pytest.mark.anyio
async def test_asend_and_athrow_reach_the_async_generator_handler() -> None:
    """Values sent with ``asend`` and exceptions thrown with ``athrow`` reach the handler's own generator."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    async def echo(repo: Inject[UserRepo]) -> AsyncGenerator[str, str]:
        received = "nothing"
        while True:
            try:
                received = yield f"got {received}"
            except ValueError as error:
                received = f"thrown {error}"

    generator = echo()
    assert await generator.__anext__() == "got nothing"
    assert await generator.asend("hello") == "got hello"
    assert await generator.athrow(ValueError("oops")) == "got thrown oops"
    assert await generator.asend("again") == "got again"
    assert "close repo" not in recorded.events
    await generator.aclose()
    assert recorded.events[-2:] == ["close repo", "close connection"]


@pytest.mark.anyio
async def test_exception_escaping_an_async_generator_handler_is_thrown_into_its_scope() -> None:
    """An exception thrown into the handler and not caught ends it; its scope's unit of work rolls back."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    async def stream(work: Inject[Transaction]) -> AsyncGenerator[int, None]:
        yield 1
        yield 2  # pragma: no cover - the first yield raises

    generator = stream()
    assert await generator.__anext__() == 1
    error = HandlerFailedError("client went away")
    with pytest.raises(HandlerFailedError) as caught:
        await generator.athrow(error)
    assert caught.value is error
    assert recorded.events == ["rollback HandlerFailedError"]
    successful = stream()
    assert [number async for number in successful] == [1, 2]
    assert recorded.events == ["rollback HandlerFailedError", "commit"]


def test_generator_handler_keeps_its_scope_until_it_finishes() -> None:
    """A generator handler's injected values and per-call ``with`` scope stay open until it is exhausted."""
    recorded = Recorded()
    container = recorded.container
    seen: list[tuple[UserRepo, UserRepo]] = []

    @inject(container=container, scope=Scope.REQUEST)
    def rows(count: int, repo: Inject[UserRepo]) -> Iterator[int]:
        recorded.events.append("start")
        for number in range(count):
            seen.append((repo, container.resolve_sync(UserRepo)))
            yield number
        recorded.events.append("end")

    generator = rows(3)
    assert recorded.events == []
    assert next(generator) == 0
    assert recorded.events == ["open connection", "open repo", "start"]
    assert list(generator) == [1, 2]
    assert recorded.events == [
        "open connection",
        "open repo",
        "start",
        "end",
        "close repo",
        "close connection",
    ]
    assert all(injected is resolved for injected, resolved in seen)
    assert all(injected is seen[0][0] for injected, _ in seen)


def test_generator_handler_closed_early_closes_its_scope_then() -> None:
    """``close()`` on a generator handler runs its ``finally`` and then its scope's cleanups, dependents first."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    def rows(repo: Inject[UserRepo]) -> Generator[int, None, None]:
        try:
            yield from range(10)
        finally:
            recorded.events.append("handler finally")

    generator = rows()
    assert next(generator) == 0
    assert next(generator) == 1
    assert recorded.events == ["open connection", "open repo"]
    generator.close()
    assert recorded.events == [
        "open connection",
        "open repo",
        "handler finally",
        "close repo",
        "close connection",
    ]


def test_send_and_throw_reach_the_generator_handler() -> None:
    """Values sent with ``send`` and exceptions thrown with ``throw`` reach the handler's own generator."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    def echo(repo: Inject[UserRepo]) -> Generator[str, str, str]:
        received = "nothing"
        while received != "stop":
            try:
                received = yield f"got {received}"
            except ValueError as error:
                received = f"thrown {error}"
        return "stopped"

    generator = echo()
    assert next(generator) == "got nothing"
    assert generator.send("hello") == "got hello"
    assert generator.throw(ValueError("oops")) == "got thrown oops"
    assert "close repo" not in recorded.events
    with pytest.raises(StopIteration) as stopped:
        generator.send("stop")
    assert stopped.value.value == "stopped"  # the handler's return value comes through
    assert recorded.events[-2:] == ["close repo", "close connection"]


def test_exception_escaping_a_generator_handler_is_thrown_into_its_scope() -> None:
    """An exception thrown into a generator handler and not caught ends it; its scope's unit of work rolls back."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    def rows(work: Inject[Transaction]) -> Generator[int, None, None]:
        yield 1
        yield 2  # pragma: no cover - the first yield raises

    generator = rows()
    assert next(generator) == 1
    error = HandlerFailedError("consumer failed")
    with pytest.raises(HandlerFailedError) as caught:
        generator.throw(error)
    assert caught.value is error
    assert recorded.events == ["rollback HandlerFailedError"]
    assert list(rows()) == [1, 2]
    assert recorded.events == ["rollback HandlerFailedError", "commit"]


@pytest.mark.anyio
async def test_async_generator_handler_scope_is_not_current_in_the_caller_between_steps() -> None:
    """Between the steps of an ``@inject(scope=...)`` async generator, the caller's own scope is its current scope."""
    recorded = Recorded()
    container = recorded.container

    @inject(container=container, scope=Scope.REQUEST)
    async def stream(thing: Inject[RequestThing]) -> AsyncIterator[RequestThing]:
        yield thing
        yield thing

    async with container.scope() as outer:
        mine = await outer.resolve(RequestThing)
        generator = stream()
        theirs = await generator.__anext__()
        assert theirs is not mine
        assert await container.resolve(RequestThing) is mine
        assert [thing async for thing in generator] == [theirs]
        assert await container.resolve(RequestThing) is mine


@pytest.mark.anyio
async def test_interleaved_async_generator_handlers_each_keep_their_own_scope() -> None:
    """Two ``@inject(scope=...)`` async generators stepped in turn each resolve in their own scope throughout,
    and the caller's scope is current again after both finished.
    """
    recorded = Recorded()
    container = recorded.container
    steps: list[tuple[str, bool]] = []

    @inject(container=container, scope=Scope.REQUEST)
    async def stream(name: str, thing: Inject[RequestThing]) -> AsyncIterator[str]:
        for _ in range(3):
            steps.append((name, await container.resolve(RequestThing) is thing))
            yield name

    async with container.scope() as outer:
        mine = await outer.resolve(RequestThing)
        first, second = stream("first"), stream("second")
        for _ in range(3):
            assert await first.__anext__() == "first"
            assert await second.__anext__() == "second"
        assert [name async for name in first] == []
        assert [name async for name in second] == []
        assert await container.resolve(RequestThing) is mine
        assert steps == [("first", True), ("second", True)] * 3


def test_generator_handler_scope_is_not_current_in_the_caller_between_steps() -> None:
    """Between the steps of an ``@inject(scope=...)`` generator, the caller's own scope is its current scope."""
    recorded = Recorded()
    container = recorded.container

    @inject(container=container, scope=Scope.REQUEST)
    def rows(thing: Inject[RequestThing]) -> Iterator[RequestThing]:
        yield thing
        yield thing

    with container.scope() as outer:
        mine = outer.resolve_sync(RequestThing)
        generator = rows()
        theirs = next(generator)
        assert theirs is not mine
        assert container.resolve_sync(RequestThing) is mine
        assert list(generator) == [theirs]
        assert container.resolve_sync(RequestThing) is mine


def test_interleaved_generator_handlers_each_keep_their_own_scope() -> None:
    """Two ``@inject(scope=...)`` generators stepped in turn each resolve in their own scope throughout,
    and the caller's scope is current again after both finished.
    """
    recorded = Recorded()
    container = recorded.container
    steps: list[tuple[str, bool]] = []

    @inject(container=container, scope=Scope.REQUEST)
    def rows(name: str, thing: Inject[RequestThing]) -> Iterator[str]:
        for _ in range(3):
            steps.append((name, container.resolve_sync(RequestThing) is thing))
            yield name

    with container.scope() as outer:
        mine = outer.resolve_sync(RequestThing)
        first, second = rows("first"), rows("second")
        for _ in range(3):
            assert next(first) == "first"
            assert next(second) == "second"
        assert list(first) == []
        assert list(second) == []
        assert container.resolve_sync(RequestThing) is mine
        assert steps == [("first", True), ("second", True)] * 3


@pytest.mark.anyio
async def test_generator_handler_without_scope_resolves_in_the_open_scope() -> None:
    """Without ``scope=``, a generator handler's injected values come from the scope open around its iteration."""
    recorded = Recorded()

    @inject
    async def stream(repo: Inject[UserRepo]) -> AsyncIterator[UserRepo]:
        yield repo
        yield repo

    @inject
    def rows(repo: Inject[UserRepo]) -> Iterator[UserRepo]:
        yield repo

    async with recorded.container.scope() as scope:
        mine = await scope.resolve(UserRepo)
        assert [repo async for repo in stream()] == [mine, mine]
        assert list(rows()) == [mine]
        assert "close repo" not in recorded.events
    assert recorded.events[-2:] == ["close repo", "close connection"]


# -- @inject(scope=...) ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_each_call_runs_in_a_new_request_scope() -> None:
    """``@inject(scope=Scope.REQUEST)``: REQUEST instances are shared within a call and new at each call."""
    recorded = Recorded()
    container = recorded.container

    @inject(container=container, scope=Scope.REQUEST)
    async def handler(thing: Inject[RequestThing], repo: Inject[UserRepo]) -> tuple[RequestThing, RequestThing]:
        return thing, await container.resolve(RequestThing)

    @inject(container=container, scope=Scope.REQUEST)
    def sync_handler(thing: Inject[RequestThing]) -> tuple[RequestThing, RequestThing]:
        return thing, container.resolve_sync(RequestThing)

    first = await handler()
    assert first[0] is first[1]
    assert recorded.events == ["open connection", "open repo", "close repo", "close connection"]
    second = await handler()
    assert second[0] is second[1]
    assert second[0] is not first[0]
    assert recorded.events.count("close connection") == 2
    third = sync_handler()
    fourth = sync_handler()
    assert third[0] is third[1]
    assert fourth[0] is fourth[1]
    assert len({id(first[0]), id(second[0]), id(third[0]), id(fourth[0])}) == 4
    with pytest.raises(NoActiveScopeError):  # each call's scope was closed and is no longer current
        await container.resolve(RequestThing)


@pytest.mark.anyio
async def test_the_call_scope_is_a_child_of_the_current_scope() -> None:
    """The per-call scope is a child of the current scope and sees an outer SESSION's instances."""
    recorded = Recorded()
    container = recorded.container
    parents: list[AsyncRequestScope | None] = []

    @inject(scope=Scope.REQUEST)
    async def handler(session_thing: Inject[SessionThing], thing: Inject[RequestThing]) -> RequestThing:
        own = container.scope().parent  # a scope made here (not entered) is a child of the call's scope
        assert own is not None
        parents.append(own.parent)
        assert own.level is Scope.REQUEST
        assert await own.resolve(SessionThing) is session_thing
        return thing

    @inject(container=container, scope=Scope.REQUEST)
    def sync_handler(session_thing: Inject[SessionThing]) -> SessionThing:
        own = container.scope().parent
        assert own is not None
        parents.append(own.parent)
        return session_thing

    async with container.scope(Scope.SESSION) as session:
        mine = await session.resolve(SessionThing)
        await handler()
        assert sync_handler() is mine
        async with session.scope() as request:
            outer_thing = await request.resolve(RequestThing)
            nested_thing = await handler()
            assert nested_thing is not outer_thing  # a nested REQUEST scope has its own
    assert parents == [session, session, request]


@pytest.mark.anyio
async def test_the_call_scope_closes_on_raise_with_the_exception_thrown_in() -> None:
    """A call that raises closes its scope with the exception thrown into the cleanups: the unit of work rolls back."""
    recorded = Recorded()

    @inject(container=recorded.container, scope=Scope.REQUEST)
    async def handler(*, fail: bool, work: Inject[Transaction]) -> str:
        if fail:
            raise HandlerFailedError("no stock")
        return "done"

    @inject(container=recorded.container, scope=Scope.REQUEST)
    def sync_handler(*, fail: bool, work: Inject[Transaction]) -> str:
        if fail:
            raise HandlerFailedError("no stock")
        return "done"

    assert await handler(fail=False) == "done"
    assert recorded.events == ["commit"]
    error = HandlerFailedError("no stock")

    @inject(container=recorded.container, scope=Scope.REQUEST)
    async def raising(work: Inject[Transaction]) -> None:
        raise error

    with pytest.raises(HandlerFailedError) as caught:
        await raising()
    assert caught.value is error
    assert getattr(caught.value, "__notes__", []) == []
    assert recorded.events == ["commit", "rollback HandlerFailedError"]
    assert sync_handler(fail=False) == "done"
    with pytest.raises(HandlerFailedError, match="no stock"):
        sync_handler(fail=True)
    with pytest.raises(HandlerFailedError, match="no stock"):
        await handler(fail=True)
    assert recorded.events == [
        "commit",
        "rollback HandlerFailedError",
        "commit",
        "rollback HandlerFailedError",
        "rollback HandlerFailedError",
    ]


@pytest.mark.anyio
async def test_sync_handler_gets_a_with_scope() -> None:
    """A sync handler's per-call scope is entered with ``with``: nothing needing an async cleanup may join it."""
    opened: list[str] = []
    refusals: list[AsyncProviderError] = []

    async def open_session() -> AsyncIterator[Session]:
        opened.append("session")
        yield Session()

    async def flush_metrics() -> None:
        pass  # pragma: no cover - refused

    container = Container()
    container.register(factory=open_session, scope=Scope.REQUEST)
    container.register(RequestThing, scope=Scope.REQUEST)

    @inject(container=container, scope=Scope.REQUEST)
    def handler(thing: Inject[RequestThing]) -> RequestThing:
        own = container.scope().parent
        assert own is not None
        with pytest.raises(AsyncProviderError) as caught:
            own.on_close(flush_metrics)
        refusals.append(caught.value)
        return thing

    @inject(container=container, scope=Scope.REQUEST)
    def needs_session(session: Inject[Session]) -> Session:
        return session  # pragma: no cover - refused

    assert isinstance(handler(), RequestThing)
    (refusal,) = refusals
    assert "flush_metrics" in str(refusal)
    with pytest.raises(AsyncProviderError, match=r"open_session\(\)"):
        needs_session()
    async with container.scope():  # called from async code, the call's scope is still a `with` one
        with pytest.raises(AsyncProviderError, match=r"open_session\(\)"):
            needs_session()
        assert isinstance(handler(), RequestThing)
    assert opened == []


@pytest.mark.anyio
async def test_scope_without_container_and_without_open_scope_raises_no_active_scope() -> None:
    """``@inject(scope=Scope.REQUEST)`` with no container and no scope open raises ``NoActiveScopeError``."""
    ran: list[str] = []

    @inject(scope=Scope.REQUEST)
    async def handler(thing: Inject[RequestThing]) -> None:
        ran.append("async")  # pragma: no cover - refused

    @inject(scope=Scope.REQUEST)
    def sync_handler(thing: Inject[RequestThing]) -> None:
        ran.append("sync")  # pragma: no cover - refused

    @inject(scope=Scope.REQUEST)
    async def stream(thing: Inject[RequestThing]) -> AsyncIterator[int]:
        ran.append("stream")  # pragma: no cover - refused
        yield 1  # pragma: no cover

    @inject(scope=Scope.REQUEST)
    def rows(thing: Inject[RequestThing]) -> Iterator[int]:
        ran.append("rows")  # pragma: no cover - refused
        yield 1  # pragma: no cover

    with pytest.raises(NoActiveScopeError, match=r"handler\(\)"):
        await handler()
    with pytest.raises(NoActiveScopeError, match=r"sync_handler\(\)"):
        sync_handler()
    with pytest.raises(NoActiveScopeError, match=r"stream\(\)"):
        await stream().__anext__()
    with pytest.raises(NoActiveScopeError, match=r"rows\(\)"):
        next(rows())
    assert ran == []


@pytest.mark.anyio
async def test_scope_with_container_and_no_open_scope_is_a_child_of_app() -> None:
    """``@inject(container=c, scope=Scope.REQUEST)`` with no scope open runs each call in a child of c's APP scope."""
    recorded = Recorded()
    container = recorded.container
    grandparents: list[AsyncRequestScope | None] = []

    @inject(container=container, scope=Scope.REQUEST)
    async def handler(app: Inject[AppThing], thing: Inject[RequestThing]) -> AppThing:
        own = container.scope().parent
        assert own is not None
        assert own.level is Scope.REQUEST
        grandparents.append(own.parent)
        return app

    @inject(container=container, scope=Scope.REQUEST)
    def sync_handler(app: Inject[AppThing]) -> AppThing:
        own = container.scope().parent
        assert own is not None
        grandparents.append(own.parent)
        return app

    app = await handler()
    assert sync_handler() is app
    assert await container.resolve(AppThing) is app
    assert len(grandparents) == 2
    for parent in grandparents:
        assert parent is not None
        assert parent.level is Scope.APP
        assert parent.parent is None
    assert grandparents[0] is grandparents[1]


@pytest.mark.anyio
async def test_scope_session_runs_each_call_in_a_new_session_scope() -> None:
    """``@inject(scope=Scope.SESSION)`` gives each call a SESSION scope of its own, closed when the call returns."""
    recorded = Recorded()
    container = recorded.container

    @inject(container=container, scope=Scope.SESSION)
    async def connection_handler(session_thing: Inject[SessionThing]) -> tuple[SessionThing, SessionThing]:
        async with container.scope() as request:  # a REQUEST scope inside the call's session
            return session_thing, await request.resolve(SessionThing)

    @inject(container=container, scope=Scope.SESSION)
    def sync_connection_handler(session_thing: Inject[SessionThing]) -> tuple[SessionThing, SessionThing]:
        with container.scope() as request:
            return session_thing, request.resolve_sync(SessionThing)

    first = await connection_handler()
    second = await connection_handler()
    third = sync_connection_handler()
    assert first[0] is first[1]
    assert second[0] is second[1]
    assert third[0] is third[1]
    assert len({id(first[0]), id(second[0]), id(third[0])}) == 3
    with pytest.raises(NoActiveScopeError):
        await container.resolve(SessionThing)


@pytest.mark.parametrize("level", [Scope.APP, Scope.TRANSIENT])
@pytest.mark.parametrize("with_container", [False, True])
def test_scope_app_or_transient_is_refused_at_decoration(level: Scope, with_container: bool) -> None:
    """``@inject(scope=Scope.APP)`` and ``Scope.TRANSIENT`` raise ``RegistrationError`` when decorating."""
    container = Container() if with_container else None
    with pytest.raises(RegistrationError, match="scope") as caught:
        inject(container=container, scope=level)
    assert "Scope.REQUEST" in caught.value.hint


# -- resolve(T, name=...) ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_resolve_with_name_is_the_named_registration() -> None:
    """``resolve(T, name="x")`` (container or scope, sync or async) is ``Annotated[T, Named("x")]``'s instance."""
    container = Container()
    container.register(Cache, RedisCache, name="redis", scope=Scope.APP)
    container.register(Cache, MemoryCache, name="memory", scope=Scope.REQUEST)
    container.register(Cache, scope=Scope.APP)
    redis = await container.resolve(Cache, name="redis")
    assert isinstance(redis, RedisCache)
    assert redis is await container.resolve(Annotated[Cache, Named("redis")])
    assert container.resolve_sync(Cache, name="redis") is redis
    assert await container.resolve(Cache) is not redis
    async with container.scope() as scope:
        memory = await scope.resolve(Cache, name="memory")
        assert isinstance(memory, MemoryCache)
        assert memory is await scope.resolve(Annotated[Cache, Named("memory")])
        assert scope.resolve_sync(Cache, name="memory") is memory
        assert await container.resolve(Cache, name="memory") is memory
        assert container.resolve_sync(Cache, name="memory") is memory
        assert await scope.resolve(Cache, name="redis") is redis
    with container.scope() as scope:
        other = scope.resolve_sync(Cache, name="memory")
        assert other is scope.resolve_sync(Annotated[Cache, Named("memory")])
        assert other is not memory


@pytest.mark.anyio
async def test_name_on_an_already_named_key_is_an_annotation_error() -> None:
    """A key already ``Annotated[T, Named(...)]`` given ``name=`` too raises ``AnnotationError`` everywhere."""
    container = Container()
    container.register(Cache, RedisCache, name="redis", scope=Scope.APP)
    key = Annotated[Cache, Named("redis")]
    with pytest.raises(AnnotationError, match="already qualified"):
        await container.resolve(key, name="redis")
    with pytest.raises(AnnotationError, match="already qualified"):
        container.resolve_sync(key, name="other")
    async with container.scope() as scope:
        with pytest.raises(AnnotationError, match="already qualified"):
            await scope.resolve(key, name="redis")
        with pytest.raises(AnnotationError, match="already qualified") as caught:
            scope.resolve_sync(key, name="redis")
    assert "name=" in caught.value.hint


# -- the remaining paths of the wrappers -----------------------------------------------------------


def test_a_handler_without_injected_parameters_is_called_as_it_is() -> None:
    """``@inject`` on a function with no ``Inject[...]`` parameter passes every call through, no scope needed."""

    @inject
    def plain() -> str:
        return "called"

    @inject
    def echo(value: int) -> int:
        return value

    assert plain() == "called"
    assert echo(3) == 3


@pytest.mark.anyio
async def test_an_unscoped_async_generator_handler_passes_failures_and_closing_through() -> None:
    """Without ``scope=``, an async generator handler's own exception reaches the caller unchanged, and
    closing it early closes the handler's generator (its ``finally`` runs).
    """
    events: list[str] = []
    container = Container()
    container.register(Cache, scope=Scope.REQUEST)

    @inject
    async def failing(repo: Inject[Cache]) -> AsyncIterator[int]:
        yield 1
        raise HandlerFailedError("stream broke")

    @inject
    async def endless(repo: Inject[Cache]) -> AsyncGenerator[int, None]:
        try:
            while True:
                yield 1
        finally:
            events.append("handler closed")

    async with container.scope():
        stream = failing()
        assert await anext(stream) == 1
        with pytest.raises(HandlerFailedError, match="stream broke"):
            await anext(stream)
        other = endless()
        assert await anext(other) == 1
        await other.aclose()
    assert events == ["handler closed"]


def test_a_scope_given_sync_callbacks_before_it_is_entered_runs_them_at_exit() -> None:
    """``on_close`` on a scope not yet entered, then ``with``: sync callbacks are accepted and run on exit,
    the latest first; exiting twice runs them once.
    """
    events: list[str] = []
    container = Container()
    scope = container.scope()
    scope.on_close(lambda: events.append("first"))
    scope.on_close(lambda: events.append("second"))
    with scope:
        assert events == []
    scope.__exit__(None, None, None)
    assert events == ["second", "first"]


def test_a_name_that_is_not_a_non_empty_string_is_refused() -> None:
    """``resolve_sync(T, name="")`` is an AnnotationError that says what a name must be."""
    container = Container()
    container.register(Cache, RedisCache, name="redis")
    with pytest.raises(AnnotationError, match="must be a non-empty string"):
        container.resolve_sync(Cache, name="")
    assert isinstance(container.resolve_sync(Cache, name="redis"), RedisCache)
