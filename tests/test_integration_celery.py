"""The Celery integration, against real Celery apps in process: eager runs (``task_always_eager``,
``apply()``) and an embedded worker (``celery.contrib.testing.worker.start_worker``) on the
``memory://`` broker with the ``cache+memory://`` result backend. A repository and a unit of work
per task run on SQLite (``sqlite3``): commit on success, rollback on failure and on retry.
"""

from __future__ import annotations

import inspect
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_type_hints

import celery  # type: ignore[import-untyped]
import pytest
from celery import _state as celery_state
from celery import shared_task, signals
from celery.contrib.testing.worker import start_worker  # type: ignore[import-untyped]
from celery.exceptions import Ignore, Reject, Retry  # type: ignore[import-untyped]

from injectq_like import (
    AsyncProviderError,
    Container,
    Inject,
    InvalidContainerError,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    inject,
)
from injectq_like._loading import load_target
from injectq_like.integrations._base import check_handlers
from injectq_like.integrations.celery import handlers, setup


@pytest.fixture(autouse=True)
def _celery_globals() -> Iterator[None]:
    """Put back what Celery keeps per process: the default and current app, the shared tasks."""
    default, current = celery_state.default_app, getattr(celery_state._tls, "current_app", None)
    finalizers = set(celery_state._on_app_finalizers)
    # Shared tasks of apps made before (the docs' examples, say) would join every app made here.
    celery_state._on_app_finalizers.intersection_update(
        {finalizer for finalizer in finalizers if finalizer.__module__ == "celery.app.builtins"}
    )
    yield
    celery_state.set_default_app(default)
    celery_state._tls.current_app = current
    celery_state._on_app_finalizers.clear()
    celery_state._on_app_finalizers.update(finalizers)


def task(app: Any, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``app.task(**options)`` with a type mypy can see (Celery ships none)."""
    decorator: Callable[[Callable[..., Any]], Any] = app.task(**options)
    return decorator


class Database:
    """The APP-lived store: a SQLite file, and what each unit of work did."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log: list[str] = []
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
        connection.close()

    def rows(self) -> list[tuple[int, str]]:
        connection = sqlite3.connect(self.path)
        try:
            return connection.execute("SELECT id, item FROM orders ORDER BY id").fetchall()
        finally:
            connection.close()


class UnitOfWork:
    def __init__(self, connection: sqlite3.Connection, task: celery.Task) -> None:
        self.connection = connection
        self.task = task


class OrderRepo:
    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit

    def add(self, order_id: int, item: str) -> None:
        self.unit.connection.execute("INSERT INTO orders (id, item) VALUES (?, ?)", (order_id, item))


class Mailer:
    """Never registered."""


def make_container(path: Path, events: list[str] | None = None) -> Container:
    """A database for the worker's life, a unit of work per task run: commit, else roll back."""
    container = Container()
    seen = events if events is not None else []

    def open_database() -> Iterator[Database]:
        seen.append("database open")
        yield Database(path)
        seen.append("database close")

    def unit_of_work(database: Database, current: celery.Task) -> Iterator[UnitOfWork]:
        connection = sqlite3.connect(database.path, check_same_thread=False)
        label = f"{current.name.rsplit('.', 1)[-1]}#{current.request.retries}"
        database.log.append(f"begin {label}")
        try:
            yield UnitOfWork(connection, current)
        except BaseException as error:
            connection.rollback()
            database.log.append(f"rollback {label} {type(error).__name__}")
            raise
        else:
            connection.commit()
            database.log.append(f"commit {label}")
        finally:
            connection.close()

    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(OrderRepo, scope=Scope.REQUEST)
    return container


def make_app(name: str, *, eager: bool = True) -> Any:
    app = celery.Celery(name, broker="memory://", backend="cache+memory://", set_as_current=False)
    app.conf.task_always_eager = eager
    app.conf.task_eager_propagates = False
    app.conf.broker_transport_options = {"polling_interval": 0.01}
    return app


@pytest.fixture
def container(tmp_path: Path) -> Container:
    return make_container(tmp_path / "shop.db")


def test_each_eager_run_commits_in_a_scope_of_its_own(container: Container) -> None:
    app = make_app("shop")
    setup(app, container)
    seen: list[tuple[UnitOfWork, str, bool]] = []

    @task(app)
    @inject
    def save(order_id: int, item: str, repo: Inject[OrderRepo], current: Inject[celery.Task]) -> str:
        repo.add(order_id, item)
        seen.append((repo.unit, current.request.id, current.request.called_directly))
        return f"saved {item}"

    assert save.delay(1, "lamp").get() == "saved lamp"
    assert save.apply((2,), {"item": "desk"}).get() == "saved desk"
    database = container.resolve_sync(Database)
    assert database.rows() == [(1, "lamp"), (2, "desk")]
    assert database.log == ["begin save#0", "commit save#0", "begin save#0", "commit save#0"]
    assert seen[0][0] is not seen[1][0]  # a unit of work per run
    assert seen[0][1] != seen[1][1]
    assert [called for _, _, called in seen] == [False, False]
    container.close()


def test_the_context_value_is_the_bound_task_of_the_run(container: Container) -> None:
    app = make_app("context")
    setup(app, container)
    found: list[Any] = []

    @task(app, bind=True)
    @inject
    def where(self: Any, current: Inject[celery.Task], unit: Inject[UnitOfWork]) -> str:
        found.extend([self, current, unit.task])
        return str(current.request.id)

    result = where.apply(task_id="run-1")
    assert result.get() == "run-1"
    assert found[0] is found[1] is found[2] is app.tasks[where.name]


def test_a_failing_task_rolls_back_and_its_exception_reaches_celery_unchanged(container: Container) -> None:
    app = make_app("failing")
    setup(app, container)
    raised = ValueError("no stock")

    @task(app)
    @inject
    def refuse(order_id: int, repo: Inject[OrderRepo]) -> None:
        repo.add(order_id, "never stored")
        raise raised

    result = refuse.apply((7,))
    assert result.state == "FAILURE"
    assert result.result is raised
    with pytest.raises(ValueError, match="no stock") as caught:
        refuse.apply((8,), throw=True)
    assert caught.value is raised
    database = container.resolve_sync(Database)
    assert database.rows() == []
    assert database.log == ["begin refuse#0", "rollback refuse#0 ValueError"] * 2


def test_retry_passes_through_each_attempt_rolled_back_the_last_committed(container: Container) -> None:
    app = make_app("retrying")
    setup(app, container)

    @task(app, bind=True, max_retries=3, default_retry_delay=0)
    @inject
    def flaky(self: Any, order_id: int, repo: Inject[OrderRepo]) -> int:
        repo.add(order_id, f"attempt {self.request.retries}")
        if self.request.retries < 2:
            raise self.retry()
        return int(self.request.retries)

    assert flaky.apply((3,)).get() == 2
    database = container.resolve_sync(Database)
    assert database.rows() == [(3, "attempt 2")]
    assert database.log == [
        "begin flaky#0",
        "rollback flaky#0 Retry",
        "begin flaky#1",
        "rollback flaky#1 Retry",
        "begin flaky#2",
        "commit flaky#2",
    ]
    with pytest.raises(Retry):  # the very exception self.retry() raised, as Celery's eager apply re-raises it
        flaky.apply((4,), throw=True)


def test_autoretry_for_runs_each_attempt_in_a_scope(container: Container) -> None:
    app = make_app("autoretry")
    setup(app, container)
    attempts: list[int] = []

    @task(app, bind=True, autoretry_for=(KeyError,), max_retries=1, default_retry_delay=0, retry_backoff=False)
    @inject
    def lookup(self: Any, repo: Inject[OrderRepo]) -> str:
        attempts.append(self.request.retries)
        repo.add(10 + self.request.retries, "try")
        if not self.request.retries:
            raise KeyError("cold cache")
        return "found"

    app.finalize()  # wraps every task again, where not wrapped yet: this one is, under its autoretry
    assert lookup.apply().get() == "found"
    database = container.resolve_sync(Database)
    assert attempts == [0, 1]
    assert database.rows() == [(11, "try")]
    assert database.log == ["begin lookup#0", "rollback lookup#0 KeyError", "begin lookup#1", "commit lookup#1"]


def test_ignore_and_reject_pass_through_unchanged(container: Container) -> None:
    app = make_app("control")
    setup(app, container)

    @task(app)
    @inject
    def skip(repo: Inject[OrderRepo]) -> None:
        repo.add(1, "skipped")
        raise Ignore

    @task(app)
    @inject
    def bounce(repo: Inject[OrderRepo]) -> None:
        repo.add(2, "rejected")
        raise Reject("bad payload", requeue=False)

    assert skip.apply().state == "IGNORED"
    assert bounce.apply().state == "REJECTED"
    database = container.resolve_sync(Database)
    assert database.rows() == []
    assert database.log == ["begin skip#0", "rollback skip#0 Ignore", "begin bounce#0", "rollback bounce#0 Reject"]


def test_celery_sees_only_the_callers_parameters(container: Container) -> None:
    app = make_app("typing")
    app.conf.task_eager_propagates = True
    setup(app, container)

    @task(app, typing=True)
    @inject
    def save(order_id: int, item: str, repo: Inject[OrderRepo]) -> int:
        repo.add(order_id, item)
        return order_id

    @task(app, bind=True, typing=True)
    @inject
    def save_bound(self: Any, order_id: int, repo: Inject[OrderRepo]) -> str:
        repo.add(order_id, "bound")
        return str(self.name)

    assert save.delay(1, "lamp").get() == 1
    assert save.apply(kwargs={"order_id": 2, "item": "desk"}).get() == 2
    assert save_bound.delay(3).get() == save_bound.name
    with pytest.raises(TypeError, match="item"):
        save.delay(4)  # Celery's own check, on the caller's parameters only
    with pytest.raises(TypeError):
        save_bound.delay(5, 6)
    assert list(inspect.signature(save.run).parameters) == ["order_id", "item"]
    assert list(inspect.signature(save_bound.run).parameters) == ["order_id"]
    assert set(get_type_hints(save.__wrapped__)) == {"order_id", "item", "return"}
    assert container.resolve_sync(Database).rows() == [(1, "lamp"), (2, "desk"), (3, "bound")]


def test_inject_must_be_under_the_task_decorator() -> None:
    app = make_app("order")

    @inject
    @task(app)
    def upside_down(repo: Inject[OrderRepo]) -> None: ...

    assert inspect.isfunction(upside_down)
    assert not hasattr(upside_down, "delay")  # @inject above @app.task leaves a plain function, not a task


def test_an_eager_run_inside_an_open_scope_gets_a_child_scope(container: Container) -> None:
    app = make_app("nested")
    setup(app, container)
    units: list[UnitOfWork] = []

    @task(app)
    @inject
    def inner(unit: Inject[UnitOfWork]) -> None:
        units.append(unit)

    @task(app)
    @inject
    def outer(unit: Inject[UnitOfWork]) -> None:
        units.append(unit)
        inner.apply()  # a task run inside a task run: a scope of its own, a child of the outer one

    with container.scope(Scope.REQUEST, context={celery.Task: outer}) as scope:
        caller = scope.resolve_sync(UnitOfWork)
        outer.delay()
        assert container.resolve_sync(UnitOfWork) is caller  # the caller's scope is current again
    assert len({id(unit) for unit in [caller, *units]}) == 3  # all alive: ids are distinct objects
    assert units[0].task is app.tasks[outer.name]
    assert units[1].task is app.tasks[inner.name]
    assert container.resolve_sync(Database).log == [
        "begin outer#0",  # the caller's
        "begin outer#0",
        "begin inner#0",
        "commit inner#0",
        "commit outer#0",
        "commit outer#0",  # the caller's, last
    ]


def test_a_direct_call_runs_in_a_scope_too(container: Container) -> None:
    app = make_app("direct")
    setup(app, container)

    @task(app)
    @inject
    def save(order_id: int, repo: Inject[OrderRepo], current: Inject[celery.Task]) -> bool:
        repo.add(order_id, "direct")
        return bool(current.request.called_directly)

    assert save(5) is True
    assert container.resolve_sync(Database).rows() == [(5, "direct")]


def test_tasks_registered_before_and_after_setup_and_finalization(container: Container) -> None:
    app = make_app("late")

    class Plain(celery.Task):  # type: ignore[misc]
        """A base class of the user's, not derived from this app's ``app.Task``."""

    @task(app)
    @inject
    def before(current: Inject[celery.Task]) -> str:
        return str(current.name)

    @task(app, base=Plain)
    @inject
    def custom_before(current: Inject[celery.Task]) -> str:
        return str(current.name)

    @task(app, autoretry_for=(KeyError,), max_retries=1, default_retry_delay=0)
    @inject
    def retrying_before(current: Inject[celery.Task]) -> str:
        if not current.request.retries:
            raise KeyError(current.name)
        return str(current.name)

    assert retrying_before.name.endswith(".retrying_before")  # made and bound before setup: its own run
    setup(app, container)

    @task(app)
    @inject
    def after(current: Inject[celery.Task]) -> str:
        return str(current.name)

    assert after.delay().get() == after.name  # evaluated at first use, bound after setup
    app.finalize()  # wraps every task the app has, a custom base class's included

    @task(app)
    @inject
    def finalized(current: Inject[celery.Task]) -> str:
        return str(current.name)

    class Handmade(app.Task):  # type: ignore[misc,name-defined]
        name = "late.handmade"

        @inject
        def run(self, current: Inject[celery.Task]) -> bool:
            return current is self

    handmade = app.register_task(Handmade())
    for each in (before, custom_before, retrying_before, after, finalized):
        assert each.delay().get() == each.name
    assert handmade.delay().get() is True
    assert {function.__name__ for function in handlers(app)} == {
        "before",
        "custom_before",
        "retrying_before",
        "after",
        "finalized",
        "run",
    }


def test_a_task_class_with_its_own_call_gets_its_scope_around_run(container: Container) -> None:
    app = make_app("calling")
    setup(app, container)
    calls: list[str] = []

    class Audited(app.Task):  # type: ignore[misc,name-defined]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(f"call {self.name}")
            return super().__call__(*args, **kwargs)

    @task(app, base=Audited)
    @inject
    def save(order_id: int, repo: Inject[OrderRepo]) -> int:
        repo.add(order_id, "audited")
        return order_id

    assert save.delay(6).get() == 6
    assert calls == [f"call {save.name}"]
    assert container.resolve_sync(Database).rows() == [(6, "audited")]


def test_a_task_of_an_already_finalized_app_is_wrapped_at_setup(container: Container) -> None:
    app = make_app("finalized")

    class Plain(celery.Task):  # type: ignore[misc]
        pass

    @task(app, base=Plain)
    @inject
    def early(current: Inject[celery.Task]) -> str:
        return str(current.name)

    app.finalize()
    setup(app, container)
    assert early.delay().get() == early.name


def test_a_shared_task_uses_each_apps_own_container(tmp_path: Path) -> None:
    first, second, plain = make_app("first"), make_app("second"), make_app("plain")
    container_a = make_container(tmp_path / "a.db")
    container_b = make_container(tmp_path / "b.db")
    setup(first, container_a)
    setup(second, container_b)

    shared: Callable[[Callable[..., Any]], Any] = shared_task(name="shop.stock")

    @shared
    @inject
    def stock(order_id: int, repo: Inject[OrderRepo]) -> str:
        repo.add(order_id, "stock")
        return str(repo.unit.task.app.main)

    for app in (first, second, plain):
        app.finalize()
    assert first.tasks["shop.stock"] is not second.tasks["shop.stock"]
    assert first.tasks["shop.stock"].apply((1,)).get() == "first"
    assert second.tasks["shop.stock"].apply((2,)).get() == "second"
    with pytest.raises(NoActiveScopeError, match="stock"):  # an app without setup: nothing opens a scope
        plain.tasks["shop.stock"].apply((3,), throw=True)
    assert container_a.resolve_sync(Database).rows() == [(1, "stock")]
    assert container_b.resolve_sync(Database).rows() == [(2, "stock")]


def test_threads_have_scopes_of_their_own_and_share_app_instances(tmp_path: Path) -> None:
    events: list[str] = []
    container = make_container(tmp_path / "threads.db", events)
    app = make_app("threads")
    setup(app, container)
    barrier = threading.Barrier(4)
    seen: list[tuple[UnitOfWork, Database]] = []

    @task(app)
    @inject
    def save(order_id: int, repo: Inject[OrderRepo], database: Inject[Database]) -> None:
        barrier.wait(timeout=10)  # every run is open at once
        repo.add(order_id, threading.current_thread().name)
        seen.append((repo.unit, database))

    threads = [threading.Thread(target=save.delay, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len({id(unit) for unit, _ in seen}) == 4  # all alive: ids are distinct objects
    assert len({id(database) for _, database in seen}) == 1
    assert events == ["database open"]
    assert [order_id for order_id, _ in container.resolve_sync(Database).rows()] == [0, 1, 2, 3]


class Rates:
    pass


async def fetch_rates() -> Rates:
    return Rates()


def test_an_async_provider_is_named_with_the_fix(container: Container) -> None:
    container.register(Rates, factory=fetch_rates, scope=Scope.REQUEST)
    app = make_app("async")
    setup(app, container)

    @task(app)
    @inject
    def convert(rates: Inject[Rates]) -> None: ...

    with pytest.raises(AsyncProviderError, match="fetch_rates") as caught:
        convert.apply(throw=True)
    assert "hint" in str(caught.value)


def test_setup_twice_is_refused(container: Container) -> None:
    app = make_app("twice")
    setup(app, container)
    with pytest.raises(RegistrationError, match="already"):
        setup(app, container)


def test_check_finds_the_apps_inject_tasks(container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("checked")
    setup(app, container)

    @task(app)
    @inject
    def mail(mailer: Inject[Mailer]) -> None: ...

    @task(app)
    def plain() -> None: ...

    module = type(inspect)("celery_check_target")
    module.app = app  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "celery_check_target", module)
    found, tasks = load_target("celery_check_target:app")
    assert found is container
    assert [function.__name__ for function in tasks] == ["mail"]
    container.validate()  # an @inject task without container= is found only through the app
    with pytest.raises(InvalidContainerError, match="mail -> Mailer"):
        check_handlers(container, tasks)  # what `python -m injectq_like check MODULE:APP` runs


def test_a_worker_runs_tasks_in_scopes_and_closes_at_a_warm_stop(tmp_path: Path) -> None:
    events: list[str] = []
    container = make_container(tmp_path / "worker.db", events)
    app = make_app("worker", eager=False)
    setup(app, container)

    @task(app)
    @inject
    def save(order_id: int, repo: Inject[OrderRepo], current: Inject[celery.Task]) -> str:
        repo.add(order_id, "from worker")
        return f"eager={current.request.is_eager} main={threading.current_thread() is threading.main_thread()}"

    @task(app)
    @inject
    def refuse(repo: Inject[OrderRepo]) -> None:
        repo.add(99, "never")
        raise ValueError("refused")

    with start_worker(app, perform_ping_check=False, pool="threads", hostname="shop@test") as worker:
        assert events == []  # nothing is created at the worker's start: a prefork child makes its own
        assert save.delay(1).get(timeout=10) == "eager=False main=False"
        with pytest.raises(ValueError, match="refused"):
            refuse.delay().get(timeout=10)
        worker.stop()  # a warm stop sends worker_shutdown; start_worker's own exit is a cold one
        assert events == ["database open", "database close"]
    database = Database(tmp_path / "worker.db")
    assert database.rows() == [(1, "from worker")]


def test_a_worker_with_an_unsatisfied_task_does_not_start(container: Container) -> None:
    app = make_app("broken", eager=False)
    setup(app, container)

    @task(app)
    @inject
    def mail(mailer: Inject[Mailer]) -> None: ...

    with (
        pytest.raises(InvalidContainerError, match="Mailer"),
        start_worker(app, perform_ping_check=False),
    ):
        pytest.fail("the worker started")


def test_a_prefork_child_closes_its_own_app_instances(tmp_path: Path) -> None:
    """A prefork child sends ``worker_process_shutdown`` with its worker's hostname when it exits
    (``celery.concurrency.prefork.process_destructor``). Forking from the test process is not
    done here (it runs threads), so the child's signal is sent as the child sends it.
    """
    events: list[str] = []
    container = make_container(tmp_path / "child.db", events)
    app = make_app("prefork", eager=False)
    setup(app, container)

    @task(app)
    @inject
    def touch(database: Inject[Database]) -> None: ...

    with start_worker(app, perform_ping_check=False, hostname="child@test") as worker:
        touch.delay().get(timeout=10)
        signals.worker_process_shutdown.send(sender="other@test", pid=1, exitcode=0)
        assert events == ["database open"]  # another worker's child: not this app's
        signals.worker_process_shutdown.send(sender="child@test", pid=1, exitcode=0)
        assert events == ["database open", "database close"]
        worker.stop()
