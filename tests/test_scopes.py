"""Scopes: lifetimes, nesting, the current scope in tasks and threads, context values, autouse."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from injectq_like import (
    AsyncRequestScope,
    Container,
    DIError,
    InvalidContainerError,
    MissingProviderError,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    ScopeError,
)


class AppThing:
    pass


class SessionThing:
    pass


class RequestThing:
    pass


class TransientThing:
    pass


class PairOfTransients:
    def __init__(self, first: TransientThing, second: TransientThing) -> None:
        self.first, self.second = first, second


class RequestService:
    """REQUEST-scoped, built from a REQUEST and an APP dependency."""

    def __init__(self, thing: RequestThing, app: AppThing) -> None:
        self.thing, self.app = thing, app


class SessionService:
    """TRANSIENT, built from one instance of each cached lifetime."""

    def __init__(self, app: AppThing, session: SessionThing, request: RequestThing) -> None:
        self.app, self.session, self.request = app, session, request


def lifetimes_container() -> Container:
    container = Container()
    container.register(AppThing, scope=Scope.APP)
    container.register(SessionThing, scope=Scope.SESSION)
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(TransientThing)
    container.register(PairOfTransients)
    container.register(RequestService, scope=Scope.REQUEST)
    container.register(SessionService)
    return container


class Request:
    def __init__(self, path: str) -> None:
        self.path = path


class Connection:
    def __init__(self, peer: str) -> None:
        self.peer = peer


class Handler:
    def __init__(self, request: Request) -> None:
        self.request = request


class ConnectionHandler:
    def __init__(self, connection: Connection, request: Request) -> None:
        self.connection, self.request = connection, request


def context_container() -> Container:
    container = Container()
    container.register_context(Request, scope=Scope.REQUEST)
    container.register_context(Connection, scope=Scope.SESSION)
    container.register(Handler)
    container.register(ConnectionHandler)
    return container


def is_trio(anyio_backend: Any) -> bool:
    name: str = anyio_backend[0] if isinstance(anyio_backend, tuple) else anyio_backend
    return name == "trio"


# -- opening and nesting -----------------------------------------------------------------


@pytest.mark.anyio
async def test_container_scope_is_a_request_scope_child_of_app() -> None:
    """``container.scope()`` with no scope open is a REQUEST ``AsyncRequestScope`` whose parent is the APP scope."""
    container = lifetimes_container()
    scope = container.scope()
    assert isinstance(scope, AsyncRequestScope)
    assert scope.level is Scope.REQUEST
    parent = scope.parent
    assert parent is not None
    assert parent.level is Scope.APP
    assert parent.parent is None
    assert not scope.closed
    async with scope as entered:
        assert entered is scope
        assert not scope.closed
    assert scope.closed


@pytest.mark.anyio
async def test_session_scope_and_request_scopes_inside_it() -> None:
    """``container.scope(Scope.SESSION)`` is a SESSION scope; ``session.scope()`` opens REQUEST scopes in it."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session:
        assert isinstance(session, AsyncRequestScope)
        assert session.level is Scope.SESSION
        assert session.parent is not None
        assert session.parent.level is Scope.APP
        async with session.scope() as request:
            assert request.level is Scope.REQUEST
            assert request.parent is session


@pytest.mark.anyio
async def test_scope_scope_nests() -> None:
    """``scope.scope()`` opens a REQUEST child of that scope, and the outer scope is current again after it."""
    container = lifetimes_container()
    async with container.scope() as outer:
        outer_thing = await outer.resolve(RequestThing)
        async with outer.scope() as inner:
            assert inner.level is Scope.REQUEST
            assert inner.parent is outer
            assert await container.resolve(RequestThing) is await inner.resolve(RequestThing)
            async with inner.scope() as innermost:
                assert innermost.parent is inner
        assert inner.closed
        assert not outer.closed
        assert await container.resolve(RequestThing) is outer_thing


@pytest.mark.anyio
async def test_container_scope_nests_under_the_current_scope() -> None:
    """``container.scope()`` inside an open scope of the same container is a child of that scope."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session:
        async with container.scope() as request:
            assert request.parent is session
            async with container.scope() as nested:
                assert nested.parent is request
                assert nested.level is Scope.REQUEST
        async with container.scope() as sibling:
            assert sibling.parent is session


# -- identity rules -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_app_instance_is_one_per_container() -> None:
    """An APP instance is the same in the APP scope and in every scope, and differs between containers."""
    container = lifetimes_container()
    app = await container.resolve(AppThing)
    async with container.scope(Scope.SESSION) as session:
        assert await session.resolve(AppThing) is app
        async with session.scope() as request:
            assert await request.resolve(AppThing) is app
    async with container.scope() as request:
        assert await request.resolve(AppThing) is app
        assert request.resolve_sync(AppThing) is app
    other = lifetimes_container()
    assert await other.resolve(AppThing) is not app


@pytest.mark.anyio
async def test_session_instance_is_one_per_session_scope() -> None:
    """A SESSION instance is shared by the session and its request scopes, and differs between sessions."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as first:
        mine = await first.resolve(SessionThing)
        assert await first.resolve(SessionThing) is mine
        assert await container.resolve(SessionThing) is mine
        async with first.scope() as request:
            assert await request.resolve(SessionThing) is mine
        async with container.scope() as request:
            assert await request.resolve(SessionThing) is mine
    async with container.scope(Scope.SESSION) as second:
        assert await second.resolve(SessionThing) is not mine


@pytest.mark.anyio
async def test_request_instance_is_one_per_request_scope() -> None:
    """The same request scope returns the same REQUEST instance; two sibling request scopes get different ones."""
    container = lifetimes_container()
    async with container.scope() as first:
        mine = await first.resolve(RequestThing)
        assert await first.resolve(RequestThing) is mine
        assert first.resolve_sync(RequestThing) is mine
        service = await first.resolve(RequestService)
        assert service.thing is mine
        assert await first.resolve(RequestService) is service
    async with container.scope() as second:
        theirs = await second.resolve(RequestThing)
        assert theirs is not mine
        assert (await second.resolve(RequestService)).thing is theirs
        assert (await second.resolve(RequestService)).app is service.app


@pytest.mark.anyio
async def test_transient_is_new_at_each_injection_point() -> None:
    """A TRANSIENT is created for every parameter that needs it and at every resolution, even in one scope."""
    container = lifetimes_container()
    async with container.scope() as scope:
        pair = await scope.resolve(PairOfTransients)
        assert isinstance(pair.first, TransientThing)
        assert isinstance(pair.second, TransientThing)
        assert pair.first is not pair.second
        one = await scope.resolve(TransientThing)
        two = await scope.resolve(TransientThing)
        assert one is not two
        assert one is not pair.first
        assert one is not pair.second
        assert await scope.resolve(PairOfTransients) is not pair


@pytest.mark.anyio
async def test_request_instance_is_created_once_under_concurrent_tasks() -> None:
    """Fifty tasks asking one request scope for a slow REQUEST instance at once get one instance, created once."""
    calls = 0

    async def slow_thing() -> RequestThing:
        nonlocal calls
        calls += 1
        await anyio.sleep(0.01)
        return RequestThing()

    container = Container()
    container.register(factory=slow_thing, scope=Scope.REQUEST)
    got: list[RequestThing] = []

    async def ask() -> None:
        got.append(await container.resolve(RequestThing))

    async with container.scope() as scope:
        async with anyio.create_task_group() as group:
            for _ in range(50):
                group.start_soon(ask)
        assert await scope.resolve(RequestThing) is got[0]
    assert calls == 1
    assert len(got) == 50
    assert all(thing is got[0] for thing in got)
    async with container.scope() as other:
        assert await other.resolve(RequestThing) is not got[0]
    assert calls == 2


@pytest.mark.anyio
async def test_request_scope_in_a_session_sees_the_session_instances() -> None:
    """A REQUEST scope inside a SESSION gets the session's SESSION instance and the APP one."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session:
        async with session.scope() as first:
            one = await first.resolve(SessionService)
        async with session.scope() as second:
            two = await second.resolve(SessionService)
        assert one.session is two.session
        assert one.session is await session.resolve(SessionThing)
        assert one.app is two.app
        assert one.app is await container.resolve(AppThing)
        assert one.request is not two.request


@pytest.mark.anyio
async def test_nested_request_scope_has_its_own_request_instances() -> None:
    """A REQUEST scope nested in a REQUEST scope owns new REQUEST instances but shares SESSION and APP ones."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session, session.scope() as outer:
        outer_service = await outer.resolve(SessionService)
        async with outer.scope() as inner:
            inner_service = await inner.resolve(SessionService)
            assert inner_service.request is not outer_service.request
            assert inner_service.request is await inner.resolve(RequestThing)
            assert inner_service.session is outer_service.session
            assert inner_service.app is outer_service.app
        assert await outer.resolve(RequestThing) is outer_service.request


# -- the current scope --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_container_resolve_uses_the_current_scope() -> None:
    """Inside ``async with container.scope() as s``, ``container.resolve`` returns what ``s.resolve`` returns."""
    container = lifetimes_container()
    async with container.scope() as scope:
        by_container = await container.resolve(RequestThing)
        assert by_container is await scope.resolve(RequestThing)
        assert container.resolve_sync(RequestThing) is by_container
        service = await scope.resolve(RequestService)
        assert await container.resolve(RequestService) is service


@pytest.mark.anyio
async def test_container_uses_the_app_scope_after_the_block() -> None:
    """After the scope block, REQUEST providers need a scope again and APP instances are unchanged."""
    container = lifetimes_container()
    app = await container.resolve(AppThing)
    async with container.scope() as scope:
        await scope.resolve(RequestThing)
        assert await container.resolve(AppThing) is app
    with pytest.raises(NoActiveScopeError):
        await container.resolve(RequestThing)
    with pytest.raises(NoActiveScopeError):
        container.resolve_sync(RequestThing)
    assert await container.resolve(AppThing) is app


@pytest.mark.anyio
async def test_task_group_children_see_the_current_scope() -> None:
    """Tasks started in an anyio task group inside the block resolve in the scope."""
    container = lifetimes_container()
    seen: list[RequestThing] = []
    services: list[RequestService] = []

    async def child() -> None:
        seen.append(await container.resolve(RequestThing))
        services.append(await container.resolve(RequestService))

    async with container.scope() as scope:
        mine = await scope.resolve(RequestThing)
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(child)
        assert await scope.resolve(RequestService) is services[0]
    assert len(seen) == 3
    assert all(thing is mine for thing in seen)
    assert all(service is services[0] for service in services)


@pytest.mark.anyio
async def test_asyncio_tasks_see_the_current_scope(anyio_backend: Any) -> None:
    """``asyncio.gather`` and ``asyncio.create_task`` inside the block resolve in the scope."""
    if is_trio(anyio_backend):
        pytest.skip("asyncio tasks need an asyncio event loop")
    container = lifetimes_container()
    async with container.scope() as scope:
        mine = await scope.resolve(RequestThing)
        gathered = await asyncio.gather(
            container.resolve(RequestThing),
            container.resolve(RequestService),
            container.resolve(RequestService),
        )
        assert gathered[0] is mine
        assert gathered[1] is gathered[2]
        assert gathered[1] is await scope.resolve(RequestService)
        task = asyncio.create_task(container.resolve(RequestThing))
        assert await task is mine


@pytest.mark.anyio
async def test_worker_threads_see_the_current_scope() -> None:
    """``anyio.to_thread.run_sync(container.resolve_sync, X)`` inside the block resolves in the scope."""
    container = lifetimes_container()
    async with container.scope() as scope:
        made_in_thread = await anyio.to_thread.run_sync(container.resolve_sync, RequestService)
        assert await scope.resolve(RequestService) is made_in_thread
        mine = await scope.resolve(RequestThing)
        assert await anyio.to_thread.run_sync(container.resolve_sync, RequestThing) is mine
        assert made_in_thread.thing is mine


@pytest.mark.anyio
async def test_scope_opened_in_a_child_task_is_invisible_to_the_parent() -> None:
    """A child task's scope is not the parent's current scope, neither while it is open nor after."""
    container = lifetimes_container()
    opened = anyio.Event()
    release = anyio.Event()
    seen: list[RequestThing] = []
    parents: list[AsyncRequestScope | None] = []

    async def child() -> None:
        async with container.scope() as inner:
            parents.append(inner.parent)
            seen.append(await container.resolve(RequestThing))
            opened.set()
            await release.wait()

    async with container.scope() as outer:
        mine = await outer.resolve(RequestThing)
        async with anyio.create_task_group() as group:
            group.start_soon(child)
            await opened.wait()
            during = await container.resolve(RequestThing)
            release.set()
        after = await container.resolve(RequestThing)
    assert parents == [outer]  # the child started inside the outer scope, so it nested there
    assert seen[0] is not mine
    assert during is mine
    assert after is mine


@pytest.mark.anyio
async def test_scope_opened_in_a_child_task_leaves_the_parent_without_scope() -> None:
    """With no scope in the parent, a child's scope does not make REQUEST providers resolvable there."""
    container = lifetimes_container()
    seen: list[RequestThing] = []

    async def child() -> None:
        async with container.scope():
            seen.append(await container.resolve(RequestThing))

    async with anyio.create_task_group() as group:
        group.start_soon(child)
    assert len(seen) == 1
    with pytest.raises(NoActiveScopeError):
        await container.resolve(RequestThing)


@pytest.mark.anyio
async def test_two_containers_do_not_see_each_others_scopes() -> None:
    """Inside A's scope, container B resolves in B's APP scope, and its scopes nest under B's APP scope."""
    first = lifetimes_container()
    second = lifetimes_container()
    second_app = await second.resolve(AppThing)
    async with first.scope() as scope:
        mine = await scope.resolve(RequestThing)
        assert await second.resolve(AppThing) is second_app
        assert await second.resolve(AppThing) is not await first.resolve(AppThing)
        with pytest.raises(NoActiveScopeError):
            await second.resolve(RequestThing)
        with pytest.raises(NoActiveScopeError):
            second.resolve_sync(RequestThing)
        async with second.scope() as other:
            assert other.parent is not scope
            assert other.parent is not None
            assert other.parent.level is Scope.APP
            theirs = await second.resolve(RequestThing)
            assert theirs is await other.resolve(RequestThing)
            assert theirs is not mine
            assert await first.resolve(RequestThing) is mine  # A still finds its own scope
            async with first.scope() as nested:
                assert nested.parent is scope
                assert await second.resolve(RequestThing) is theirs
        assert await first.resolve(RequestThing) is mine


# -- errors about scopes ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_request_provider_without_a_scope_raises_no_active_scope() -> None:
    """A REQUEST provider with no scope open is a NoActiveScopeError that says to open ``container.scope()``."""
    container = lifetimes_container()
    with pytest.raises(NoActiveScopeError) as caught:
        await container.resolve(RequestThing)
    error = caught.value
    assert isinstance(error, ScopeError)
    assert isinstance(error, DIError)
    assert error.key is RequestThing
    assert error.scope is Scope.REQUEST
    message = str(error)
    assert "RequestThing" in message
    assert "REQUEST" in message
    assert "container.scope(" in message


@pytest.mark.anyio
async def test_no_active_scope_names_the_resolution_path() -> None:
    """Reached through a TRANSIENT, the NoActiveScopeError names the path from the type asked for."""

    class NeedsRequest:
        def __init__(self, thing: RequestThing) -> None:
            self.thing = thing

    container = lifetimes_container()
    container.register(NeedsRequest)
    with pytest.raises(NoActiveScopeError) as caught:
        await container.resolve(NeedsRequest)
    assert caught.value.key is RequestThing
    assert caught.value.path == (NeedsRequest, RequestThing)
    assert "NeedsRequest -> RequestThing" in str(caught.value)
    assert isinstance(await container.resolve(PairOfTransients), PairOfTransients)  # no scope needed there


@pytest.mark.anyio
async def test_request_provider_in_a_session_without_request_scope() -> None:
    """A SESSION scope alone does not make REQUEST providers resolvable."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session:
        with pytest.raises(NoActiveScopeError) as caught:
            await session.resolve(RequestThing)
        with pytest.raises(NoActiveScopeError):
            await container.resolve(RequestThing)
    assert caught.value.scope is Scope.REQUEST
    assert "container.scope(" in str(caught.value)


@pytest.mark.anyio
async def test_session_provider_in_a_request_scope_without_session() -> None:
    """A SESSION provider inside a REQUEST scope with no SESSION open says to open a SESSION scope."""
    container = lifetimes_container()
    async with container.scope() as scope:
        with pytest.raises(NoActiveScopeError) as caught:
            await scope.resolve(SessionThing)
        with pytest.raises(NoActiveScopeError):
            scope.resolve_sync(SessionThing)
        with pytest.raises(NoActiveScopeError) as through:
            await scope.resolve(SessionService)
    error = caught.value
    assert isinstance(error, ScopeError)
    assert isinstance(error, DIError)
    assert error.scope is Scope.SESSION
    message = str(error)
    assert "SessionThing" in message
    assert "SESSION" in message
    assert "container.scope(Scope.SESSION)" in message
    assert through.value.key is SessionThing
    assert through.value.path == (SessionService, SessionThing)
    assert "SessionService -> SessionThing" in str(through.value)


@pytest.mark.anyio
async def test_session_scope_inside_a_request_scope_is_an_error() -> None:
    """Opening a SESSION scope while a REQUEST scope of the container is current is a ScopeError."""
    container = lifetimes_container()
    async with container.scope() as request:
        with pytest.raises(ScopeError, match="SESSION"):
            container.scope(Scope.SESSION)
        with pytest.raises(ScopeError, match="SESSION"):
            request.scope(Scope.SESSION)
    async with container.scope(Scope.SESSION) as session, session.scope():
        with pytest.raises(ScopeError, match="SESSION"):
            container.scope(Scope.SESSION)


@pytest.mark.anyio
async def test_session_scope_from_a_session_while_its_request_is_current_is_an_error() -> None:
    """``session.scope(Scope.SESSION)`` while a REQUEST scope of the container is current is a ScopeError too."""
    container = lifetimes_container()
    async with container.scope(Scope.SESSION) as session, session.scope():
        with pytest.raises(ScopeError, match="SESSION"):
            session.scope(Scope.SESSION)


@pytest.mark.anyio
async def test_session_scope_inside_a_request_scope_behind_another_containers_scope() -> None:
    """The container's REQUEST scope forbids a SESSION scope even when another container's scope is innermost."""
    first = lifetimes_container()
    second = lifetimes_container()
    async with first.scope(), second.scope():
        with pytest.raises(ScopeError, match="SESSION"):
            first.scope(Scope.SESSION)


@pytest.mark.anyio
async def test_session_scope_inside_another_containers_request_scope_is_fine() -> None:
    """Only a REQUEST scope of the same container forbids a SESSION scope."""
    first = lifetimes_container()
    second = lifetimes_container()
    async with first.scope(), second.scope(Scope.SESSION) as session:
        assert session.level is Scope.SESSION
        assert isinstance(await session.resolve(SessionThing), SessionThing)


@pytest.mark.anyio
@pytest.mark.parametrize("level", [Scope.APP, Scope.TRANSIENT])
async def test_app_and_transient_scopes_cannot_be_opened(level: Scope) -> None:
    """Only SESSION and REQUEST scopes can be opened, from the container or from a scope."""
    container = lifetimes_container()
    with pytest.raises(ScopeError, match="cannot open a scope"):
        container.scope(level)
    async with container.scope() as scope:
        with pytest.raises(ScopeError, match="cannot open a scope"):
            scope.scope(level)


@pytest.mark.anyio
async def test_a_scope_is_entered_only_once() -> None:
    """Entering a scope a second time, while open or after it closed, is a ScopeError."""
    container = lifetimes_container()
    scope = container.scope()
    async with scope:
        with pytest.raises(ScopeError, match="only once"):
            await scope.__aenter__()
        assert await container.resolve(RequestThing) is await scope.resolve(RequestThing)
    with pytest.raises(ScopeError, match="only once"):
        async with scope:
            pass  # pragma: no cover - never entered
    with pytest.raises(NoActiveScopeError):
        await container.resolve(RequestThing)


@pytest.mark.anyio
async def test_resolving_in_a_closed_scope_is_an_error() -> None:
    """A scope kept past its block refuses to resolve or to open children, saying it is closed."""
    container = lifetimes_container()
    async with container.scope() as scope:
        await scope.resolve(RequestThing)
    assert scope.closed
    with pytest.raises(ScopeError, match="closed"):
        await scope.resolve(RequestThing)
    with pytest.raises(ScopeError, match="closed"):
        scope.resolve_sync(RequestThing)
    with pytest.raises(ScopeError, match="closed"):
        await scope.resolve(AppThing)
    with pytest.raises(ScopeError, match="closed"):
        scope.scope()


@pytest.mark.anyio
async def test_resolving_in_a_scope_not_entered_is_an_error() -> None:
    """A scope that was created but not entered refuses to resolve."""
    container = lifetimes_container()
    scope = container.scope()
    with pytest.raises(ScopeError, match="not open"):
        await scope.resolve(RequestThing)
    with pytest.raises(ScopeError, match="not open"):
        scope.resolve_sync(RequestThing)


# -- context values ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_context_value_is_injected() -> None:
    """A value given to ``container.scope(context=...)`` is what providers depending on its type receive."""
    container = context_container()
    request = Request("/users/7")
    async with container.scope(context={Request: request}) as scope:
        assert await scope.resolve(Request) is request
        handler = await scope.resolve(Handler)
        assert handler.request is request
        assert (await container.resolve(Handler)).request is request
        assert scope.resolve_sync(Handler).request is request
    async with container.scope(context={Request: Request("/other")}) as other:
        assert (await other.resolve(Handler)).request.path == "/other"


@pytest.mark.anyio
async def test_nested_scope_inherits_context_unless_given_its_own() -> None:
    """A nested REQUEST scope sees its parent's context values, or its own when given them."""
    container = context_container()
    outer_request = Request("/outer")
    inner_request = Request("/inner")
    async with container.scope(context={Request: outer_request}) as outer:
        async with outer.scope() as inherited:
            assert (await inherited.resolve(Handler)).request is outer_request
        async with container.scope() as inherited_too:
            assert (await inherited_too.resolve(Handler)).request is outer_request
        async with outer.scope(context={Request: inner_request}) as own:
            assert (await own.resolve(Handler)).request is inner_request
            async with own.scope() as deeper:
                assert (await deeper.resolve(Request)) is inner_request
        assert (await outer.resolve(Handler)).request is outer_request


class Tenant:
    def __init__(self, name: str) -> None:
        self.name = name


class TenantHandler:
    def __init__(self, request: Request, tenant: Tenant) -> None:
        self.request, self.tenant = request, tenant


@pytest.mark.anyio
async def test_nested_scope_inherits_the_context_values_it_is_not_given() -> None:
    """A nested scope given one of two context values keeps its parent's value for the other."""
    container = context_container()
    container.register_context(Tenant, scope=Scope.REQUEST)
    container.register(TenantHandler)
    outer_request, inner_request, tenant = Request("/outer"), Request("/inner"), Tenant("acme")
    async with container.scope(context={Request: outer_request, Tenant: tenant}) as outer:
        async with outer.scope(context={Request: inner_request}) as inner:
            handler = await inner.resolve(TenantHandler)
            assert handler.request is inner_request
            assert handler.tenant is tenant
        handler = await outer.resolve(TenantHandler)
        assert handler.request is outer_request


class SpecialRequest(Request):
    pass


@pytest.mark.anyio
async def test_context_value_may_be_a_subclass_instance() -> None:
    """An instance of a subclass of the declared type is a valid context value."""
    container = context_container()
    request = SpecialRequest("/special")
    async with container.scope(context={Request: request}) as scope:
        assert (await scope.resolve(Handler)).request is request


@pytest.mark.anyio
async def test_context_value_without_a_scope_is_no_active_scope() -> None:
    """A REQUEST context value needed with no scope open is a NoActiveScopeError."""
    container = context_container()
    with pytest.raises(NoActiveScopeError) as caught:
        await container.resolve(Handler)
    assert caught.value.key is Request
    assert "container.scope(" in str(caught.value)


@pytest.mark.anyio
async def test_session_context_value_seen_from_request_scopes() -> None:
    """A SESSION context value is seen by the REQUEST scopes opened inside the session."""
    container = context_container()
    connection = Connection("10.0.0.1")
    async with container.scope(Scope.SESSION, context={Connection: connection}) as session:
        assert await session.resolve(Connection) is connection
        async with session.scope(context={Request: Request("/a")}) as first:
            handler = await first.resolve(ConnectionHandler)
            assert handler.connection is connection
            assert handler.request.path == "/a"
        async with container.scope(context={Request: Request("/b")}) as second:
            handler = await second.resolve(ConnectionHandler)
            assert handler.connection is connection
            assert handler.request.path == "/b"


@pytest.mark.anyio
async def test_missing_context_value_is_a_missing_provider_error() -> None:
    """A declared context value that the open scope was not given is a MissingProviderError with ``context`` set."""
    container = context_container()
    async with container.scope() as scope:
        with pytest.raises(MissingProviderError) as caught:
            await scope.resolve(Handler)
        with pytest.raises(MissingProviderError) as direct:
            await scope.resolve(Request)
    error = caught.value
    assert error.context is True
    assert error.key is Request
    message = str(error)
    assert "Request" in message
    assert "context" in message
    assert "given" in message
    assert "Handler -> Request" in message
    assert direct.value.context is True
    assert isinstance(direct.value, DIError)


@pytest.mark.anyio
async def test_missing_session_context_value_in_a_session() -> None:
    """A SESSION context value the session was not given is a MissingProviderError with ``context`` set."""
    container = context_container()
    async with container.scope(Scope.SESSION) as session, session.scope(context={Request: Request("/x")}) as scope:
        with pytest.raises(MissingProviderError) as caught:
            await scope.resolve(ConnectionHandler)
    assert caught.value.context is True
    assert caught.value.key is Connection
    assert "Connection" in str(caught.value)


@pytest.mark.anyio
async def test_undeclared_context_value_is_rejected() -> None:
    """Giving a value for a type that is not a declared context value names it and suggests register_context."""

    class Undeclared:
        pass

    container = context_container()
    with pytest.raises(MissingProviderError) as caught:
        async with container.scope(context={Undeclared: Undeclared()}):
            pass  # pragma: no cover - the scope is refused
    assert caught.value.key is Undeclared
    message = str(caught.value)
    assert "Undeclared" in message
    assert "register_context" in message


@pytest.mark.anyio
async def test_session_context_value_given_to_a_request_scope_is_a_scope_error() -> None:
    """A SESSION context value belongs to the SESSION scope: a REQUEST scope cannot be given it."""
    container = context_container()
    with pytest.raises(ScopeError) as caught:
        async with container.scope(context={Connection: Connection("peer")}):
            pass  # pragma: no cover - the scope is refused
    message = str(caught.value)
    assert "Connection" in message
    assert "SESSION" in message
    assert "REQUEST" in message
    with pytest.raises(ScopeError):
        async with container.scope(Scope.SESSION, context={Request: Request("/")}):
            pass  # pragma: no cover - the scope is refused


@pytest.mark.anyio
async def test_context_value_of_the_wrong_type_is_a_registration_error() -> None:
    """A context value that is not an instance of its declared type is a RegistrationError."""
    container = context_container()
    with pytest.raises(RegistrationError) as caught:
        async with container.scope(context={Request: "/users/7"}):
            pass  # pragma: no cover - the scope is refused
    message = str(caught.value)
    assert "Request" in message
    assert "str" in message
    with pytest.raises(RegistrationError, match="NoneType"):
        async with container.scope(context={Request: None}):
            pass  # pragma: no cover - the scope is refused
    with pytest.raises(RegistrationError, match="Request"):
        async with container.scope(Scope.SESSION, context={Connection: Request("/")}):
            pass  # pragma: no cover - the scope is refused


# -- autouse ------------------------------------------------------------------------------------------


class Audit:
    pass


class Warm:
    pass


@pytest.mark.anyio
async def test_request_autouse_is_created_when_every_request_scope_opens() -> None:
    """A REQUEST autouse provider is created as each request scope opens, before its body, and cleaned up at exit."""
    events: list[str] = []

    def open_audit() -> Iterator[Audit]:
        events.append("audit open")
        yield Audit()
        events.append("audit close")

    container = lifetimes_container()
    container.register(Audit, factory=open_audit, scope=Scope.REQUEST, autouse=True)
    async with container.scope() as first:
        events.append("body")
        first_audit = await first.resolve(Audit)
    assert events == ["audit open", "body", "audit close"]
    async with container.scope() as second:
        events.append("body")
        async with second.scope():
            events.append("nested body")
        assert await second.resolve(Audit) is not first_audit
    assert events == [
        "audit open",
        "body",
        "audit close",
        "audit open",
        "body",
        "audit open",
        "nested body",
        "audit close",
        "audit close",
    ]
    async with container.scope(Scope.SESSION):
        events.append("session body")
    assert events[-1] == "session body"  # no REQUEST autouse in a SESSION scope


@pytest.mark.anyio
async def test_session_autouse_is_created_when_every_session_scope_opens() -> None:
    """A SESSION autouse provider is created as each session scope opens, not in its request scopes."""
    created: list[object] = []

    class Presence:
        def __init__(self) -> None:
            created.append(self)

    container = lifetimes_container()
    container.register(Presence, scope=Scope.SESSION, autouse=True)
    async with container.scope(Scope.SESSION) as session:
        assert len(created) == 1
        async with session.scope() as request:
            assert await request.resolve(Presence) is created[0]
        async with container.scope():
            pass
        assert len(created) == 1
    async with container.scope():
        assert len(created) == 1
    async with container.scope(Scope.SESSION) as session:
        assert len(created) == 2
        assert await session.resolve(Presence) is created[1]
    assert created[0] is not created[1]


@pytest.mark.anyio
async def test_async_request_autouse_runs_before_the_body() -> None:
    """An async REQUEST autouse factory has finished when the body starts."""
    created: list[str] = []

    async def warm() -> Warm:
        await anyio.lowlevel.checkpoint()
        created.append("warm")
        return Warm()

    container = lifetimes_container()
    container.register(factory=warm, scope=Scope.REQUEST, autouse=True)
    for expected in (1, 2, 3):
        async with container.scope():
            assert len(created) == expected


@pytest.mark.anyio
async def test_app_autouse_is_created_when_the_container_is_entered() -> None:
    """An APP autouse provider is created on ``async with container``, once."""
    created: list[object] = []

    class Metrics:
        def __init__(self) -> None:
            created.append(self)

    container = lifetimes_container()
    container.register(Metrics, scope=Scope.APP, autouse=True)
    assert created == []
    async with container:
        assert len(created) == 1
        async with container.scope() as scope:
            assert await scope.resolve(Metrics) is created[0]
        assert len(created) == 1


class Unregistered:
    pass


class NeedsIt:
    built: list[object] = []  # noqa: RUF012 - a record the test reads

    def __init__(self, dependency: Unregistered) -> None:
        NeedsIt.built.append(dependency)


@pytest.mark.anyio
async def test_an_autouse_provider_missing_a_dependency_fails_the_start_instead_of_getting_none() -> None:
    """An autouse provider whose dependency has no provider is a MissingProviderError naming it, at every
    level and in both modes, never an instance built with ``None`` (it once was, for autouse alone).
    """
    NeedsIt.built.clear()
    for level in (Scope.APP, Scope.REQUEST):
        container = Container()
        container.register(NeedsIt, scope=level, autouse=True)
        with pytest.raises(MissingProviderError) as raised:
            async with container, container.scope():
                pass
        assert raised.value.key is Unregistered
        assert "no provider for Unregistered, which NeedsIt needs" in str(raised.value)
        with pytest.raises(MissingProviderError), container, container.scope():
            pass
    assert NeedsIt.built == []


# -- validation of lifetimes ------------------------------------------------------------------------------


class SessionNeedsRequest:
    def __init__(self, thing: RequestThing) -> None:
        self.thing = thing


class AppNeedsRequest:
    def __init__(self, thing: RequestThing) -> None:
        self.thing = thing


class RequestNeedsLonger:
    def __init__(self, session: SessionThing, app: AppThing) -> None:
        self.session, self.app = session, app


@pytest.mark.parametrize(
    ("dependent", "level"),
    [(SessionNeedsRequest, Scope.SESSION), (AppNeedsRequest, Scope.APP)],
)
def test_validate_rejects_a_longer_lifetime_depending_on_request(dependent: type, level: Scope) -> None:
    """SESSION -> REQUEST and APP -> REQUEST are ScopeErrors naming both keys and both lifetimes."""
    container = Container()
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(dependent, scope=level)
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    errors = caught.value.errors
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, ScopeError)
    assert not isinstance(error, NoActiveScopeError)
    assert error.dependent is dependent
    assert error.dependency is RequestThing
    assert error.dependent_scope is level
    assert error.dependency_scope is Scope.REQUEST
    message = str(error)
    assert dependent.__name__ in message
    assert "RequestThing" in message
    assert level.name in message
    assert "REQUEST" in message
    assert message.splitlines()[0] in str(caught.value)


def test_validate_names_the_request_instance_behind_a_transient() -> None:
    """A SESSION depending on a TRANSIENT that needs a REQUEST instance is reported with the REQUEST key."""

    class Middle:
        def __init__(self, thing: RequestThing) -> None:
            self.thing = thing

    class Top:
        def __init__(self, middle: Middle) -> None:
            self.middle = middle

    container = Container()
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(Middle)
    container.register(Top, scope=Scope.SESSION)
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    [error] = caught.value.errors
    assert isinstance(error, ScopeError)
    assert error.dependent is Top
    assert error.dependency is RequestThing
    assert error.dependent_scope is Scope.SESSION
    assert error.dependency_scope is Scope.REQUEST
    assert "Middle" in str(error)


@pytest.mark.anyio
async def test_validate_accepts_request_depending_on_longer_lifetimes() -> None:
    """REQUEST -> SESSION and REQUEST -> APP are valid, and resolve to the shared instances."""
    container = lifetimes_container()
    container.register(RequestNeedsLonger, scope=Scope.REQUEST)
    container.validate()
    async with container.scope(Scope.SESSION) as session, session.scope() as request:
        built = await request.resolve(RequestNeedsLonger)
        assert built.session is await session.resolve(SessionThing)
        assert built.app is await container.resolve(AppThing)


@pytest.mark.anyio
async def test_resolving_app_depending_on_request_is_a_scope_error() -> None:
    """Resolution refuses an APP instance that would keep a REQUEST one past its scope."""
    container = Container()
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(AppNeedsRequest, scope=Scope.APP)
    container.register(SessionNeedsRequest, scope=Scope.SESSION)
    async with container.scope(Scope.SESSION) as session, session.scope() as scope:
        with pytest.raises(ScopeError) as caught:
            await scope.resolve(AppNeedsRequest)
        with pytest.raises(ScopeError) as session_caught:
            await scope.resolve(SessionNeedsRequest)
    assert caught.value.dependent is AppNeedsRequest
    assert caught.value.dependency is RequestThing
    assert session_caught.value.dependent is SessionNeedsRequest


# -- where instances live ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_app_dependencies_of_a_request_graph_go_to_the_app_scope() -> None:
    """An APP dependency first created inside a request scope belongs to the APP scope and outlives the request."""
    events: list[str] = []

    async def open_app() -> AsyncIterator[AppThing]:
        events.append("app open")
        yield AppThing()
        events.append("app close")

    async def open_request() -> AsyncIterator[RequestThing]:
        events.append("request open")
        yield RequestThing()
        events.append("request close")

    container = Container()
    container.register(AppThing, factory=open_app, scope=Scope.APP)
    container.register(RequestThing, factory=open_request, scope=Scope.REQUEST)
    container.register(RequestService, scope=Scope.REQUEST)
    async with container.scope() as first:
        first_service = await first.resolve(RequestService)
    # the two async factories are independent, so they are created concurrently, in no set order
    assert sorted(events[:2]) == ["app open", "request open"]
    assert events[2:] == ["request close"]
    async with container.scope() as second:
        second_service = await second.resolve(RequestService)
    assert second_service is not first_service
    assert second_service.thing is not first_service.thing
    assert second_service.app is first_service.app
    assert await container.resolve(AppThing) is first_service.app
    assert events[3:] == ["request open", "request close"]  # the APP instance was not created again
    await container.aclose()
    assert events[-1] == "app close"
    assert events.count("app close") == 1


@pytest.mark.anyio
async def test_session_instances_are_cleaned_up_when_the_session_closes() -> None:
    """A SESSION instance first created in a request scope is cleaned up with the session, not the request."""
    events: list[str] = []

    def open_session() -> Iterator[SessionThing]:
        events.append("session open")
        yield SessionThing()
        events.append("session close")

    container = Container()
    container.register(SessionThing, factory=open_session, scope=Scope.SESSION)
    async with container.scope(Scope.SESSION) as session:
        async with session.scope() as request:
            made = await request.resolve(SessionThing)
        assert events == ["session open"]
        async with session.scope() as request:
            assert await request.resolve(SessionThing) is made
        assert events == ["session open"]
    assert events == ["session open", "session close"]


@pytest.mark.anyio
async def test_nested_request_scope_cleans_up_its_own_instances_first() -> None:
    """The inner REQUEST scope disposes of its instances at its own exit; the outer's wait for the outer's exit."""
    events: list[str] = []
    counter = iter(range(100))

    class Tagged(RequestThing):
        def __init__(self) -> None:
            self.tag = next(counter)

    def open_thing() -> Iterator[RequestThing]:
        thing = Tagged()
        events.append(f"open {thing.tag}")
        yield thing
        events.append(f"close {thing.tag}")

    container = Container()
    container.register(RequestThing, factory=open_thing, scope=Scope.REQUEST)
    async with container.scope() as outer:
        await outer.resolve(RequestThing)
        async with outer.scope() as inner:
            await inner.resolve(RequestThing)
        events.append("inner closed")
    assert events == ["open 0", "open 1", "close 1", "inner closed", "close 0"]


@pytest.mark.anyio
async def test_transient_with_cleanup_is_cleaned_up_by_the_scope_that_created_it() -> None:
    """A TRANSIENT generator resolved in a request scope is finished when that scope closes."""
    events: list[str] = []

    def open_transient() -> Iterator[TransientThing]:
        events.append("open")
        yield TransientThing()
        events.append("close")

    container = Container()
    container.register(TransientThing, factory=open_transient)
    async with container.scope() as scope:
        one = await scope.resolve(TransientThing)
        two = await scope.resolve(TransientThing)
        assert one is not two
        assert events == ["open", "open"]
    assert events == ["open", "open", "close", "close"]


# -- many scopes at once -----------------------------------------------------------------------------------


class Pool:
    pass


class PooledResource:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.cleanups = 0


class Worker:
    def __init__(self, resource: PooledResource, pool: Pool) -> None:
        self.resource, self.pool = resource, pool


@pytest.mark.anyio
async def test_five_thousand_concurrent_request_scopes() -> None:
    """5,000 concurrent request scopes each open, use and clean up their own resource exactly once."""
    count = 5000
    pools: list[Pool] = []
    opened: list[PooledResource] = []
    closed: list[PooledResource] = []

    def make_pool() -> Pool:
        pool = Pool()
        pools.append(pool)
        return pool

    async def open_resource(pool: Pool) -> AsyncIterator[PooledResource]:
        resource = PooledResource(pool)
        opened.append(resource)
        try:
            yield resource
        finally:
            resource.cleanups += 1
            closed.append(resource)

    container = Container()
    container.register(Pool, factory=make_pool, scope=Scope.APP)
    container.register(PooledResource, factory=open_resource, scope=Scope.REQUEST)
    container.register(Worker, scope=Scope.REQUEST)

    held = 0
    peak = 0
    # per task: its resource, its worker, the resource resolved again after the checkpoint,
    # and the resource's cleanup count while the scope was held and right after that scope's exit
    results: list[tuple[PooledResource, Worker, PooledResource, int, int]] = []

    async def one_request() -> None:
        nonlocal held, peak
        async with container.scope() as scope:
            resource = await container.resolve(PooledResource)
            worker = await scope.resolve(Worker)
            held += 1
            peak = max(peak, held)
            await anyio.lowlevel.checkpoint()
            again = await container.resolve(PooledResource)
            cleanups_while_held = resource.cleanups
            held -= 1
        results.append((resource, worker, again, cleanups_while_held, resource.cleanups))

    started = anyio.current_time()
    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one_request)
    elapsed = anyio.current_time() - started

    assert len(pools) == 1
    assert len(opened) == count
    assert len(closed) == count
    assert len({id(resource) for resource in opened}) == count  # all kept alive: ids cannot repeat
    assert {id(resource) for resource in closed} == {id(resource) for resource in opened}
    assert all(resource.cleanups == 1 for resource in opened)
    assert len(results) == count
    assert len({id(resource) for resource, _, _, _, _ in results}) == count
    assert len({id(worker) for _, worker, _, _, _ in results}) == count
    for resource, worker, again, cleanups_while_held, cleanups_after_exit in results:
        assert worker.resource is resource
        assert again is resource
        assert cleanups_while_held == 0
        assert cleanups_after_exit == 1  # this scope's own exit cleaned up this resource
        assert resource.cleanups == 1
        assert worker.pool is pools[0]
        assert resource.pool is pools[0]
    assert peak == count  # every task held its scope open across the checkpoint: all 5,000 overlapped
    assert held == 0
    assert elapsed < 5
