"""``@inject`` and ``container.call``: handlers without injected parameters, defaults of injected
parameters, lazy handles in sync handlers, closing scopes, racing first calls, odd callables.

This module does not use ``from __future__ import annotations``: some tests
need annotations that are objects, not strings.
"""

import inspect
import threading
from typing import Any

import pytest

import injectq_like._handlers
from injectq_like import Container, Inject, Lazy, Scope, ScopeError, inject


class Repo:
    pass


class Cache:
    pass


class Clock:
    pass


FALLBACK_CACHE = Cache()


def test_the_inject_marker_reads_as_inject_in_reprs() -> None:
    """``Inject[T]`` shows as ``Annotated[T, Inject]``, as in a signature printed by help()."""
    assert repr(Inject[Repo]) == f"typing.Annotated[{Repo.__module__}.Repo, Inject]"


# -- the visible signature --------------------------------------------------------------


@inject
async def greet(later: "Later", repo: Inject[Repo]) -> str:
    return f"{type(later).__name__} with {type(repo).__name__}"


class Later:
    """Defined after ``greet`` was decorated: its annotation could not be evaluated then."""


@pytest.mark.anyio
async def test_a_handler_decorated_before_its_forward_references_exist_hides_its_injected_parameters() -> None:
    """When the annotations cannot be evaluated yet, ``Inject[...]`` objects are still left out of the signature."""
    assert str(inspect.signature(greet)) == "(later: 'Later') -> str"
    container = Container()
    container.register(Repo)
    async with container.scope():
        assert await greet(Later()) == "Later with Repo"


# -- handlers with nothing to inject ----------------------------------------------------


@pytest.mark.anyio
async def test_a_handler_without_injected_parameters_needs_no_scope() -> None:
    """``@inject`` on a function without ``Inject[...]`` parameters just calls it, scope or not."""

    @inject
    async def double(value: int) -> int:
        return 2 * value

    @inject
    def triple(value: int) -> int:
        return 3 * value

    assert await double(4) == 8
    assert triple(4) == 12


# -- injected parameters with defaults -----------------------------------------------------


@inject
async def lookup(repo: Inject[Repo], cache: Inject[Cache] = FALLBACK_CACHE) -> tuple[Repo, Cache]:
    return repo, cache


@inject
def lookup_sync(repo: Inject[Repo], clock: Inject[Clock], cache: Inject[Cache] = FALLBACK_CACHE) -> tuple[Any, ...]:
    return repo, clock, cache


@pytest.mark.anyio
async def test_an_injected_parameter_with_a_default_is_injected_only_when_registered() -> None:
    """With some injected arguments passed, an omitted one with a default gets the default if its type
    is not registered, and is resolved if it is.
    """
    mine = Repo()
    without_cache = Container()
    without_cache.register(Repo)
    without_cache.register(Clock)
    async with without_cache.scope():
        assert await lookup(repo=mine) == (mine, FALLBACK_CACHE)
        repo, clock, cache = lookup_sync(repo=mine)
        assert (repo, type(clock), cache) == (mine, Clock, FALLBACK_CACHE)

    with_cache = Container()
    with_cache.register(Repo)
    with_cache.register(Clock)
    with_cache.register(Cache, scope=Scope.REQUEST)
    async with with_cache.scope() as scope:
        cached = await scope.resolve(Cache)
        assert await lookup(repo=mine) == (mine, cached)
        assert lookup_sync(repo=mine)[2] is cached


async def describe_call(user_id: int, repo: Inject[Repo], cache: Inject[Cache] = FALLBACK_CACHE) -> str:
    return f"{user_id}: {type(repo).__name__}, {'fallback' if cache is FALLBACK_CACHE else 'registered'} cache"


@pytest.mark.anyio
async def test_container_call_uses_the_default_of_an_unregistered_injected_parameter() -> None:
    """``container.call`` resolves registered ``Inject[...]`` parameters and leaves the others their default."""
    container = Container()
    container.register(Repo)
    assert await container.call(describe_call, 1) == "1: Repo, fallback cache"
    registered = Container()
    registered.register(Repo)
    registered.register(Cache)
    assert await registered.call(describe_call, 2) == "2: Repo, registered cache"


# -- sync handlers -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_sync_handler_gets_a_lazy_handle_for_an_omitted_lazy_parameter() -> None:
    """A sync handler's ``Inject[Lazy[T]]`` is a handle bound to the current scope, resolved on first await."""
    container = Container()
    container.register(Clock, scope=Scope.REQUEST)

    @inject(container=container)
    def handler(repo: Inject[Repo], clock: Inject[Lazy[Clock]]) -> Lazy[Clock]:
        return clock

    async with container.scope() as scope:
        handle = handler(repo=Repo())
        assert isinstance(handle, Lazy)
        assert not handle.resolved
        assert await handle() is await scope.resolve(Clock)
        assert handle.resolved


@pytest.mark.anyio
async def test_a_sync_handler_with_an_injected_parameter_first_takes_the_callers_arguments_by_position() -> None:
    """``handler(repo: Inject[Repo], user_id: int)`` is called as ``handler(7)`` or ``handler(7, flag=...)``."""
    container = Container()
    container.register(Repo, scope=Scope.REQUEST)

    @inject
    def handler(repo: Inject[Repo], user_id: int, *, flag: bool = False) -> tuple[Repo, int, bool]:
        return repo, user_id, flag

    async with container.scope() as scope:
        repo = await scope.resolve(Repo)
        assert handler(7) == (repo, 7, False)
        assert handler(8, flag=True) == (repo, 8, True)


# -- closing scopes --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_handlers_called_while_their_scope_closes_are_refused() -> None:
    """A handler called from an ``on_close`` callback resolves from a closing scope: a ScopeError."""
    container = Container()
    container.register(Repo, scope=Scope.REQUEST)

    @inject
    async def async_handler(repo: Inject[Repo]) -> Repo:
        return repo  # pragma: no cover - refused before the call

    @inject
    def sync_handler(repo: Inject[Repo]) -> Repo:
        return repo  # pragma: no cover - refused before the call

    refused: list[str] = []

    async def call_async_handler() -> None:
        try:
            await async_handler()
        except ScopeError as error:
            refused.append(f"async: {error.message}")

    def call_sync_handler() -> None:
        try:
            sync_handler()
        except ScopeError as error:
            refused.append(f"sync: {error.message}")

    async with container.scope() as scope:
        assert isinstance(await async_handler(), Repo)
        assert isinstance(sync_handler(), Repo)
        scope.on_close(call_async_handler)
        scope.on_close(call_sync_handler)
    closed = "this REQUEST scope is closed: what it would create now would never be cleaned up"
    assert refused == [f"sync: {closed}", f"async: {closed}"]


# -- the first call, from two threads at once -------------------------------------------------


class _InterleavingLock:
    """Stands in for a handler's plan lock: the first time it is taken, another thread runs
    ``interloper`` to completion first, as if the scheduler had switched threads there.
    """

    def __init__(self, inner: Any, interloper: Any) -> None:
        self.inner = inner
        self.interloper = interloper

    def __enter__(self) -> Any:
        interloper, self.interloper = self.interloper, None
        if interloper is not None:
            thread = threading.Thread(target=interloper)
            thread.start()
            thread.join()
        return self.inner.__enter__()

    def __exit__(self, *exc_info: object) -> Any:
        return self.inner.__exit__(*exc_info)


def test_a_handlers_plan_is_read_once_when_two_threads_call_it_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """When another thread reads the plan between our check and our lock, we use its plan."""
    reads: list[object] = []
    original = injectq_like._handlers.injected_parameters

    def counting(function: Any) -> Any:
        reads.append(function)
        return original(function)

    monkeypatch.setattr(injectq_like._handlers, "injected_parameters", counting)
    container = Container()
    container.register(Repo)

    @inject(container=container)
    def handler(user_id: int, repo: Inject[Repo]) -> str:
        return f"{user_id}: {type(repo).__name__}"

    results: list[str] = []
    plans = handler.__injectq_like__  # type: ignore[attr-defined]
    plans._lock = _InterleavingLock(plans._lock, lambda: results.append(handler(1)))
    results.append(handler(2))
    assert results == ["1: Repo", "2: Repo"]
    assert len(reads) == 1


# -- container.call on callables that cannot be weakly referenced ------------------------------


class SlottedHandler:
    """A callable object without ``__weakref__``: its plan cannot be cached by weak reference."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, user_id: int, repo: Inject[Repo]) -> tuple[int, Repo]:
        self.calls += 1
        return user_id, repo


@pytest.mark.anyio
async def test_container_call_reads_the_plan_of_a_callable_that_cannot_be_weakly_referenced() -> None:
    """Such a callable is still injected, at every call."""
    container = Container()
    container.register(Repo, scope=Scope.APP)
    handler = SlottedHandler()
    repo = await container.resolve(Repo)
    assert await container.call(handler, 7) == (7, repo)
    assert await container.call(handler, 8) == (8, repo)
    mine = Repo()
    assert await container.call(handler, 9, repo=mine) == (9, mine)
    assert handler.calls == 3


@pytest.mark.anyio
async def test_a_handler_that_cannot_be_planned_opens_no_scope_of_its_own() -> None:
    """``@inject(scope=...)``: the handler's annotations are read before its scope opens, so one
    that cannot be read fails each call with nothing created (no autouse instance, no cleanup).
    """
    from collections.abc import AsyncIterator

    from injectq_like import AnnotationError

    class Audit:
        pass

    log: list[str] = []

    async def open_audit() -> AsyncIterator[Audit]:
        log.append("audit opened")
        yield Audit()
        log.append("audit closed")

    container = Container()
    container.register(Audit, factory=open_audit, scope=Scope.REQUEST, autouse=True)

    @inject(container=container, scope=Scope.REQUEST)
    async def handler(audit: Inject["Undefined"]) -> None:  # type: ignore[name-defined]  # noqa: F821
        raise AssertionError("never called")

    async with container:
        for _ in range(2):
            with pytest.raises(AnnotationError, match="Undefined"):
                await handler()
    assert log == []


@pytest.mark.anyio
async def test_a_scope_per_call_fails_as_an_explicit_scope_does() -> None:
    """``@inject(scope=Scope.REQUEST)`` closes its scope as ``async with container.scope()`` would:
    the handler's exception is thrown into the cleanups, and a cleanup's failure comes after it in
    one group, with the same note, whichever form opened the scope.
    """
    from collections.abc import AsyncIterator

    class Session:
        pass

    seen: list[str] = []

    async def open_session() -> AsyncIterator[Session]:
        try:
            yield Session()
        except KeyError as error:
            seen.append(f"thrown in: {error!r}")
        raise ValueError("rollback failed")

    container = Container()
    container.register(Session, factory=open_session, scope=Scope.REQUEST)

    async def body(session: Session) -> None:
        assert isinstance(session, Session)
        raise KeyError("order")

    @inject
    async def in_the_current_scope(session: Inject[Session]) -> None:
        await body(session)

    @inject(container=container, scope=Scope.REQUEST)
    async def in_a_scope_of_its_own(session: Inject[Session]) -> None:
        await body(session)

    groups: list[list[tuple[str, str, list[str]]]] = []
    async with container:
        for form in ("explicit", "per call"):
            with pytest.raises(BaseExceptionGroup) as raised:
                if form == "explicit":
                    async with container.scope():
                        await in_the_current_scope()
                else:
                    await in_a_scope_of_its_own()
            groups.append(
                [(type(e).__name__, str(e), list(getattr(e, "__notes__", []))) for e in raised.value.exceptions]
            )
    assert groups[0] == groups[1]
    assert [(name, message) for name, message, _ in groups[1]] == [
        ("KeyError", "'order'"),
        ("ValueError", "rollback failed"),
    ]
    assert seen == ["thrown in: KeyError('order')", "thrown in: KeyError('order')"]
