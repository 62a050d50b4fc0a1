"""Inferred types of the public API, checked by ``mypy --strict`` (CI runs it over tests/).

Each ``assert_type`` fails type checking if the inferred type differs. The
file is also imported by tests/test_typing.py, so it must run cleanly.
"""

from __future__ import annotations

import abc
from typing import Annotated, Generic, Protocol, TypeVar, assert_type

from injectq_like import AsyncRequestScope, Container, Inject, Lazy, Named, Scope, inject

T = TypeVar("T")


class Database:
    pass


class Repo(Protocol):
    def get(self) -> int: ...


class Notifier(abc.ABC):
    @abc.abstractmethod
    def send(self) -> None: ...


class Box(Generic[T]):
    pass


async def resolution(container: Container, scope: AsyncRequestScope) -> None:
    assert_type(await container.resolve(Database), Database)
    assert_type(await container.resolve(Repo), Repo)
    assert_type(await container.resolve(Notifier), Notifier)
    assert_type(await container.resolve(Box[int]), Box[int])
    assert_type(container.resolve_sync(Database), Database)
    assert_type(await container.resolve(Database, name="primary"), Database)
    assert_type(container.resolve_sync(Repo, name="primary"), Repo)
    assert_type(await scope.resolve(Notifier, name="primary"), Notifier)
    assert_type(await container.resolve(Annotated[Database, Named("primary")]), Database)
    assert_type(await container.resolve(Database | None), Database | None)
    assert_type(container.resolve_sync(Repo), Repo)
    assert_type(await scope.resolve(Database), Database)
    assert_type(scope.resolve_sync(Repo), Repo)
    async with container.scope(Scope.REQUEST) as opened:
        assert_type(opened, AsyncRequestScope)
        async with opened.scope() as inner:
            assert_type(inner, AsyncRequestScope)


def parameters(db: Inject[Database], lazy: Lazy[Database], both: Inject[Lazy[Database]]) -> None:
    assert_type(db, Database)
    assert_type(lazy, Lazy[Database])
    assert_type(both, Lazy[Database])


async def lazy_value(lazy: Lazy[Database]) -> None:
    assert_type(await lazy(), Database)


def named(cache: Inject[Annotated[Database, Named("main")]]) -> None:
    assert_type(cache, Database)


@inject
async def handler(user_id: int, db: Inject[Database]) -> str:
    return f"{user_id}:{db}"


@inject(container=Container())
def sync_handler(db: Inject[Database]) -> int:
    return 1


async def calling_handlers(container: Container) -> None:
    assert_type(await handler(7), str)
    assert_type(sync_handler(), int)
    assert_type(await container.call(handler, 7), str)
