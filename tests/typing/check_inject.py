"""Inferred types of ``@inject`` handlers and ``container.call``, checked by ``mypy --strict``
with the plugin (the project's mypy configuration enables it; tests/test_typing.py checks
calls with it and without it).

Each ``assert_type`` fails type checking if the inferred type differs. The
file is also imported by tests/test_typing.py, so it must run cleanly: the
decorators run at import, the calls only inside functions never called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, assert_type

from injectq_like import Container, Inject, Lazy, Named, Scope, inject


class Database:
    pass


class Cache:
    pass


class AuditLog:
    pass


class User:
    pass


CONTAINER = Container()


@inject
async def get_user(user_id: int, db: Inject[Database]) -> User:
    assert_type(db, Database)
    return User()


@inject
def count_users(db: Inject[Database], *, active: bool = True) -> int:
    return int(active)


@inject(container=CONTAINER)
async def lazy_user(db: Inject[Lazy[Database]]) -> Database:
    assert_type(db, Lazy[Database])
    return await db()


@inject(container=CONTAINER, uses=(AuditLog,))
def cache_names(prefix: str, cache: Inject[Annotated[Cache, Named("redis")]]) -> list[str]:
    assert_type(cache, Cache)
    return [prefix]


@inject(uses=(AuditLog,))
async def optional_cache(cache: Inject[Cache | None], caches: Inject[list[Cache]]) -> bool:
    assert_type(cache, Cache | None)
    assert_type(caches, list[Cache])
    return cache is None


@inject
def returns_nothing(db: Inject[Database]) -> None:
    pass


async def plain_async(user_id: int, db: Inject[Database]) -> str:
    return f"{user_id}"


def plain_sync(db: Inject[Database]) -> float:
    return 1.0


class Handlers:
    @inject
    async def method(self, user_id: int, db: Inject[Database]) -> User:
        return User()

    @staticmethod
    @inject
    def static(db: Inject[Database]) -> int:
        return hash(db)


async def calling_handlers(container: Container, db: Database, handlers: Handlers) -> None:
    assert_type(await get_user(7), User)
    assert_type(await get_user(7, db=db), User)
    assert_type(await get_user(7, db), User)
    assert_type(count_users(), int)
    assert_type(count_users(active=False), int)
    assert_type(count_users(db), int)
    assert_type(await lazy_user(), Database)
    assert_type(cache_names("x"), list[str])
    assert_type(await optional_cache(), bool)
    assert_type(returns_nothing(), None)
    assert_type(await handlers.method(1), User)
    assert_type(Handlers.static(), int)
    assert_type(handlers.static(), int)


async def calling_through_the_container(container: Container) -> None:
    assert_type(await container.call(get_user, 7), User)
    assert_type(await container.call(count_users), int)
    assert_type(await container.call(count_users, active=False), int)
    assert_type(await container.call(lazy_user), Database)
    assert_type(await container.call(plain_async, 7), str)
    assert_type(await container.call(plain_sync), float)
    assert_type(await container.call(lambda: 3), int)


async def lazy_handles(handle: Lazy[Database], injected: Inject[Lazy[Cache]]) -> None:
    assert_type(await handle(), Database)
    assert_type(await injected(), Cache)
    assert_type(handle.resolved, bool)


@inject(container=CONTAINER, scope=Scope.REQUEST)
async def stream(limit: int, db: Inject[Database]) -> AsyncIterator[int]:
    yield limit


@inject(scope=Scope.REQUEST)
def lines(db: Inject[Database]) -> Iterator[str]:
    yield str(db)


def generator_handlers(db: Database) -> None:
    assert_type(stream(3), AsyncIterator[int])
    assert_type(stream(3, db=db), AsyncIterator[int])
    assert_type(lines(), Iterator[str])
