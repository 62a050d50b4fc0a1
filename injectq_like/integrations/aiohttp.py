"""aiohttp: one call installs injectq_like on an ``aiohttp.web.Application``.

    from injectq_like.integrations.aiohttp import setup
    setup(app, container)

It opens a REQUEST scope per request (a WebSocket handler's whole connection
is its request), supplies the ``aiohttp.web.Request`` as a context value of
that scope (declared for you; when you registered a provider for it
yourself, yours is used and the request is not supplied), starts the
container when the app starts and
closes it at ``on_cleanup``, after the app's own cleanup hooks. ``@inject``
handlers (functions, methods of class-based views, in sub-apps too) then
resolve from the request's scope. When the app starts, the container is
validated together with those handlers: one needing something unregistered
stops the start with ``InvalidContainerError``.

The scope is opened by a middleware that ``setup`` puts first in
``app.middlewares`` (and moves back there when the app starts, if another
was inserted before it), so that it wraps the app's own middlewares, is
current in the task that runs them and the handler (one per request, so that
a disconnect's cancellation can be kept from the cleanups), and is closed
only after the response is completely sent: a response the handler returns is prepared and written
inside the scope (aiohttp's own ``finish_response`` then finds it sent), and
a ``StreamResponse`` written by the handler is finished there too. The
handler's exception, ``web.HTTPException`` included, is thrown into the
scope's cleanups and then propagates unchanged, for aiohttp to answer it. A
client that went away cancels the handler (``handler_cancellation=True``),
which closes the scope as well.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from injectq_like import Container, Scope
from injectq_like._providers import REQUEST
from injectq_like.exceptions import RegistrationError

from ._base import check_handlers, install

__all__ = ["handlers", "setup"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application, container: Container) -> None:
    """Install ``container`` on an aiohttp ``app``.

    Call it before the app starts (and, for a sub-app, before ``add_subapp``),
    and before the container's first resolution (it declares the ``Request``
    context value). A second call on the same app raises ``RegistrationError``.
    """
    if app.pre_frozen:  # middlewares and hooks are frozen: nothing could be installed
        raise RegistrationError(
            "setup() needs an aiohttp app that is not frozen yet",
            hint="call setup(app, container) before the app starts and before add_subapp() adds it to another app",
        )
    supplied = web.Request in install(
        app,
        container,
        what="app",
        unit="request",
        context={web.Request: Scope.REQUEST},
        handlers=handlers,
    )
    started = False

    @web.middleware
    async def scope_per_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        closing: list[bool] = []
        work = asyncio.ensure_future(_unit_of_work(container, request, handler, closing, supplied))
        return await _cancelled_before_closing(work, closing)

    async def close(_: web.Application) -> None:
        nonlocal started
        if started:
            started = False
            await container.aclose()

    async def lifetime(_: web.Application) -> AsyncIterator[None]:
        nonlocal started
        check_handlers(container, handlers(app))  # a handler missing a provider stops the start
        _move(app.middlewares, scope_per_request, first=True)  # mutable until the app freezes
        _move(app.on_cleanup, close, first=False)  # last: after the app's own cleanup hooks
        await container.__aenter__()  # APP autouse instances, before the app's other startup code
        started = True
        yield
        if not app.on_cleanup.frozen:  # the start failed later on: aiohttp runs only cleanup contexts
            await close(app)

    app.middlewares.insert(0, scope_per_request)
    app.cleanup_ctx.insert(0, lifetime)  # cleanup contexts enter before every on_startup callback
    app.on_cleanup.append(close)


async def _unit_of_work(
    container: Container, request: web.Request, handler: Handler, closing: list[bool], supplied: bool
) -> web.StreamResponse:
    """The request's scope around the app's middlewares, its handler, and the sending of its response;
    the scope is given the request when it is ``supplied`` (not when the user provides it).
    """
    sending = False
    try:
        async with container.scope(REQUEST, context={web.Request: request} if supplied else None):
            try:
                response = await handler(request)
                if isinstance(response, web.StreamResponse):  # else aiohttp answers 500 itself
                    sending = True
                    await response.prepare(request)  # a no-op for a response already prepared
                    await response.write_eof()  # a no-op for one already finished
            finally:
                closing.append(True)  # from here on only the scope's cleanups run
    except ConnectionError:
        if not sending:
            raise
        # The client went away during the send: the scope's cleanups saw it; aiohttp's own
        # finish_response meets the closed connection again and ends it without a 500.
    return response


async def _cancelled_before_closing(work: asyncio.Task[web.StreamResponse], closing: list[bool]) -> web.StreamResponse:
    """Wait for ``work``; a cancellation (aiohttp's answer to a disconnect) is passed on to it only
    while the handler runs, never once the scope's cleanups have started: an asyncio ``Task.cancel()``
    would cut an awaiting cleanup short (the core's shields are anyio cancel scopes, which stop
    anyio's cancellations but not a native one). The cancellation is raised once ``work`` is done.
    """
    cancelled = False
    while not work.done():
        try:
            await asyncio.wait((work,))
        except asyncio.CancelledError:
            cancelled = True
            if not closing:
                work.cancel()
    if cancelled and not work.cancelled() and work.exception() is None:
        raise asyncio.CancelledError
    return work.result()


def _move(hooks: Any, hook: Any, *, first: bool) -> None:
    """Put ``hook`` first (or last) in an aiohttp ``FrozenList`` unless it is frozen already."""
    if hooks.frozen or (hooks[0] if first else hooks[-1]) is hook:
        return
    hooks.remove(hook)
    if first:
        hooks.insert(0, hook)
    else:
        hooks.append(hook)


def handlers(app: web.Application) -> list[Callable[..., Any]]:
    """The ``@inject`` functions an app calls: route handlers (functions, bound methods, and the
    methods of class-based views) and middlewares, through sub-apps at any depth, each once.
    """
    found: dict[int, Callable[..., Any]] = {}

    def add(candidate: Any) -> None:
        if getattr(candidate, "__injectq_like__", None) is not None:
            found.setdefault(id(getattr(candidate, "__func__", candidate)), candidate)
        elif inspect.isclass(candidate) and issubclass(candidate, web.View):
            for name in dir(candidate):
                if not name.startswith("__"):
                    add(getattr(candidate, name, None))

    def walk(application: web.Application, seen: set[int]) -> None:
        if id(application) in seen:
            return
        seen.add(id(application))
        for middleware in application.middlewares:
            add(middleware)
        for resource in application.router.resources():
            sub = resource.get_info().get("app")  # add_subapp / add_domain: the sub-app's middlewares
            if isinstance(sub, web.Application):
                walk(sub, seen)
        for route in application.router.routes():  # a sub-app's routes are its resource's routes
            add(route.handler)

    walk(app, set())
    return list(found.values())
