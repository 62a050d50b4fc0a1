"""The typing checks under tests/typing/ are valid Python too, and mypy --strict accepts them."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TYPING = Path(__file__).parent / "typing"


def test_typing_files_import() -> None:
    """Each typing check module imports cleanly (its decorators and annotations run)."""
    files = sorted(TYPING.glob("check_*.py"))
    assert files
    for path in files:
        spec = importlib.util.spec_from_file_location(f"typing_check_{path.stem}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


@pytest.mark.skipif(
    shutil.which("mypy") is None and not Path(sys.executable).with_name("mypy").exists(), reason="mypy not installed"
)
def test_mypy_rejects_a_wrong_assertion(tmp_path: Path) -> None:
    """The typing checks can fail: a wrong assert_type is reported by mypy."""
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from typing import assert_type\n"
        "from injectq_like import Container\n"
        "class A: ...\n"
        "class B: ...\n"
        "async def f(c: Container) -> None:\n"
        "    assert_type(await c.resolve(A), B)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "/dev/null", str(wrong)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert 'Expression is of type "A", not "B"' in result.stdout


# -- the mypy plugin, and what is an error with and without it -----------------------------------

#: Calls of @inject handlers and uses of resolve/Lazy. ``# E: code`` marks a line mypy must
#: report (with that error code) with the plugin; ``# E-always: code`` one it must report with or
#: without it. Every other line must pass both ways, so the assert_types hold without the plugin too.
SNIPPET = """
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Protocol, assert_type

import injectq_like
from injectq_like import Container, Inject, Lazy, Named, Scope, inject
from injectq_like import Inject as Injected


class Repo:
    pass


class Cache(Protocol):
    def get(self) -> int: ...


container = Container()


@inject
async def get_user(user_id: int, repo: Inject[Repo]) -> str:
    return str(user_id)


@inject(container=container, scope=Scope.REQUEST)
def count(name: str, cache: Injected[Cache], *, active: bool = False) -> int:
    return 1


@inject(uses=(Repo,))
async def first(repo: injectq_like.Inject[Repo], user_id: int) -> None:
    pass


@inject
async def rows(limit: int, repo: Inject[Repo]) -> AsyncIterator[int]:
    yield limit


@inject(container=container)
def lines(limit: int, repo: Inject[Repo]) -> Iterator[str]:
    yield str(limit)


class Service:
    @inject
    def method(self, x: int, repo: Inject[Repo]) -> str:
        return str(x)


@inject
def keyword_only(x: int, *, repo: Inject[Repo], verbose: bool) -> int:
    return x


@inject
def unknown(x: Missing[int]) -> None:  # E-always: name-defined
    pass


not_a_function = inject(42)  # E-always: call-overload


async def calls(repo: Repo, lazy: Lazy[Repo]) -> None:
    assert_type(await get_user(7), str)
    assert_type(await get_user(7, repo=repo), str)
    assert_type(await get_user(7, repo), str)
    assert_type(count("a"), int)
    assert_type(count("a", active=True), int)
    await first(7)
    await first(user_id=7, repo=repo)
    await first(repo, 7)
    assert_type(rows(3), AsyncIterator[int])
    assert_type(lines(3), Iterator[str])
    assert_type(Service().method(1), str)
    assert_type(await container.call(get_user, 7), str)
    await get_user()  # E: call-arg
    await get_user("7")  # E: arg-type
    await get_user(7, repo=1)  # E: arg-type
    count(1)  # E: arg-type
    count("a", actve=True)  # E: call-arg
    Service().method("x")  # E: arg-type
    rows()  # E: call-arg
    assert_type(keyword_only(1, verbose=True), int)
    keyword_only(1)  # E: call-arg


async def resolution(container: Container, lazy: Lazy[Repo]) -> None:
    assert_type(await container.resolve(Repo), Repo)
    assert_type(await container.resolve(Cache), Cache)
    assert_type(await container.resolve(Repo, name="primary"), Repo)
    assert_type(container.resolve_sync(Cache, name="primary"), Cache)
    assert_type(await container.resolve(Annotated[Repo, Named("primary")]), Repo)
    assert_type(await container.resolve(list[Repo]), list[Repo])
    assert_type(await lazy(), Repo)
    wrong: int = await container.resolve(str)  # E-always: arg-type
    also_wrong: str = await lazy()  # E-always: assignment
    container.resolve_sync(Repo, name=1)  # E-always: call-overload
"""


def _mypy(tmp_path: Path, *, plugin: bool) -> list[tuple[int, str]]:
    """(line, error code) of each error mypy reports on SNIPPET, with the plugin or without."""
    from mypy import api

    source = tmp_path / "snippet.py"
    source.write_text(SNIPPET)
    config = tmp_path / ("with.ini" if plugin else "without.ini")
    config.write_text("[mypy]\nstrict = True\n" + ("plugins = injectq_like.mypy\n" if plugin else ""))
    out, err, status = api.run(
        ["--config-file", str(config), "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(source)]
    )
    assert status in (0, 1), err
    found = []
    for line in out.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[2].strip() == "error":
            found.append((int(parts[1]), line.rsplit("[", 1)[1].rstrip("]")))
    return found


def _expected(marker: str) -> list[tuple[int, str]]:
    return [
        (number, line.split(marker, 1)[1].strip())
        for number, line in enumerate(SNIPPET.splitlines(), 1)
        if marker in line
    ]


def test_the_plugin_checks_the_callers_arguments_of_inject_handlers(tmp_path: Path) -> None:
    """With the plugin, a missing or wrongly typed argument of the caller's is an error, an injected
    one passed explicitly is checked, and return types (coroutines, generators) are kept.
    """
    assert sorted(set(_mypy(tmp_path, plugin=True))) == sorted(_expected("# E: ") + _expected("# E-always: "))


def test_without_the_plugin_handler_calls_still_type_check_with_their_return_type(tmp_path: Path) -> None:
    """Without the plugin every handler call type-checks (its arguments unchecked) and keeps its
    return type; wrong uses of resolve and Lazy are errors either way.
    """
    assert sorted(set(_mypy(tmp_path, plugin=False))) == sorted(_expected("# E-always: "))
