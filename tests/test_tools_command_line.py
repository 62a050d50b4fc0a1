"""``python -m injectq_like``: the paths the main CLI tests leave out.

How the target is found when the working directory is not on ``sys.path``,
an injectq_like error raised while the target's module builds its container,
one raised while checking it, and the ``__main__`` guard itself.
"""

from __future__ import annotations

import io
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import injectq_like
from injectq_like.__main__ import main

MODULE = "coverage_cli_target"

SOURCE = textwrap.dedent(
    """
    from injectq_like import Container, Lazy

    class Clock: ...

    valid = Container()
    valid.register(Clock)

    def raising():
        container = Container()
        container.register(Clock, instance="not a clock")
        return container

    def lazy_key():
        container = Container()
        container.register(Clock)
        container.register(Lazy[Clock], factory=lambda: None)
        return container
    """
)


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module importable by name from ``tmp_path``, forgotten again after the test."""
    (tmp_path / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop(MODULE, None)
    sys.modules.pop("coverage_cli_broken", None)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_the_working_directory_is_searched_like_python_dash_m(target: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With neither the working directory nor "" on sys.path, the CLI puts it first, as ``python -m`` does."""
    monkeypatch.chdir(target)
    cwd = os.getcwd()  # noqa: PTH109 - what the CLI compares with
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", cwd, str(target))])
    assert cwd not in sys.path

    assert run("check", f"{MODULE}:valid") == (0, f"{MODULE}:valid: valid (1 providers, 0 dependencies)\n")
    assert sys.path[0] == cwd


def test_a_di_error_while_the_target_builds_its_container_is_reported_not_raised(target: Path) -> None:
    """A function target that fails to build its container exits 1 with the error's type and message."""
    status, output = run("check", f"{MODULE}:raising")
    assert status == 1
    lines = output.splitlines()
    assert lines[0] == f"{MODULE}:raising: invalid"
    assert lines[1] == "[RegistrationError] the instance registered for Clock is a str, not a Clock"
    assert "hint: register it under its own type" in output
    assert "Traceback" not in output


def test_a_di_error_while_the_module_is_imported_is_reported_not_raised(target: Path) -> None:
    """A module whose top level raises a DIError is an invalid container (1), not an unimportable one (2)."""
    (target / "coverage_cli_broken.py").write_text(
        textwrap.dedent(
            """
            from injectq_like import Container

            class A: ...

            container = Container()
            container.register(A)
            container.register(A)
            """
        )
    )
    status, output = run("graph", "coverage_cli_broken:container")
    assert status == 1
    assert output.splitlines()[0] == "coverage_cli_broken:container: invalid"
    assert "[RegistrationError]" in output


def test_a_module_that_fails_to_import_is_unloadable_without_a_traceback(
    target: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any other exception raised while importing the target's module exits 2, naming the exception."""
    (target / "coverage_cli_broken.py").write_text("ratio = 1 / 0\n")
    assert run("check", "coverage_cli_broken:container") == (2, "")
    err = capsys.readouterr().err
    assert err == "error: importing 'coverage_cli_broken' failed: ZeroDivisionError: division by zero\n"


def test_a_di_error_raised_by_validate_itself_is_reported_not_raised(target: Path) -> None:
    """Whatever DIError ``check`` meets is printed as ``[ErrorType] message`` with exit status 1.

    The container registers ``Lazy[Clock]`` as a key (see test_resolution_edge_cases:
    validate() then raises a MissingProviderError rather than listing it).
    """
    status, output = run("check", f"{MODULE}:lazy_key")
    assert status == 1
    assert "Traceback" not in output
    found = re.search(r"^\[(\w+)\] ", output, re.MULTILINE)
    assert found is not None
    assert issubclass(getattr(injectq_like, found.group(1)), injectq_like.DIError)
    assert "Lazy" in output


def run_as_program() -> int | str | None:
    """Execute ``injectq_like/__main__.py`` as ``python -m injectq_like`` does, in this process.

    (``runpy`` cannot be used here: pytest's assertion rewriting claims the
    package, whose ``testing`` module is a plugin, and offers no code object.)
    """
    path = Path(injectq_like.__file__).parent / "__main__.py"
    code = compile(path.read_text(), str(path), "exec")
    with pytest.raises(SystemExit) as exited:
        exec(code, {"__name__": "__main__", "__package__": "injectq_like", "__file__": str(path)})
    return exited.value.code


def test_running_the_package_as_a_program_exits_with_mains_status(
    target: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m injectq_like`` calls main() with sys.argv and exits with its status."""
    monkeypatch.setattr(sys, "argv", ["injectq_like", "check", f"{MODULE}:valid"])
    assert run_as_program() == 0
    assert capsys.readouterr().out == f"{MODULE}:valid: valid (1 providers, 0 dependencies)\n"

    monkeypatch.setattr(sys, "argv", ["injectq_like", "check", "no_module_by_this_name:container"])
    assert run_as_program() == 2
    assert "cannot import 'no_module_by_this_name'" in capsys.readouterr().err
