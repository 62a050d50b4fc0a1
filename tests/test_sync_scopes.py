"""Sync scopes: ``with container.scope()``, ``with container:`` and ``container.close()``, without an event loop."""

from __future__ import annotations

import gc
import inspect
import threading
import time
import warnings
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import TracebackType
from typing import Any, Self

import pytest

from injectq_like import (
    AsyncProviderError,
    AsyncRequestScope,
    Container,
    Inject,
    NoActiveScopeError,
    Scope,
    ScopeError,
    inject,
)


class AppThing:
    pass


class SessionThing:
    pass


class RequestThing:
    pass


class RequestService:
    """REQUEST-scoped, built from a REQUEST and an APP dependency."""

    def __init__(self, thing: RequestThing, app: AppThing) -> None:
        self.thing, self.app = thing, app


def lifetimes_container() -> Container:
    container = Container()
    container.register(AppThing, scope=Scope.APP)
    container.register(SessionThing, scope=Scope.SESSION)
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(RequestService, scope=Scope.REQUEST)
    return container


class A:
    pass


class B:
    pass


class C:
    pass


class D:
    pass


class Connection:
    pass


class Session:
    """Made by an async generator factory: its cleanup needs an event loop."""


class Repo:
    def __init__(self, session: Session) -> None:
        self.session = session


class Transaction:
    """A unit of work: committed when the scope's body succeeded, rolled back when it failed."""


class Events:
    """Sync generator factories that record their opening and closing, and what was thrown into them."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.seen: dict[str, BaseException] = {}

    def diamond(self, scope: Scope = Scope.REQUEST) -> Container:
        """D needs B and C, which both need A; each made by a generator factory."""

        def open_a() -> Iterator[A]:
            self.events.append("open a")
            try:
                yield A()
            except BaseException as error:
                self.seen["a"] = error
                raise
            finally:
                self.events.append("close a")

        def open_b(a: A) -> Iterator[B]:
            self.events.append("open b")
            try:
                yield B()
            except BaseException as error:
                self.seen["b"] = error
                raise
            finally:
                self.events.append("close b")

        def open_c(a: A) -> Iterator[C]:
            self.events.append("open c")
            try:
                yield C()
            except BaseException as error:
                self.seen["c"] = error
                raise
            finally:
                self.events.append("close c")

        def open_d(b: B, c: C) -> Iterator[D]:
            self.events.append("open d")
            try:
                yield D()
            except BaseException as error:
                self.seen["d"] = error
                raise
            finally:
                self.events.append("close d")

        container = Container()
        container.register(factory=open_a, scope=scope)
        container.register(factory=open_b, scope=scope)
        container.register(factory=open_c, scope=scope)
        container.register(factory=open_d, scope=scope)
        return container


class SyncManager:
    def __init__(self) -> None:
        self.events: list[str] = []

    def __enter__(self) -> Self:
        self.events.append("enter")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.events.append(f"exit {type(error).__name__ if error else None}")


class AsyncManager:
    created = 0

    def __init__(self) -> None:
        AsyncManager.created += 1
        self.events: list[str] = []

    async def __aenter__(self) -> Self:
        self.events.append("enter")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.events.append("exit")


class AsyncCallback:
    """A callable object whose ``__call__`` is async."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


class FailureError(Exception):
    pass


# -- opening, nesting, the current scope ------------------------------------------------------


def test_with_container_scope_opens_a_request_scope_child_of_app() -> None:
    """``with container.scope() as scope`` gives the same ``AsyncRequestScope``, open in the block and closed after."""
    container = lifetimes_container()
    scope = container.scope()
    assert not scope.closed
    with scope as entered:
        assert entered is scope
        assert isinstance(scope, AsyncRequestScope)
        assert scope.level is Scope.REQUEST
        parent = scope.parent
        assert parent is not None
        assert parent.level is Scope.APP
        assert parent.parent is None
        assert not scope.closed
    assert scope.closed


def test_with_scope_scope_nests_and_restores_the_outer_scope() -> None:
    """``with scope.scope()`` opens a child with REQUEST instances of its own; the outer is current again after it."""
    container = lifetimes_container()
    with container.scope() as outer:
        outer_thing = outer.resolve_sync(RequestThing)
        with outer.scope() as inner:
            assert inner.parent is outer
            assert inner.level is Scope.REQUEST
            inner_thing = container.resolve_sync(RequestThing)
            assert inner_thing is inner.resolve_sync(RequestThing)
            assert inner_thing is not outer_thing
            with container.scope() as innermost:
                assert innermost.parent is inner
        assert inner.closed
        assert not outer.closed
        assert container.resolve_sync(RequestThing) is outer_thing
    assert outer.closed


def test_with_scope_is_current_for_resolve_sync_and_sync_inject() -> None:
    """Inside the block ``container.resolve_sync`` and sync ``@inject`` handlers resolve in the scope; not after."""
    container = lifetimes_container()

    @inject
    def handler(thing: Inject[RequestThing], service: Inject[RequestService]) -> tuple[RequestThing, RequestService]:
        return thing, service

    @inject(container=container)
    def bound_handler(thing: Inject[RequestThing]) -> RequestThing:
        return thing

    with container.scope() as scope:
        mine = scope.resolve_sync(RequestThing)
        assert container.resolve_sync(RequestThing) is mine
        thing, service = handler()
        assert thing is mine
        assert service is scope.resolve_sync(RequestService)
        assert service.thing is mine
        assert bound_handler() is mine
    with pytest.raises(NoActiveScopeError):
        container.resolve_sync(RequestThing)
    with pytest.raises(NoActiveScopeError):
        handler()


def test_request_instances_are_cached_per_with_scope_and_app_is_shared() -> None:
    """Each ``with`` scope has its own REQUEST instances; the APP instance is one for all of them."""
    container = lifetimes_container()
    with container.scope() as first:
        one = first.resolve_sync(RequestService)
        assert first.resolve_sync(RequestService) is one
        assert container.resolve_sync(RequestThing) is one.thing
    with container.scope() as second:
        two = second.resolve_sync(RequestService)
    assert two is not one
    assert two.thing is not one.thing
    assert two.app is one.app
    assert container.resolve_sync(AppThing) is one.app


def test_with_session_scope_then_request_scopes_inside_it() -> None:
    """A SESSION ``with`` scope shares its instance with the REQUEST scopes in it; another session has its own."""
    container = lifetimes_container()
    with container.scope(Scope.SESSION) as session:
        assert session.level is Scope.SESSION
        mine = session.resolve_sync(SessionThing)
        with session.scope() as first:
            assert first.parent is session
            assert first.resolve_sync(SessionThing) is mine
            first_thing = first.resolve_sync(RequestThing)
        with container.scope() as second:
            assert second.parent is session
            assert container.resolve_sync(SessionThing) is mine
            assert second.resolve_sync(RequestThing) is not first_thing
        with pytest.raises(NoActiveScopeError):
            session.resolve_sync(RequestThing)
    with container.scope(Scope.SESSION) as other:
        assert other.resolve_sync(SessionThing) is not mine


def test_session_with_scope_inside_a_request_with_scope_is_an_error() -> None:
    """Opening a SESSION scope while a REQUEST ``with`` scope is current is a ``ScopeError``, as with ``async with``."""
    container = lifetimes_container()
    with container.scope(), pytest.raises(ScopeError, match="SESSION scope inside a REQUEST scope"):
        container.scope(Scope.SESSION)


def test_sync_autouse_providers_are_created_when_a_with_scope_opens() -> None:
    """A sync ``autouse`` provider of the scope's level is created at the ``with`` line, once per scope."""
    made: list[RequestThing] = []

    def make() -> RequestThing:
        thing = RequestThing()
        made.append(thing)
        return thing

    container = Container()
    container.register(RequestThing, factory=make, scope=Scope.REQUEST, autouse=True)
    with container.scope() as scope:
        assert len(made) == 1
        assert scope.resolve_sync(RequestThing) is made[0]
    with container.scope():
        assert len(made) == 2
    assert made[0] is not made[1]


def test_a_with_scope_is_entered_only_once() -> None:
    """Entering a closed scope again with ``with`` is a ``ScopeError``."""
    container = lifetimes_container()
    with container.scope() as scope:
        pass
    with pytest.raises(ScopeError, match="entered only once"), scope:
        pass  # pragma: no cover - the with line raises


# -- closing ---------------------------------------------------------------------------------------


def test_with_scope_finishes_generators_dependents_first() -> None:
    """Closing a ``with`` scope finishes D first, then B and C, then A, each exactly once."""
    recorder = Events()
    container = recorder.diamond()
    with container.scope() as scope:
        scope.resolve_sync(D)
        assert recorder.events[0] == "open a"
        assert recorder.events[-1] == "open d"
        recorder.events.clear()
    events = recorder.events
    assert len(events) == 4
    assert events[0] == "close d"
    assert sorted(events[1:3]) == ["close b", "close c"]
    assert events[3] == "close a"
    assert recorder.seen == {}


def test_body_exception_is_thrown_in_at_yield_and_propagates_unchanged() -> None:
    """Every generator sees the body's exception at its ``yield``; the same object propagates, without notes."""
    recorder = Events()
    container = recorder.diamond()
    error = KeyError("boom")
    with pytest.raises(KeyError) as caught, container.scope() as scope:
        scope.resolve_sync(D)
        raise error
    assert caught.value is error
    assert getattr(caught.value, "__notes__", []) == []
    assert set(recorder.seen) == {"a", "b", "c", "d"}
    assert all(seen is error for seen in recorder.seen.values())
    assert next(e for e in recorder.events if e.startswith("close")) == "close d"


def test_unit_of_work_commits_on_success_and_rolls_back_on_error() -> None:
    """A generator that commits after ``yield`` and rolls back in ``except`` sees how the ``with`` body ended."""
    outcomes: list[str] = []

    def unit_of_work() -> Iterator[Transaction]:
        try:
            yield Transaction()
        except Exception as error:
            outcomes.append(f"rollback {error}")
            raise
        else:
            outcomes.append("commit")

    container = Container()
    container.register(factory=unit_of_work, scope=Scope.REQUEST)
    with container.scope() as scope:
        scope.resolve_sync(Transaction)
    assert outcomes == ["commit"]
    with pytest.raises(FailureError, match="no stock"), container.scope() as scope:
        scope.resolve_sync(Transaction)
        raise FailureError("no stock")
    assert outcomes == ["commit", "rollback no stock"]


def test_generator_reraising_the_body_exception_is_not_a_failure() -> None:
    """A generator that re-raises the body's exception adds no group: the exception propagates alone."""
    seen: list[BaseException] = []

    def reraising() -> Iterator[A]:
        try:
            yield A()
        except ValueError as error:
            seen.append(error)
            raise

    container = Container()
    container.register(factory=reraising, scope=Scope.REQUEST)
    error = ValueError("body")
    with pytest.raises(ValueError, match="body") as caught, container.scope() as scope:
        scope.resolve_sync(A)
        raise error
    assert caught.value is error
    assert seen == [error]


def test_generator_swallowing_the_body_exception_does_not_stop_it() -> None:
    """A generator that catches the body's exception and returns cannot stop it from propagating."""
    seen: list[BaseException] = []

    def swallowing() -> Iterator[A]:
        try:
            yield A()
        except ValueError as error:
            seen.append(error)  # and does not re-raise

    container = Container()
    container.register(factory=swallowing, scope=Scope.REQUEST)
    error = ValueError("body")
    with pytest.raises(ValueError, match="body") as caught, container.scope() as scope:
        scope.resolve_sync(A)
        raise error
    assert caught.value is error
    assert seen == [error]


def test_every_cleanup_runs_when_one_fails_and_failures_are_grouped() -> None:
    """A failing cleanup does not stop the others; the failures come in one ``ExceptionGroup``, dependents first."""
    closed: list[str] = []

    def first() -> Iterator[A]:
        yield A()
        closed.append("a")
        raise RuntimeError("a failed")

    def second(a: A) -> Iterator[B]:
        yield B()
        closed.append("b")
        raise OSError("b failed")

    def third(b: B) -> Iterator[C]:
        yield C()
        closed.append("c")

    container = Container()
    container.register(factory=first, scope=Scope.REQUEST)
    container.register(factory=second, scope=Scope.REQUEST)
    container.register(factory=third, scope=Scope.REQUEST)
    with pytest.raises(ExceptionGroup) as caught, container.scope() as scope:
        scope.resolve_sync(C)
    assert closed == ["c", "b", "a"]
    failures = caught.value.exceptions
    assert [type(e) for e in failures] == [OSError, RuntimeError]
    assert [str(e) for e in failures] == ["b failed", "a failed"]
    assert "second()" in failures[0].__notes__[0]
    assert "first()" in failures[1].__notes__[0]


def test_body_exception_comes_first_in_the_group() -> None:
    """With a failing body and failing cleanups, the ``ExceptionGroup`` holds the body's exception first."""
    closed: list[str] = []

    def broken() -> Iterator[A]:
        try:
            yield A()
        finally:
            closed.append("a")
            raise RuntimeError("a failed")

    def fine(a: A) -> Iterator[B]:
        try:
            yield B()
        finally:
            closed.append("b")

    def also_broken(b: B) -> Iterator[C]:
        try:
            yield C()
        finally:
            closed.append("c")
            raise OSError("c failed")

    container = Container()
    container.register(factory=broken, scope=Scope.REQUEST)
    container.register(factory=fine, scope=Scope.REQUEST)
    container.register(factory=also_broken, scope=Scope.REQUEST)
    body = LookupError("body failed")
    with pytest.raises(ExceptionGroup) as caught, container.scope() as scope:
        scope.resolve_sync(C)
        raise body
    assert closed == ["c", "b", "a"]
    assert caught.value.exceptions[0] is body
    assert [str(e) for e in caught.value.exceptions] == ["body failed", "c failed", "a failed"]


def test_base_exception_body_with_a_failing_cleanup_gives_a_base_exception_group() -> None:
    """A ``KeyboardInterrupt`` body and a failing cleanup give a ``BaseExceptionGroup``, the body's exception first."""
    seen: list[BaseException] = []

    def broken() -> Iterator[A]:
        try:
            yield A()
        except BaseException as error:
            seen.append(error)
            raise
        finally:
            raise RuntimeError("cleanup failed")

    container = Container()
    container.register(factory=broken, scope=Scope.REQUEST)
    interrupt = KeyboardInterrupt()
    with pytest.raises(BaseExceptionGroup) as caught, container.scope() as scope:
        scope.resolve_sync(A)
        raise interrupt
    group = caught.value
    assert not isinstance(group, ExceptionGroup)
    assert group.exceptions[0] is interrupt
    assert [type(e) for e in group.exceptions] == [KeyboardInterrupt, RuntimeError]
    assert str(group.exceptions[1]) == "cleanup failed"
    assert seen == [interrupt]


def test_base_exception_body_with_clean_cleanups_propagates_unchanged() -> None:
    """A ``KeyboardInterrupt`` body whose cleanups all succeed propagates as it was raised."""
    recorder = Events()
    container = recorder.diamond()
    interrupt = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as caught, container.scope() as scope:
        scope.resolve_sync(D)
        raise interrupt
    assert caught.value is interrupt
    assert all(seen is interrupt for seen in recorder.seen.values())
    assert len(recorder.seen) == 4


def test_enter_true_sync_context_manager_is_exited_with_the_body_exception() -> None:
    """An ``enter=True`` sync context manager is entered when created and exited with the ``with`` body's exception."""
    container = Container()
    container.register(SyncManager, scope=Scope.REQUEST, enter=True)
    with container.scope() as scope:
        clean = scope.resolve_sync(SyncManager)
        assert clean.events == ["enter"]
    assert clean.events == ["enter", "exit None"]
    with pytest.raises(ZeroDivisionError), container.scope() as scope:
        failed = scope.resolve_sync(SyncManager)
        1 / 0  # noqa: B018
    assert failed is not clean
    assert failed.events == ["enter", "exit ZeroDivisionError"]


def test_sync_on_close_runs_before_the_cleanups_of_earlier_instances() -> None:
    """A sync ``on_close`` callback runs when the ``with`` scope closes, before the cleanups of what existed then."""
    events: list[str] = []

    def resource() -> Iterator[A]:
        yield A()
        events.append("close a")

    def other() -> Iterator[B]:
        yield B()
        events.append("close b")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    container.register(factory=other, scope=Scope.REQUEST)
    with container.scope() as scope:
        scope.resolve_sync(A)
        scope.on_close(lambda: events.append("first callback"))
        scope.on_close(lambda: events.append("second callback"))
        scope.resolve_sync(B)
        assert events == []
    assert sorted(events) == ["close a", "close b", "first callback", "second callback"]
    assert events.index("first callback") < events.index("close a")
    assert events.index("second callback") < events.index("first callback")  # later callbacks first


def test_a_failing_sync_on_close_callback_is_grouped_and_the_others_still_run() -> None:
    """A sync ``on_close`` callback that raises is a cleanup failure; every other cleanup still runs."""
    events: list[str] = []

    def resource() -> Iterator[A]:
        yield A()
        events.append("close a")

    def failing() -> None:
        raise FailureError("flush failed")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    with pytest.raises(ExceptionGroup) as caught, container.scope() as scope:
        scope.resolve_sync(A)
        scope.on_close(failing)
    assert events == ["close a"]
    (failure,) = caught.value.exceptions
    assert isinstance(failure, FailureError)
    assert "failing" in failure.__notes__[0]


# -- refusals: nothing that needs an event loop in a `with` scope -----------------------------------


class Opened:
    """What the refusal tests' factories record."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def container(self, session_scope: Scope = Scope.REQUEST) -> Container:
        """Repo needs Session (async generator factory), which needs Connection (sync generator factory)."""

        def connect() -> Iterator[Connection]:
            self.events.append("open connection")
            yield Connection()
            self.events.append("close connection")

        async def open_session(connection: Connection) -> AsyncIterator[Session]:
            self.events.append("open session")
            yield Session()
            self.events.append("close session")

        container = Container()
        container.register(factory=connect, scope=Scope.SESSION if session_scope is Scope.SESSION else Scope.REQUEST)
        container.register(factory=open_session, scope=session_scope)
        container.register(Repo, scope=Scope.REQUEST)
        return container


@pytest.mark.anyio
@pytest.mark.parametrize("level", [Scope.REQUEST, Scope.TRANSIENT])
async def test_async_generator_instance_is_refused_in_a_with_scope(level: Scope) -> None:
    """Resolving an async-generator factory's instance in a ``with`` scope is refused, creating nothing."""
    opened = Opened()
    container = opened.container(level)
    with container.scope() as scope:
        with pytest.raises(AsyncProviderError) as caught:
            await container.resolve(Session)
        error = caught.value
        assert error.key is Session
        assert "open_session()" in str(error)
        assert "async generator factory" in str(error)
        assert "`with`" in str(error)
        assert "`async with`" in error.hint
        assert "sync cleanup" in error.hint
        with pytest.raises(AsyncProviderError, match=r"open_session\(\)"):
            await scope.resolve(Repo)
        assert opened.events == []  # neither the session nor its connection was opened
    assert scope.closed
    assert opened.events == []  # and nothing was left to clean up
    async with container.scope() as scope:  # with `async with` the same graph resolves
        repo = await scope.resolve(Repo)
        assert isinstance(repo.session, Session)
    assert opened.events == ["open connection", "open session", "close session", "close connection"]


@pytest.mark.anyio
async def test_async_generator_instance_is_refused_in_a_with_session_scope() -> None:
    """A SESSION async-generator instance cannot be held by a SESSION scope entered with ``with``."""
    opened = Opened()
    container = opened.container(Scope.SESSION)
    with container.scope(Scope.SESSION) as session:
        with pytest.raises(AsyncProviderError, match=r"open_session\(\)") as caught:
            await session.resolve(Session)
        assert "SESSION" in str(caught.value)
        assert opened.events == []
    assert opened.events == []


@pytest.mark.anyio
async def test_async_enter_true_instance_is_refused_in_a_with_scope() -> None:
    """An ``enter=True`` async context manager in a ``with`` scope is refused before it is constructed or entered."""
    AsyncManager.created = 0
    container = Container()
    container.register(AsyncManager, scope=Scope.REQUEST, enter=True)
    with container.scope() as scope:
        with pytest.raises(AsyncProviderError) as caught:
            await container.resolve(AsyncManager)
        error = caught.value
        assert error.key is AsyncManager
        assert "AsyncManager" in str(error)
        assert "enter=True" in str(error)
        assert "`with`" in str(error)
        assert "`async with`" in error.hint
        with pytest.raises(AsyncProviderError):
            await scope.resolve(AsyncManager)
    assert AsyncManager.created == 0
    async with container.scope() as scope:
        manager = await scope.resolve(AsyncManager)
        assert manager.events == ["enter"]
    assert manager.events == ["enter", "exit"]
    assert AsyncManager.created == 1


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["coroutine function", "async callable object"])
async def test_async_on_close_is_refused_on_a_with_scope(kind: str) -> None:
    """``scope.on_close`` with an async callback on a ``with`` scope raises at once, naming it; it never runs."""
    calls: list[str] = []

    async def flush_metrics() -> None:
        calls.append("flush")  # pragma: no cover - refused

    callback: Any = flush_metrics if kind == "coroutine function" else AsyncCallback()
    name = "flush_metrics" if kind == "coroutine function" else "AsyncCallback"
    container = lifetimes_container()
    with container.scope() as scope:
        with pytest.raises(AsyncProviderError) as caught:
            scope.on_close(callback)
        error = caught.value
        assert name in str(error)
        assert "on_close" in str(error)
        assert "async" in str(error)
        assert "`with`" in error.hint
        assert "`async with`" in error.hint
    assert scope.closed
    assert calls == []
    if isinstance(callback, AsyncCallback):
        assert callback.calls == 0


def test_async_on_close_given_before_a_with_entry_refuses_the_entry() -> None:
    """A scope given an async ``on_close`` callback before it is entered cannot be entered with ``with``."""

    async def flush_metrics() -> None:
        pass  # pragma: no cover - refused

    container = lifetimes_container()
    scope = container.scope()
    scope.on_close(flush_metrics)
    with pytest.raises(AsyncProviderError, match="flush_metrics"), scope:
        pass  # pragma: no cover - the with line raises
    with pytest.raises(NoActiveScopeError):  # the refused scope was never made current
        container.resolve_sync(RequestThing)


@pytest.mark.anyio
async def test_with_scope_is_refused_when_an_autouse_provider_of_its_level_is_async() -> None:
    """An async ``autouse`` provider of the scope's level refuses the ``with`` entry before anything is created."""
    made: list[str] = []

    def make_thing() -> RequestThing:
        made.append("thing")
        return RequestThing()

    async def start_audit() -> A:
        made.append("audit")
        return A()

    container = Container()
    container.register(RequestThing, factory=make_thing, scope=Scope.REQUEST, autouse=True)
    container.register(A, factory=start_audit, scope=Scope.REQUEST, autouse=True)
    with pytest.raises(AsyncProviderError) as caught, container.scope():
        pass  # pragma: no cover - the with line raises
    error = caught.value
    assert error.key is A
    assert "start_audit()" in str(error)
    assert "autouse" in str(error)
    assert "REQUEST" in str(error)
    assert "`with`" in str(error)
    assert "`async with`" in error.hint
    assert made == []  # not even the sync autouse provider
    with pytest.raises(NoActiveScopeError):  # no scope was left current
        container.resolve_sync(RequestThing)
    async with container.scope():
        assert sorted(made) == ["audit", "thing"]


def test_on_close_returning_a_coroutine_fails_at_close_and_the_coroutine_is_closed() -> None:
    """A sync ``on_close`` callback returning a coroutine is a cleanup failure; the coroutine is closed unawaited."""
    events: list[str] = []
    made: list[Coroutine[Any, Any, None]] = []

    async def flush() -> None:
        events.append("flush")  # pragma: no cover - never awaited

    def sneaky() -> Coroutine[Any, Any, None]:
        coroutine = flush()
        made.append(coroutine)
        return coroutine

    def resource() -> Iterator[A]:
        yield A()
        events.append("close a")

    container = Container()
    container.register(factory=resource, scope=Scope.REQUEST)
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        with pytest.raises(ExceptionGroup) as caught, container.scope() as scope:
            scope.resolve_sync(A)
            scope.on_close(sneaky)
        (coroutine,) = made
        assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
        del coroutine
        made.clear()
        gc.collect()
    assert [str(w.message) for w in caught_warnings if "never awaited" in str(w.message)] == []
    assert events == ["close a"]  # the other cleanups ran, the coroutine's body did not
    (failure,) = caught.value.exceptions
    assert isinstance(failure, AsyncProviderError)
    assert "sneaky" in str(failure)


# -- the container: close() and `with container:` -----------------------------------------------------


def test_container_close_disposes_app_instances_dependents_first() -> None:
    """``container.close()`` finishes the APP generators synchronously, dependents first, after on_close callbacks."""
    recorder = Events()
    container = recorder.diamond(Scope.APP)
    container.resolve_sync(D)
    container.on_close(lambda: recorder.events.append("callback"))
    recorder.events.clear()
    container.close()
    events = recorder.events
    assert events[0] == "callback"
    assert events[1] == "close d"
    assert sorted(events[2:4]) == ["close b", "close c"]
    assert events[4:] == ["close a"]


def test_with_container_disposes_app_instances_on_exit() -> None:
    """Leaving ``with container:`` disposes the APP instances; the body's exception is thrown in and propagates."""
    recorder = Events()
    container = recorder.diamond(Scope.APP)
    with container as entered:
        assert entered is container
        container.resolve_sync(D)
        assert [e for e in recorder.events if e.startswith("close")] == []
    assert next(e for e in recorder.events if e.startswith("close")) == "close d"
    assert len([e for e in recorder.events if e.startswith("close")]) == 4
    recorder.events.clear()
    error = FailureError("stopping")
    with pytest.raises(FailureError) as caught, container:
        container.resolve_sync(B)
        raise error
    assert caught.value is error
    assert recorder.events == ["open a", "open b", "close b", "close a"]
    assert recorder.seen == {"a": error, "b": error}


@pytest.mark.anyio
async def test_close_refuses_before_any_cleanup_when_an_app_instance_needs_async() -> None:
    """``close()`` names the async APP cleanup and runs no cleanup at all; ``await aclose()`` then closes everything."""
    events: list[str] = []

    def connect() -> Iterator[Connection]:
        yield Connection()
        events.append("close connection")

    async def open_session(connection: Connection) -> AsyncIterator[Session]:
        yield Session()
        events.append("close session")

    container = Container()
    container.register(factory=connect, scope=Scope.APP)
    container.register(factory=open_session, scope=Scope.APP)
    session = await container.resolve(Session)
    container.on_close(lambda: events.append("callback"))
    with pytest.raises(AsyncProviderError) as caught:
        container.close()
    error = caught.value
    assert error.key is Session
    assert "open_session()" in str(error)
    assert "aclose()" in error.hint
    assert events == []  # not even the sync cleanups or the callback
    assert await container.resolve(Session) is session  # nothing was disposed
    await container.aclose()
    assert events == ["callback", "close session", "close connection"]
    assert await container.resolve(Session) is not session


@pytest.mark.anyio
async def test_close_refuses_an_async_container_on_close_callback() -> None:
    """``close()`` with an async ``container.on_close`` callback raises first; ``aclose()`` runs it."""
    events: list[str] = []

    async def flush_metrics() -> None:
        events.append("flush")

    def connect() -> Iterator[Connection]:
        yield Connection()
        events.append("close connection")

    container = Container()
    container.register(factory=connect, scope=Scope.APP)
    container.resolve_sync(Connection)
    container.on_close(flush_metrics)
    with pytest.raises(AsyncProviderError, match="flush_metrics") as caught:
        container.close()
    assert "aclose()" in caught.value.hint
    assert events == []
    await container.aclose()
    assert events == ["flush", "close connection"]


def test_container_is_usable_again_after_close() -> None:
    """After ``close()`` the container starts afresh: new APP instances, disposed at the next close."""
    made: list[str] = []

    def make_app() -> Iterator[AppThing]:
        made.append("open")
        yield AppThing()
        made.append("close")

    container = Container()
    container.register(factory=make_app, scope=Scope.APP)
    container.register(RequestThing, scope=Scope.REQUEST)
    first = container.resolve_sync(AppThing)
    assert container.resolve_sync(AppThing) is first
    container.close()
    assert made == ["open", "close"]
    second = container.resolve_sync(AppThing)
    assert second is not first
    with container.scope() as scope:
        assert scope.resolve_sync(AppThing) is second
    container.close()
    assert made == ["open", "close", "open", "close"]


def test_with_container_creates_the_app_autouse_instances() -> None:
    """``with container:`` creates the sync APP ``autouse`` instances at entry, and disposes them at exit."""
    made: list[str] = []

    def start() -> Iterator[AppThing]:
        made.append("open")
        yield AppThing()
        made.append("close")

    container = Container()
    container.register(factory=start, scope=Scope.APP, autouse=True)
    with container:
        assert made == ["open"]
        first = container.resolve_sync(AppThing)
    assert made == ["open", "close"]
    with container:
        assert made == ["open", "close", "open"]
        assert container.resolve_sync(AppThing) is not first
    assert made == ["open", "close", "open", "close"]


@pytest.mark.anyio
async def test_with_container_refuses_an_async_app_autouse_provider() -> None:
    """``with container:`` raises ``AsyncProviderError`` naming an async APP ``autouse`` provider, creating nothing."""
    made: list[str] = []

    def make_app() -> AppThing:
        made.append("app")
        return AppThing()

    async def warm_up() -> A:
        made.append("warm up")
        return A()

    container = Container()
    container.register(AppThing, factory=make_app, scope=Scope.APP, autouse=True)
    container.register(A, factory=warm_up, scope=Scope.APP, autouse=True)
    with pytest.raises(AsyncProviderError) as caught, container:
        pass  # pragma: no cover - the with line raises
    error = caught.value
    assert error.key is A
    assert "warm_up()" in str(error)
    assert "async with container" in error.hint
    assert made == []
    async with container:
        assert made == ["app", "warm up"]


# -- threads -------------------------------------------------------------------------------------


def test_threads_racing_with_their_own_with_scopes_share_one_app_instance() -> None:
    """Eight threads in their own ``with`` scopes get distinct REQUEST instances and one APP instance, made once."""
    made: list[AppThing] = []
    lock = threading.Lock()

    def make_app() -> AppThing:
        thing = AppThing()
        with lock:
            made.append(thing)
        time.sleep(0.001)  # widen the window in which another thread could make a second one
        return thing

    container = Container()
    container.register(AppThing, factory=make_app, scope=Scope.APP)
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(RequestService, scope=Scope.REQUEST)
    count = 8
    barrier = threading.Barrier(count)
    results: list[tuple[AsyncRequestScope, RequestService, RequestThing, AppThing]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with container.scope() as scope:
                barrier.wait()
                service = container.resolve_sync(RequestService)
                thing = scope.resolve_sync(RequestThing)
                app = container.resolve_sync(AppThing)
                with lock:
                    results.append((scope, service, thing, app))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == count
    assert len({id(scope) for scope, _, _, _ in results}) == count
    assert len({id(service) for _, service, _, _ in results}) == count
    assert len({id(thing) for _, _, thing, _ in results}) == count
    assert all(service.thing is thing for _, service, thing, _ in results)
    assert len(made) == 1
    assert all(app is made[0] for _, _, _, app in results)
    assert all(service.app is made[0] for _, service, _, _ in results)
    assert all(scope.closed for scope, _, _, _ in results)


def test_session_instance_is_made_once_for_request_scopes_in_threads() -> None:
    """Threads opening ``with session.scope()`` in one session share its SESSION instance, made once."""
    made: list[SessionThing] = []
    lock = threading.Lock()

    def make_session_thing() -> SessionThing:
        thing = SessionThing()
        with lock:
            made.append(thing)
        time.sleep(0.001)
        return thing

    container = Container()
    container.register(SessionThing, factory=make_session_thing, scope=Scope.SESSION)
    container.register(RequestThing, scope=Scope.REQUEST)
    count = 8
    barrier = threading.Barrier(count)
    seen: list[tuple[SessionThing, RequestThing]] = []
    errors: list[BaseException] = []

    with container.scope(Scope.SESSION) as session:

        def work() -> None:
            try:
                with session.scope() as request:
                    barrier.wait()
                    pair = (request.resolve_sync(SessionThing), request.resolve_sync(RequestThing))
                    with lock:
                        seen.append(pair)
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(made) == 1
        assert session.resolve_sync(SessionThing) is made[0]
    assert len(seen) == count
    assert all(thing is made[0] for thing, _ in seen)
    assert len({id(request_thing) for _, request_thing in seen}) == count


def test_a_with_scope_opened_in_one_thread_is_not_current_in_another() -> None:
    """Another thread does not see this thread's ``with`` scope, and its own scope does not replace this one."""
    container = lifetimes_container()
    opened = threading.Event()
    done = threading.Event()
    observed: dict[str, Any] = {}

    def other_thread() -> None:
        opened.wait()
        try:
            container.resolve_sync(RequestThing)
        except NoActiveScopeError as error:
            observed["no scope"] = error
        observed["app"] = container.resolve_sync(AppThing)
        with container.scope() as own:
            observed["parent"] = own.parent
            observed["thing"] = container.resolve_sync(RequestThing)
            done.set()
            observed["main closed"] = main_closed.wait(5)

    main_closed = threading.Event()
    thread = threading.Thread(target=other_thread)
    thread.start()  # before the scope opens: whatever context it starts with holds no scope
    try:
        with container.scope() as mine:
            opened.set()
            assert done.wait(5)
            assert container.resolve_sync(RequestThing) is mine.resolve_sync(RequestThing)
            assert container.resolve_sync(RequestThing) is not observed["thing"]
        main_closed.set()
    finally:
        opened.set()
        main_closed.set()
        thread.join()
    assert isinstance(observed["no scope"], NoActiveScopeError)
    assert observed["app"] is container.resolve_sync(AppThing)
    parent = observed["parent"]
    assert isinstance(parent, AsyncRequestScope)
    assert parent.level is Scope.APP  # a child of APP, not of the other thread's scope
    assert observed["main closed"] is True


# -- `with` and `async with` mixed ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_with_scope_inside_an_async_with_scope_sees_its_ancestors() -> None:
    """A ``with`` REQUEST scope inside an ``async with`` SESSION scope is its child and sees its instances."""
    events: list[str] = []

    async def open_session(connection: Connection) -> AsyncIterator[Session]:
        yield Session()
        events.append("close session")

    container = lifetimes_container()
    container.register(Connection, scope=Scope.SESSION)
    container.register(factory=open_session, scope=Scope.SESSION)
    async with container.scope(Scope.SESSION) as session:
        mine = await session.resolve(SessionThing)
        with container.scope() as request:
            assert request.parent is session
            assert request.resolve_sync(SessionThing) is mine
            assert await container.resolve(SessionThing) is mine
            thing = await container.resolve(RequestThing)
            assert request.resolve_sync(RequestThing) is thing
            # Held by the `async with` session, not by this scope: allowed.
            held = await request.resolve(Session)
            with session.scope() as sibling:
                assert sibling.parent is session
                assert sibling.resolve_sync(RequestThing) is not thing
        assert request.closed
        assert events == []
        assert await session.resolve(Session) is held
        with pytest.raises(NoActiveScopeError):
            await container.resolve(RequestThing)
    assert events == ["close session"]


@pytest.mark.anyio
async def test_async_with_scope_inside_a_with_scope_sees_its_ancestors() -> None:
    """An ``async with`` REQUEST scope inside a ``with`` SESSION scope is its child and may hold async cleanups."""
    events: list[str] = []

    async def open_session(connection: Connection) -> AsyncIterator[Session]:
        yield Session()
        events.append("close session")

    async def open_b() -> AsyncIterator[B]:
        yield B()  # pragma: no cover - refused
        events.append("close b")  # pragma: no cover

    container = lifetimes_container()
    container.register(Connection, scope=Scope.REQUEST)
    container.register(factory=open_session, scope=Scope.REQUEST)
    container.register(factory=open_b, scope=Scope.SESSION)
    with container.scope(Scope.SESSION) as session:
        mine = session.resolve_sync(SessionThing)
        async with container.scope() as request:
            assert request.parent is session
            assert await request.resolve(SessionThing) is mine
            assert container.resolve_sync(SessionThing) is mine
            assert await container.resolve(Session) is await request.resolve(Session)
            # A SESSION instance would be held by the `with` session: refused, even from here.
            with pytest.raises(AsyncProviderError, match=r"open_b\(\)"):
                await request.resolve(B)
            async with session.scope() as sibling:
                assert sibling.parent is session
        assert events == ["close session"]
        assert request.closed
    assert session.closed


def test_with_container_after_its_app_scope_was_closed_by_hand_starts_anew() -> None:
    """An APP scope closed through ``scope.parent``: ``with container`` gives the container a fresh one."""
    events: list[str] = []

    def open_pool() -> Iterator[AppPool]:
        events.append("open")
        yield AppPool()
        events.append("close")

    container = Container()
    container.register(AppPool, factory=open_pool, scope=Scope.APP)
    with container.scope() as scope:
        first = scope.resolve_sync(AppPool)
        app_scope = scope.parent
    assert app_scope is not None
    app_scope.__exit__(None, None, None)
    assert events == ["open", "close"]
    with container:
        assert container.resolve_sync(AppPool) is not first
    assert events == ["open", "close", "open", "close"]


class AppPool:
    pass


def test_a_with_scope_handed_to_another_thread_resolves_there_with_its_own_instances() -> None:
    """A scope entered in one thread and handed to another resolves there: the same REQUEST instance as
    in the thread that entered it, created once although both threads ask at once; the scope stays
    current only where it was entered.
    """
    container = lifetimes_container()
    barrier = threading.Barrier(2)
    seen: list[object] = []
    current_there: list[bool] = []

    def other_thread(scope: AsyncRequestScope) -> None:
        barrier.wait()
        seen.append(scope.resolve_sync(RequestThing))
        try:
            container.resolve_sync(RequestThing)
        except NoActiveScopeError:
            current_there.append(False)

    with container.scope() as scope:
        thread = threading.Thread(target=other_thread, args=(scope,))
        thread.start()
        barrier.wait()
        mine = scope.resolve_sync(RequestThing)
        thread.join()
        assert seen == [mine]
        assert current_there == [False]


def test_a_closed_scope_kept_alive_does_not_keep_its_context_alive() -> None:
    """A scope keeps its ``ContextVar`` token only while bound: a closed scope something still holds
    (a traceback, a handle) does not keep the context it was entered in, nor that context's values.
    """
    import contextvars
    import gc
    import weakref

    class Payload:
        pass

    variable: contextvars.ContextVar[Payload] = contextvars.ContextVar("request_payload")
    container = Container()
    kept: list[object] = []

    def request() -> weakref.ref[Payload]:
        payload = Payload()
        variable.set(payload)
        with container.scope() as scope:
            pass
        kept.append(scope)
        return weakref.ref(payload)

    context = contextvars.copy_context()
    payload = context.run(request)
    del context
    gc.collect()
    assert len(kept) == 1  # the closed scope is still held
    assert payload() is None
