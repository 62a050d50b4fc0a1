"""Requests per second of a minimal endpoint with one REQUEST dependency, in each web framework
integration, against the same endpoint wired by hand, in one process and without a server.

    python -m benchmarks.frameworks                              # every framework installed
    python -m benchmarks.frameworks litestar aiohttp flask       # a subset
    python -m benchmarks.frameworks --requests 20000 --rounds 9  # steadier figures
    python -m benchmarks.frameworks --requests 200 --rounds 1    # a smoke run: a few seconds

The endpoint, ``GET /repo``, answers ``{"repo": "open"}`` from a ``Repo``
made by an async generator (``open_repo``: yield, then a trivial cleanup
that counts itself). With injectq_like, ``Repo`` is registered with
``scope=Scope.REQUEST``, the framework's integration is installed with its
``setup`` and the handler is ``@inject`` with an ``Inject[Repo]`` parameter:
the integration opens and closes a REQUEST scope per request and the
cleanup runs when it closes. By hand, the handler runs the same generator
itself (open, use, close in a ``try``/``finally``), with no container.

How the apps are driven, with as little around them as possible, so that
the framework's and the container's costs are what is measured (a server's
own work, HTTP parsing and sockets, is left out, which makes the ratios
lower than behind a real server; ``benchmarks.e2e`` measures that):

- ASGI apps (Litestar, Starlette, FastAPI) are called directly, one request
  after the other, with a prepared ``http`` scope (copied per request),
  a ``receive`` giving an empty body and a ``send`` that tallies what the
  server would have sent. Their lifespan is run first (startup: the
  integrations validate and enter the container) and shut down at the end.
- WSGI apps (Flask, Django) are called in a worker thread, their body
  iterated and closed as a WSGI server does; Django's two apps are two
  ``WSGIHandler``s (the one with ``ScopeMiddleware``), each setting its own
  URLconf per request.
- aiohttp apps are started with ``web.AppRunner(app).setup()`` (their
  startup and cleanup hooks: the integration's included), with no site and
  no socket. Each request is what aiohttp's ``RequestHandler`` does for a
  parsed request: ``web.Request`` made by the app's request factory (over a
  prepared ``RawRequestMessage``, a stand-in protocol and a stream writer
  that tallies what would have been written), the app's handler entry point
  (``Application._handle``: routing, the middleware chain with the
  integration's, the handler), then ``prepare()`` and ``write_eof()`` of the
  response, as ``RequestHandler.finish_response`` does. Unlike
  ``make_mocked_request``, nothing is a ``unittest.mock`` object.

Nothing fast can come from a broken setup: each batch checks that every
request got a complete 200 response, that the first one's body is the
expected JSON, and that ``open_repo``'s cleanup ran exactly once per request.

Each round drives every app with ``--requests`` requests, frameworks and
wirings taking turns (the order rotates from one round to the next), after
a warm-up batch; the garbage collector stays on. Printed: the median
requests per second over the rounds, the median of the rounds' ratios
(injectq_like / by hand, each round's pair measured back to back) and the
microseconds a request costs more with injectq_like (from the medians).

Adding a framework is one ``Case``: a function building its two apps (by
hand, with injectq_like) and one serving an app, an async context manager
that starts it, yields ``drive(n)`` (make ``n`` requests and return a
``Tally``), and stops it. ``serve_asgi`` and ``serve_wsgi`` serve any ASGI
or WSGI app; a WSGI app is driven in a worker thread, where no event loop
runs, as a WSGI server would.
"""

# No ``from __future__ import annotations``: the handlers are defined inside the functions that
# import their framework (so that a framework not installed is n/a, not an ImportError), and
# frameworks and @inject evaluate handlers' annotations, which must therefore be real objects.

import argparse
import asyncio
import io
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from itertools import repeat
from typing import Any, Generic, TypeVar

from injectq_like import Container, Inject, Scope, inject

App = TypeVar("App")

PATH = "/repo"
EXPECTED = {"repo": "open"}

# --------------------------------------------------------------------------- the dependency


class Repo:
    """The REQUEST dependency; ``closed`` counts the cleanups run, over every app."""

    closed = 0

    def __init__(self) -> None:
        self.open = True


async def open_repo() -> AsyncIterator[Repo]:
    repo = Repo()
    yield repo
    repo.open = False
    Repo.closed += 1


async def close_repo(generator: AsyncIterator[Repo]) -> None:
    """By hand: run the generator's cleanup (what a container does when the scope closes)."""
    try:  # noqa: SIM105 - the plainest form, as written by hand
        await anext(generator)
    except StopAsyncIteration:
        pass


def answer(repo: Repo) -> dict[str, str]:
    return {"repo": "open" if repo.open else "closed"}


def container() -> Container:
    """The container of an app wired with injectq_like (its integration validates it at startup)."""
    container = Container()
    container.register(Repo, factory=open_repo, scope=Scope.REQUEST)
    return container


# --------------------------------------------------------------------------- what the server would have sent


class WrongAnswerError(Exception):
    """A batch whose responses or cleanups are not what the endpoint should produce."""


@dataclass(slots=True)
class Tally:
    """What a batch of requests sent back: every response's status, the first one's body."""

    ok: int = 0  # responses started with status 200
    complete: int = 0  # responses whose body was sent to its end
    body: bytearray = field(default_factory=bytearray)  # the first response's body

    def check(self, requests: int, cleanups: int) -> None:
        problems = []
        if self.ok != requests:
            problems.append(f"{self.ok} responses with status 200")
        if self.complete != requests:
            problems.append(f"{self.complete} complete responses")
        if cleanups != requests:
            problems.append(f"{cleanups} cleanups of the REQUEST dependency")
        try:
            body = json.loads(self.body)
        except ValueError:
            body = bytes(self.body)
        if body != EXPECTED:
            problems.append(f"a first body of {body!r}, not {EXPECTED!r}")
        if problems:
            raise WrongAnswerError(f"{requests} requests made, but " + ", ".join(problems))


Drive = Callable[[int], Awaitable[Tally]]  # make n requests, one after the other


# --------------------------------------------------------------------------- ASGI


def asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
    }


class _Receive:
    """An ASGI ``receive``: the empty body, then a disconnect (the response was sent)."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def __call__(self) -> dict[str, Any]:
        if self.sent:
            return {"type": "http.disconnect"}
        self.sent = True
        return {"type": "http.request", "body": b"", "more_body": False}


@asynccontextmanager
async def asgi_lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """The app's lifespan, as a server runs it: startup, then shutdown on exit; yields its state."""
    state: dict[str, Any] = {}
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": state}
    running = asyncio.ensure_future(app(scope, inbox.get, outbox.put))

    async def step(event: str) -> None:
        await inbox.put({"type": f"lifespan.{event}"})
        reply = asyncio.ensure_future(outbox.get())
        await asyncio.wait((reply, running), return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            running.result()  # the app's error, if it raised one
            raise RuntimeError(f"the app's lifespan ended without answering lifespan.{event}")
        message = reply.result()
        if message["type"] != f"lifespan.{event}.complete":
            raise RuntimeError(f"lifespan.{event}: {message}")

    await step("startup")
    try:
        yield state
    finally:
        await step("shutdown")
        await running


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[Drive]:
    """Run the ASGI app's lifespan; yield a ``drive`` calling the app itself per request."""
    async with asgi_lifespan(app) as state:
        template = asgi_scope(PATH)

        async def drive(requests: int) -> Tally:
            tally = Tally()

            async def send(message: dict[str, Any]) -> None:
                kind = message["type"]
                if kind == "http.response.start":
                    tally.ok += message["status"] == 200
                elif kind == "http.response.body":
                    if not tally.complete:
                        tally.body += message.get("body", b"")
                    if not message.get("more_body", False):
                        tally.complete += 1

            for _ in repeat(None, requests):
                await app({**template, "state": state.copy()}, _Receive(), send)
            return tally

        yield drive


# --------------------------------------------------------------------------- WSGI


def wsgi_environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


@asynccontextmanager
async def serve_wsgi(app: Any) -> AsyncIterator[Drive]:
    """Yield a ``drive`` calling the WSGI app per request, in a worker thread, and iterating and
    closing its body as a WSGI server does (a WSGI app has no lifespan: a case that must start or
    stop something does it in its own ``serve``, around this one).
    """
    template = wsgi_environ(PATH)

    def run(requests: int) -> Tally:
        tally = Tally()

        def start_response(status: str, headers: object, exc_info: object = None) -> Callable[[bytes], object]:
            tally.ok += status.startswith("200 ")
            return tally.body.extend

        for _ in repeat(None, requests):
            body: Iterable[bytes] = app({**template, "wsgi.input": io.BytesIO()}, start_response)
            try:
                for chunk in body:
                    if not tally.complete:
                        tally.body += chunk
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            tally.complete += 1
        return tally

    async def drive(requests: int) -> Tally:
        return await asyncio.to_thread(run, requests)

    yield drive


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case(Generic[App]):
    """One framework: its two apps (by hand, with injectq_like), and how to serve one in process."""

    label: str  # in the table
    distributions: tuple[str, ...]  # whose versions the table shows
    build: Callable[[], tuple[App, App]]
    serve: Callable[[App], AbstractAsyncContextManager[Drive]]


def litestar_apps() -> tuple[Any, Any]:
    from litestar import Litestar, get

    from injectq_like.integrations.litestar import setup

    @get(PATH)
    async def by_hand() -> dict[str, str]:
        generator = open_repo()
        repo = await anext(generator)
        try:
            return answer(repo)
        finally:
            await close_repo(generator)

    @get(PATH)  # the route decorator outermost: Litestar must see the signature @inject made
    @inject
    async def injected(repo: Inject[Repo]) -> dict[str, str]:
        return answer(repo)

    wired = Litestar([injected])
    setup(wired, container())
    return Litestar([by_hand]), wired


def aiohttp_apps() -> tuple[Any, Any]:
    from aiohttp import web

    from injectq_like.integrations.aiohttp import setup

    async def by_hand(request: web.Request) -> web.Response:
        generator = open_repo()
        repo = await anext(generator)
        try:
            return web.json_response(answer(repo))
        finally:
            await close_repo(generator)

    @inject
    async def injected(request: web.Request, repo: Inject[Repo]) -> web.Response:
        return web.json_response(answer(repo))

    hand, wired = web.Application(), web.Application()
    hand.router.add_get(PATH, by_hand)
    wired.router.add_get(PATH, injected)
    setup(wired, container())
    return hand, wired


@asynccontextmanager
async def serve_aiohttp(app: Any) -> AsyncIterator[Drive]:
    """Start the app with an ``AppRunner`` (no site); yield a ``drive`` doing per request what
    aiohttp's ``RequestHandler`` does once it has parsed one (see the module's docstring).
    """
    from aiohttp import web
    from aiohttp.abc import AbstractStreamWriter
    from aiohttp.http import HttpVersion11, RawRequestMessage
    from aiohttp.streams import EMPTY_PAYLOAD
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    class Writer(AbstractStreamWriter):
        """Tallies what aiohttp's ``StreamWriter`` would have written to the transport."""

        def __init__(self, tally: Tally) -> None:
            self.tally = tally

        async def write_headers(self, status_line: str, headers: "CIMultiDict[str]") -> None:  # noqa: ARG002
            self.tally.ok += status_line.split(" ", 2)[1] == "200"

        async def write(self, chunk: bytes | bytearray | memoryview) -> None:
            self.output_size += len(chunk)
            if not self.tally.complete:
                self.tally.body += chunk

        async def write_eof(self, chunk: bytes = b"") -> None:
            await self.write(chunk)
            self.tally.complete += 1

        async def drain(self) -> None:
            pass

        def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
            pass

        def enable_chunking(self) -> None:
            pass

    class Protocol:
        """What ``web.Request`` reads of aiohttp's ``RequestHandler``: a connection with no TLS."""

        ssl_context = None
        peername = ("127.0.0.1", 50000)
        sockname = ("127.0.0.1", 8000)
        transport = None

    headers = CIMultiDictProxy(CIMultiDict({"Host": "127.0.0.1:8000", "Accept": "*/*"}))
    raw_headers = tuple((name.encode(), value.encode()) for name, value in headers.items())
    message = RawRequestMessage(
        method="GET",
        path=PATH,
        version=HttpVersion11,
        headers=headers,
        raw_headers=raw_headers,
        should_close=False,
        compression=None,
        upgrade=False,
        chunked=False,
        url=URL(PATH),
    )
    protocol: Any = Protocol()
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # the app's startup: the integration enters the container
    try:
        server = runner.server
        assert server is not None

        async def drive(requests: int) -> Tally:
            tally = Tally()
            task: Any = asyncio.current_task()
            make, handle = server.request_factory, server.request_handler
            for _ in repeat(None, requests):
                request = make(message, EMPTY_PAYLOAD, protocol, Writer(tally), task)
                try:
                    response = await handle(request)
                except web.HTTPException as error:
                    response = error
                await response.prepare(request)  # no-ops for a response the integration sent already
                await response.write_eof()
            return tally

        yield drive
    finally:
        await runner.cleanup()  # the app's cleanup: the integration closes the container


def starlette_apps() -> tuple[Any, Any]:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from injectq_like.integrations.starlette import setup

    async def by_hand(request: Request) -> JSONResponse:
        generator = open_repo()
        repo = await anext(generator)
        try:
            return JSONResponse(answer(repo))
        finally:
            await close_repo(generator)

    @inject
    async def injected(request: Request, repo: Inject[Repo]) -> JSONResponse:
        return JSONResponse(answer(repo))

    wired = Starlette(routes=[Route(PATH, injected)])
    setup(wired, container())
    return Starlette(routes=[Route(PATH, by_hand)]), wired


def fastapi_apps() -> tuple[Any, Any]:
    from fastapi import FastAPI

    from injectq_like.integrations.starlette import setup

    hand, wired = FastAPI(), FastAPI()

    @hand.get(PATH)
    async def by_hand() -> dict[str, str]:
        generator = open_repo()
        repo = await anext(generator)
        try:
            return answer(repo)
        finally:
            await close_repo(generator)

    @wired.get(PATH)
    @inject
    async def injected(repo: Inject[Repo]) -> dict[str, str]:
        return answer(repo)

    setup(wired, container())
    return hand, wired


def open_repo_sync() -> Iterator[Repo]:
    """``open_repo`` for sync code (a WSGI app's scope is entered with ``with``)."""
    repo = Repo()
    yield repo
    repo.open = False
    Repo.closed += 1


def sync_container() -> Container:
    container = Container()
    container.register(Repo, factory=open_repo_sync, scope=Scope.REQUEST)
    return container


def flask_apps() -> tuple[Any, Any]:
    from flask import Flask

    from injectq_like.integrations.flask import setup

    hand, wired = Flask("by_hand"), Flask("wired")

    @hand.get(PATH)
    def by_hand() -> dict[str, str]:
        generator = open_repo_sync()
        repo = next(generator)
        try:
            return answer(repo)
        finally:
            next(generator, None)

    @wired.get(PATH)
    @inject
    def injected(repo: Inject[Repo]) -> dict[str, str]:
        return answer(repo)

    setup(wired, sync_container())
    return hand, wired


def django_apps() -> tuple[Any, Any]:
    """Two ``WSGIHandler``s, one with ``ScopeMiddleware``; each request sets its own URLconf (both pay that)."""
    import types

    import django  # type: ignore[import-untyped]
    from django.conf import settings  # type: ignore[import-untyped]
    from django.core.handlers.wsgi import WSGIHandler  # type: ignore[import-untyped]
    from django.http import HttpRequest, JsonResponse  # type: ignore[import-untyped]
    from django.test.utils import override_settings  # type: ignore[import-untyped]
    from django.urls import path  # type: ignore[import-untyped]

    from injectq_like.integrations.django import setup

    if not settings.configured:
        settings.configure(DEBUG=False, ALLOWED_HOSTS=["*"], SECRET_KEY="benchmark", ROOT_URLCONF=None)  # noqa: S106
        django.setup()

    def by_hand(request: HttpRequest) -> JsonResponse:
        generator = open_repo_sync()
        repo = next(generator)
        try:
            return JsonResponse(answer(repo))
        finally:
            next(generator, None)

    @inject
    def injected(request: HttpRequest, repo: Inject[Repo]) -> JsonResponse:
        return JsonResponse(answer(repo))

    def handler(view: Callable[..., Any], name: str, middleware: list[str]) -> Callable[..., Any]:
        urls = types.ModuleType(f"benchmarks._django_{name}")
        urls.urlpatterns = [path(PATH.lstrip("/"), view)]  # type: ignore[attr-defined]
        sys.modules[urls.__name__] = urls
        with override_settings(MIDDLEWARE=middleware):
            wsgi = WSGIHandler()  # reads MIDDLEWARE now

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            settings.ROOT_URLCONF = urls.__name__
            return wsgi(environ, start_response)

        return app

    setup(sync_container())
    middleware = ["injectq_like.integrations.django.ScopeMiddleware"]
    return handler(by_hand, "by_hand", []), handler(injected, "wired", middleware)


#: Command-line name -> case; runs in this order.
CASES: dict[str, Case[Any]] = {
    "litestar": Case("Litestar", ("litestar",), litestar_apps, serve_asgi),
    "aiohttp": Case("aiohttp", ("aiohttp",), aiohttp_apps, serve_aiohttp),
    "starlette": Case("Starlette", ("starlette",), starlette_apps, serve_asgi),
    "fastapi": Case("FastAPI", ("fastapi", "starlette"), fastapi_apps, serve_asgi),
    "flask": Case("Flask", ("flask",), flask_apps, serve_wsgi),
    "django": Case("Django", ("django",), django_apps, serve_wsgi),
}
WIRINGS = ("by hand", "injectq_like")


# --------------------------------------------------------------------------- the runs


@dataclass
class Runs:
    """One case's timed batches: requests per second, by wiring, one entry per round."""

    label: str
    rates: dict[str, list[float]] = field(default_factory=lambda: {wiring: [] for wiring in WIRINGS})

    def median(self, wiring: str) -> float:
        return statistics.median(self.rates[wiring])

    def ratio(self) -> float:
        """The median of the rounds' ratios (injectq_like / by hand)."""
        hand, wired = self.rates[WIRINGS[0]], self.rates[WIRINGS[1]]
        return statistics.median(w / h for h, w in zip(hand, wired, strict=True))


def label(case: Case[Any]) -> str:
    found = []
    for distribution in case.distributions:
        try:
            found.append(f"{distribution} {version(distribution)}")
        except PackageNotFoundError:
            found.append(distribution)
    return f"{case.label} ({', '.join(found)})"


async def batch(drive: Drive, requests: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds for ``requests`` requests, checked."""
    closed = Repo.closed
    started = clock()
    tally = await drive(requests)
    took = clock() - started
    tally.check(requests, Repo.closed - closed)
    return took


async def run(
    names: list[str], requests: int, rounds: int, clock: Callable[[], float], log: Callable[[str], None]
) -> tuple[dict[str, Runs], dict[str, str]]:
    """Every case's runs, and why a case is n/a."""
    runs: dict[str, Runs] = {}
    missing: dict[str, str] = {}
    drives: dict[tuple[str, str], Drive] = {}
    async with AsyncExitStack() as stack:
        for name in names:
            case = CASES[name]
            try:
                apps = case.build()
            except ImportError as error:
                missing[name] = f"not installed ({error})"
                log(f"{name}: n/a: {missing[name]}")
                continue
            runs[name] = Runs(label(case))
            for wiring, app in zip(WIRINGS, apps, strict=True):
                drives[name, wiring] = await stack.enter_async_context(case.serve(app))
        log(f"warming up: {', '.join(runs)}")
        for key, drive in drives.items():
            try:
                await batch(drive, max(1, requests // 5))
            except WrongAnswerError as error:
                raise WrongAnswerError(f"{key[0]}, {key[1]}: {error}") from None
        order = list(runs)
        for number in range(rounds):  # the frameworks rotate; each wiring goes first every other round
            shift = number % len(order) if order else 0
            for name in order[shift:] + order[:shift]:
                for wiring in WIRINGS if number % 2 == 0 else WIRINGS[::-1]:
                    seconds = await batch(drives[name, wiring], requests, clock)
                    runs[name].rates[wiring].append(requests / seconds)
            ratios = (
                f"{name} {one.rates[WIRINGS[1]][-1] / one.rates[WIRINGS[0]][-1]:.2f}x" for name, one in runs.items()
            )
            log(f"round {number + 1}/{rounds}, injectq_like / by hand: {', '.join(ratios)}")
    return runs, missing


def table(runs: dict[str, Runs], missing: dict[str, str]) -> Iterator[str]:
    yield "| framework | by hand req/s | injectq_like req/s | ratio | µs added per request |"
    yield "|---|---:|---:|---:|---:|"
    for one in runs.values():
        hand, wired = one.median(WIRINGS[0]), one.median(WIRINGS[1])
        added = (1 / wired - 1 / hand) * 1e6
        yield f"| {one.label} | {hand:,.0f} | {wired:,.0f} | {one.ratio():.2f}x | {added:.1f} |"
    for name, reason in missing.items():
        yield f"| {CASES[name].label} | n/a | n/a | n/a | {reason} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.frameworks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("frameworks", nargs="*", metavar="FRAMEWORK", help=f"any of {', '.join(CASES)} (all)")
    parser.add_argument("--requests", type=int, default=5_000, help="requests per app per round (5,000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the batches with the process's CPU time, not the wall clock: steadier on a busy machine",
    )
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.frameworks if name not in CASES]
    if unknown:
        parser.error(f"unknown framework {', '.join(unknown)}: choose among {', '.join(CASES)}")
    if arguments.requests < 1 or arguments.rounds < 1:
        parser.error("--requests and --rounds must be at least 1")
    names = list(dict.fromkeys(arguments.frameworks)) or list(CASES)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    clock = time.process_time if arguments.cpu_time else time.perf_counter
    try:
        runs, missing = asyncio.run(run(names, arguments.requests, arguments.rounds, clock, log))
    except WrongAnswerError as error:
        log(f"the benchmark is void: {error}")
        return 1
    per = "per CPU second of this process" if arguments.cpu_time else "per second (wall clock)"
    print(
        f"CPython {sys.version.split()[0]}, in process (the app called directly, no server), requests {per}; "
        f"{arguments.requests:,} requests per app a round, median of {arguments.rounds} interleaved rounds; "
        "ratio: injectq_like / by hand, the median of the rounds' ratios\n"
    )
    for line in table(runs, missing):
        print(line)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
