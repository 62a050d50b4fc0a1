"""``container.graph()`` and the ``python -m injectq_like`` command line."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from injectq_like import Container, Lazy, Scope
from injectq_like.__main__ import main


class Settings:
    pass


class Database:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Repo:
    def __init__(self, db: Database) -> None:
        self.db = db


class SqlRepo(Repo):
    pass


class Exporter:
    pass


class Clock:
    pass


class Service:
    def __init__(self, repo: Repo, exporters: list[Exporter], db: Lazy[Database]) -> None:
        self.repo = repo


class Broken:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


def build(*, broken: bool = False) -> Container:
    container = Container()
    container.register(Settings, instance=Settings())
    container.register(Database, scope=Scope.APP)
    container.register(Repo, SqlRepo, scope=Scope.REQUEST)
    container.register(Exporter, multi=True)
    container.register(Service)
    if broken:
        container.register(Broken)
    return container


def test_text_graph_is_a_tree() -> None:
    """The text drawing is a tree from the roots, with lifetimes, edge kinds and shared nodes shown once."""
    assert build().graph("text") == textwrap.dedent(
        """\
        Service (TRANSIENT, class)
        ├── Repo = SqlRepo (REQUEST, class)
        │   └── Database (APP, class)
        │       └── Settings (APP, instance)
        ├── [list] Exporter (TRANSIENT, class, multi)
        └── [lazy] Database (APP, class) (dependencies shown above)
        """
    )


def test_mermaid_and_dot_have_every_node_and_edge() -> None:
    """Mermaid and DOT drawings list each provider with its lifetime and each dependency edge."""
    mermaid = build().graph("mermaid")
    assert mermaid.startswith("graph TD\n")
    assert 'n2["Repo = SqlRepo<br/><small>REQUEST, class</small>"]' in mermaid
    for edge in ("n1 --> n0", "n2 --> n1", "n4 --> n2", "n4 -->|list| n3", "n4 -->|lazy| n1"):
        assert f"    {edge}\n" in mermaid
    dot = build().graph("dot")
    assert dot.startswith("digraph injectq_like {")
    assert 'n1 [label="Database\\nAPP, class"];' in dot
    assert 'n4 -> n3 [label="list"];' in dot
    assert dot.rstrip().endswith("}")


def test_graph_of_an_invalid_container_marks_what_is_missing() -> None:
    """A missing provider is drawn and marked as such in every format."""
    container = build(broken=True)
    assert "└── Clock (missing)" in container.graph("text")
    assert 'm0["Clock<br/><small>missing</small>"]:::missing' in container.graph("mermaid")
    assert 'm0 [label="Clock\\nmissing", style="dashed"' in container.graph("dot")


def test_cycles_are_drawn_not_followed_forever() -> None:
    """A cycle is drawn once and marked."""

    class Left:
        def __init__(self, right: Right) -> None:
            self.right = right

    class Right:
        def __init__(self, left: Left) -> None:
            self.left = left

    container = Container()
    container.register(Left)
    container.register(Right)
    text = container.graph("text")
    assert "↻ cycle" in text
    assert text.count("\n") == 3


def test_unknown_format() -> None:
    """An unknown format is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="use one of mermaid, dot, text"):
        build().graph("svg")


@pytest.fixture
def target_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module with a valid container, an invalid one, a factory function and a non-container."""
    (tmp_path / "cli_target.py").write_text(
        textwrap.dedent(
            """
            from injectq_like import Container

            class Clock: ...
            class Needs:
                def __init__(self, clock: Clock) -> None: ...

            valid = Container()
            valid.register(Clock)
            valid.register(Needs)

            invalid = Container()
            invalid.register(Needs)

            def make():
                return valid

            not_a_container = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "cli_target"
    sys.modules.pop("cli_target", None)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_check_valid(target_module: str) -> None:
    """check exits 0 with a one-line summary for a valid container (or a function returning one)."""
    assert run("check", f"{target_module}:valid") == (0, "cli_target:valid: valid (2 providers, 1 dependencies)\n")
    assert run("check", f"{target_module}:make")[0] == 0


def test_check_invalid_lists_every_problem(target_module: str) -> None:
    """check exits 1 and prints each problem with its path and hint."""
    status, output = run("check", f"{target_module}:invalid")
    assert status == 1
    assert "the container has 1 problem" in output
    assert "no provider for Clock, which Needs needs" in output
    assert "hint:" in output
    assert "Traceback" not in output


def test_check_unimportable(target_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    """check exits 2 with a clear message when the target cannot be imported or found."""
    assert run("check", "no_such_module_here:container")[0] == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err
    assert run("check", f"{target_module}:missing")[0] == 2
    assert "has no attribute 'missing'" in capsys.readouterr().err
    assert run("check", f"{target_module}:not_a_container")[0] == 2
    assert "is a int, not a Container" in capsys.readouterr().err
    assert run("check", "no-colon")[0] == 2


def test_graph_command(target_module: str) -> None:
    """graph prints the drawing, also of an invalid container."""
    status, output = run("graph", f"{target_module}:invalid", "--format", "text")
    assert status == 0
    assert output == "Needs (TRANSIENT, class)\n└── Clock (missing)\n"
    status, output = run("graph", f"{target_module}:valid", "--format", "mermaid")
    assert (status, output.splitlines()[0]) == (0, "graph TD")


def test_module_runs_as_a_program(target_module: str, tmp_path: Path) -> None:
    """``python -m injectq_like`` works as a real process; --help explains the commands."""
    result = subprocess.run(
        [sys.executable, "-m", "injectq_like", "check", f"{target_module}:invalid"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "injectq_like", "--help"], capture_output=True, text=True, check=False
    )
    assert helped.returncode == 0
    assert "check" in helped.stdout
    assert "graph" in helped.stdout
    assert "MODULE:ATTR" in helped.stdout
