"""The taskiq integration, against taskiq's own ``InMemoryBroker`` in process."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any, get_type_hints

import pytest
import taskiq
from taskiq.middlewares import SimpleRetryMiddleware

from injectq_like import Container, Inject, InvalidContainerError, RegistrationError, Scope, inject
from injectq_like._keys import describe_path
from injectq_like.integrations.taskiq import setup


@pytest.fixture(params=[pytest.param(("asyncio", {}), id="asyncio")])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """taskiq runs only on asyncio."""
    return request.param


class Database:
    """The APP-lived store: what every unit of work committed, or why it rolled back."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.orders: dict[int, str] = {}


class UnitOfWork:
    def __init__(self, number: int, database: Database) -> None:
        self.number = number
        self.database = database
        self.pending: dict[int, str] = {}


class OrderRepo:
    def __init__(self, unit: UnitOfWork, message: taskiq.TaskiqMessage) -> None:
        self.unit = unit
        self.task_id = message.task_id

    def add(self, order_id: int, item: str) -> None:
        self.unit.pending[order_id] = item


class Mailer:
    """Never registered."""


def make_container(events: list[str]) -> Container:
    """A database for the worker's life, a unit of work per task execution: commit, else roll back."""
    container = Container()
    numbers = iter(range(1_000_000))

    async def open_database() -> AsyncIterator[Database]:
        events.append("database open")
        yield Database()
        events.append("database close")

    async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
        unit = UnitOfWork(next(numbers), database)
        database.log.append(f"begin {unit.number}")
        try:
            yield unit
        except BaseException as error:
            await asyncio.sleep(0)  # a rollback that awaits
            database.log.append(f"rollback {unit.number} {type(error).__name__}")
            raise
        await asyncio.sleep(0)  # a commit that awaits
        database.orders.update(unit.pending)
        database.log.append(f"commit {unit.number}")

    container.register(Database, factory=open_database, scope=Scope.APP, autouse=True)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(OrderRepo, scope=Scope.REQUEST)
    return container


class Worker:
    """A broker with its tasks, then the integration."""

    def __init__(self, events: list[str], *middlewares: taskiq.TaskiqMiddleware) -> None:
        self.container = make_container(events)
        self.broker = taskiq.InMemoryBroker()
        self.broker.add_middlewares(*middlewares)
        container = self.container
        attempts: list[int] = []

        @self.broker.task
        @inject
        async def place_order(order_id: int, item: str, repo: Inject[OrderRepo]) -> dict[str, Any]:
            repo.add(order_id, item)
            current = await container.resolve(UnitOfWork)
            return {"unit": repo.unit.number, "current": current is repo.unit, "task_id": repo.task_id}

        @self.broker.task
        @inject
        async def fail_order(order_id: int, repo: Inject[OrderRepo]) -> None:
            repo.add(order_id, "never stored")
            raise RuntimeError(f"order {order_id} failed")

        @self.broker.task(retry_on_error=True, max_retries=3)
        @inject
        async def flaky_order(order_id: int, repo: Inject[OrderRepo]) -> int:
            attempts.append(repo.unit.number)
            repo.add(order_id, f"attempt {len(attempts)}")
            if len(attempts) < 2:
                raise ConnectionError("broker hiccup")
            return repo.unit.number

        @self.broker.task
        @inject
        async def whoami(message: Inject[taskiq.TaskiqMessage], repo: Inject[OrderRepo]) -> dict[str, Any]:
            return {"name": message.task_name, "id": message.task_id, "same": repo.task_id == message.task_id}

        @self.broker.task
        @inject
        def count_orders(prefix: str, database: Inject[Database], message: Inject[taskiq.TaskiqMessage]) -> str:
            return f"{prefix}{len(database.orders)} for {message.task_id}"

        @self.broker.on_event(taskiq.TaskiqEvents.WORKER_SHUTDOWN)
        async def own_shutdown(_: taskiq.TaskiqState) -> None:
            if "database close" in events:  # a second shutdown
                events.append("own shutdown")
                return
            database = await container.resolve(Database)  # still open: the container closes after this
            events.append(f"own shutdown {len(database.log)}")

        setup(self.broker, container)
        self.place_order = place_order
        self.fail_order = fail_order
        self.flaky_order = flaky_order
        self.whoami = whoami
        self.count_orders = count_orders
        self.attempts = attempts

    async def database(self) -> Database:
        """The APP-lived database."""
        return await self.container.resolve(Database)


@pytest.mark.anyio
async def test_each_task_execution_gets_its_own_unit_of_work() -> None:
    """Several tasks at once: each its own REQUEST scope, current while it runs, committed after."""
    events: list[str] = []
    worker = Worker(events)
    await worker.broker.startup()
    kicked = [await worker.place_order.kiq(number, f"item {number}") for number in range(4)]
    results = [await task.wait_result(timeout=5) for task in kicked]
    database = await worker.database()
    await worker.broker.shutdown()
    assert [result.is_err for result in results] == [False] * 4
    assert sorted(result.return_value["unit"] for result in results) == [0, 1, 2, 3]
    assert all(result.return_value["current"] for result in results)
    assert [result.return_value["task_id"] for result in results] == [task.task_id for task in kicked]
    assert database.orders == {number: f"item {number}" for number in range(4)}
    assert sorted(database.log) == sorted([*(f"begin {n}" for n in range(4)), *(f"commit {n}" for n in range(4))])


@pytest.mark.anyio
async def test_a_task_error_rolls_back_and_reaches_the_result() -> None:
    """The task's exception is thrown into the cleanups, then is the result's error unchanged."""
    worker = Worker([])
    await worker.broker.startup()
    result = await (await worker.fail_order.kiq(7)).wait_result(timeout=5)
    database = await worker.database()
    await worker.broker.shutdown()
    assert result.is_err
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == "order 7 failed"
    assert database.log == ["begin 0", "rollback 0 RuntimeError"]
    assert database.orders == {}


@pytest.mark.anyio
async def test_each_retry_is_its_own_execution_with_its_own_scope() -> None:
    """The failed attempt rolls back in its scope; the retry opens a new one and commits."""
    worker = Worker([], SimpleRetryMiddleware(default_retry_count=3))
    await worker.broker.startup()
    result = await (await worker.flaky_order.kiq(5)).wait_result(timeout=5)
    database = await worker.database()
    await worker.broker.shutdown()
    assert worker.attempts == [0, 1]
    assert result.return_value == 1
    assert database.log == ["begin 0", "rollback 0 ConnectionError", "begin 1", "commit 1"]
    assert database.orders == {5: "attempt 2"}


@pytest.mark.anyio
async def test_the_message_context_value_is_the_task_being_run() -> None:
    """``TaskiqMessage`` resolves to the message of the execution, for the task and its providers."""
    worker = Worker([])
    await worker.broker.startup()
    kicked = await worker.whoami.kiq()
    result = await kicked.wait_result(timeout=5)
    await worker.broker.shutdown()
    assert result.return_value == {"name": worker.whoami.task_name, "id": kicked.task_id, "same": True}


@pytest.mark.anyio
async def test_caller_arguments_pass_normally_and_a_def_task_runs_in_its_scope() -> None:
    """The caller's arguments (cast by taskiq) sit beside injected ones; a ``def`` task gets a scope too."""
    worker = Worker([])
    await worker.broker.startup()
    placing = await worker.place_order.kiq(order_id="3", item="lamp")  # type: ignore[call-overload]  # taskiq casts it
    placed = await placing.wait_result(timeout=5)
    counting = await worker.count_orders.kiq("orders: ")
    counted = await counting.wait_result(timeout=5)
    database = await worker.database()
    await worker.broker.shutdown()
    assert database.orders == {3: "lamp"}  # "3" cast to int from the visible annotation
    assert placed.return_value["unit"] == 0
    assert counted.return_value == f"orders: 1 for {counting.task_id}"  # in the executor's thread
    assert database.log == ["begin 0", "commit 0"]


def test_taskiq_sees_only_the_callers_parameters() -> None:
    """The signature and hints taskiq reads, and its dependency graph, omit the injected parameters."""
    worker = Worker([])
    function = worker.place_order.original_func
    assert list(inspect.signature(function).parameters) == ["order_id", "item"]
    assert get_type_hints(function) == {"order_id": int, "item": str, "return": dict[str, Any]}
    assert not taskiq.receiver.Receiver(worker.broker).dependency_graphs[worker.place_order.task_name].dependencies


@pytest.mark.anyio
async def test_the_container_closes_at_shutdown_once_after_the_brokers_own_handlers() -> None:
    """APP autouse instances open at startup; closed at shutdown after the broker's handlers, once."""
    events: list[str] = []
    worker = Worker(events)
    await worker.broker.startup()
    assert events == ["database open"]
    await (await worker.place_order.kiq(1, "pen")).wait_result(timeout=5)
    await worker.broker.shutdown()
    await worker.broker.shutdown()
    assert events == ["database open", "own shutdown 2", "database close", "own shutdown"]


@pytest.mark.anyio
async def test_a_direct_call_outside_a_worker_opens_no_scope() -> None:
    """Calling a task function directly resolves in the caller's own scope, as ``@inject`` does."""
    worker = Worker([])
    await worker.broker.startup()
    await (await worker.place_order.kiq(1, "pen")).wait_result(timeout=5)  # wraps the task's function
    async with worker.container.scope(
        context={
            taskiq.TaskiqMessage: taskiq.TaskiqMessage(
                task_id="direct", task_name="place_order", labels={}, args=[], kwargs={}
            )
        }
    ) as scope:
        returned = await worker.place_order(2, "cup")
        unit = await scope.resolve(UnitOfWork)
    await worker.broker.shutdown()
    assert returned == {"unit": unit.number, "current": True, "task_id": "direct"}


def test_a_second_setup_on_the_same_broker_is_refused() -> None:
    """setup() twice on one broker raises RegistrationError."""
    worker = Worker([])
    with pytest.raises(RegistrationError):
        setup(worker.broker, worker.container)
    assert len(worker.broker.middlewares) == 1


@pytest.mark.anyio
async def test_a_task_needing_an_unregistered_type_stops_the_start() -> None:
    """The startup fails with InvalidContainerError naming the task; the container is not started."""
    events: list[str] = []
    container = make_container(events)
    broker = taskiq.InMemoryBroker()

    @broker.task
    @inject
    async def notify(order_id: int, mailer: Inject[Mailer]) -> None:
        """Needs a Mailer, which nobody registered."""

    setup(broker, container)
    with pytest.raises(InvalidContainerError) as raised:
        await broker.startup()
    await broker.shutdown()
    assert [describe_path(error.path) for error in raised.value.errors] == ["notify -> Mailer"]
    assert events == []
