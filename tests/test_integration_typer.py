"""The Typer integration, through ``typer.testing.CliRunner`` and a to-do app on SQLite (``sqlite3``)."""

from __future__ import annotations

import functools
import io
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.core
import typer.main
import typer.utils
from typer.testing import CliRunner, Result

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
from injectq_like.__main__ import main
from injectq_like.integrations.typer import handlers, setup


class Events(list[str]):
    """What happened, in order: scopes, units of work, the database."""


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path


class Database:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection


class UnitOfWork:
    def __init__(self, connection: sqlite3.Connection, command: str) -> None:
        self.connection = connection
        self.command = command


class TodoRepo:
    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit

    def add(self, title: str) -> int:
        cursor = self.unit.connection.execute("INSERT INTO todo (title) VALUES (?)", (title,))
        return int(cursor.lastrowid or 0)

    def titles(self) -> list[str]:
        return [row[0] for row in self.unit.connection.execute("SELECT title FROM todo ORDER BY id")]


class Mailer:
    """Never registered."""


class Cache:
    """Made by an async generator factory."""


async def open_cache() -> AsyncIterator[Cache]:
    yield Cache()  # pragma: no cover - never run by a sync scope


def open_database(settings: Settings, events: Events) -> Iterator[Database]:
    connection = sqlite3.connect(settings.path)
    connection.execute("CREATE TABLE IF NOT EXISTS todo (id INTEGER PRIMARY KEY, title TEXT)")
    events.append("database open")
    try:
        yield Database(connection)
    finally:
        connection.close()
        events.append("database closed")


def unit_of_work(database: Database, ctx: typer.Context, events: Events) -> Iterator[UnitOfWork]:
    """Commit when the command succeeded, roll back when it failed."""
    name = ctx.info_name or "?"
    events.append(f"begin {name}")
    try:
        yield UnitOfWork(database.connection, name)
    except BaseException as error:
        database.connection.rollback()
        events.append(f"rollback {name} {type(error).__name__}")
        raise
    database.connection.commit()
    events.append(f"commit {name}")


def make_container(path: Path, events: Events) -> Container:
    container = Container()
    container.register(Settings, instance=Settings(path))
    container.register(Events, instance=events)
    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(TodoRepo, scope=Scope.REQUEST)
    return container


def control(kind: str) -> None:
    """Typer's own ways out of a command, the same with and without the integration."""
    if kind == "exit0":
        raise typer.Exit
    if kind == "exit3":
        raise typer.Exit(code=3)
    if kind == "abort":
        raise typer.Abort
    if kind == "bad":
        raise typer.BadParameter("not a kind")
    typer.echo(f"{kind}: nothing to do")


def build_app(container: Container | None = None) -> typer.Typer:
    """The to-do app: ``[--user U] add|list|control|admin purge``; ``setup`` first, commands after."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    if container is not None:
        setup(app, container)

    @app.callback()
    @inject
    def main(ctx: typer.Context, events: Inject[Events], user: str = "anonymous") -> None:
        """A to-do list."""
        events.append(f"callback {ctx.info_name}")
        ctx.obj = user

    @app.command()
    @inject
    def add(
        title: str,
        repo: Inject[TodoRepo],
        ctx: Inject[typer.Context],
        fail: Annotated[bool, typer.Option(help="Fail after writing.")] = False,
    ) -> None:
        """Add a to-do."""
        todo_id = repo.add(title)
        if fail:
            raise RuntimeError("disk full")
        typer.echo(f"added #{todo_id} {title} by {ctx.obj}")

    @app.command(name="list")
    @inject
    def list_(repo: Inject[TodoRepo]) -> None:
        """List the to-dos."""
        for title in repo.titles():
            typer.echo(title)

    @app.command(name="control")
    @inject
    def control_(kind: str, repo: Inject[TodoRepo]) -> None:
        repo.add(f"before {kind}")
        control(kind)

    admin = typer.Typer()

    @admin.callback(invoke_without_command=True)
    @inject
    def admin_main(ctx: typer.Context, current: Inject[typer.Context], events: Inject[Events]) -> None:
        assert current is ctx
        events.append(f"callback {ctx.info_name} ({ctx.invoked_subcommand})")

    @admin.command()
    @inject
    def purge(repo: Inject[TodoRepo], ctx: Inject[typer.Context]) -> None:
        assert ctx.parent is not None
        assert ctx.parent.info_name == "admin"
        repo.unit.connection.execute("DELETE FROM todo")
        typer.echo("purged")

    app.add_typer(admin, name="admin")
    return app


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "todo.db"


@pytest.fixture
def container(path: Path, events: Events) -> Iterator[Container]:
    """Closed after the test, whatever it left open (an APP resource must not wait for the collector)."""
    container = make_container(path, events)
    yield container
    container.close()


@pytest.fixture
def app(container: Container) -> typer.Typer:
    return build_app(container)


def titles(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute("SELECT title FROM todo ORDER BY id")]
    finally:
        connection.close()


def run(app: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="todo")


def test_a_command_commits_and_the_database_closes_after_it(app: typer.Typer, path: Path, events: Events) -> None:
    result = run(app, "--user", "ann", "add", "buy milk")
    assert (result.exit_code, result.output) == (0, "added #1 buy milk by ann\n")
    assert titles(path) == ["buy milk"]
    assert events == ["callback todo", "database open", "begin add", "commit add", "database closed"]
    events.clear()
    result = run(app, "list")
    assert (result.exit_code, result.output) == (0, "buy milk\n")
    assert events == ["callback todo", "database open", "begin list", "commit list", "database closed"]


def test_a_failing_command_rolls_back_and_its_exception_propagates(
    app: typer.Typer, path: Path, events: Events
) -> None:
    result = run(app, "add", "buy milk", "--fail")
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert titles(path) == []
    assert events[-2:] == ["rollback add RuntimeError", "database closed"]


def test_injected_parameters_are_hidden_from_typer(app: typer.Typer) -> None:
    add = next(info.callback for info in app.registered_commands if info.name is None)
    assert add is not None
    assert list(typer.utils.get_params_from_function(add)) == ["title", "fail"]
    group = typer.main.get_command(app)
    assert [param.name for param in group.params] == ["user"]
    command = group.commands["add"]  # type: ignore[attr-defined]
    assert [param.name for param in command.params] == ["title", "fail"]
    result = run(app, "add", "--help")
    assert result.exit_code == 0
    assert "repo" not in result.output
    assert "--fail" in result.output
    assert "title" in result.output.lower()
    assert "[required]" in result.output
    assert "repo" not in run(app, "--help").output


def plain_app() -> typer.Typer:
    """The same ``control`` command without the integration."""
    app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)

    @app.callback()
    def main(user: str = "anonymous") -> None:
        pass

    @app.command(name="control")
    def control_(kind: str) -> None:
        control(kind)

    return app


@pytest.mark.parametrize(
    ("kind", "code", "ending"),
    [
        ("exit0", 0, "commit control"),
        ("nothing", 0, "commit control"),
        ("exit3", 3, "rollback control Exit"),
        ("abort", 1, "rollback control Abort"),
        ("bad", 2, "rollback control BadParameter"),
    ],
)
def test_typers_exits_pass_through_and_only_a_zero_exit_commits(
    app: typer.Typer, path: Path, events: Events, kind: str, code: int, ending: str
) -> None:
    result = run(app, "control", kind)
    expected = run(plain_app(), "control", kind)
    assert (result.exit_code, result.output) == (expected.exit_code, expected.output)
    assert result.exit_code == code
    assert titles(path) == ([f"before {kind}"] if code == 0 else [])
    assert events[-2:] == [ending, "database closed"]


def test_a_sub_app_runs_in_a_scope_nested_in_the_apps(app: typer.Typer, path: Path, events: Events) -> None:
    run(app, "add", "a")
    events.clear()
    result = run(app, "admin", "purge")
    assert (result.exit_code, result.output) == (0, "purged\n")
    assert titles(path) == []
    assert events == [
        "callback todo",
        "callback admin (purge)",
        "database open",
        "begin purge",
        "commit purge",
        "database closed",
    ]
    events.clear()
    assert run(app, "admin").exit_code == 0  # invoke_without_command
    assert events == ["callback todo", "callback admin (None)"]


def test_the_context_value_is_a_typer_context_the_same_typer_passes(container: Container) -> None:
    seen: list[Any] = []
    app = typer.Typer(add_completion=False)
    setup(app, container)

    @app.command()
    @inject
    def show(ctx: typer.Context, current: Inject[typer.Context]) -> None:
        seen.extend([ctx, current])

    assert run(app).exit_code == 0  # a single command: Typer makes it the outermost command
    ctx, current = seen
    assert ctx is current
    assert isinstance(ctx, typer.Context)


def test_custom_command_group_and_context_classes(container: Container, events: Events) -> None:
    class Context(typer.Context):
        pass

    class Command(typer.core.TyperCommand):
        context_class = Context

    base = typer.Context.__mro__[1]  # the Context of the click Typer runs on

    class OwnContext(base):  # type: ignore[misc, valid-type]
        pass

    class Group(typer.core.TyperGroup):
        context_class = OwnContext

    app = typer.Typer(add_completion=False)
    setup(app, container)
    seen: list[Any] = []

    @app.callback(cls=Group)
    @inject
    def main(current: Inject[typer.Context]) -> None:
        seen.append(current)

    @app.command(cls=Command)
    @inject
    def first(current: Inject[typer.Context]) -> None:
        seen.append(current)

    assert run(app, "first").exit_code == 0
    group_ctx, command_ctx = seen
    assert isinstance(group_ctx, OwnContext)
    assert isinstance(group_ctx, typer.Context)
    assert type(command_ctx) is Context
    assert isinstance(typer.main.get_command(app), Group)


def test_standalone_mode_false(app: typer.Typer, path: Path) -> None:
    command = typer.main.get_command(app)
    assert command.main(["add", "x"], standalone_mode=False) is None
    assert command.main(["control", "exit3"], standalone_mode=False) == 3
    with pytest.raises(typer.Abort):
        command.main(["control", "abort"], standalone_mode=False)
    assert titles(path) == ["x"]


def test_an_async_provider_is_an_async_provider_error_naming_it(container: Container) -> None:
    container.register(Cache, factory=open_cache, scope=Scope.REQUEST)
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    setup(app, container)

    @app.command()
    @inject
    def warm(cache: Inject[Cache]) -> None:
        raise AssertionError(cache)  # pragma: no cover - never reached

    result = run(app)
    assert isinstance(result.exception, AsyncProviderError)
    assert "Cache is provided by the async generator factory open_cache()" in str(result.exception)
    assert "resolution path: warm -> Cache" in str(result.exception)


def test_a_callback_missing_a_provider_stops_the_command(container: Container, events: Events) -> None:
    app = build_app(container)
    sub = typer.Typer()

    @inject
    def notify(mailer: Inject[Mailer]) -> None:
        raise AssertionError(mailer)  # pragma: no cover - never reached

    sub.command()(notify)
    app.add_typer(sub, name="mail")
    result = run(app, "list")
    assert isinstance(result.exception, InvalidContainerError)
    assert "notify -> Mailer" in str(result.exception)
    assert events == []


def test_handlers_lists_the_apps_inject_callbacks_once(container: Container) -> None:
    app = build_app(container)
    admin = app.registered_groups[0].typer_instance
    app.add_typer(admin, name="again")  # type: ignore[arg-type]

    @inject
    def group_callback(events: Inject[Events]) -> None:
        events.append("unused")  # pragma: no cover - never run

    app.add_typer(typer.Typer(callback=group_callback), name="other", callback=group_callback)

    def logged(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        def logging(*args: Any, **kwargs: Any) -> None:
            function(*args, **kwargs)  # pragma: no cover - never run

        return logging

    @app.command()
    @logged
    @inject
    def wrapped(events: Inject[Events]) -> None:
        events.append("unused")  # pragma: no cover - never run

    @app.command()
    @logged
    def plain() -> None:
        pass  # pragma: no cover - never run

    names = sorted(handler.__name__ for handler in handlers(app))
    assert names == ["add", "admin_main", "control_", "group_callback", "list_", "main", "purge", "wrapped"]


def test_check_given_a_typer_app_reports_its_callbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = [
        "from pathlib import Path",
        "from injectq_like import Inject, inject",
        "from tests_typer_support import Events, Mailer, build_app, make_container",
        "fixed = build_app(make_container(Path('todo.db'), Events()))",
        "broken = build_app(make_container(Path('todo.db'), Events()))",
        "@broken.command()",
        "@inject",
        "def notify(mailer: Inject[Mailer]) -> None: ...",
    ]
    (tmp_path / "typer_app.py").write_text("\n".join(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_typer_support", sys.modules[__name__])
    out = io.StringIO()
    assert main(["check", "typer_app:broken"], out) == 1
    assert "notify -> Mailer" in out.getvalue()
    out = io.StringIO()
    assert main(["check", "typer_app:fixed"], out) == 0
    assert out.getvalue().endswith(", 6 handlers)\n")
    sys.modules.pop("typer_app", None)


def test_a_second_setup_is_refused(app: typer.Typer, container: Container) -> None:
    with pytest.raises(RegistrationError, match="setup\\(\\) was already called on this app"):
        setup(app, container)


def test_a_sub_app_command_reused_outside_the_set_up_tree_opens_no_scope(app: typer.Typer) -> None:
    group = typer.main.get_command(app)
    assert group.main(["admin", "purge"], standalone_mode=False) is None  # hooks the sub-app's group
    admin = group.commands["admin"]  # type: ignore[attr-defined]
    with pytest.raises(NoActiveScopeError):
        admin.main(["purge"], standalone_mode=False)


def test_an_unknown_command_under_resilient_parsing_is_left_to_typer(app: typer.Typer) -> None:
    group: Any = typer.main.get_command(app)
    ctx = group.make_context("root", [], resilient_parsing=True)
    assert group.resolve_command(ctx, ["nope"]) == (None, None, [])


def test_the_typer_module_does_not_import_click() -> None:
    code = "import sys, injectq_like.integrations.typer; print('click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    click_is_typers = not hasattr(typer.Context.__mro__[1], "__module__") or (
        typer.Context.__mro__[1].__module__.startswith("typer.")
    )
    assert done.stdout == ("False\n" if click_is_typers else "True\n")
