"""Django: ``setup(container)`` once, and a middleware in ``settings.MIDDLEWARE``.

    from injectq_like.integrations.django import setup
    setup(container)  # in settings.py, wsgi.py/asgi.py, or an AppConfig.ready()

    MIDDLEWARE = ["injectq_like.integrations.django.ScopeMiddleware", ...]  # first

Django has no app object: ``setup`` records the container for the process
(a second ``setup`` raises ``RegistrationError``; ``teardown()`` forgets it,
for tests that build a container each) and declares ``django.http.HttpRequest``
as a REQUEST context value (unless you registered a provider for it
yourself: yours is used then, and the request is not supplied).
``ScopeMiddleware`` opens a REQUEST scope per request, for sync and async
views alike. At the first request, the container
is checked together with every ``@inject`` view the URL resolver reaches
(``handlers()``); the APP scope is closed by its owner (``container.close()``).

The hook is a middleware's ``__call__``, the only Django hook that wraps
the whole view call (``BaseHandler._get_response``, and the middlewares
listed after it) in one call, in one context. It is both sync- and
async-capable, so Django never adapts it: under WSGI the scope is entered
with ``with`` in the thread that runs the view; under ASGI with
``async with``, and ``sync_to_async`` (asgiref) runs a sync view in a thread
with a copy of the context, where the scope is current too. The scope is
opened in a copy of the caller's context (``Context.run``, or a task under
ASGI), so that it is never left current in a server's thread or task.

Django turns a view's exception into a response (``convert_exception_to_response``)
before ``__call__`` returns, so the exception reaches a middleware only through
``process_exception`` (``BaseHandler.process_exception_by_middleware``): the
middleware records it there, returns ``None`` (Django answers as usual,
``Http404`` a 404) and throws it into the scope's cleanups when the scope
closes. A streaming response keeps its scope open until its last chunk
was made: the middleware replaces ``response.streaming_content`` with an
iterator that makes each chunk with the scope current (the documented way
to wrap streaming content) and closes the scope after the last one, at the
first failure, or when Django closes the response (``HttpResponseBase.close``
calls the iterator's ``close``, registered by the ``streaming_content``
setter) before its end, with ``GeneratorExit`` thrown in.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, Final

import django  # type: ignore[import-untyped]
from asgiref.sync import async_to_sync, iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.apps import apps  # type: ignore[import-untyped]
from django.http import HttpRequest  # type: ignore[import-untyped]
from django.urls import URLResolver, get_resolver  # type: ignore[import-untyped]

from injectq_like import AsyncRequestScope, Container, Scope
from injectq_like._providers import REQUEST
from injectq_like.exceptions import RegistrationError

from ._base import check_handlers, install

__all__ = ["ScopeMiddleware", "handlers", "setup", "teardown"]

logger: Final = logging.getLogger("injectq_like.django")
_END: Final = object()


class _Installed:
    """What ``setup`` recorded for the process."""

    __slots__ = ("checked", "container", "lock", "supplied")

    def __init__(self, container: Container, *, supplied: bool) -> None:
        self.container = container
        self.supplied = supplied  # whether the scopes are given the request (not when the user provides it)
        self.checked = False  # the views were checked at the first request
        self.lock = threading.Lock()


_installed: _Installed | None = None


def setup(container: Container) -> None:
    """Install ``container`` for this process's Django views (with ``ScopeMiddleware`` in
    ``settings.MIDDLEWARE``).

    Call it once, before the container's first resolution (it declares the
    ``HttpRequest`` context value) and before the first request; a second call
    raises ``RegistrationError``.
    """
    global _installed  # noqa: PLW0603 - Django has no app object to hang it on
    if _installed is not None:
        raise RegistrationError(
            "setup() was already called in this process",
            hint="call setup(container) once; teardown() forgets the container (tests that build one each)",
        )
    supplied = HttpRequest in install(
        container,
        container,
        what="container",
        unit="request",
        context={HttpRequest: Scope.REQUEST},
        handlers=_handlers_of,
    )
    _installed = _Installed(container, supplied=supplied)


def teardown() -> None:
    """Forget the container ``setup`` installed (the owner still closes it)."""
    global _installed  # noqa: PLW0603
    _installed = None


def _handlers_of(_container: Container) -> list[Callable[..., Any]]:
    """``handlers()``, as ``install`` calls it: with the target, here the container."""
    return handlers()


def _current() -> _Installed:
    """What ``setup`` installed, its views checked once (a view missing a provider fails the request)."""
    installed = _installed
    if installed is None:
        raise RegistrationError(
            "ScopeMiddleware runs, but setup(container) was not called",
            hint="call injectq_like.integrations.django.setup(container) before the first request",
        )
    if not installed.checked:
        with installed.lock:  # two first requests at once may both check: it changes nothing
            check_handlers(installed.container, handlers())
            installed.checked = True
    return installed


class _Unit:
    """One request's unit of work: its scope, the context where it is current, the view's exception."""

    __slots__ = ("closed", "context", "error", "request", "scope")

    def __init__(self, request: Any, scope: AsyncRequestScope, context: contextvars.Context) -> None:
        self.request = request
        self.scope = scope
        self.context = context
        self.error: BaseException | None = None
        self.closed = False

    def close(self, error: BaseException | None) -> None:
        """Close a scope entered with ``with``, ``error`` thrown into its cleanups."""
        if not self.closed:
            self.closed = True
            self.scope.__exit__(type(error) if error else None, error, error.__traceback__ if error else None)

    async def aclose(self, error: BaseException | None) -> None:
        """Close the scope, however it was entered."""
        if self.scope.sync or self.closed:
            self.close(error)  # a no-op once closed
        else:
            self.closed = True
            await self.scope.__aexit__(type(error) if error else None, error, error.__traceback__ if error else None)


#: The unit of work of the request being handled, for ``process_exception``.
_unit: ContextVar[_Unit | None] = ContextVar("injectq_like_django_unit", default=None)


class ScopeMiddleware:
    """A REQUEST scope around each request, sync or async, ``HttpRequest`` its context value.

    Put it first in ``settings.MIDDLEWARE``, so that the other middlewares
    run inside the scope.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)  # Django then awaits __call__

    def __call__(self, request: Any) -> Any:
        if self.async_mode:
            return self._handle_async(request)
        installed = _current()
        context = contextvars.copy_context()  # the scope is current there, never in the server's thread
        return context.run(self._handle, request, installed, context)

    def _handle(self, request: Any, installed: _Installed, context: contextvars.Context) -> Any:
        scope = installed.container.scope(REQUEST, context={HttpRequest: request} if installed.supplied else None)
        unit = _Unit(request, scope, context)
        scope.__enter__()
        _unit.set(unit)
        try:
            response = self.get_response(request)
        except BaseException as error:  # what Django did not turn into a response
            unit.close(error)
            raise
        if getattr(response, "streaming", False):
            _stream_in(response, unit)
        else:
            unit.close(unit.error)
        return response

    async def _handle_async(self, request: Any) -> Any:
        installed = _current()
        # A task of its own: it runs in a copy of the caller's context, where the scope is current.
        unit: list[_Unit] = []
        work = asyncio.create_task(self._unit_of_work(request, installed, unit))
        return await _cancelled_before_closing(work, unit)

    async def _unit_of_work(self, request: Any, installed: _Installed, found: list[_Unit]) -> Any:
        scope = installed.container.scope(REQUEST, context={HttpRequest: request} if installed.supplied else None)
        unit = _Unit(request, scope, contextvars.copy_context())
        found.append(unit)
        await scope.__aenter__()
        _unit.set(unit)
        unit.context = contextvars.copy_context()  # with the scope current: streaming chunks are made there
        try:
            response = await self.get_response(request)
        except BaseException as error:  # a cancellation (the client went away), or one Django let through
            await unit.aclose(error)
            raise
        if getattr(response, "streaming", False):
            _stream_in(response, unit)
        else:
            await unit.aclose(unit.error)
        return response

    def process_exception(self, request: Any, exception: Exception) -> None:
        """Record the view's exception for the scope's cleanups; Django answers it as usual."""
        unit = _unit.get()
        if unit is not None and unit.request is request:
            unit.error = exception


async def _cancelled_before_closing(work: asyncio.Task[Any], found: list[_Unit]) -> Any:
    """Wait for ``work``; a cancellation is passed on to it only until its scope starts closing, so
    that asyncio's ``Task.cancel`` never cuts a cleanup short, and is raised once ``work`` is done.
    """
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait((work,))
        except asyncio.CancelledError:
            cancelled = True
            if not (found and found[0].closed):
                work.cancel()
    if cancelled and not work.cancelled():
        raise asyncio.CancelledError
    return work.result()


def _stream_in(response: Any, unit: _Unit) -> None:
    """Make ``response``'s chunks in the request's scope, closed after the last one."""
    content = response.streaming_content
    if response.is_async:
        response.streaming_content = _AsyncStream(unit, content, _next_async)
    elif not unit.scope.sync:  # ASGI: chunks of a sync iterator made in a thread, none consumed ahead
        response.streaming_content = _AsyncStream(unit, content, _next_in_thread)
    else:
        response.streaming_content = _SyncStream(unit, content)


class _SyncStream:
    """A sync body made with the request's scope current; the scope closes after the last chunk,
    at the first failure, or when the response is closed before its end.
    """

    __slots__ = ("chunks", "unit")

    def __init__(self, unit: _Unit, chunks: Iterator[bytes]) -> None:
        self.unit = unit
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        unit = self.unit
        if unit.closed:
            raise StopIteration
        try:
            chunk: bytes = unit.context.run(next, self.chunks)
        except StopIteration:
            unit.close(unit.error)
            raise
        except BaseException as error:
            unit.close(error)
            raise
        return chunk

    def close(self) -> None:
        """Called by ``response.close()``: the body was not sent to its end."""
        self.unit.close(GeneratorExit())


class _AsyncStream:
    """An async body made with the request's scope current; the scope closes after the last chunk,
    at the first failure, or when the response is closed before its end.
    """

    __slots__ = ("chunks", "step", "unit")

    def __init__(self, unit: _Unit, chunks: Any, step: Callable[[Any], Coroutine[Any, Any, Any]]) -> None:
        self.unit = unit
        self.chunks = chunks
        self.step = step

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        unit = self.unit
        if unit.closed:
            raise StopAsyncIteration
        try:
            chunk = await asyncio.create_task(self.step(self.chunks), context=unit.context)
        except BaseException as error:
            await unit.aclose(error)
            raise
        if chunk is _END:
            await unit.aclose(unit.error)
            raise StopAsyncIteration
        return chunk  # type: ignore[no-any-return]

    def close(self) -> None:
        """Called by ``response.close()``, from a worker thread under ASGI (which waits for the
        cleanups on the event loop), or from the event loop itself (a task runs them then).
        """
        unit = self.unit
        if unit.closed:
            return
        if unit.scope.sync:
            unit.close(GeneratorExit())
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            async_to_sync(unit.aclose)(GeneratorExit())
            return
        closing = loop.create_task(unit.aclose(GeneratorExit()))
        _closing.add(closing)
        closing.add_done_callback(_closed)


#: Closings started from the event loop's thread, kept until done.
_closing: set[asyncio.Task[None]] = set()


def _closed(task: asyncio.Task[None]) -> None:
    _closing.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("closing a request's scope failed", exc_info=error)


async def _next_async(chunks: AsyncIterator[bytes]) -> Any:
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return _END


async def _next_in_thread(chunks: Iterator[bytes]) -> Any:
    return await sync_to_async(_next_or_end, thread_sensitive=True)(chunks)


def _next_or_end(chunks: Iterator[bytes]) -> Any:
    return next(chunks, _END)  # StopIteration cannot cross a future


def handlers() -> list[Callable[..., Any]]:
    """The ``@inject`` views the URL resolver reaches (through ``include()``; function views, under
    other decorators too, and the methods of class-based views), each once.

    It needs Django's settings; it sets Django up (``django.setup()``) when
    that was not done yet, as ``python -m injectq_like check`` needs.
    """
    if not apps.apps_ready:  # pragma: no cover - a fresh process; tested in a subprocess
        django.setup()
    found: dict[int, Callable[..., Any]] = {}

    def add(candidate: Any) -> None:
        function = inspect.unwrap(candidate, stop=lambda f: getattr(f, "__injectq_like__", None) is not None)
        if getattr(function, "__injectq_like__", None) is not None:
            found.setdefault(id(function), function)

    def walk(patterns: Any) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            view = pattern.callback
            add(view)
            view_class = getattr(view, "view_class", None)  # View.as_view()
            if view_class is not None:
                for name in dir(view_class):
                    if not name.startswith("__"):
                        add(getattr(view_class, name, None))

    walk(get_resolver().url_patterns)
    return list(found.values())
