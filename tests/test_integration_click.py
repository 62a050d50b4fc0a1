"""The click integration, through ``click.testing.CliRunner`` and a to-do app on SQLite (``sqlite3``)."""

from __future__ import annotations

import io
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

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
from injectq_like.integrations.click import handlers, setup


class Events(list[str]):
    """What happened, in order: scopes, units of work, the database."""


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path


class Database:
    """One ``sqlite3`` connection for the whole command line run (APP)."""

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

    def done(self, todo_id: int) -> bool:
        cursor = self.unit.connection.execute("UPDATE todo SET done = 1 WHERE id = ?", (todo_id,))
        return cursor.rowcount == 1

    def titles(self) -> list[str]:
        return [row[0] for row in self.unit.connection.execute("SELECT title FROM todo ORDER BY id")]


class Invocation:
    """A REQUEST-lived marker: which command's scope it was made in."""

    def __init__(self, ctx: click.Context) -> None:
        self.ctx = ctx


class Mailer:
    """Never registered."""


class Cache:
    """Made by an async generator factory."""


async def open_cache() -> AsyncIterator[Cache]:
    yield Cache()  # pragma: no cover - never run by a sync scope


def open_database(settings: Settings, events: Events) -> Iterator[Database]:
    connection = sqlite3.connect(settings.path)
    connection.execute("CREATE TABLE IF NOT EXISTS todo (id INTEGER PRIMARY KEY, title TEXT, done INTEGER DEFAULT 0)")
    events.append("database open")
    try:
        yield Database(connection)
    finally:
        connection.close()
        events.append("database closed")


def unit_of_work(database: Database, ctx: click.Context, events: Events) -> Iterator[UnitOfWork]:
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


def invocation(ctx: click.Context, events: Events) -> Iterator[Invocation]:
    events.append(f"enter {ctx.info_name}")
    try:
        yield Invocation(ctx)
    except BaseException as error:
        events.append(f"leave {ctx.info_name} {type(error).__name__}")
        raise
    events.append(f"leave {ctx.info_name}")


def make_container(path: Path, events: Events) -> Container:
    container = Container()
    container.register(Settings, instance=Settings(path))
    container.register(Events, instance=events)
    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(TodoRepo, scope=Scope.REQUEST)
    container.register(Invocation, factory=invocation, scope=Scope.REQUEST)
    return container


def control(kind: str, ctx: click.Context) -> None:
    """The framework's own ways out of a command, the same with and without the integration."""
    if kind == "exit0":
        ctx.exit()
    if kind == "exit3":
        ctx.exit(3)
    if kind == "abort":
        raise click.Abort
    if kind == "usage":
        raise click.UsageError("that is not how it works", ctx=ctx)
    if kind == "bad":
        raise click.BadParameter("not a number", ctx=ctx, param_hint="'KIND'")
    click.echo(f"{kind}: nothing to do")


def build_cli() -> click.Group:
    """The to-do command line: ``cli [--user U] add|done|list|control|admin ...``."""

    @click.group()
    @click.option("--user", default="anonymous")
    @click.pass_context
    @inject
    def cli(ctx: click.Context, user: str, marker: Inject[Invocation]) -> None:
        """A to-do list."""
        assert marker.ctx is ctx
        ctx.obj = user

    @cli.command()
    @click.argument("title")
    @click.option("--fail", is_flag=True, help="Fail after writing.")
    @inject
    def add(title: str, fail: bool, repo: Inject[TodoRepo], ctx: Inject[click.Context]) -> None:
        """Add a to-do."""
        todo_id = repo.add(title)
        if fail:
            raise RuntimeError("disk full")
        click.echo(f"added #{todo_id} {title} by {ctx.obj}")

    @cli.command()
    @click.argument("todo_id", type=int)
    @inject
    def done(todo_id: int, repo: Inject[TodoRepo]) -> None:
        """Mark a to-do as done."""
        if not repo.done(todo_id):
            raise click.BadParameter(f"no to-do #{todo_id}", param_hint="'TODO_ID'")
        click.echo(f"done #{todo_id}")

    @cli.command(name="list")
    @inject
    def list_(repo: Inject[TodoRepo]) -> None:
        """List the to-dos."""
        for title in repo.titles():
            click.echo(title)

    @cli.command(name="control")
    @click.argument("kind")
    @click.pass_context
    @inject
    def control_(ctx: click.Context, kind: str, repo: Inject[TodoRepo]) -> None:
        repo.add(f"before {kind}")
        control(kind, ctx)

    @cli.group(invoke_without_command=True)
    @inject
    def admin(marker: Inject[Invocation], ctx: Inject[click.Context]) -> None:
        """Administration."""
        assert marker.ctx is ctx
        click.echo(f"admin (subcommand: {ctx.invoked_subcommand})")

    @admin.command()
    @inject
    def purge(repo: Inject[TodoRepo], marker: Inject[Invocation], ctx: Inject[click.Context]) -> None:
        assert marker.ctx is ctx
        assert ctx.parent is not None
        assert ctx.parent.info_name == "admin"
        repo.unit.connection.execute("DELETE FROM todo")
        click.echo("purged")

    return cli


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
def cli(container: Container) -> click.Group:
    cli = build_cli()
    setup(cli, container)
    return cli


def titles(path: Path) -> list[str]:
    """What is committed, read through a connection of its own."""
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute("SELECT title FROM todo ORDER BY id")]
    finally:
        connection.close()


def run(command: click.Command, *args: str) -> Result:
    return CliRunner().invoke(command, list(args))


def test_a_command_commits_its_unit_of_work_and_the_database_closes_after_it(
    cli: click.Group, path: Path, events: Events
) -> None:
    result = run(cli, "--user", "ann", "add", "buy milk")
    assert (result.exit_code, result.output) == (0, "added #1 buy milk by ann\n")
    assert titles(path) == ["buy milk"]
    assert events == [
        "enter cli",
        "database open",
        "begin add",
        "commit add",
        "leave cli",
        "database closed",
    ]
    events.clear()
    result = run(cli, "list")
    assert (result.exit_code, result.output) == (0, "buy milk\n")
    assert events == ["enter cli", "database open", "begin list", "commit list", "leave cli", "database closed"]


def test_a_failing_command_rolls_back_and_its_exception_propagates_unchanged(
    cli: click.Group, path: Path, events: Events
) -> None:
    result = run(cli, "add", "buy milk", "--fail")
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    assert str(result.exception) == "disk full"
    assert titles(path) == []
    assert events == [
        "enter cli",
        "database open",
        "begin add",
        "rollback add RuntimeError",
        "leave cli RuntimeError",
        "database closed",
    ]


def test_injected_parameters_are_not_options_arguments_or_help(cli: click.Group) -> None:
    add = cli.commands["add"]
    assert [param.name for param in add.params] == ["title", "fail"]
    assert [param.name for param in cli.params] == ["user"]
    result = run(cli, "add", "--help")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Usage: cli add [OPTIONS] TITLE",
        "",
        "  Add a to-do.",
        "",
        "Options:",
        "  --fail  Fail after writing.",
        "  --help  Show this message and exit.",
    ]
    assert "repo" not in run(cli, "--help").output
    unknown = run(cli, "add", "x", "--repo", "mine")
    assert unknown.exit_code == 2
    assert "No such option" in unknown.output


def plain_cli() -> click.Group:
    """The same ``control`` command without the integration (and without a unit of work)."""

    @click.group()
    @click.option("--user", default="anonymous")
    def cli(user: str) -> None:
        pass

    @cli.command(name="control")
    @click.argument("kind")
    @click.pass_context
    def control_(ctx: click.Context, kind: str) -> None:
        control(kind, ctx)

    return cli


@pytest.mark.parametrize(
    ("kind", "code", "ending"),
    [
        ("exit0", 0, "commit control"),
        ("nothing", 0, "commit control"),
        ("exit3", 3, "rollback control Exit"),
        ("abort", 1, "rollback control Abort"),
        ("usage", 2, "rollback control UsageError"),
        ("bad", 2, "rollback control BadParameter"),
    ],
)
def test_the_frameworks_exits_pass_through_and_only_a_zero_exit_commits(
    cli: click.Group, path: Path, events: Events, kind: str, code: int, ending: str
) -> None:
    result = run(cli, "control", kind)
    expected = run(plain_cli(), "control", kind)
    assert (result.exit_code, result.output) == (expected.exit_code, expected.output)
    assert result.exit_code == code
    assert titles(path) == ([f"before {kind}"] if code == 0 else [])
    assert events[2:4] == ["begin control", ending]
    assert events[-1] == "database closed"
    assert events.count("database closed") == 1


def test_a_usage_error_raised_by_the_command_rolls_back(cli: click.Group, path: Path, events: Events) -> None:
    run(cli, "add", "buy milk")
    events.clear()
    result = run(cli, "done", "7")
    assert result.exit_code == 2
    assert result.output.endswith("Error: Invalid value for 'TODO_ID': no to-do #7\n")
    assert "rollback done BadParameter" in events
    result = run(cli, "done", "1")
    assert (result.exit_code, result.output) == (0, "done #1\n")


def test_a_subcommand_that_does_not_parse_opens_no_scope_of_its_own(cli: click.Group, events: Events) -> None:
    """Its arguments are parsed inside its group's invocation, so the group's scope sees the error."""
    result = run(cli, "done", "seven")
    assert result.exit_code == 2
    assert "Invalid value for 'TODO_ID': 'seven' is not a valid integer." in result.output
    assert events == ["enter cli", "leave cli BadParameter"]


def test_nested_groups_open_nested_scopes_each_with_its_own_context(
    cli: click.Group, path: Path, events: Events
) -> None:
    run(cli, "add", "a")
    events.clear()
    result = run(cli, "admin", "purge")
    assert (result.exit_code, result.output) == (0, "admin (subcommand: purge)\npurged\n")
    assert titles(path) == []
    assert events == [
        "enter cli",
        "enter admin",
        "database open",
        "begin purge",
        "enter purge",
        "leave purge",
        "commit purge",
        "leave admin",
        "leave cli",
        "database closed",
    ]


def test_a_group_invoked_without_a_command_runs_in_its_scope(cli: click.Group, events: Events) -> None:
    result = run(cli, "admin")
    assert (result.exit_code, result.output) == (0, "admin (subcommand: None)\n")
    assert events == ["enter cli", "enter admin", "leave admin", "leave cli"]


def test_chained_subcommands_each_run_in_a_scope_of_their_own(container: Container, path: Path, events: Events) -> None:
    seen: list[tuple[str, object]] = []

    @click.group(chain=True)
    def batch() -> None:
        pass

    @batch.command()
    @click.argument("title")
    @inject
    def add(title: str, repo: Inject[TodoRepo]) -> str:
        seen.append((repo.unit.command, repo.unit))  # kept alive: two objects, not two addresses
        repo.add(title)
        return title

    @batch.result_callback()
    @inject
    def report(added: list[str], marker: Inject[Invocation]) -> None:
        click.echo(f"{marker.ctx.info_name}: {', '.join(added)}")

    setup(batch, container)
    result = run(batch, "add", "a", "add", "b")
    assert (result.exit_code, result.output) == (0, "batch: a, b\n")
    assert titles(path) == ["a", "b"]
    assert [command for command, _ in seen] == ["add", "add"]
    assert seen[0][1] is not seen[1][1]
    assert events == [
        "database open",
        "begin add",
        "commit add",
        "begin add",
        "commit add",
        "enter batch",
        "leave batch",
        "database closed",
    ]


def test_a_command_added_after_setup_and_a_lazily_loaded_one_are_covered(
    container: Container, path: Path, events: Events
) -> None:
    @inject
    def tag(title: str, repo: Inject[TodoRepo]) -> None:
        repo.add(f"#{title}")

    class Lazy(click.Group):
        """Makes a new command object each time it is asked for one."""

        def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
            if cmd_name == "tag":
                return click.Command("tag", callback=tag, params=[click.Argument(["title"])])
            return super().get_command(ctx, cmd_name)

    cli = Lazy("cli")
    setup(cli, container)

    @cli.command()
    @click.argument("title")
    @inject
    def add(title: str, repo: Inject[TodoRepo]) -> None:
        repo.add(title)

    assert run(cli, "add", "a").exit_code == 0
    assert run(cli, "tag", "b").exit_code == 0
    assert run(cli, "add", "c").exit_code == 0  # hooked once, still one scope
    assert titles(path) == ["a", "#b", "c"]
    assert events.count("commit add") == 2
    assert events.count("commit tag") == 1


def test_setup_on_a_single_command(container: Container, path: Path, events: Events) -> None:
    @click.command()
    @click.argument("title")
    @inject
    def add(title: str, repo: Inject[TodoRepo], ctx: Inject[click.Context]) -> None:
        assert ctx is click.get_current_context()
        repo.add(title)

    setup(add, container)
    result = run(add, "solo")
    assert result.exit_code == 0
    assert titles(path) == ["solo"]
    assert events == ["database open", "begin add", "commit add", "database closed"]


def test_standalone_mode_false_returns_values_and_raises_errors_unchanged(
    cli: click.Group, path: Path, events: Events
) -> None:
    assert cli.main(["add", "x"], standalone_mode=False) is None
    assert cli.main(["control", "exit3"], standalone_mode=False) == 3
    assert cli.main(["control", "exit0"], standalone_mode=False) == 0
    with pytest.raises(click.Abort):
        cli.main(["control", "abort"], standalone_mode=False)
    with pytest.raises(RuntimeError, match="disk full"):
        cli.main(["add", "y", "--fail"], standalone_mode=False)
    assert titles(path) == ["x", "before exit0"]
    assert events.count("database open") == events.count("database closed") == 5


def test_an_async_provider_is_an_async_provider_error_naming_it(container: Container, events: Events) -> None:
    container.register(Cache, factory=open_cache, scope=Scope.REQUEST)

    @click.command()
    @inject
    def warm(cache: Inject[Cache], marker: Inject[Invocation]) -> None:
        raise AssertionError(cache, marker)  # pragma: no cover - never reached

    setup(warm, container)
    result = run(warm)
    assert isinstance(result.exception, AsyncProviderError)
    message = str(result.exception)
    assert "Cache is provided by the async generator factory open_cache()" in message
    assert "resolution path: warm -> Cache" in message
    assert "hint:" in message
    assert events == []


def test_a_callback_missing_a_provider_stops_the_command_at_its_start(container: Container, events: Events) -> None:
    cli = build_cli()

    @cli.command()
    @inject
    def notify(mailer: Inject[Mailer]) -> None:
        raise AssertionError(mailer)  # pragma: no cover - never reached

    setup(cli, container)
    result = run(cli, "list")  # another command: the whole tree is checked when the outermost starts
    assert isinstance(result.exception, InvalidContainerError)
    assert "notify -> Mailer" in str(result.exception)
    assert events == []  # nothing ran, not even the group's callback
    assert run(cli, "--help").exit_code == 0  # help needs no invocation


def test_handlers_lists_the_trees_inject_callbacks_once(container: Container) -> None:
    cli = build_cli()
    shared = cli.commands["add"]
    cli.commands["admin"].add_command(shared, "again")  # type: ignore[attr-defined]

    @cli.command()
    def plain() -> None:
        pass  # pragma: no cover - never run

    names = [handler.__name__ for handler in handlers(cli)]
    assert sorted(names) == ["add", "admin", "cli", "control_", "done", "list_", "purge"]
    setup(cli, container)
    assert container.resolve_sync(Settings).path.name == "todo.db"


def test_check_given_a_click_command_reports_its_callbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m injectq_like check MODULE:CLI``: exit 1 listing a callback's problem, else 0."""
    source = [
        "from pathlib import Path",
        "import click",
        "from injectq_like import Inject, inject",
        "from injectq_like.integrations.click import setup",
        "from tests_click_support import Events, Mailer, build_cli, make_container",
        "fixed = build_cli()",
        "setup(fixed, make_container(Path('todo.db'), Events()))",
        "broken = build_cli()",
        "@broken.command()",
        "@inject",
        "def notify(mailer: Inject[Mailer]) -> None: ...",
        "setup(broken, make_container(Path('todo.db'), Events()))",
    ]
    (tmp_path / "click_app.py").write_text("\n".join(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_click_support", sys.modules[__name__])
    out = io.StringIO()
    assert main(["check", "click_app:broken"], out) == 1
    assert "notify -> Mailer" in out.getvalue()
    assert "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert main(["check", "click_app:fixed"], out) == 0
    assert out.getvalue().endswith(", 7 handlers)\n")
    sys.modules.pop("click_app", None)


def test_a_second_setup_is_refused(cli: click.Group, container: Container) -> None:
    with pytest.raises(RegistrationError, match="setup\\(\\) was already called on this command"):
        setup(cli, container)


def test_a_command_reached_through_a_tree_without_setup_opens_no_scope(
    cli: click.Group, container: Container, events: Events
) -> None:
    assert run(cli, "list").exit_code == 0  # hooks `list` under the set-up group
    other = click.Group("other", commands=[cli.commands["list"]])
    result = run(other, "list")
    assert isinstance(result.exception, NoActiveScopeError)
    with container.scope(Scope.REQUEST, context={click.Context: click.Context(other)}):
        assert run(other, "list").exit_code == 0  # the caller's own scope is used


def test_setup_on_a_group_already_hooked_under_another_makes_it_start_invocations(
    container: Container, path: Path, events: Events
) -> None:
    outer = click.Group("outer")
    inner = build_cli()
    outer.add_command(inner, "todo")
    setup(outer, container)
    assert run(outer, "todo", "add", "a").exit_code == 0
    setup(inner, container)  # the context value is declared already
    assert run(inner, "add", "b").exit_code == 0
    assert titles(path) == ["a", "b"]
    assert events.count("database closed") == 2


def test_the_outermost_context_closes_the_app_after_its_own_close_callbacks(
    container: Container, events: Events
) -> None:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.call_on_close(lambda: events.append("user close callback"))

    @cli.command()
    @inject
    def add(repo: Inject[TodoRepo]) -> None:
        repo.add("x")

    setup(cli, container)
    assert run(cli, "add").exit_code == 0
    assert events[-3:] == ["commit add", "user close callback", "database closed"]


def test_the_context_value_is_the_running_commands_context(container: Container) -> None:
    contexts: list[Any] = []

    @click.group()
    @inject
    def cli(ctx: Inject[click.Context]) -> None:
        contexts.append(ctx)

    @cli.command()
    @inject
    def leaf(ctx: Inject[click.Context]) -> None:
        contexts.append(ctx)
        contexts.append(click.get_current_context())

    setup(cli, container)
    assert run(cli, "leaf").exit_code == 0
    root, leaf_ctx, current = contexts
    assert (root.info_name, leaf_ctx.info_name) == ("cli", "leaf")
    assert leaf_ctx is current
    assert leaf_ctx.parent is root


def test_shell_completion_of_a_set_up_group_opens_no_scope(
    cli: click.Group, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMP_WORDS", "cli nope ")
    monkeypatch.setenv("COMP_CWORD", "2")
    result = CliRunner().invoke(cli, [], prog_name="cli", env={"_CLI_COMPLETE": "bash_complete"})
    assert result.exit_code == 0  # an unknown command: click completes the group's commands
    assert result.output.splitlines() == ["plain,add", "plain,admin", "plain,control", "plain,done", "plain,list"]
    monkeypatch.setenv("COMP_WORDS", "cli ad")
    monkeypatch.setenv("COMP_CWORD", "1")
    result = CliRunner().invoke(cli, [], prog_name="cli", env={"_CLI_COMPLETE": "bash_complete"})
    assert (result.exit_code, result.output) == (0, "plain,add\nplain,admin\n")
    assert events == []
