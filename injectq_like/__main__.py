"""``python -m injectq_like``: check a container, or draw its graph.

    python -m injectq_like check myapp.di:container
    python -m injectq_like graph myapp.di:container --format mermaid

The target is ``module:attribute`` naming a ``Container``, a
zero-argument function returning one, or an app an integration's
``setup(app, container)`` was called on (its ``@inject`` handlers are
checked with the container). Exit status: 0 when valid (``check``)
or drawn (``graph``), 1 when the container is invalid, 2 when the target
cannot be imported or found. An injectq_like error is reported as a
message, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

from ._container import Container, check, runtime_of
from ._draw import FORMATS
from ._loading import TargetError, load_target
from .exceptions import DIError, InvalidContainerError

__all__ = ["main"]

OK: Final = 0
INVALID: Final = 1
UNLOADABLE: Final = 2


class _Unloadable(Exception):  # noqa: N818 - a private signal, never seen by users
    pass


def _load(target: str) -> tuple[Container, list[Callable[..., Any]]]:
    module_name, _, attribute = target.partition(":")
    if module_name and attribute and os.getcwd() not in sys.path and "" not in sys.path:  # noqa: PTH109
        sys.path.insert(0, os.getcwd())  # noqa: PTH109 - as `python -m` does
    try:
        return load_target(target)
    except (TargetError, DIError):
        raise
    except Exception as error:  # noqa: BLE001 - any failure to import is reported, never a traceback
        raise _Unloadable(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from None


def _check(container: Container, handlers: list[Callable[..., Any]], target: str, out: TextIO) -> int:
    try:
        check(container, handlers)
    except InvalidContainerError as error:
        print(f"{target}: invalid", file=out)
        print(str(error), file=out)
        return INVALID
    graph = runtime_of(container).active().graph
    edges = sum(len(graph.edges(p)) for p in graph.providers)
    checked = f", {len(handlers)} handlers" if handlers else ""
    print(f"{target}: valid ({len(graph.providers)} providers, {edges} dependencies{checked})", file=out)
    return OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m injectq_like",
        description="Check an injectq_like container, or draw its dependency graph.",
        epilog="TARGET is MODULE:ATTR, naming a Container or a zero-argument function returning one. "
        "Exit status: 0 valid, 1 invalid, 2 the target cannot be imported.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="validate the container and list every problem",
        description="Validate the container: exit 0 with a summary when it is valid, "
        "1 with every problem listed when it is not, 2 when it cannot be imported.",
    )
    check.add_argument("target", metavar="TARGET", help="MODULE:ATTR, e.g. myapp.di:container")
    graph = commands.add_parser(
        "graph",
        help="draw the dependency graph",
        description="Print the dependency graph (also of an invalid container: what is missing is marked).",
    )
    graph.add_argument("target", metavar="TARGET", help="MODULE:ATTR, e.g. myapp.di:container")
    graph.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    stream = out if out is not None else sys.stdout
    arguments = _parser().parse_args(argv)
    try:
        container, handlers = _load(arguments.target)
    except (TargetError, _Unloadable) as error:
        print(f"error: {error}", file=sys.stderr)
        return UNLOADABLE
    except DIError as error:  # raised while the module built its container
        print(f"{arguments.target}: invalid", file=stream)
        print(f"[{type(error).__name__}] {error}", file=stream)
        return INVALID
    try:
        if arguments.command == "check":
            return _check(container, handlers, arguments.target, stream)
        stream.write(container.graph(arguments.format))
    except DIError as error:
        print(f"[{type(error).__name__}] {error}", file=stream)
        return INVALID
    return OK


if __name__ == "__main__":
    sys.exit(main())
