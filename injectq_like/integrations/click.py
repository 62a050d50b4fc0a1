"""click: one call installs injectq_like on a ``click.Group`` or ``click.Command``.

    from injectq_like.integrations.click import setup
    setup(cli, container)

Every command invocation (the group's own callback and each subcommand
invoked under it, chained ones included) runs in a sync REQUEST scope of its
own, with the running command's ``click.Context`` as a context value of that
scope (declared for you; when you registered a provider for it yourself,
yours is used and the context is not supplied). A subcommand's scope is a child of its group's, so
it is nested inside it: the group's scope opens before the group's callback
and closes after the subcommand (and the result callback) finished, the
subcommand's own scope closes first. ``@inject`` callbacks, put under
``@click.command()``, resolve from the innermost one; click builds its
options and arguments from the decorators, so the injected parameters never
reach its parser or ``--help``.

When the outermost command starts, the container is checked together with
the ``@inject`` callbacks of the command tree (one needing something
unregistered stops the command with ``InvalidContainerError``), and
``container.close`` is registered with ``call_on_close`` on the outermost
context, so the APP instances are disposed of when click closes that context,
after every command's scope has closed.

The hook is ``Command.invoke`` (click/core.py), replaced on each command
object (an instance attribute; the class is untouched): it is the one call
that runs a command's whole unit of work, its callback and, for a group,
``Group.invoke``'s resolution, parsing and invocation of the subcommand and
its result callback, in the thread and context that run the callback; its
exception is the callback's own, before ``Command.main`` turns it into an
exit code or a message. Wrapping ``invoke`` (not the callback at setup time)
covers commands added to a group after ``setup``, and lazily loaded ones: a
group's ``resolve_command`` is wrapped the same way, so each subcommand it
resolves is hooked just before click invokes it. A command object reached
through a command tree without ``setup`` opens no scope.

The callback's exception is thrown into the scope's cleanups and then
propagates unchanged (``click.Abort``, ``click.UsageError``, ``BadParameter``,
``ctx.exit(1)``...), so a unit-of-work generator rolls back. A zero exit
(``ctx.exit()``, ``ctx.exit(0)``, ``raise click.exceptions.Exit(0)``) is a
normal end: the scope closes as after a return (a unit of work commits), and
the ``Exit`` then propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import click

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, injected, install

__all__ = ["handlers", "setup"]

#: Where the outermost command puts the container and whether its scopes are given the
#: ``click.Context``, in ``ctx.meta`` (shared by every nested context).
_STARTED: Final = "injectq_like.integrations.click.container"

#: What the outermost command does when it starts: the container, what lists its handlers, and
#: whether the scopes are given the ``click.Context`` (not when the user provides it).
Start = tuple[Container, Callable[[], Iterable[Callable[..., Any]]], bool]


def setup(command: click.Command, container: Container) -> None:
    """Install ``container`` on a click ``command`` (a group, usually the outermost one).

    Call it before the command runs and before the container's first
    resolution (it declares the ``click.Context`` context value). A second
    call on the same command raises ``RegistrationError``.
    """
    supplied = click.Context in install(
        command,
        container,
        what="command",
        unit="command invocation",
        context={click.Context: Scope.REQUEST},
        handlers=handlers,
    )
    _claim(command, (container, lambda: handlers(command), supplied))


class _ScopedInvoke:
    """A command's ``invoke``, run in a REQUEST scope when the invocation was started by a set-up command."""

    __slots__ = ("invoke", "start")

    def __init__(self, invoke: Callable[[click.Context], Any], start: Start | None) -> None:
        self.invoke = invoke
        self.start = start

    def __call__(self, ctx: click.Context) -> Any:
        started: tuple[Container, bool] | None = ctx.meta.get(_STARTED)
        if started is None:
            if self.start is None:  # reached through a command tree that was not set up
                return self.invoke(ctx)
            container, found, supplied = self.start
            check_handlers(container, found())  # a callback missing a provider stops the command
            ctx.meta[_STARTED] = started = (container, supplied)
            ctx.find_root().call_on_close(container.close)
        container, supplied = started
        finished: click.exceptions.Exit
        with container.scope(REQUEST, context={click.Context: ctx} if supplied else None):
            try:
                return self.invoke(ctx)
            except click.exceptions.Exit as stop:
                if stop.exit_code:
                    raise
                finished = stop  # a normal exit: the scope closes as after a return
        raise finished


class _ClaimResolved:
    """A group's ``resolve_command`` that hooks the subcommand it found before click invokes it."""

    __slots__ = ("resolve",)

    def __init__(self, resolve: Callable[..., tuple[str | None, click.Command | None, list[str]]]) -> None:
        self.resolve = resolve

    def __call__(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = self.resolve(ctx, args)
        if command is not None:
            _claim(command)
        return name, command, rest


def _claim(command: click.Command, start: Start | None = None) -> None:
    """Hook ``command`` (once): its ``invoke``, and its ``resolve_command`` if it is a group."""
    hooked = vars(command).get("invoke")
    if isinstance(hooked, _ScopedInvoke):
        if start is not None:  # set up after a parent group had hooked it
            hooked.start = start
        return
    command.invoke = _ScopedInvoke(command.invoke, start)  # type: ignore[method-assign]
    resolve = getattr(command, "resolve_command", None)
    if resolve is not None:
        command.resolve_command = _ClaimResolved(resolve)  # type: ignore[attr-defined]


def handlers(command: click.Command) -> list[Callable[..., Any]]:
    """The ``@inject`` callbacks of ``command`` and of the commands under it (a group's
    ``commands``; lazily loaded ones are not listed), each once.
    """
    found: dict[int, Callable[..., Any]] = {}
    seen: set[int] = set()

    def walk(current: click.Command) -> None:
        if id(current) in seen:
            return
        seen.add(id(current))
        handler = injected(current.callback)
        if handler is not None:
            found.setdefault(id(handler.__injectq_like__), handler)  # type: ignore[attr-defined]
        for sub in getattr(current, "commands", {}).values():
            walk(sub)

    walk(command)
    return list(found.values())
