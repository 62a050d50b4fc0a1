"""Litestar: one call installs injectq_like on an app.

    from injectq_like.integrations.litestar import setup
    setup(app, container)

It opens a REQUEST scope per HTTP request and a SESSION scope per WebSocket
connection, supplies ``litestar.Request`` and ``litestar.WebSocket`` as
context values of those scopes (declared for you; a key you registered a
provider for yourself is left to your provider, and not supplied), starts the container when
the app starts and closes it once when the app stops, after the app's own
``on_shutdown`` hooks and lifespan managers. ``@inject`` handlers (functions,
``Controller`` methods, ``Provide(...)`` dependencies, guards and hooks) then
resolve from the connection's scope; Litestar's signature model and OpenAPI
schema see only their own parameters. When the app starts, the container is
validated together with every ``@inject`` handler the app calls: a handler
needing something unregistered stops the start with ``InvalidContainerError``.

The scope is opened around ``app.asgi_handler`` (Litestar's outermost
exception handler around its router), so guards, ``before_request`` hooks,
dependencies, exception handlers and the whole sending of the response
(streaming and server-sent events included) run inside it. Litestar turns a
handler's exception into a response before it leaves that handler; an
``after_exception`` hook records it, and it is thrown into the scope's
cleanups once the response is sent (a unit-of-work generator rolls back,
``HTTPException`` s included), without changing the response.

Litestar builds a new ``Request`` (or ``WebSocket``) object for each layer that
needs one (the route, the exception handler, some middleware); they all read
one ASGI scope, where Litestar also keeps what it parsed (body, JSON, form,
query, cookies, path parameters, user). The context value is such an object,
built from ``app.request_class`` (``app.websocket_class``): the same
connection and data as the handler's, not the same Python object. Both
``Request`` and ``Request[Any, Any, Any]`` (what ``mypy --strict`` asks users
to write) are keys of it, and so are ``WebSocket`` and ``WebSocket[Any, Any, Any]``.

WebSocket listeners run their callback once per message: decorate it with
``@inject(scope=Scope.REQUEST)`` for a REQUEST scope per message, inside the
connection's SESSION scope.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Final

from litestar import Litestar, Request, WebSocket

from injectq_like import Container, Scope
from injectq_like.exceptions import RegistrationError

from ._base import ASGIApp, ContextFactory, Receive, ScopePerConnection, Send, check_handlers, install

__all__ = ["handlers", "setup"]

#: Where the exception Litestar handled for a connection waits for the scope's cleanups.
_HANDLED: Final = "injectq_like.handled"
#: Where ``setup`` marks the app (Litestar apps cannot be weakly referenced).
_MARK: Final = "injectq_like_container"
#: Layer attributes that hold callables Litestar calls with the scope open.
_HOOKS: Final = ("before_request", "after_request", "after_response")
#: The keys of the context values: both spellings, since ``mypy --strict`` asks for the parameters.
_REQUEST: Final = (Request, Request[Any, Any, Any])
_WEBSOCKET: Final = (WebSocket, WebSocket[Any, Any, Any])


def setup(app: Litestar, container: Container) -> None:
    """Install ``container`` on a Litestar ``app``, after ``Litestar(...)`` built it.

    Call it before the app starts, and before the container's first
    resolution (it declares the ``Request`` and ``WebSocket`` context values).
    """
    if _MARK in app.state:
        raise RegistrationError(
            "setup() was already called on this app",
            hint="call setup(app, container) once per app; it opens one scope per connection",
        )
    supplied = install(
        app,
        container,
        what="app",
        unit="connection",
        context=dict.fromkeys(_REQUEST, Scope.REQUEST) | dict.fromkeys(_WEBSOCKET, Scope.SESSION),
        handlers=handlers,
    )
    app.state[_MARK] = container
    request_keys = tuple(key for key in _REQUEST if key in supplied)  # each spelling on its own
    websocket_keys = tuple(key for key in _WEBSOCKET if key in supplied)

    def request(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
        value = app.request_class(scope, receive, send)  # type: ignore[arg-type]
        return dict.fromkeys(request_keys, value)

    def websocket(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> dict[Any, Any]:
        value = app.websocket_class(scope, receive, send)  # type: ignore[arg-type]
        return dict.fromkeys(websocket_keys, value)

    context: dict[str, ContextFactory] = {}
    if request_keys:
        context["http"] = request
    if websocket_keys:
        context["websocket"] = websocket
    inner: ASGIApp = app.asgi_handler  # type: ignore[assignment]
    scoped = ScopePerConnection(_rethrow_handled(inner), container, context)
    app.asgi_handler = _swallow_handled(scoped)  # type: ignore[assignment]
    app.after_exception.append(_record)

    async def start() -> None:
        check_handlers(container, handlers(app))  # a handler missing a provider stops the start
        await container.__aenter__()

    async def stop() -> None:
        await container.aclose()

    app.on_startup.insert(0, start)  # before the app's own startup hooks
    app.on_shutdown.append(stop)  # Litestar runs on_shutdown in order: after the app's own


async def _record(exception: Exception, scope: Any) -> None:
    """``after_exception`` hook: the first exception Litestar handles for a connection is kept."""
    scope.setdefault(_HANDLED, exception)


def _rethrow_handled(app: ASGIApp) -> ASGIApp:
    """Inside the scope: once Litestar has answered, the exception it handled is raised again, so
    the scope's cleanups see it.
    """

    async def rethrow(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        handled = scope.get(_HANDLED)
        if handled is not None:
            raise handled

    return rethrow


def _swallow_handled(app: ASGIApp) -> ASGIApp:
    """Outside the scope: the handled exception, raised again for the cleanups, stops there (its
    response is already sent); anything else, cleanup failures included, goes on to the server.
    """

    async def swallow(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except Exception as error:
            if error is not scope.get(_HANDLED):
                raise

    return swallow


def handlers(app: Litestar) -> list[Callable[..., Any]]:
    """The ``@inject`` functions an app calls, each once: route handlers (functions and ``Controller``
    methods, through ``Router`` s), WebSocket listener callbacks, and the ``Provide(...)``
    dependencies, guards and ``before_request`` / ``after_request`` / ``after_response`` hooks of
    every layer from the app down to each handler.
    """
    found: dict[int, Callable[..., Any]] = {}
    seen: set[int] = set()

    def add(candidate: Any) -> None:
        for _ in range(5):  # Provide -> AsyncCallable -> partial -> ... -> the function
            if candidate is None:
                return
            if getattr(candidate, "__injectq_like__", None) is not None:
                found.setdefault(id(getattr(candidate, "__func__", candidate)), candidate)
                return
            candidate = _unwrapped(candidate)

    for route in app.routes:
        route_handlers = getattr(route, "route_handlers", None) or [getattr(route, "route_handler", None)]
        for handler in route_handlers:
            if handler is None:
                continue
            add(handler.fn)
            for layer in handler.ownership_layers:
                if id(layer) in seen:
                    continue
                seen.add(id(layer))
                for provider in (getattr(layer, "dependencies", None) or {}).values():
                    add(provider)
                for guard in getattr(layer, "guards", None) or ():
                    add(guard)
                for hook in _HOOKS:
                    add(getattr(layer, hook, None))
    return list(found.values())


def _unwrapped(candidate: Any) -> Any:
    """What Litestar wrapped: ``Provide.dependency``, ``AsyncCallable.func`` / ``partial.func``,
    and a WebSocket listener's callback (kept by its ``ListenerHandler``).
    """
    for name in ("dependency", "func", "_fn"):
        inner = getattr(candidate, name, None)
        if inner is not None and inner is not candidate:
            return inner
    return None
