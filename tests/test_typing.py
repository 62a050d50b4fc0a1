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
