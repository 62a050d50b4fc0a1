"""Typer: one call installs injectq_like on a ``typer.Typer`` app.

    from injectq_like.integrations.typer import setup
    setup(app, container)

As with click (see ``injectq_like.integrations.click``): every command
invocation (the app's callback, each command and sub-app invoked under it)
runs in a sync REQUEST scope of its own, a subcommand's nested in its
group's; the running command's context is a context value of that scope,
under the key ``typer.Context`` (what Typer users annotate with; declared for
you, unless you registered a provider for it yourself: yours is used then,
and the context is not supplied); when the outermost command starts, the container is checked with the
app's ``@inject`` callbacks, and it is closed when the outermost command's
context closes. Typer builds options and arguments from the callback's
signature and type hints (``typer.utils.get_params_from_function``:
``inspect.signature`` and ``get_type_hints``), and ``@inject`` hides the
injected parameters from both, so they never reach its parser or ``--help``.

Typer builds a new click command tree from the app at every run (``app()``,
``typer.testing.CliRunner.invoke``: ``typer.main.get_command``), so there is
no command object to hook once. ``setup`` makes the classes Typer builds the
app's own group and commands from (``TyperInfo.cls``, ``CommandInfo.cls``,
also for commands and callbacks registered after ``setup``, through the app's
``command`` and ``callback`` decorators) subclasses whose instances hook
their own ``invoke`` (``Command.invoke``: the whole unit of work, as for
click) and, for a group, ``resolve_command``, which hooks each subcommand it
resolves (a sub-app's groups and commands included) before Typer invokes it.

Since Typer 0.26, Typer runs on a copy of click of its own (``typer._click``),
whose ``Context`` is neither a ``click.Context`` nor a ``typer.Context``
(``typer.Context`` subclasses it); before, a command ran with a plain
``click.Context``. So that the value given for the ``typer.Context`` key is
one, each hooked command's ``context_class`` is set to ``typer.Context`` (or,
for a custom context class, a subclass of both): the ``ctx: typer.Context``
Typer passes is then one as well. This module imports only ``typer``, never
the top-level ``click`` package, and its ``Exit``: ``typer.Exit()`` (code 0)
and ``ctx.exit()`` are a normal end (the scope closes as after a return), any
other exit, ``typer.Abort``, usage errors and every other exception are
thrown into the scope's cleanups; all of them then propagate unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Final

import typer
import typer.core
import typer.models

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, injected, install

__all__ = ["handlers", "setup"]

#: Where the outermost command puts the container and whether its scopes are given the
#: ``typer.Context``, in ``ctx.meta`` (shared by every nested context).
_STARTED: Final = "injectq_like.integrations.typer.container"
#: On the classes ``setup`` makes: what their instances do when they are the outermost command.
_START: Final = "_injectq_like_start"

#: What the outermost command does when it starts: the container, what lists its handlers, and
#: whether the scopes are given the ``typer.Context`` (not when the user provides it).
Start = tuple[Container, Callable[[], Iterable[Callable[..., Any]]], bool]


def setup(app: typer.Typer, container: Container) -> None:
    """Install ``container`` on a Typer ``app``.

    Call it before the app runs and before the container's first resolution
    (it declares the ``typer.Context`` context value). A second call on the
    same app raises ``RegistrationError``.
    """
    supplied = typer.Context in install(
        app,
        container,
        what="app",
        unit="command invocation",
        context={typer.Context: Scope.REQUEST},
        handlers=handlers,
    )
    start: Start = (container, lambda: handlers(app), supplied)
    made: dict[type, type] = {}

    def scoped(base: Any) -> type:
        """A subclass of ``base`` (a command or group class) whose instances are hooked."""
        if getattr(base, _START, None) is start:
            return base  # type: ignore[no-any-return]
        if base not in made:

            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
                base.__init__(self, *args, **kwargs)
                _claim(self, start)

            made[base] = type(base.__name__, (base,), {"__init__": __init__, _START: start})
        return made[base]

    def claim_registered() -> None:
        """Make the app's group and its commands be built from hooked classes."""
        info = app.info
        info.cls = scoped(_value(info.cls) or typer.core.TyperGroup)
        callback = app.registered_callback
        if callback is not None and _value(callback.cls) is not None:  # it takes precedence over info.cls
            callback.cls = scoped(_value(callback.cls))
        for command in app.registered_commands:
            command.cls = scoped(command.cls or typer.core.TyperCommand)

    claim_registered()
    _after_registering(app, "command", claim_registered)
    _after_registering(app, "callback", claim_registered)


def _value(setting: Any) -> Any:
    """A Typer setting: the value a ``DefaultPlaceholder`` stands for, or the setting itself."""
    return setting.value if isinstance(setting, typer.models.DefaultPlaceholder) else setting


def _after_registering(app: typer.Typer, name: str, then: Callable[[], None]) -> None:
    """Make the app's decorator method ``name`` call ``then`` after each registration."""
    decorate = getattr(app, name)

    @functools.wraps(decorate)
    def registering(*args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        decorator = decorate(*args, **kwargs)

        def register(function: Callable[..., Any]) -> Callable[..., Any]:
            registered: Callable[..., Any] = decorator(function)
            then()
            return registered

        return register

    setattr(app, name, registering)


class _ScopedInvoke:
    """A command's ``invoke``, run in a REQUEST scope when the invocation was started by a set-up app."""

    __slots__ = ("invoke", "start")

    def __init__(self, invoke: Callable[[Any], Any], start: Start | None) -> None:
        self.invoke = invoke
        self.start = start

    def __call__(self, ctx: Any) -> Any:
        started: tuple[Container, bool] | None = ctx.meta.get(_STARTED)
        if started is None:
            if self.start is None:  # reached through a command tree that was not set up
                return self.invoke(ctx)
            container, found, supplied = self.start
            check_handlers(container, found())  # a callback missing a provider stops the command
            ctx.meta[_STARTED] = started = (container, supplied)
            ctx.find_root().call_on_close(container.close)
        container, supplied = started
        finished: typer.Exit
        with container.scope(REQUEST, context={typer.Context: ctx} if supplied else None):
            try:
                return self.invoke(ctx)
            except typer.Exit as stop:
                if stop.exit_code:
                    raise
                finished = stop  # a normal exit: the scope closes as after a return
        raise finished


class _ClaimResolved:
    """A group's ``resolve_command`` that hooks the subcommand it found before Typer invokes it."""

    __slots__ = ("resolve",)

    def __init__(self, resolve: Callable[..., tuple[str | None, Any, list[str]]]) -> None:
        self.resolve = resolve

    def __call__(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = self.resolve(ctx, args)
        if command is not None:
            _claim(command)
        return name, command, rest


def _claim(command: Any, start: Start | None = None) -> None:
    """Hook ``command`` (once): its ``invoke``, its ``resolve_command`` if it is a group, and its
    context class, so that its context is a ``typer.Context``.
    """
    if isinstance(vars(command).get("invoke"), _ScopedInvoke):
        return
    command.invoke = _ScopedInvoke(command.invoke, start)
    resolve = getattr(command, "resolve_command", None)
    if resolve is not None:
        command.resolve_command = _ClaimResolved(resolve)
    command.context_class = _typer_context(command.context_class)


@functools.cache
def _typer_context(context_class: type) -> type:
    """``typer.Context``, or a subclass of it and of a custom ``context_class``."""
    if issubclass(context_class, typer.Context):
        return context_class
    if issubclass(typer.Context, context_class):  # Typer's click's Context, or click's
        return typer.Context
    return type(context_class.__name__, (context_class, typer.Context), {})


def handlers(app: typer.Typer) -> list[Callable[..., Any]]:
    """The ``@inject`` callbacks of ``app`` (its callback and commands) and of its sub-apps, each once."""
    found: dict[int, Callable[..., Any]] = {}
    seen: set[int] = set()

    def visit(function: Any) -> None:
        handler = injected(_value(function))
        if handler is not None:
            found.setdefault(id(handler.__injectq_like__), handler)  # type: ignore[attr-defined]

    def walk(current: typer.Typer | None) -> None:
        if current is None or id(current) in seen:
            return
        seen.add(id(current))
        visit(current.info.callback)
        if current.registered_callback is not None:
            visit(current.registered_callback.callback)
        for command in current.registered_commands:
            visit(command.callback)
        for group in current.registered_groups:
            visit(group.callback)
            walk(group.typer_instance)

    walk(app)
    return list(found.values())
