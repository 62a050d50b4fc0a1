"""A container resolving a small graph with an async factory, end to end.

Run it with ``python3 dev.py run`` (or ``python -m examples.quickstart``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import anyio

from injectq_like import Container, Scope


@dataclass(frozen=True)
class Settings:
    dsn: str = ":memory:"


class Database:
    """A SQLite connection used from worker threads, so the event loop never blocks."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *parameters: object) -> list[tuple[object, ...]]:
        def run() -> list[tuple[object, ...]]:
            with self._connection:
                return self._connection.execute(sql, parameters).fetchall()

        return await anyio.to_thread.run_sync(run)


async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """An async generator factory: the code after ``yield`` closes the connection."""
    connection = await anyio.to_thread.run_sync(lambda: sqlite3.connect(settings.dsn, check_same_thread=False))
    print(f"opened database {settings.dsn!r}")
    try:
        yield Database(connection)
    finally:
        connection.close()
        print("closed database")


class NoteRepository(Protocol):
    async def add(self, text: str) -> int: ...
    async def all(self) -> list[str]: ...


class SqlNoteRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, text: str) -> int:
        await self.db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
        await self.db.execute("INSERT INTO notes (text) VALUES (?)", text)
        rows = await self.db.execute("SELECT max(id) FROM notes")
        return int(str(rows[0][0]))

    async def all(self) -> list[str]:
        return [str(row[0]) for row in await self.db.execute("SELECT text FROM notes ORDER BY id")]


class NoteService:
    def __init__(self, notes: NoteRepository) -> None:
        self.notes = notes

    async def write(self, text: str) -> int:
        return await self.notes.add(text.strip())


def build_container() -> Container:
    container = Container()
    container.register(Settings, instance=Settings())
    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(NoteRepository, SqlNoteRepository)
    container.register(NoteService)
    return container


async def main() -> list[str]:
    container = build_container()
    container.validate()  # every problem in the graph, before the first request
    async with container:
        service = await container.resolve(NoteService)
        for text in ("buy milk ", " write the docs"):
            note_id = await service.write(text)
            print(f"note {note_id}: {text.strip()!r}")
        repository = await container.resolve(NoteRepository)
        notes = await repository.all()
        print(f"all notes: {notes}")
        print("\nthe compiled plan of NoteService:\n")
        print(container.explain(NoteService))
    return notes


if __name__ == "__main__":
    assert anyio.run(main) == ["buy milk", "write the docs"]
