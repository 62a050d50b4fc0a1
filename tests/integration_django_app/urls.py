"""The service's views and URLconf: function views (sync and async), a class-based view,
streaming responses, and views under ``include()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.http import (  # type: ignore[import-untyped]
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import include, path  # type: ignore[import-untyped]
from django.views import View  # type: ignore[import-untyped]
from django.views.decorators.csrf import csrf_exempt  # type: ignore[import-untyped]

from injectq_like import Inject, inject

from .service import ArticleRepo, Database, Remote, UnitOfWork


class Meeting:
    """What the threads test sets: views wait there until every request is inside its view."""

    barrier: threading.Barrier | None = None


def _body(request: HttpRequest) -> str:
    return bytes(request.body).decode()


@csrf_exempt  # type: ignore[untyped-decorator]
@inject
def articles(request: HttpRequest, repo: Inject[ArticleRepo]) -> HttpResponse:
    """GET: every title; POST: add one (``boom`` fails after adding)."""
    if request.method == "POST":
        title = _body(request)
        article_id = repo.add(title)
        if title == "boom":
            raise RuntimeError("the view failed")
        return JsonResponse({"id": article_id, "unit": repo.unit.number, "path": repo.path}, status=201)
    return JsonResponse({"titles": list(repo.titles()), "unit": repo.unit.number})


@inject
def article(request: HttpRequest, article_id: int, repo: Inject[ArticleRepo]) -> HttpResponse:
    return JsonResponse({"title": repo.get(article_id), "unit": repo.unit.number})


@inject
async def async_articles(request: HttpRequest, repo: Inject[ArticleRepo]) -> HttpResponse:
    if request.method == "POST":
        title = _body(request)
        article_id = repo.add(title)
        await asyncio.sleep(0)
        if title == "boom":
            raise RuntimeError("the async view failed")
        return JsonResponse({"id": article_id, "unit": repo.unit.number}, status=201)
    return JsonResponse({"titles": list(repo.titles()), "unit": repo.unit.number})


@inject
async def async_article(request: HttpRequest, article_id: int, repo: Inject[ArticleRepo]) -> HttpResponse:
    await asyncio.sleep(0)
    return JsonResponse({"title": repo.get(article_id), "unit": repo.unit.number})


@inject
def where(request: HttpRequest, given: Inject[HttpRequest], unit: Inject[UnitOfWork]) -> HttpResponse:
    """Which thread runs the view, and whether the scope's request is the view's."""
    return JsonResponse({"thread": threading.get_ident(), "same": given is request, "unit": unit.number})


@inject
async def async_where(request: HttpRequest, given: Inject[HttpRequest], unit: Inject[UnitOfWork]) -> HttpResponse:
    return JsonResponse({"thread": threading.get_ident(), "same": given is request, "unit": unit.number})


@inject
def meet(request: HttpRequest, unit: Inject[UnitOfWork], database: Inject[Database]) -> HttpResponse:
    """Wait until every thread's request is in its view: their scopes are all open at once."""
    assert Meeting.barrier is not None
    Meeting.barrier.wait()
    return JsonResponse({"unit": unit.number, "unit_thread": unit.thread, "database": id(database)})


@inject
def remote(request: HttpRequest, remote: Inject[Remote]) -> HttpResponse:
    return HttpResponse("never")


@inject
def stream(request: HttpRequest, repo: Inject[ArticleRepo]) -> StreamingHttpResponse:
    """Titles streamed from the unit of work's connection; ``?fail`` fails after the first one."""
    fail = "fail" in request.GET

    def titles() -> Iterator[str]:
        for number, title in enumerate(repo.titles()):
            if fail and number == 1:
                raise RuntimeError("the stream failed")
            yield f"{title}\n"

    return StreamingHttpResponse(titles())


@inject
def numbered(repo: Inject[ArticleRepo]) -> Iterator[str]:
    """An ``@inject`` generator: it resolves at its first chunk, when the response is sent."""
    for title in repo.titles():
        yield f"{repo.unit.number}:{title}\n"


def stream_injected(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(numbered())


@inject
async def async_stream(request: HttpRequest, repo: Inject[ArticleRepo]) -> StreamingHttpResponse:
    fail = "fail" in request.GET

    async def titles() -> AsyncIterator[str]:
        for number, title in enumerate(repo.titles()):
            await asyncio.sleep(0)
            if fail and number == 1:
                raise RuntimeError("the async stream failed")
            yield f"{title}\n"

    return StreamingHttpResponse(titles())


class ArticleView(View):  # type: ignore[misc]
    @inject
    def get(self, request: HttpRequest, article_id: int, repo: Inject[ArticleRepo]) -> HttpResponse:
        return JsonResponse({"title": repo.get(article_id), "unit": repo.unit.number, "view": "class"})

    @inject
    def post(self, request: HttpRequest, article_id: int, repo: Inject[ArticleRepo]) -> HttpResponse:
        repo.add(_body(request))
        raise ValueError("the class-based view failed")


class AsyncArticleView(View):  # type: ignore[misc]
    @inject
    async def get(self, request: HttpRequest, article_id: int, repo: Inject[ArticleRepo]) -> HttpResponse:
        return JsonResponse({"title": repo.get(article_id), "unit": repo.unit.number, "view": "async class"})


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no injection")


nested: list[Any] = [
    path("articles/<int:article_id>", ArticleView.as_view()),
    path("async/articles/<int:article_id>", AsyncArticleView.as_view()),
]

urlpatterns = [
    path("articles", articles),
    path("articles/<int:article_id>", article),
    path("async/articles", async_articles),
    path("async/articles/<int:article_id>", async_article),
    path("where", where),
    path("async/where", async_where),
    path("meet", meet),
    path("remote", remote),
    path("stream", stream),
    path("stream/injected", stream_injected),
    path("async/stream", async_stream),
    path("plain", plain),
    path("views/", include(nested)),
]
