"""The FastStream integration, against FastStream's in-memory ``TestNatsBroker``: a unit of work per
message on SQLite (aiosqlite), committed when the handler succeeds and rolled back when it fails.
"""

from __future__ import annotations

import copy
import inspect
import itertools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import aiosqlite
import anyio
import pytest
from faststream import BaseMiddleware, Context, Depends, FastStream, Header, StreamMessage, TestApp
from faststream.exceptions import AckMessage, NackMessage, RejectMessage
from faststream.message import AckStatus
from faststream.middlewares import AckPolicy
from faststream.nats import NatsBroker, NatsMessage, NatsRouter, TestNatsBroker
from faststream.specification import AsyncAPI
from nats.errors import NoServersError
from pydantic import BaseModel, ValidationError

from injectq_like import Container, Inject, InvalidContainerError, RegistrationError, Scope, inject
from injectq_like._keys import describe_path
from injectq_like.integrations.faststream import handlers, setup

#: How long a test waits for a reply: FastStream's default (0.5 s) is short for a loaded CI machine,
#: where the first message also opens the SQLite connection in a thread.
PATIENCE = 10.0


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """FastStream runs only on asyncio."""
    return request.param


class Order(BaseModel):
    id: int
    item: str


class Database:
    """The APP-lived store: a SQLite file, and what every unit of work did with it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log: list[str] = []

    async def orders(self) -> dict[int, str]:
        async with aiosqlite.connect(self.path) as connection:
            rows = await connection.execute_fetchall("SELECT id, item FROM orders ORDER BY id")
        return {row[0]: row[1] for row in rows}


class UnitOfWork:
    """One connection and its transaction, for one message."""

    def __init__(self, number: int, connection: aiosqlite.Connection) -> None:
        self.number = number
        self.connection = connection


class OrderRepo:
    def __init__(self, unit: UnitOfWork, message: StreamMessage[Any]) -> None:
        self.unit = unit
        self.correlation_id = message.correlation_id

    async def add(self, order_id: int, item: str) -> None:
        await self.unit.connection.execute("INSERT INTO orders (id, item) VALUES (?, ?)", (order_id, item))


class Receipt:
    """A plain REQUEST-lived object, which a ``def`` handler can resolve."""

    def __init__(self, message: StreamMessage[Any]) -> None:
        self.correlation_id = message.correlation_id


class Mailer:
    """Never registered."""


def make_container(path: Path, events: list[str]) -> Container:
    """A database for the broker's life, a unit of work per message: commit, else roll back."""
    container = Container()
    numbers = itertools.count()

    async def open_database() -> AsyncIterator[Database]:
        async with aiosqlite.connect(path) as connection:
            await connection.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
            await connection.commit()
        events.append("database open")
        yield Database(path)
        events.append("database close")

    async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
        async with aiosqlite.connect(database.path) as connection:
            unit = UnitOfWork(next(numbers), connection)
            database.log.append(f"begin {unit.number}")
            try:
                yield unit
            except BaseException as error:
                await connection.rollback()
                database.log.append(f"rollback {unit.number} {type(error).__name__}")
                raise
            await connection.commit()
            database.log.append(f"commit {unit.number}")

    container.register(Database, factory=open_database, scope=Scope.APP, autouse=True)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(OrderRepo, scope=Scope.REQUEST)
    container.register(Receipt, scope=Scope.REQUEST)
    return container


async def tenant_of(x_tenant: str = Header("x-tenant")) -> str:
    """A FastDepends dependency, beside the container's."""
    return x_tenant.upper()


class Shop:
    """A NATS broker with its handlers, then the integration."""

    def __init__(self, path: Path, events: list[str]) -> None:
        self.container = container = make_container(path, events)
        self.broker = broker = NatsBroker()
        self.placed: list[str] = []
        self.threads: list[bool] = []

        @broker.subscriber("orders.place")
        @inject
        async def place_order(order: Order, repo: Inject[OrderRepo]) -> str:
            await repo.add(order.id, order.item)
            current = await container.resolve(UnitOfWork)
            return f"unit {repo.unit.number}, current {current is repo.unit}"

        @broker.subscriber("orders.fail")
        @inject
        async def fail_order(order: Order, repo: Inject[OrderRepo]) -> None:
            await repo.add(order.id, order.item)
            raise RuntimeError(f"order {order.id} failed")

        @broker.publisher("orders.placed")
        @broker.subscriber("orders.publish")
        @inject
        async def place_and_publish(order: Order, repo: Inject[OrderRepo]) -> dict[str, Any]:
            await repo.add(order.id, order.item)
            return {"id": order.id, "unit": repo.unit.number}

        @broker.subscriber("orders.placed")
        @inject
        async def on_placed(event: dict[str, Any], unit: Inject[UnitOfWork]) -> None:
            self.placed.append(f"order {event['id']} of unit {event['unit']} seen by unit {unit.number}")

        @broker.subscriber("orders.audit")
        @inject
        async def audit(
            order: Order,
            repo: Inject[OrderRepo],
            injected_message: Inject[StreamMessage[Any]],
            message: Annotated[StreamMessage[Any], Context("message")],
            tenant: str = Depends(tenant_of),
            x_tenant: str = Header("x-tenant"),
        ) -> dict[str, Any]:
            await repo.add(order.id, f"{order.item} for {tenant}")
            return {
                "same message": injected_message is message,
                "correlation": repo.correlation_id == message.correlation_id,
                "header": x_tenant,
            }

        @broker.subscriber("orders.receipt")
        @inject
        def receipt(prefix: str, receipt: Inject[Receipt], message: Inject[StreamMessage[Any]]) -> str:
            self.threads.append(threading.current_thread() is not threading.main_thread())
            return f"{prefix} {receipt.correlation_id} for {message.correlation_id}"

        setup(broker, container)
        self.place_order = place_order
        self.audit = audit

    async def database(self) -> Database:
        return await self.container.resolve(Database)


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
def shop(tmp_path: Path, events: list[str]) -> Shop:
    return Shop(tmp_path / "shop.sqlite3", events)


@pytest.mark.anyio
async def test_each_message_gets_its_own_unit_of_work_and_commits(shop: Shop) -> None:
    """Three messages: three REQUEST scopes, each current while its handler runs, each committed."""
    async with TestNatsBroker(shop.broker) as broker:
        replies = [
            await (
                await broker.request({"id": number, "item": f"item {number}"}, "orders.place", timeout=PATIENCE)
            ).decode()
            for number in range(3)
        ]
    database = await shop.database()
    assert replies == ["unit 0, current True", "unit 1, current True", "unit 2, current True"]
    assert await database.orders() == {0: "item 0", 1: "item 1", 2: "item 2"}
    assert database.log == ["begin 0", "commit 0", "begin 1", "commit 1", "begin 2", "commit 2"]
    await shop.container.aclose()


@pytest.mark.anyio
async def test_a_failing_handler_rolls_back_and_its_error_reaches_faststream(shop: Shop) -> None:
    """The handler's exception is thrown into the cleanups, then reaches FastStream unchanged."""
    async with TestNatsBroker(shop.broker) as broker:
        with pytest.raises(RuntimeError) as raised:
            await broker.publish({"id": 7, "item": "lamp"}, "orders.fail")
    database = await shop.database()
    assert str(raised.value) == "order 7 failed"
    assert database.log == ["begin 0", "rollback 0 RuntimeError"]
    assert await database.orders() == {}
    await shop.container.aclose()


OUTCOMES: dict[str, type[Exception] | None] = {
    "return": None,
    "ack": AckMessage,
    "nack": NackMessage,
    "reject": RejectMessage,
    "error": RuntimeError,
}


async def end_one_message(
    broker: NatsBroker, ack_policy: AckPolicy, outcome: str, work: Callable[[], Awaitable[None]]
) -> tuple[AckStatus | None, str | None]:
    """How FastStream ends one message whose handler does ``work`` and then ``outcome``."""
    seen: list[NatsMessage] = []

    @broker.subscriber("control", stream="control", ack_policy=ack_policy)
    async def control(body: str, message: NatsMessage) -> None:
        seen.append(message)
        await work()
        error = OUTCOMES[body]
        if error is not None:
            raise error()

    raised: str | None = None
    async with TestNatsBroker(broker) as test_broker:
        try:
            await test_broker.publish(outcome, "control")
        except RuntimeError as error:
            raised = type(error).__name__
    return seen[0].committed, raised


@pytest.mark.anyio
@pytest.mark.parametrize("ack_policy", [AckPolicy.REJECT_ON_ERROR, AckPolicy.NACK_ON_ERROR, AckPolicy.ACK])
@pytest.mark.parametrize("outcome", list(OUTCOMES))
async def test_ack_nack_reject_end_the_message_as_without_the_integration(
    tmp_path: Path, ack_policy: AckPolicy, outcome: str
) -> None:
    """Ack/Nack/Reject pass through unchanged: the message ends as without ``setup``. AckMessage is a
    success for the unit of work (commit); NackMessage, RejectMessage and errors roll it back.
    """

    async def nothing() -> None:
        pass

    without = await end_one_message(NatsBroker(), ack_policy, outcome, nothing)

    container = make_container(tmp_path / "control.sqlite3", [])
    broker = NatsBroker()
    setup(broker, container)

    @inject
    async def work(repo: Inject[OrderRepo]) -> None:
        await repo.add(1, outcome)

    with_setup = await end_one_message(broker, ack_policy, outcome, work)
    database = await container.resolve(Database)
    expected = {
        "return": AckStatus.ACKED,
        "ack": AckStatus.ACKED,
        "nack": AckStatus.NACKED,
        "reject": AckStatus.REJECTED,
        "error": {
            AckPolicy.REJECT_ON_ERROR: AckStatus.REJECTED,
            AckPolicy.NACK_ON_ERROR: AckStatus.NACKED,
            AckPolicy.ACK: AckStatus.ACKED,
        }[ack_policy],
    }[outcome]
    assert with_setup == without == (expected, "RuntimeError" if outcome == "error" else None)
    if outcome in {"return", "ack"}:
        assert database.log == ["begin 0", "commit 0"]
        assert await database.orders() == {1: outcome}
    else:
        assert database.log == ["begin 0", f"rollback 0 {OUTCOMES[outcome].__name__}"]  # type: ignore[union-attr]
        assert await database.orders() == {}
    await container.aclose()


@pytest.mark.anyio
async def test_faststream_parameters_work_beside_injected_ones(shop: Shop) -> None:
    """The body model, ``Depends``, ``Header`` and ``Context`` beside ``Inject[...]``; the injected
    ``StreamMessage`` is the message FastStream's context holds.
    """
    async with TestNatsBroker(shop.broker) as broker:
        response = await broker.request(
            {"id": 3, "item": "pen"}, "orders.audit", headers={"x-tenant": "acme"}, timeout=PATIENCE
        )
        reply = await response.decode()
    database = await shop.database()
    assert reply == {"same message": True, "correlation": True, "header": "acme"}
    assert await database.orders() == {3: "pen for ACME"}
    assert database.log == ["begin 0", "commit 0"]  # the request's response opened no scope
    await shop.container.aclose()


@pytest.mark.anyio
async def test_an_invalid_body_fails_faststreams_validation_before_anything_is_resolved(shop: Shop) -> None:
    """FastDepends validates the visible parameters; the injected ones are never asked for."""
    async with TestNatsBroker(shop.broker) as broker:
        with pytest.raises(ValidationError) as raised:
            await broker.publish({"id": "not a number", "item": "pen"}, "orders.place")
    database = await shop.database()
    assert [error["loc"] for error in raised.value.errors()] == [("order", "id")]
    assert database.log == []
    await shop.container.aclose()


def test_faststream_sees_only_the_callers_parameters(tmp_path: Path) -> None:
    """The signature FastDepends reads, its call model, and the AsyncAPI schema omit injected parameters."""
    shop = Shop(tmp_path / "shop.sqlite3", [])
    plain = NatsBroker()

    @plain.subscriber("orders.place")
    async def place_order(order: Order) -> str:
        return str(order)

    functions = {function.__name__: function for function in handlers(shop.broker)}
    assert list(inspect.signature(functions["place_order"]).parameters) == ["order"]
    subscriber = next(sub for sub in shop.broker.subscribers if sub.calls[0].handler is shop.place_order)
    schema = subscriber.schema()  # builds FastDepends' model of the handler
    model = subscriber.calls[0].dependant
    assert model is not None
    assert [param.field_name for param in model.flat_params] == ["order"]
    assert schema == next(iter(plain.subscribers)).schema()
    audit = inspect.signature(functions["audit"]).parameters
    assert list(audit) == ["order", "message", "tenant", "x_tenant"]
    documented = AsyncAPI(shop.broker).to_specification().to_jsonable()
    messages = documented["components"]["messages"]
    assert messages["orders.audit:Audit:SubscribeMessage"]["payload"] == {"$ref": "#/components/schemas/Order"}
    assert messages["orders.receipt:Receipt:SubscribeMessage"]["payload"] == {
        "$ref": "#/components/schemas/Receipt:Message:Payload"
    }
    assert documented["components"]["schemas"]["Receipt:Message:Payload"] == {
        "title": "Receipt:Message:Payload",
        "type": "string",  # the one visible parameter, prefix: str
    }


@pytest.mark.anyio
async def test_a_returned_value_is_published_after_the_scope_closed(shop: Shop) -> None:
    """``@broker.publisher`` over ``@broker.subscriber``: the return value is published after the commit;
    the subscriber of the published message gets a unit of work of its own.
    """
    async with TestNatsBroker(shop.broker) as broker:
        await broker.publish({"id": 4, "item": "cup"}, "orders.publish")
    database = await shop.database()
    assert shop.placed == ["order 4 of unit 0 seen by unit 1"]
    assert database.log == ["begin 0", "commit 0", "begin 1", "commit 1"]
    assert await database.orders() == {4: "cup"}
    await shop.container.aclose()


@pytest.mark.anyio
async def test_a_def_handler_runs_in_its_scope_in_a_worker_thread(shop: Shop) -> None:
    """A ``def`` handler (run in a thread by FastStream) resolves from its message's scope."""
    # the container entered first: TestNatsBroker fakes the broker's start, which would enter it
    async with shop.container, TestNatsBroker(shop.broker, connect_only=False) as broker:
        response = await broker.request("receipt", "orders.receipt", correlation_id="c-1", timeout=PATIENCE)
    assert await response.decode() == "receipt c-1 for c-1"
    assert shop.threads == [True]


@pytest.mark.anyio
async def test_concurrent_messages_get_isolated_scopes(tmp_path: Path) -> None:
    """Five messages in flight at once (each waits for all the others): five units of work, five commits."""
    container = make_container(tmp_path / "shop.sqlite3", [])
    broker = NatsBroker()
    inside = 0
    everyone = anyio.Event()
    units: dict[int, int] = {}

    @broker.subscriber("orders.together")
    @inject
    async def together(order: Order, repo: Inject[OrderRepo]) -> None:
        nonlocal inside
        inside += 1
        if inside == 5:
            everyone.set()
        await everyone.wait()
        assert await container.resolve(UnitOfWork) is repo.unit  # still this message's scope
        units[order.id] = repo.unit.number
        await repo.add(order.id, order.item)

    setup(broker, container)

    async def place(test_broker: NatsBroker, number: int) -> None:
        await test_broker.publish({"id": number, "item": f"item {number}"}, "orders.together")

    async with TestNatsBroker(broker) as test_broker, anyio.create_task_group() as group:
        for number in range(5):
            group.start_soon(place, test_broker, number)
    database = await container.resolve(Database)
    assert sorted(units.values()) == [0, 1, 2, 3, 4]
    assert await database.orders() == {number: f"item {number}" for number in range(5)}
    assert sorted(database.log) == sorted([*(f"begin {n}" for n in range(5)), *(f"commit {n}" for n in range(5))])
    await container.aclose()


class CopyingMiddleware(BaseMiddleware):
    """An outer middleware that hands a copy of the message on."""

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        return await call_next(copy.copy(msg))


@pytest.mark.anyio
async def test_routers_and_middlewares_passing_a_copy_of_the_message(tmp_path: Path) -> None:
    """A router's handler gets a scope too, with the copy a broker middleware passed on as its message."""
    container = make_container(tmp_path / "shop.sqlite3", [])
    broker = NatsBroker(middlewares=[CopyingMiddleware])
    router = NatsRouter(prefix="shop.")
    received: list[Any] = []

    @router.subscriber("orders")
    @inject
    async def routed(order: Order, repo: Inject[OrderRepo], message: Inject[StreamMessage[Any]]) -> None:
        received.append(message)
        await repo.add(order.id, order.item)

    @router.subscriber("plain")
    async def plain(body: str) -> str:
        return body

    broker.include_router(router)
    setup(broker, container)
    assert [function.__name__ for function in handlers(broker)] == ["routed"]  # the router's, once
    async with TestNatsBroker(broker) as test_broker:
        await test_broker.publish({"id": 9, "item": "fork"}, "shop.orders")
        echoed = await test_broker.request("hello", "shop.plain", timeout=PATIENCE)
    database = await container.resolve(Database)
    assert await echoed.decode() == "hello"
    assert await database.orders() == {9: "fork"}
    assert database.log == ["begin 0", "commit 0"]
    assert len(received) == 1
    assert isinstance(received[0], StreamMessage)
    await container.aclose()


@pytest.mark.anyio
async def test_the_broker_stop_closes_the_container_once_after_the_brokers_own_stop(
    tmp_path: Path, events: list[str]
) -> None:
    """Through a ``FastStream`` app: its shutdown hooks still run, the container closes between them
    (after the broker's own stop), and a second stop closes nothing again.
    """
    shop = Shop(tmp_path / "shop.sqlite3", events)
    app = FastStream(shop.broker)

    @app.on_shutdown
    async def before() -> None:
        database = await shop.container.resolve(Database)  # still open
        events.append(f"on_shutdown {len(database.log)}")

    @app.after_shutdown
    async def after() -> None:
        events.append(f"after_shutdown, broker running {shop.broker.running}")

    async with TestNatsBroker(shop.broker) as broker:
        await broker.publish({"id": 1, "item": "pen"}, "orders.place")
    assert events == ["database open"]  # TestNatsBroker fakes start and stop: still open
    await app.stop()
    await shop.broker.stop()
    assert events == ["database open", "on_shutdown 2", "database close", "after_shutdown, broker running False"]


@pytest.mark.anyio
async def test_a_handler_needing_an_unregistered_type_stops_the_start(tmp_path: Path, events: list[str]) -> None:
    """The broker's start (here through ``TestApp``) fails with InvalidContainerError naming the handler,
    before the container starts and before the broker connects.
    """
    container = make_container(tmp_path / "shop.sqlite3", events)
    broker = NatsBroker("nats://127.0.0.1:1")
    router = NatsRouter()

    @router.subscriber("notify")
    @inject
    async def notify(order: Order, mailer: Inject[Mailer]) -> None:
        """Needs a Mailer, which nobody registered."""

    broker.include_router(router)
    setup(broker, container)
    with pytest.raises(InvalidContainerError) as raised:
        async with TestApp(FastStream(broker)):
            pass
    assert [describe_path(error.path) for error in raised.value.errors] == ["notify -> Mailer"]
    assert events == []
    assert broker.running is False


@pytest.mark.anyio
async def test_the_container_starts_with_the_broker_and_closes_if_the_broker_cannot(
    tmp_path: Path, events: list[str]
) -> None:
    """The start opens the APP instances before connecting; a connection that fails closes them again."""
    container = make_container(tmp_path / "shop.sqlite3", events)
    broker = NatsBroker("nats://127.0.0.1:1", max_reconnect_attempts=1, reconnect_time_wait=0)
    setup(broker, container)
    with pytest.raises(NoServersError):
        await broker.start()
    assert events == ["database open", "database close"]
    await broker.stop()
    assert events == ["database open", "database close"]


@pytest.mark.anyio
async def test_a_message_key_the_application_declared_itself_is_kept() -> None:
    """``StreamMessage`` declared before ``setup`` is not declared again, and is supplied all the same."""
    container = Container()
    container.register_context(StreamMessage, scope=Scope.REQUEST)
    broker = NatsBroker()
    setup(broker, container)

    @broker.subscriber("whoami")
    @inject
    async def whoami(body: str, message: Inject[StreamMessage]) -> str:  # type: ignore[type-arg]
        return f"{body} {message.correlation_id}"

    container.validate()
    async with TestNatsBroker(broker) as test_broker:
        response = await test_broker.request("me", "whoami", correlation_id="c-9", timeout=PATIENCE)
    assert await response.decode() == "me c-9"


def test_a_second_setup_on_the_same_broker_is_refused() -> None:
    """``setup`` twice would open two scopes per message: a RegistrationError, and nothing added."""
    broker = NatsBroker()
    setup(broker, Container())
    with pytest.raises(RegistrationError) as raised:
        setup(broker, Container())
    assert str(raised.value).splitlines() == [
        "setup() was already called on this broker",
        "  hint: call setup(broker, container) once per broker; it opens one scope per message",
    ]
    assert len(broker.middlewares) == 1
