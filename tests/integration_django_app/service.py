"""The service's objects: an APP database (a SQLite file), a unit of work and a repository per request."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.http import Http404, HttpRequest  # type: ignore[import-untyped]

from injectq_like import Container, Scope


class Database:
    """The APP-lived store: where the SQLite file is, and what each unit of work did."""

    made = 0

    def __init__(self, path: Path) -> None:
        Database.made += 1
        self.path = path
        self.log: list[str] = []
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS article (id INTEGER PRIMARY KEY, title TEXT NOT NULL)")
            connection.execute("INSERT OR IGNORE INTO article VALUES (1, 'first')")
        connection.close()

    def titles(self) -> list[str]:
        connection = sqlite3.connect(self.path)
        try:
            return [title for (title,) in connection.execute("SELECT title FROM article ORDER BY id")]
        finally:
            connection.close()


class UnitOfWork:
    """One request's transaction, on a connection of its own."""

    def __init__(self, number: int, database: Database) -> None:
        self.number = number
        self.database = database
        self.connection = sqlite3.connect(database.path, check_same_thread=False)  # closed in another thread
        self.thread = threading.get_ident()


class ArticleRepo:
    def __init__(self, unit: UnitOfWork, request: HttpRequest) -> None:
        self.unit = unit
        self.path = request.path

    def get(self, article_id: int) -> str:
        row = self.unit.connection.execute("SELECT title FROM article WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise Http404(f"no article {article_id}")
        title: str = row[0]
        return title

    def add(self, title: str) -> int:
        cursor = self.unit.connection.execute("INSERT INTO article (title) VALUES (?)", (title,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def titles(self) -> Iterator[str]:
        for (title,) in self.unit.connection.execute("SELECT title FROM article ORDER BY id"):
            yield title


class Remote:
    """Made by an async factory: sync views cannot have it."""


def make_container(path: Path, *, with_remote: bool = True) -> Container:
    """The service's container: commit when the request succeeded, roll back when it failed."""
    container = Container()
    numbers = iter(range(1_000_000))
    lock = threading.Lock()

    def open_database() -> Iterator[Database]:
        database = Database(path)
        yield database
        database.log.append("database closed")

    def unit_of_work(database: Database) -> Iterator[UnitOfWork]:
        with lock:
            unit = UnitOfWork(next(numbers), database)
        try:
            yield unit
        except BaseException as error:
            # A unit a test abandoned (a response never closed) is finalized by the garbage
            # collector, maybe after its database was closed: nothing is left to roll back then.
            with contextlib.suppress(sqlite3.ProgrammingError):
                unit.connection.rollback()
            database.log.append(f"rollback {unit.number} {type(error).__name__}")
            raise
        else:
            unit.connection.commit()
            database.log.append(f"commit {unit.number}")
        finally:
            unit.connection.close()

    async def connect_remote() -> AsyncIterator[Remote]:
        yield Remote()

    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(ArticleRepo, scope=Scope.REQUEST)
    if with_remote:
        container.register(Remote, factory=connect_remote, scope=Scope.REQUEST)
    return container
