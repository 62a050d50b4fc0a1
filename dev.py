#!/usr/bin/env python3
"""The project's two everyday commands, needing nothing but Python 3.11+.

    python3 dev.py run     # the example application, end to end
    python3 dev.py test    # every check CI runs: ruff, mypy --strict, the docs, and the
                           # test suite on each CPython 3.11+ this machine has

Each command makes (or reuses) its own virtual environment under .venv*/ and
installs what it needs there; nothing is installed system-wide.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MINIMUM = (3, 11)
PYTHONS = ("3.11", "3.12", "3.13", "3.14")


def log(message: str) -> None:
    print(f"\n== {message}", flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    printable = " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    subprocess.run([str(part) for part in command], cwd=ROOT, check=True, env=env)


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(python: str, venv: Path, extras: str) -> Path:
    """A virtual environment at ``venv`` built from ``python`` with the project installed."""
    interpreter = venv_python(venv)
    stamp = venv / ".installed"
    wanted = f"{extras}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"
    if interpreter.exists() and stamp.exists() and stamp.read_text() == wanted:
        return interpreter
    if not interpreter.exists():
        log(f"creating {venv.name} with {python}")
        run(python, "-m", "venv", venv)
    quiet = ["--quiet", "--disable-pip-version-check"]
    run(interpreter, "-m", "pip", "install", *quiet, "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(interpreter, "-m", "pip", "install", *quiet, "--editable", target)
    stamp.write_text(wanted)
    return interpreter


def candidates(version: str) -> list[str]:
    """Where a ``python{version}`` may be: on PATH, or installed by pyenv (whose shims may hide it)."""
    found = [path for path in [shutil.which(f"python{version}")] if path]
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found += sorted(str(p) for p in Path(pyenv_root).glob(f"versions/{version}.*/bin/python{version}"))
    return found


def works(executable: str) -> bool:
    probe = subprocess.run(
        [executable, "-c", "import sys, venv, ensurepip; print(sys.implementation.name)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "cpython"


def other_pythons() -> list[tuple[str, str]]:
    """(version, executable) of each newer CPython on this machine besides the running one."""
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = []
    for version in PYTHONS:
        if version == mine:
            continue
        executable = next((path for path in candidates(version) if works(path)), None)
        if executable is not None:
            found.append((version, executable))
    return found


def command_run(_: argparse.Namespace) -> None:
    python = ensure_venv(sys.executable, ROOT / ".venv", "example")
    log("the example application")
    run(python, "-m", "examples.notes")


def command_test(arguments: argparse.Namespace) -> None:
    started = time.monotonic()
    python = ensure_venv(sys.executable, ROOT / ".venv", "dev")
    pytest_args = list(arguments.pytest_args)
    log("ruff")
    run(python, "-m", "ruff", "check", ".")
    run(python, "-m", "ruff", "format", "--check", ".")
    log("mypy --strict (package, tests, typing tests, examples, benchmarks)")
    run(python, "-m", "mypy")
    log("documentation (mkdocs build --strict)")
    run(
        python,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--quiet",
        "--site-dir",
        str(ROOT / "site"),
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    mine = f"{sys.version_info.major}.{sys.version_info.minor}"
    log(f"tests on CPython {mine}, with branch coverage")
    run(python, "-m", "coverage", "run", "-m", "pytest", *pytest_args)
    run(python, "-m", "coverage", "report")
    if not arguments.only_this_python:
        for version, executable in other_pythons():
            other = ensure_venv(executable, ROOT / f".venv-{version}", "dev")
            log(f"tests on CPython {version}")
            run(other, "-m", "pytest", "-q", *pytest_args)
    log(f"all checks passed in {time.monotonic() - started:.0f} s")


def main() -> None:
    if sys.version_info < MINIMUM:
        sys.exit(f"injectq_like needs Python {'.'.join(map(str, MINIMUM))}+, this is {sys.version.split()[0]}")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the example application end to end").set_defaults(handler=command_run)
    test = commands.add_parser("test", help="run every check and the whole test suite")
    test.add_argument("--only-this-python", action="store_true", help="skip the other CPythons on PATH")
    test.add_argument("pytest_args", nargs="*", help="extra arguments for pytest (after --)")
    test.set_defaults(handler=command_test)
    arguments = parser.parse_args()
    try:
        arguments.handler(arguments)
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode or 1)


if __name__ == "__main__":
    main()
