"""Flask: one call installs injectq_like on a ``flask.Flask`` app.

    from injectq_like.integrations.flask import setup
    setup(app, container)

It opens a sync REQUEST scope (entered with ``with``, closed without an event
loop) per request, supplies the ``flask.Request`` of that request as a
context value of the scope (declared for you; when you registered a
provider for it yourself, yours is used and the request is not supplied),
and checks the app's
``@inject`` handlers (views, methods of class-based views, blueprints',
request hooks and error handlers) at the first request, since Flask has no
start-up hook. The APP scope is the owner's to close (``container.close()``).

Where the scope is opened, and why. ``Flask.wsgi_app`` (flask/app.py) is the
whole request: it creates the request context, runs ``full_dispatch_request``
(``preprocess_request``: the ``before_request`` functions, which may answer
early; the view; ``handle_user_exception``: the error handlers), turns an
escaping error into a 500 (``handle_exception``), pops the request context
(``do_teardown_request``) and returns the WSGI body, which the server
iterates and closes afterwards. ``setup`` therefore wraps ``app.wsgi_app``
(Flask's documented place for a WSGI middleware) and runs the request, and
later each step of the body's iteration and its ``close()``, in one
``contextvars.Context`` of the request's own, so the scope is entered and
exited in the same context (and thread), is current while the body is
produced (a generator body, ``stream_with_context``), never leaks into the
server's context, and closes exactly once: when the body is exhausted, fails,
or is closed, whichever comes first, after the body's own ``close()``. Hooks
of the request context (``before_request``/``teardown_request``) cannot do
this: an earlier ``before_request`` may answer first, teardown runs before a
streamed body is sent, and neither sees an exception an error handler turned
into a response.

The request object exists only once ``wsgi_app`` has created the request
context, so ``setup`` also wraps the app's ``request_context`` (the first one
created in a request opens the scope with its request), and its
``handle_user_exception`` and ``handle_exception``, which only note the
first exception raised while handling the request (``abort(404)`` and other
``HTTPException`` included) and then do what Flask does, unchanged: that
exception is thrown into the scope's cleanups when it closes, so a unit of
work rolls back even when Flask answered the error (a 404, or a 500 from an
error handler). An exception that escapes ``wsgi_app`` (``PROPAGATE_EXCEPTIONS``,
as in testing) or the body closes the scope at once and propagates.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import flask
import flask.views

from injectq_like import AsyncRequestScope, Container, Scope
from injectq_like._providers import REQUEST

from ._base import check_handlers, install

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["handlers", "setup"]


def setup(app: flask.Flask, container: Container) -> None:
    """Install ``container`` on a Flask ``app``.

    Call it before the container's first resolution (it declares the
    ``flask.Request`` context value); routes and blueprints may be added
    before or after it. A second call on the same app raises ``RegistrationError``.
    """
    supplied = flask.Request in install(
        app,
        container,
        what="app",
        unit="request",
        context={flask.Request: Scope.REQUEST},
        handlers=handlers,
    )
    current: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("injectq_like_flask", default=None)
    request_context = app.request_context
    handle_user_exception = app.handle_user_exception
    handle_exception = app.handle_exception

    def scoped_request_context(environ: WSGIEnvironment) -> Any:
        context = request_context(environ)
        request = current.get()
        if request is not None and not request.opened:  # the request's own, not one a view makes
            request.open(context.request)
        return context

    def noted_user_exception(error: Exception) -> Any:
        _note(current, error)
        return handle_user_exception(error)

    def noted_exception(error: Exception) -> flask.Response:
        _note(current, error)
        return handle_exception(error)

    # Instance attributes: this app only, Flask's own methods called unchanged.
    app.request_context = scoped_request_context  # type: ignore[method-assign]
    app.handle_user_exception = noted_user_exception  # type: ignore[method-assign,assignment]
    app.handle_exception = noted_exception  # type: ignore[method-assign,assignment]
    app.wsgi_app = _ScopePerRequest(app, app.wsgi_app, container, current, supplied=supplied)  # type: ignore[method-assign]


def _note(current: contextvars.ContextVar[_Request | None], error: BaseException) -> None:
    request = current.get()
    if request is not None and request.error is None:
        request.error = error


class _Request:
    """One request's scope, and the first exception raised while Flask handled it."""

    __slots__ = ("container", "error", "opened", "scope", "supplied")

    def __init__(self, container: Container, *, supplied: bool) -> None:
        self.container = container
        self.supplied = supplied  # whether the scope is given the request (not when the user provides it)
        self.opened = False
        self.scope: AsyncRequestScope | None = None
        self.error: BaseException | None = None

    def open(self, request: flask.Request) -> None:
        self.opened = True  # once: a request context made later in this request opens nothing
        scope = self.container.scope(REQUEST, context={flask.Request: request} if self.supplied else None)
        scope.__enter__()  # closed by close(), in the same context, after the body
        self.scope = scope

    def close(self, error: BaseException | None) -> None:
        """Close the scope once, ``error`` (else the noted one) thrown into its cleanups."""
        scope, self.scope = self.scope, None
        if scope is None:
            return
        thrown = error if error is not None else self.error
        scope.__exit__(type(thrown) if thrown is not None else None, thrown, _traceback(thrown))


def _traceback(error: BaseException | None) -> TracebackType | None:
    return error.__traceback__ if error is not None else None


class _ScopePerRequest:
    """WSGI middleware around Flask's ``wsgi_app``: a context per request, where the scope lives."""

    __slots__ = ("app", "checked", "container", "current", "lock", "supplied", "wsgi_app")

    def __init__(
        self,
        app: flask.Flask,
        wsgi_app: WSGIApplication,
        container: Container,
        current: contextvars.ContextVar[_Request | None],
        *,
        supplied: bool,
    ) -> None:
        self.app = app
        self.supplied = supplied
        self.wsgi_app = wsgi_app
        self.container = container
        self.current = current
        self.checked = False
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self.lock:  # the first requests of a threaded server arrive together: one checks
            if not self.checked:
                check_handlers(self.container, handlers(self.app))  # raises until the app is valid
                self.checked = True
        request = _Request(self.container, supplied=self.supplied)
        context = contextvars.copy_context()
        body = context.run(self.run, request, environ, start_response)
        return _Body(body, request, context)

    def run(self, request: _Request, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.current.set(request)  # in the request's own context: no other request sees it
        try:
            return self.wsgi_app(environ, start_response)
        except BaseException as error:
            request.close(error)
            raise


class _Body:
    """The WSGI body, produced and closed in the request's context; the scope closes after it."""

    __slots__ = ("body", "context", "iterator", "request")

    def __init__(self, body: Iterable[bytes], request: _Request, context: contextvars.Context) -> None:
        self.body: Iterable[bytes] | None = body
        self.request = request
        self.context = context
        self.iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return self.context.run(self._next)

    def close(self) -> None:
        """What the WSGI server calls when it is done, the body sent or not (a client gone away)."""
        self.context.run(self._finish, None)

    def _next(self) -> bytes:
        if self.body is None:  # finished already
            raise StopIteration
        if self.iterator is None:
            self.iterator = iter(self.body)
        try:
            return next(self.iterator)
        except StopIteration:
            self._finish(None)  # all of it sent: the scope closes now, not whenever the server closes
            raise
        except BaseException as error:
            self._finish(error)
            raise

    def _finish(self, error: BaseException | None) -> None:
        body, self.body = self.body, None
        if body is None:
            return
        try:
            close = getattr(body, "close", None)
            if close is not None:
                close()  # Flask's response: its call_on_close functions, a stream's generator
        except BaseException as failure:
            self.request.close(failure)
            raise
        self.request.close(error)


def handlers(app: flask.Flask) -> list[Callable[..., Any]]:
    """The ``@inject`` functions the app calls: views (blueprints' included, and the methods of
    class-based ``View``/``MethodView`` views), ``before_request``, ``after_request`` and
    ``teardown_request`` functions, URL value preprocessors, template context processors and
    error handlers, each once.
    """
    found: dict[int, Callable[..., Any]] = {}

    def add(candidate: Any) -> None:
        if getattr(candidate, "__injectq_like__", None) is not None:
            found.setdefault(id(getattr(candidate, "__func__", candidate)), candidate)

    for view in app.view_functions.values():
        add(view)
        view_class = getattr(view, "view_class", None)
        if inspect.isclass(view_class) and issubclass(view_class, flask.views.View):
            for name in dir(view_class):
                if not name.startswith("__"):
                    add(getattr(view_class, name, None))
    hooks: list[Iterable[Any]] = [
        *app.url_value_preprocessors.values(),
        *app.before_request_funcs.values(),
        *app.after_request_funcs.values(),
        *app.teardown_request_funcs.values(),
        *app.template_context_processors.values(),
    ]
    for by_code in app.error_handler_spec.values():
        hooks.extend(by_class.values() for by_class in by_code.values())
    for functions in hooks:
        for function in functions:
            add(function)
    return list(found.values())
