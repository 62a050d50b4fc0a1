"""The Flask integration's checks of ``@inject`` handlers (at the first request, and by
``python -m injectq_like check MODULE:APP``), and its WSGI body driven as a server drives it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import flask
import pytest
from flask.views import MethodView, View
from werkzeug.test import EnvironBuilder

import injectq_like.integrations.flask as flask_integration
from injectq_like import Container, Inject, InvalidContainerError, Scope, inject
from injectq_like.__main__ import main
from injectq_like._keys import describe_path
from injectq_like.integrations.flask import handlers, setup


class Mailer:
    """Needed by handlers, and not registered in the broken container."""


class Clock:
    """Needed by class-based views and hooks, and not registered in the broken container."""


class Session:
    def __init__(self) -> None:
        self.closed = False


def make_broken_app(container: Container) -> flask.Flask:
    """``@inject`` functions of every kind Flask calls, in the app and in a blueprint, added after setup."""
    app = flask.Flask(__name__)
    app.testing = True
    setup(app, container)  # routes and blueprints may come after setup: they are found at the first request

    @app.get("/notify")
    @inject
    def notify(mailer: Inject[Mailer]) -> str:
        return "sent"  # pragma: no cover - the app never serves

    class TimeView(MethodView):
        @inject
        def get(self, clock: Inject[Clock]) -> str:
            return "now"  # pragma: no cover

    class DateView(View):
        decorators: ClassVar = [lambda view: view]  # as_view() keeps the class on the decorated view

        @inject
        def dispatch_request(self, clock: Inject[Clock]) -> str:
            return "today"  # pragma: no cover

    area = flask.Blueprint("area", __name__, url_prefix="/area")
    area.add_url_rule("/time", view_func=TimeView.as_view("time"))
    area.add_url_rule("/date", view_func=DateView.as_view("date"))

    @area.before_request
    @inject
    def audit(mailer: Inject[Mailer]) -> None:
        pass  # pragma: no cover

    @area.after_request
    @inject
    def stamp(response: flask.Response, clock: Inject[Clock]) -> flask.Response:
        return response  # pragma: no cover

    @area.teardown_request
    @inject
    def forget(error: BaseException | None, session: Inject[Session]) -> None:
        pass  # pragma: no cover

    @area.url_value_preprocessor
    @inject
    def language(endpoint: str | None, values: dict[str, Any] | None, session: Inject[Session]) -> None:
        pass  # pragma: no cover

    @area.context_processor
    @inject
    def clock_in_templates(clock: Inject[Clock]) -> dict[str, Any]:
        return {}  # pragma: no cover

    @area.errorhandler(KeyError)
    @inject
    def missing_key(error: KeyError, mailer: Inject[Mailer]) -> str:
        return "missing"  # pragma: no cover

    app.register_blueprint(area)
    app.add_url_rule("/plain", view_func=lambda: "plain")  # not @inject: not checked
    return app


BROKEN = [
    "DateView.dispatch_request -> Clock",
    "TimeView.get -> Clock",
    "audit -> Mailer",
    "clock_in_templates -> Clock",
    "missing_key -> Mailer",
    "notify -> Mailer",
    "stamp -> Clock",
]


def make_session() -> Iterator[Session]:
    session = Session()
    yield session
    session.closed = True


def make_fixed_container() -> Container:
    container = Container()
    container.register(Mailer, scope=Scope.APP)
    container.register(Clock)
    container.register(factory=make_session, scope=Scope.REQUEST)
    return container


def test_the_first_request_checks_every_inject_handler_the_app_calls() -> None:
    """A handler needing something unregistered fails the first request (and every one until fixed)."""
    container = Container()
    container.register(factory=make_session, scope=Scope.REQUEST)
    app = make_broken_app(container)
    client = app.test_client()
    for _ in range(2):
        with pytest.raises(InvalidContainerError) as raised:
            client.get("/plain")
        assert sorted(describe_path(e.path) for e in raised.value.errors) == BROKEN
    with container.override(Mailer, instance=Mailer()), container.override(Clock, instance=Clock()):
        assert client.get("/plain").text == "plain"  # valid with the overrides: checked, and served


def test_a_valid_app_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(app: flask.Flask) -> list[Callable[..., Any]]:
        calls.append(1)
        return handlers(app)

    monkeypatch.setattr(flask_integration, "handlers", counted)
    app = make_broken_app(make_fixed_container())
    client = app.test_client()
    assert client.get("/area/time").text == "now"
    assert client.get("/area/date").text == "today"
    assert calls == [1]


def test_handlers_lists_each_inject_function_once() -> None:
    app = make_broken_app(make_fixed_container())
    app.before_request(app.view_functions["notify"])  # the same function in two places: listed once
    names = sorted(getattr(f, "__qualname__", "").rpartition(".")[2] for f in handlers(app))
    expected = ["audit", "clock_in_templates", "dispatch_request", "forget", "get", "language", "missing_key"]
    assert names == [*expected, "notify", "stamp"]


def test_check_given_a_flask_app_reports_its_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``python -m injectq_like check MODULE:APP``: exit 1 listing the handlers' problems, else 0."""
    source = [
        "from injectq_like import Container, Scope",
        "from tests_flask_support import make_broken_app, make_fixed_container, make_session",
        "container = Container()",
        "container.register(factory=make_session, scope=Scope.REQUEST)",
        "broken = make_broken_app(container)",
        "fixed = make_broken_app(make_fixed_container())",
    ]
    (tmp_path / "flask_app.py").write_text("\n".join(source) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "tests_flask_support", sys.modules[__name__])
    out = io.StringIO()
    assert main(["check", "flask_app:broken"], out) == 1
    for problem in BROKEN:
        assert problem in out.getvalue()
    assert "Traceback" not in out.getvalue()
    out = io.StringIO()
    assert main(["check", "flask_app:fixed"], out) == 0
    assert out.getvalue() == "flask_app:fixed: valid (4 providers, 0 dependencies, 9 handlers)\n"
    sys.modules.pop("flask_app", None)


def test_the_wsgi_body_driven_by_a_server_closes_the_scope_once() -> None:
    """As a WSGI server does it: iterate the body to its end, ask once more, close twice."""
    container = make_fixed_container()
    sessions: list[Session] = []
    app = flask.Flask(__name__)
    setup(app, container)

    @app.get("/chunks")
    @inject
    def chunks(session: Inject[Session]) -> flask.Response:
        sessions.append(session)
        return flask.Response(iter([b"a", b"b"]))

    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda _: None

    body = app(EnvironBuilder(path="/chunks").get_environ(), start_response)
    iterator = iter(body)
    seen = [(next(iterator), sessions[0].closed), (next(iterator), sessions[0].closed)]
    assert seen == [(b"a", False), (b"b", False)]
    assert list(iterator) == []  # the end of the body: the scope closes
    assert sessions[0].closed
    assert list(iterator) == []
    close = getattr(body, "close")  # noqa: B009 - a WSGI body's optional close()
    close()
    close()
    assert statuses == ["200 OK"]
    container.close()
