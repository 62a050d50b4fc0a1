"""The notes service: FastAPI endpoints over an injectq_like container.

* ``Database``: one aiosqlite connection for the app (APP), opened at
  startup and closed at shutdown; its path comes from ``NOTES_DATABASE``
  (a file, ``notes.db``, by default).
* ``UnitOfWork``: one transaction per request (REQUEST). The service commits
  it when the work succeeded; whatever was not committed when the request
  ends, because something failed, is rolled back.
* ``NoteRepository`` -> ``SqlNoteRepository`` and ``NoteService``: autowired
  by type.
* ``Feed``: the live feed (APP); each WebSocket connection is a SESSION scope
  holding its ``Subscription``, removed from the feed when it disconnects.

``create_app()`` validates the container before the app serves anything.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

import aiosqlite
import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from injectq_like import Container, Inject, Scope, inject
from injectq_like.integrations.starlette import setup

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    body TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Settings:
    database: str

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(database=os.environ.get("NOTES_DATABASE", "notes.db"))


class Database:
    """The app's connection; requests take turns through ``transactions``.

    A semaphore rather than a lock: the framework may resolve the unit of work
    in one task and close the request's scope in another, and a lock must be
    released by the task that acquired it.
    """

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection
        self.transactions = anyio.Semaphore(1)


async def open_database(settings: Settings) -> AsyncIterator[Database]:
    connection = await aiosqlite.connect(settings.database, isolation_level=None)
    try:
        await connection.execute(SCHEMA)
        yield Database(connection)
    finally:
        await connection.close()


class UnitOfWork:
    """One transaction: ``commit()`` makes the request's writes durable."""

    def __init__(self, database: Database) -> None:
        self.connection = database.connection
        self.committed = False

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")
        self.committed = True


async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
    async with database.transactions:
        await database.connection.execute("BEGIN")
        work = UnitOfWork(database)
        try:
            yield work
        finally:
            if not work.committed:  # the request failed (or never committed): undo its writes
                await database.connection.execute("ROLLBACK")


@dataclass(frozen=True)
class Note:
    id: int
    title: str
    body: str


class NoteRepository(Protocol):
    async def add(self, title: str, body: str) -> Note: ...
    async def get(self, note_id: int) -> Note | None: ...
    async def all(self) -> list[Note]: ...


class SqlNoteRepository:
    def __init__(self, work: UnitOfWork) -> None:
        self.connection = work.connection

    async def add(self, title: str, body: str) -> Note:
        cursor = await self.connection.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (title, body))
        assert cursor.lastrowid is not None
        return Note(cursor.lastrowid, title, body)

    async def get(self, note_id: int) -> Note | None:
        async with self.connection.execute("SELECT id, title, body FROM notes WHERE id = ?", (note_id,)) as rows:
            row = await rows.fetchone()
        return Note(row[0], row[1], row[2]) if row is not None else None

    async def all(self) -> list[Note]:
        async with self.connection.execute("SELECT id, title, body FROM notes ORDER BY id") as rows:
            return [Note(row[0], row[1], row[2]) for row in await rows.fetchall()]


class Feed:
    """Pushes every new note to the connected WebSockets."""

    def __init__(self) -> None:
        self.subscribers: set[MemoryObjectSendStream[Note]] = set()

    def publish(self, note: Note) -> None:
        for stream in list(self.subscribers):
            try:
                stream.send_nowait(note)
            except anyio.WouldBlock:  # a slow reader misses notes rather than slowing writers
                continue


class Subscription:
    def __init__(self, receive: MemoryObjectReceiveStream[Note]) -> None:
        self.receive = receive


async def subscribe(feed: Feed) -> AsyncIterator[Subscription]:
    send, receive = anyio.create_memory_object_stream[Note](100)
    feed.subscribers.add(send)
    try:
        yield Subscription(receive)
    finally:
        feed.subscribers.discard(send)
        send.close()
        receive.close()


class InvalidNote(ValueError):  # noqa: N818 - a domain error, named for what it says
    pass


class NoteService:
    def __init__(self, notes: NoteRepository, work: UnitOfWork, feed: Feed) -> None:
        self.notes = notes
        self.work = work
        self.feed = feed

    async def create(self, drafts: list[tuple[str, str]]) -> list[Note]:
        """Add notes all together or not at all."""
        created: list[Note] = []
        for title, body in drafts:
            if not title.strip():
                raise InvalidNote(f"note {len(created) + 1} has an empty title")
            created.append(await self.notes.add(title.strip(), body))
        await self.work.commit()
        for note in created:
            self.feed.publish(note)
        return created


def build_container(settings: Settings | None = None) -> Container:
    container = Container()
    container.register(Settings, instance=settings or Settings.from_environment())
    container.register(Database, factory=open_database, scope=Scope.APP)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(NoteRepository, SqlNoteRepository, scope=Scope.REQUEST)
    container.register(NoteService, scope=Scope.REQUEST)
    container.register(Feed, scope=Scope.APP)
    container.register(Subscription, factory=subscribe, scope=Scope.SESSION)
    return container


class NoteIn(BaseModel):
    title: str
    body: str = ""


class NoteOut(BaseModel):
    id: int
    title: str
    body: str


def create_app(container: Container | None = None) -> FastAPI:
    container = container or build_container()
    app = FastAPI(title="notes")
    setup(app, container)
    container.validate()

    @app.post("/notes", status_code=201)
    @inject
    async def create_note(note: NoteIn, service: Inject[NoteService]) -> NoteOut:
        try:
            (created,) = await service.create([(note.title, note.body)])
        except InvalidNote as error:
            raise HTTPException(422, str(error)) from error
        return NoteOut(id=created.id, title=created.title, body=created.body)

    @app.post("/notes/batch", status_code=201)
    @inject
    async def create_notes(notes: list[NoteIn], service: Inject[NoteService]) -> list[NoteOut]:
        try:
            created = await service.create([(n.title, n.body) for n in notes])
        except InvalidNote as error:
            raise HTTPException(422, f"nothing was saved: {error}") from error
        return [NoteOut(id=n.id, title=n.title, body=n.body) for n in created]

    @app.get("/notes")
    @inject
    async def list_notes(notes: Inject[NoteRepository]) -> list[NoteOut]:
        return [NoteOut(id=n.id, title=n.title, body=n.body) for n in await notes.all()]

    @app.get("/notes/{note_id}")
    @inject
    async def get_note(note_id: int, notes: Inject[NoteRepository]) -> NoteOut:
        note = await notes.get(note_id)
        if note is None:
            raise HTTPException(404, f"no note {note_id}")
        return NoteOut(id=note.id, title=note.title, body=note.body)

    @app.websocket("/feed")
    @inject
    async def feed(websocket: WebSocket, subscription: Inject[Subscription]) -> None:
        await websocket.accept()

        async def forward() -> None:
            async for note in subscription.receive:
                await websocket.send_json({"id": note.id, "title": note.title})

        async with anyio.create_task_group() as group:
            group.start_soon(forward)
            try:
                while True:  # the client only listens; reading tells us when it leaves
                    await websocket.receive_text()
            except WebSocketDisconnect:
                group.cancel_scope.cancel()

    return app


def app() -> FastAPI:
    """For ``uvicorn --factory examples.notes.app:app``."""
    return create_app()
