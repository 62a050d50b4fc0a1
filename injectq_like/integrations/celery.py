"""Celery: one call installs injectq_like on a ``celery.Celery`` app.

    from injectq_like.integrations.celery import setup
    setup(app, container)

Every run of one of the app's tasks, in a worker or eager (``task_always_eager``,
``task.apply()``), runs in a sync REQUEST scope of its own, entered with ``with``
in the thread that runs the task (each retry is a new run, with a new scope).
The task being run, the bound task instance whose ``.request`` describes this
run, is a context value of that scope under the key ``celery.Task`` (declared
for you; when you registered a provider for it yourself, yours is used and
the task is not supplied). ``@inject`` tasks then resolve from the run's scope; Celery sees only
their caller's parameters, so its argument check (``typing=True``) ignores the
injected ones. At the worker's start (``worker_init``) the container is
validated together with the app's ``@inject`` tasks, without creating any
instance: a task needing something unregistered stops the start with
``InvalidContainerError``, and no APP instance exists before the pool forks.
The APP scope is closed at ``worker_process_shutdown`` in each prefork child
(each child has APP instances of its own) and at ``worker_shutdown`` in the
worker's process (solo and threads pools), which a warm shutdown sends; a
cold one sends no ``worker_shutdown``, and the APP cleanups do not run.

The hook is the task's ``run``: Celery's tracer (``celery/app/trace.py``,
``build_tracer``) calls ``task.run`` (or ``task.__call__``, which calls
``run``, for a task class that overrides it) for the worker and for
``Task.apply`` alike, and catches the body's exception right there to store
the result, retry, ignore or reject. So ``run`` is replaced, on each task's
class, by a wrapper that opens the scope around the original: the scope closes
before the result is stored (a commit that fails fails the task), and the
body's exception (``Retry``, ``Ignore`` and ``Reject`` included) is thrown into
the scope's cleanups and then reaches the tracer unchanged. Signals cannot do
this: ``task_postrun`` comes after the result is stored and never sees the
exception. A direct call ``task(...)`` runs ``run`` too, so it gets a scope of
its own as well (a child of the current one).

A task is wrapped when it is bound to the app: ``on_bound`` of the app's own
``app.Task`` class (every ``@app.task`` and ``@shared_task`` of this app,
before or after ``setup``), and again, for every task the app has, when the
app is finalized and when a worker starts (tasks with a ``base=`` class not
derived from ``app.Task``). Celery makes a separate task class per app for a
shared task, so a task of another app is never wrapped with this container.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Final

import celery  # type: ignore[import-untyped]
from celery import bootsteps, signals

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, install

__all__ = ["handlers", "setup"]

#: Set on a wrapped ``run``: the ``run`` it replaced (a function, or the task's ``staticmethod``).
_ORIGINAL: Final = "__injectq_like_celery__"
_BASE_RUN: Final = inspect.getattr_static(celery.Task, "run")


def setup(app: celery.Celery, container: Container) -> None:
    """Install ``container`` on a Celery ``app``.

    Call it right after creating the app, before its tasks run, and before the
    container's first resolution (it declares the ``celery.Task`` context
    value). A second call on the same app raises ``RegistrationError``.
    """
    supplied = celery.Task in install(
        app,
        container,
        what="app",
        unit="task run",
        context={celery.Task: Scope.REQUEST},
        handlers=handlers,
    )
    installation = _Installation(app, container, supplied=supplied)
    base = app.Task  # this app's own task class: every task it makes derives from it by default

    def on_bound(cls: type[Any], bound_to: celery.Celery) -> None:
        super(base, cls).on_bound(bound_to)  # the task class's own hook first
        installation.wrap_class(cls)

    base.on_bound = classmethod(on_bound)
    app.on_after_finalize.connect(installation.finalized, sender=app, weak=False)

    def start_worker(_step: Any, worker: Any, **_: Any) -> None:
        installation.worker_starting(worker)

    # A worker bootstep, not the ``worker_init`` signal: a signal's receivers cannot stop the start.
    step = type("InjectqLikeStep", (bootsteps.Step,), {"__init__": start_worker, "installation": installation})
    app.steps["worker"].add(step)  # the app keeps the step, the step the weakly connected receivers
    signals.worker_shutdown.connect(installation.worker_shutdown)  # weak: gone with the app
    signals.worker_process_shutdown.connect(installation.worker_process_shutdown)
    if app.finalized:
        installation.wrap_all()


class _Installation:
    """What ``setup`` installed on one app: the wrapping of its tasks and its worker's hooks."""

    def __init__(self, app: celery.Celery, container: Container, *, supplied: bool) -> None:
        self.app = app
        self.container = container
        self.supplied = supplied  # whether the scopes are given the task (not when the user provides it)
        self.hostnames: set[str] = set()  # the app's workers in this process (inherited by forked children)

    def wrap_all(self) -> None:
        for task in self.app.tasks.values():
            self.wrap_task(task)

    def finalized(self, **_: Any) -> None:
        self.wrap_all()

    def worker_starting(self, worker: Any) -> None:
        """The worker's blueprint starting, before its pool forks: the tasks checked and wrapped."""
        check_handlers(self.container, handlers(self.app))  # validates: creates nothing before the fork
        self.wrap_all()
        self.hostnames.add(worker.hostname)

    def worker_shutdown(self, sender: Any, **_: Any) -> None:
        if sender.app is self.app:
            self.hostnames.discard(sender.hostname)
            self.container.close()

    def worker_process_shutdown(self, sender: Any, **_: Any) -> None:
        if sender in self.hostnames:  # a prefork child of this app's worker: its own APP instances
            self.container.close()

    def wrap_task(self, task: celery.Task) -> None:
        own = vars(task).get("run")  # an instance's own run (``autoretry_for`` puts one there)
        if own is None:
            self.wrap_class(type(task))
        elif not _wrapped(own):
            task.run = _scoped(own, self.container, descriptor=False, supplied=self.supplied).__get__(task, type(task))

    def wrap_class(self, cls: type[Any]) -> None:
        run = inspect.getattr_static(cls, "run")
        if run is not _BASE_RUN and not _wrapped(run):
            cls.run = _scoped(run, self.container, descriptor=True, supplied=self.supplied)


def _wrapped(run: Any) -> bool:
    """Whether ``run`` is a scoped run, or wraps one (``functools.wraps`` copies the mark)."""
    return getattr(getattr(run, "__func__", run), _ORIGINAL, None) is not None


def _scoped(run: Any, container: Container, *, descriptor: bool, supplied: bool) -> Callable[..., Any]:
    """A ``run`` method that runs ``run`` (a class's attribute, bound to the task when it is a
    ``descriptor``, or an instance's own callable) in a REQUEST scope, with the task as the
    ``celery.Task`` value when it is ``supplied``.
    """

    def scoped_run(self: celery.Task, *args: Any, **kwargs: Any) -> Any:
        body = run.__get__(self, type(self)) if descriptor else run
        with container.scope(REQUEST, context={celery.Task: self} if supplied else None):
            return body(*args, **kwargs)

    original = run.__func__ if isinstance(run, staticmethod) else run
    for name in ("__name__", "__qualname__", "__doc__", "__module__"):
        value = getattr(original, name, None)
        if value is not None:
            setattr(scoped_run, name, value)
    try:
        visible = inspect.signature(original)
    except (TypeError, ValueError):  # pragma: no cover - a callable without a signature
        pass
    else:  # what ``Task.retry`` reads to merge new arguments: the task's own parameters
        if isinstance(run, staticmethod) or not descriptor:
            self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
            visible = visible.replace(parameters=[self_parameter, *visible.parameters.values()])
        scoped_run.__signature__ = visible  # type: ignore[attr-defined]
    setattr(scoped_run, _ORIGINAL, run)
    return scoped_run


def _original(run: Any) -> Any:
    """The function a task's ``run`` finally calls, under the scoped run and ``staticmethod``."""
    run = getattr(getattr(run, "__func__", run), _ORIGINAL, run)
    return run.__func__ if isinstance(run, (staticmethod, classmethod)) or inspect.ismethod(run) else run


def handlers(app: celery.Celery) -> list[Callable[..., Any]]:
    """The app's registered tasks whose function is ``@inject``, each once."""
    found: dict[int, Callable[..., Any]] = {}
    for task in app.tasks.values():
        function = _original(inspect.getattr_static(type(task), "run"))
        if getattr(function, "__injectq_like__", None) is not None:
            found.setdefault(id(function), function)
    return list(found.values())
