"""The five scenarios of the side-by-side benchmark, defined once for every library.

Every adapter (``benchmarks/adapters/*.py``) registers these classes and
factories with its library and hands the harness one operation per scenario;
the harness checks the lifetimes each scenario claims with the ``check_*``
functions below before it times anything.

S1  resolve a cached APP (singleton) instance, sync.
S2  resolve a 10-class transient graph, sync (the shape of ``transient_graph.py``).
S3  open a REQUEST scope, resolve ``Service`` (an APP instance, an async factory,
    an async-generator resource with cleanup, 3 transients), close the scope.
S4  call an injected async handler (one caller argument, one APP and one
    REQUEST dependency) inside a scope opened for the call.
S5  resolve a root needing 4 independent async factories that each wait 10 ms.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

# --------------------------------------------------------------------------- S1


class Config:
    """An APP-lifetime object: one per container."""

    def __init__(self) -> None:
        self.dsn = "sqlite://"


# --------------------------------------------------------------------------- S2


class A0:
    pass


class A1:
    def __init__(self, a: A0) -> None:
        self.a = a


class A2:
    def __init__(self, a: A0, b: A1) -> None:
        self.a, self.b = a, b


class A3:
    def __init__(self, a: A2) -> None:
        self.a = a


class A4:
    def __init__(self, a: A3, b: A1) -> None:
        self.a, self.b = a, b


class A5:
    pass


class A6:
    def __init__(self, a: A5, b: A4) -> None:
        self.a, self.b = a, b


class A7:
    def __init__(self, a: A6) -> None:
        self.a = a


class A8:
    def __init__(self, a: A7, b: A0) -> None:
        self.a, self.b = a, b


class A9:
    def __init__(self, a: A8, b: A5) -> None:
        self.a, self.b = a, b


GRAPH: tuple[type, ...] = (A0, A1, A2, A3, A4, A5, A6, A7, A8, A9)


# --------------------------------------------------------------------------- S3


class Settings:
    """S3's and S4's APP-lifetime dependency."""

    def __init__(self) -> None:
        self.url = "https://api.example.test"


class Client:
    """Made by an async factory, once per REQUEST scope."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Session:
    """Opened by an async generator, once per REQUEST scope, closed at scope exit."""

    opened = 0
    closed_count = 0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closed = False


async def make_client(settings: Settings) -> Client:
    return Client(settings)


async def open_session(settings: Settings) -> AsyncIterator[Session]:
    session = Session(settings)
    Session.opened += 1
    try:
        yield session
    finally:
        session.closed = True
        Session.closed_count += 1


class UserRepo:
    """Transient."""

    def __init__(self, session: Session) -> None:
        self.session = session


class OrderRepo:
    """Transient."""

    def __init__(self, session: Session) -> None:
        self.session = session


class Mailer:
    """Transient."""

    def __init__(self, client: Client) -> None:
        self.client = client


class Service:
    """The root: transient itself."""

    def __init__(
        self, settings: Settings, client: Client, session: Session, users: UserRepo, orders: OrderRepo, mailer: Mailer
    ) -> None:
        self.settings = settings
        self.client = client
        self.session = session
        self.users = users
        self.orders = orders
        self.mailer = mailer


S3_TRANSIENTS: tuple[type, ...] = (UserRepo, OrderRepo, Mailer, Service)


# --------------------------------------------------------------------------- S4


class RequestRepo:
    """S4's REQUEST-lifetime dependency."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


#: What every S4 handler returns: the caller's argument and the two injected objects.
HandlerResult = tuple[int, Settings, RequestRepo]


async def handler_body(user_id: int, settings: Settings, repo: RequestRepo) -> HandlerResult:
    """The plain handler, as called by hand; every library's handler has this body."""
    return user_id, settings, repo


# --------------------------------------------------------------------------- S5

#: How long each S5 factory waits, in seconds.
DELAY = 0.01


class F1:
    pass


class F2:
    pass


class F3:
    pass


class F4:
    pass


async def make_f1() -> F1:
    await anyio.sleep(DELAY)
    return F1()


async def make_f2() -> F2:
    await anyio.sleep(DELAY)
    return F2()


async def make_f3() -> F3:
    await anyio.sleep(DELAY)
    return F3()


async def make_f4() -> F4:
    await anyio.sleep(DELAY)
    return F4()


class Root:
    def __init__(self, f1: F1, f2: F2, f3: F3, f4: F4) -> None:
        self.f1, self.f2, self.f3, self.f4 = f1, f2, f3, f4


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class SyncOp:
    """A sync operation the harness times as ``function(*args)``, inlined in the timing loop."""

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()

    def __call__(self) -> Any:
        return self.function(*self.args)


@dataclass(frozen=True)
class ScopeOps:
    """S3's operations: ``once`` is timed; ``twice`` resolves ``Service`` twice in one scope."""

    once: Callable[[], Awaitable[Service]]
    twice: Callable[[], Awaitable[tuple[Service, Service]]]


@dataclass
class Unsupported(Exception):  # noqa: N818 - a verdict, raised by an adapter, shown as n/a
    """Raised by an adapter for a scenario its library cannot express with its documented API."""

    reason: str
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.reason


# --------------------------------------------------------------------------- checks


def check_s1(op: SyncOp) -> None:
    first, second = op(), op()
    assert type(first) is Config, f"S1 resolved {first!r}, not a Config"
    assert first is second, "S1: the APP instance is not reused"


def check_s2(op: SyncOp) -> None:
    first, second = op(), op()
    for graph in (first, second):
        assert type(graph) is A9, f"S2 resolved {graph!r}"
        a8, a5 = graph.a, graph.b
        a6 = a8.a.a
        a4 = a6.b
        a2 = a4.a.a
        a0s = [a8.b, a2.a, a2.b.a, a4.b.a]
        assert all(type(a) is A0 for a in a0s), "S2: the graph is not built as declared"
        assert len({id(a) for a in a0s}) == 4, "S2: A0 is shared; transients must be new at every injection point"
        assert a2.b is not a4.b, "S2: A1 is shared"
        assert a6.a is not a5, "S2: A5 is shared"
    assert first is not second, "S2: the root is reused"
    assert first.b is not second.b, "S2: A5 is reused between resolutions"


async def check_s3(ops: ScopeOps) -> None:
    opened, closed = Session.opened, Session.closed_count
    one, two = await ops.twice()
    for service in (one, two):
        assert type(service) is Service, f"S3 resolved {service!r}"
        assert type(service.client) is Client, f"S3: the client is {service.client!r}"
        assert type(service.session) is Session, f"S3: the session is {service.session!r}"
        assert service.users.session is service.session, "S3: the session is not shared within the scope"
        assert service.orders.session is service.session, "S3: the session is not shared within the scope"
        assert service.mailer.client is service.client, "S3: the client is not shared within the scope"
        assert service.client.settings is service.settings, "S3: the APP instance is not reused"
    assert one is not two, "S3: the root is transient"
    assert one.users is not two.users, "S3: UserRepo is transient"
    assert one.orders is not two.orders, "S3: OrderRepo is transient"
    assert one.mailer is not two.mailer, "S3: Mailer is transient"
    assert one.session is two.session, "S3: the session is one per REQUEST scope"
    assert one.client is two.client, "S3: the client is one per REQUEST scope"
    assert one.settings is two.settings, "S3: the APP instance is not reused"
    assert one.session.closed, "S3: the session was not closed at scope exit"
    assert (Session.opened - opened, Session.closed_count - closed) == (1, 1), "S3: one session per scope, closed once"
    three = await ops.once()
    four = await ops.once()
    assert three.session is not four.session, "S3: REQUEST instances are shared between scopes"
    assert three.client is not four.client, "S3: REQUEST instances are shared between scopes"
    assert three.session is not one.session
    assert three.settings is four.settings is one.settings, "S3: the APP instance is not reused"
    assert three.session.closed, "S3: the session was not closed at scope exit"
    assert four.session.closed, "S3: the session was not closed at scope exit"
    assert Session.opened == Session.closed_count, "S3: a session was left open"


async def check_s4(op: Callable[[], Awaitable[HandlerResult]]) -> None:
    one = await op()
    two = await op()
    for user_id, settings, repo in (one, two):
        assert user_id == 7, f"S4: the handler got user_id={user_id!r}"
        assert type(settings) is Settings, f"S4: the handler got {settings!r}"
        assert type(repo) is RequestRepo, f"S4: the handler got {repo!r}"
        assert repo.settings is settings, "S4: the APP instance is not reused (the handler's and its repo's differ)"
    assert one[1] is two[1], "S4: the APP instance is not reused"
    assert one[2] is not two[2], "S4: the REQUEST instance is shared between calls (scopes)"


async def check_s5(op: Callable[[], Awaitable[Root]]) -> None:
    one = await op()
    two = await op()
    for root in (one, two):
        assert type(root) is Root, f"S5 resolved {root!r}"
        assert (type(root.f1), type(root.f2), type(root.f3), type(root.f4)) == (F1, F2, F3, F4), "S5: wrong graph"
    assert one is not two, "S5: the root is reused"
    assert one.f1 is not two.f1, "S5: F1 is reused"


# --------------------------------------------------------------------------- hand-written


@functools.cache
def get_config() -> Config:
    """S1 by hand: a cached getter."""
    return Config()


def build_graph() -> A9:
    """S2 by hand."""
    return A9(A8(A7(A6(A5(), A4(A3(A2(A0(), A1(A0()))), A1(A0())))), A0()), A5())


def hand_written_s3(settings: Settings) -> ScopeOps:
    """S3 by hand: the async generator driven as a scope would drive it."""

    async def once() -> Service:
        client = await make_client(settings)
        resource = open_session(settings)
        session = await anext(resource)
        try:
            return Service(settings, client, session, UserRepo(session), OrderRepo(session), Mailer(client))
        finally:
            await _finish(resource)

    async def twice() -> tuple[Service, Service]:
        client = await make_client(settings)
        resource = open_session(settings)
        session = await anext(resource)
        try:
            return (
                Service(settings, client, session, UserRepo(session), OrderRepo(session), Mailer(client)),
                Service(settings, client, session, UserRepo(session), OrderRepo(session), Mailer(client)),
            )
        finally:
            await _finish(resource)

    return ScopeOps(once, twice)


async def _finish(resource: AsyncIterator[Any]) -> None:
    try:
        await anext(resource)
    except StopAsyncIteration:
        return
    raise RuntimeError("the resource yielded twice")


def hand_written_s4(settings: Settings) -> Callable[[], Awaitable[HandlerResult]]:
    """S4 by hand: the REQUEST object is built for the call, the APP one is at hand."""

    async def call() -> HandlerResult:
        return await handler_body(7, settings, RequestRepo(settings))

    return call


async def hand_written_s5() -> Root:
    """S5 by hand: the four factories run concurrently in a task group."""
    results: dict[int, Any] = {}

    async def run(index: int, factory: Callable[[], Awaitable[Any]]) -> None:
        results[index] = await factory()

    async with anyio.create_task_group() as group:
        for index, factory in enumerate((make_f1, make_f2, make_f3, make_f4)):
            group.start_soon(run, index, factory)
    return Root(results[0], results[1], results[2], results[3])


async def hand_written_s5_sequential() -> Root:
    """S5 by hand, one factory after the other: what a container that does not overlap costs."""
    return Root(await make_f1(), await make_f2(), await make_f3(), await make_f4())
