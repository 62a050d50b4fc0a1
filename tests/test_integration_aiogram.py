"""The aiogram integration, through ``Dispatcher.feed_update`` with a real ``Bot`` whose HTTP session
is a recording stand-in (the network is faked, not the framework), and a unit of work per update on
SQLite through aiosqlite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest
from aiogram import BaseMiddleware, Bot, Dispatcher, F, Router, flags
from aiogram.client.session.base import BaseSession
from aiogram.dispatcher.event.bases import UNHANDLED, CancelHandler, SkipHandler
from aiogram.dispatcher.flags import get_flag
from aiogram.filters import Command, CommandObject, Filter
from aiogram.fsm.context import FSMContext
from aiogram.handlers import MessageHandler
from aiogram.methods import GetMe, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, ErrorEvent, Message, TelegramObject, Update, User

from injectq_like import Container, Inject, InvalidContainerError, RegistrationError, Scope, inject
from injectq_like._keys import describe_path
from injectq_like.integrations.aiogram import handlers, hide_injected, setup

Next = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@pytest.fixture(params=[("asyncio", {}), ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """aiogram (and aiosqlite) run only on asyncio."""
    return request.param


# --- the network, faked ---------------------------------------------------------------------------


class RecordingSession(BaseSession):
    """Bot API requests recorded and answered with canned results, instead of sent."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []

    async def close(self) -> None:
        """Nothing to close."""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        self.requests.append(method)
        result: Any = True
        if isinstance(method, GetMe):
            result = User(id=42, is_bot=True, first_name="Notes", username="notes_bot")
        elif isinstance(method, SendMessage):
            result = Message(
                message_id=1000 + len(self.requests),
                date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                chat=Chat(id=int(method.chat_id), type="private"),
                text=method.text,
            )
        return cast("TelegramType", result)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""

    def sent(self) -> list[str]:
        """The texts of the messages the bot sent."""
        return [method.text for method in self.requests if isinstance(method, SendMessage)]


def message_update(update_id: int, text: str, *, user_id: int = 7, bot: Bot | None = None) -> Update:
    """A private message update from ``user_id``, mounted on ``bot`` if given."""
    raw = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
            "text": text,
        },
    }
    return Update.model_validate(raw, context={"bot": bot} if bot is not None else {})


# --- the application: a SQLite database for the bot's life, a unit of work per update -------------


class Settings:
    def __init__(self, path: Path) -> None:
        self.path = path


class Database:
    """The APP-lived store: the SQLite file, and what every unit of work did."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log: list[str] = []

    async def notes(self) -> list[tuple[int, str]]:
        """The committed notes, as (user, text)."""
        async with aiosqlite.connect(self.path) as connection:
            rows = await connection.execute_fetchall("SELECT user_id, text FROM notes ORDER BY id")
        return [(row[0], row[1]) for row in rows]


class UnitOfWork:
    def __init__(self, number: int, connection: aiosqlite.Connection) -> None:
        self.number = number
        self.connection = connection


class NoteRepo:
    """Notes of the update's sender, written through the update's unit of work."""

    def __init__(self, unit: UnitOfWork, update: Update) -> None:
        self.unit = unit
        self.update_id = update.update_id

    async def add(self, user_id: int, text: str) -> int:
        cursor = await self.unit.connection.execute("INSERT INTO notes (user_id, text) VALUES (?, ?)", (user_id, text))
        assert cursor.lastrowid is not None
        return cursor.lastrowid


class Sender:
    """Who sent the update (built from the ``Update`` context value)."""

    def __init__(self, update: Update) -> None:
        assert update.message is not None
        assert update.message.from_user is not None
        self.user_id = update.message.from_user.id


class Mailer:
    """Never registered."""


class Audit:
    """Its cleanup fails."""


def make_container(path: Path, events: list[str]) -> Container:
    container = Container()
    numbers = iter(range(1_000_000))

    async def open_database(settings: Settings) -> AsyncIterator[Database]:
        async with aiosqlite.connect(settings.path) as connection:
            await connection.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, user_id, text)")
            await connection.commit()
        events.append("database open")
        yield Database(settings.path)
        events.append("database close")

    async def unit_of_work(database: Database) -> AsyncIterator[UnitOfWork]:
        async with aiosqlite.connect(database.path) as connection:
            unit = UnitOfWork(next(numbers), connection)
            database.log.append(f"begin {unit.number}")
            try:
                yield unit
            except BaseException as error:
                await connection.rollback()
                database.log.append(f"rollback {unit.number} {type(error).__name__}")
                raise
            await connection.commit()
            database.log.append(f"commit {unit.number}")

    async def scope_log(update: Update) -> AsyncIterator[object]:
        events.append(f"open {update.update_id}")
        try:
            yield object()
        finally:
            events.append(f"close {update.update_id}")

    container.register(Settings, instance=Settings(path))
    container.register(Database, factory=open_database, scope=Scope.APP, autouse=True)
    container.register(UnitOfWork, factory=unit_of_work, scope=Scope.REQUEST)
    container.register(NoteRepo, scope=Scope.REQUEST)
    container.register(Sender, scope=Scope.REQUEST)
    container.register(object, factory=scope_log, scope=Scope.REQUEST, autouse=True)
    return container


class BotApp:
    """A dispatcher with a ``notes`` router, a bot on a recording session, and the container."""

    def __init__(self, tmp_path: Path, **workflow_data: Any) -> None:
        self.events: list[str] = []
        self.container = make_container(tmp_path / "notes.db", self.events)
        self.session = RecordingSession()
        self.bot = Bot(token="42:TEST-TOKEN", session=self.session)  # noqa: S106 - a fake token
        self.dispatcher = Dispatcher(**workflow_data)
        self.router = Router(name="notes")
        self.dispatcher.include_router(self.router)

    def install(self) -> None:
        setup(self.dispatcher, self.container)

    async def feed(self, update_id: int, text: str, *, user_id: int = 7) -> Any:
        return await self.dispatcher.feed_update(self.bot, message_update(update_id, text, user_id=user_id))

    async def database(self) -> Database:
        return await self.container.resolve(Database)


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[BotApp]:
    built = BotApp(tmp_path)
    yield built
    await built.container.aclose()


# --- the unit of work per update ------------------------------------------------------------------


@pytest.mark.anyio
async def test_each_update_runs_in_its_own_scope_and_commits(app: BotApp) -> None:
    """A command handler writes through the update's repository; the unit of work commits after it."""

    @app.router.message(Command("note"))
    @inject
    async def add_note(message: Message, command: CommandObject, repo: Inject[NoteRepo]) -> str:
        assert message.from_user is not None
        assert command.args is not None
        note_id = await repo.add(message.from_user.id, command.args)
        await message.answer(f"saved #{note_id} in update {repo.update_id}")
        return f"note {note_id}"

    app.install()
    first = await app.feed(1, "/note buy milk")
    second = await app.feed(2, "/note call mum", user_id=8)
    database = await app.database()
    assert (first, second) == ("note 1", "note 2")
    assert app.session.sent() == ["saved #1 in update 1", "saved #2 in update 2"]
    assert await database.notes() == [(7, "buy milk"), (8, "call mum")]
    assert database.log == ["begin 0", "commit 0", "begin 1", "commit 1"]
    assert app.events == ["database open", "open 1", "close 1", "open 2", "close 2"]


@pytest.mark.anyio
async def test_a_handler_error_rolls_back_and_propagates_unchanged(app: BotApp) -> None:
    """The handler's exception is thrown into the cleanups, then leaves ``feed_update`` as it was."""
    raised: list[Exception] = []

    @app.router.message()
    @inject
    async def refuse(message: Message, repo: Inject[NoteRepo]) -> None:
        await repo.add(7, message.text or "")
        raised.append(ValueError("no notes today"))
        raise raised[0]

    app.install()
    with pytest.raises(ValueError, match="no notes today") as caught:
        await app.feed(1, "hello")
    database = await app.database()
    assert caught.value is raised[0]
    assert await database.notes() == []
    assert database.log == ["begin 0", "rollback 0 ValueError"]
    assert app.events == ["database open", "open 1", "close 1"]


@pytest.mark.anyio
async def test_an_error_handler_runs_in_the_scope_and_the_failure_still_rolls_back(app: BotApp) -> None:
    """An ``@router.error()`` handler sees the update's scope; its answer is returned, and the unit of
    work rolls back all the same.
    """

    @app.router.message()
    @inject
    async def refuse(message: Message, repo: Inject[NoteRepo]) -> None:
        await repo.add(7, message.text or "")
        raise LookupError(message.text)

    @app.router.error()
    @inject
    async def apologise(event: ErrorEvent, unit: Inject[UnitOfWork], update: Inject[Update]) -> str:
        return f"sorry: {type(event.exception).__name__} in unit {unit.number} of update {update.update_id}"

    app.install()
    answer = await app.feed(3, "lost")
    database = await app.database()
    assert answer == "sorry: LookupError in unit 0 of update 3"
    assert await database.notes() == []
    assert database.log == ["begin 0", "rollback 0 LookupError"]
    assert app.events == ["database open", "open 3", "close 3"]


@pytest.mark.anyio
async def test_a_failed_cleanup_after_an_answered_error_raises_both(app: BotApp) -> None:
    """When the error handler answered but a cleanup fails, the group holds the failure, then the
    cleanup's error.
    """

    def audit() -> Iterator[Audit]:
        try:
            yield Audit()
        finally:
            raise OSError("audit log full")

    app.container.register(Audit, factory=audit, scope=Scope.REQUEST)

    @app.router.message()
    @inject
    async def refuse(message: Message, audit: Inject[Audit]) -> None:
        raise LookupError(message.text)

    @app.router.error()
    async def apologise(event: ErrorEvent) -> str:
        return "sorry"

    app.install()
    with pytest.raises(ExceptionGroup) as caught:
        await app.feed(1, "lost")
    assert [type(error) for error in caught.value.exceptions] == [LookupError, OSError]


@pytest.mark.anyio
async def test_an_error_event_propagated_outside_an_update_opens_no_scope(app: BotApp) -> None:
    """An error event an application propagates by hand reaches its error handlers, with no scope."""
    container = app.container

    @app.router.error()
    async def report(event: ErrorEvent) -> str:
        async with container.scope(context={Update: event.update, Bot: app.bot}) as scope:
            unit = await scope.resolve(UnitOfWork)
        return f"{event.exception} in unit {unit.number}"

    app.install()
    failed = message_update(9, "lost")
    answer = await app.dispatcher.propagate_event(
        update_type="error", event=ErrorEvent(update=failed, exception=KeyError("gone")), bot=app.bot
    )
    assert answer == "'gone' in unit 0"
    assert app.events == ["database open", "open 9", "close 9"]


# --- context values, aiogram's own parameters, and what aiogram reads ------------------------------


@pytest.mark.anyio
async def test_the_update_and_the_bot_are_context_values(app: BotApp) -> None:
    """``Update`` is the update being handled, ``Bot`` the bot it came through, for handlers and providers."""
    seen: dict[str, Any] = {}

    @app.router.message()
    @inject
    async def who(message: Message, update: Inject[Update], bot: Inject[Bot], sender: Inject[Sender]) -> str:
        seen.update(update=update, bot=bot)
        return f"{sender.user_id} via {bot.id}"

    app.install()
    fed = message_update(5, "hi", user_id=9, bot=app.bot)
    answer = await app.dispatcher.feed_update(app.bot, fed)
    assert answer == "9 via 42"
    assert seen["update"] is fed
    assert seen["bot"] is app.bot


@pytest.mark.anyio
async def test_filters_and_middlewares_see_the_scope(app: BotApp) -> None:
    """Outer and inner middlewares and ``@inject`` filters run inside the update's scope: one unit of work."""
    units: dict[str, int] = {}
    container = app.container

    async def outer(handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        units["outer"] = (await container.resolve(UnitOfWork)).number
        return await handler(event, data)

    app.router.message.outer_middleware.register(outer)

    @inject
    async def inner(handler: Next, event: TelegramObject, data: dict[str, Any], unit: Inject[UnitOfWork]) -> Any:
        units["inner"] = unit.number
        return await handler(event, data)

    app.router.message.middleware.register(inner)

    @inject
    async def from_owner(message: Message, sender: Inject[Sender], unit: Inject[UnitOfWork]) -> bool:
        units["filter"] = unit.number
        return sender.user_id == 7

    class Sent(Filter):
        @inject
        async def __call__(self, message: Message, unit: Inject[UnitOfWork]) -> dict[str, Any]:
            units["filter object"] = unit.number
            return {"length": len(message.text or "")}

    @app.router.message(from_owner, Sent())
    @inject
    async def handle(message: Message, length: int, unit: Inject[UnitOfWork]) -> str:
        units["handler"] = unit.number
        return f"{length} characters"

    app.install()
    assert await app.feed(1, "hello") == "5 characters"
    assert units == {"outer": 0, "inner": 0, "filter": 0, "filter object": 0, "handler": 0}
    units.clear()
    assert await app.feed(2, "hello", user_id=8) is UNHANDLED  # the filter said no
    assert units == {"outer": 1, "filter": 1}
    assert (await app.database()).log == ["begin 0", "commit 0", "begin 1", "commit 1"]


@pytest.mark.anyio
async def test_aiograms_own_parameters_work_beside_injected_ones(tmp_path: Path) -> None:
    """``message``, ``bot``, ``state``, ``command``, workflow and middleware data reach the handler."""
    app = BotApp(tmp_path, greeting="hello")
    seen: dict[str, Any] = {}

    async def tag(handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["tag"] = "from a middleware"
        return await handler(event, data)

    app.router.message.middleware.register(tag)

    @app.router.message(Command("start"))
    @inject
    async def start(
        message: Message,
        bot: Bot,
        state: FSMContext,
        command: CommandObject,
        greeting: str,
        tag: str,
        repo: Inject[NoteRepo],
        sender: Inject[Sender],
    ) -> str:
        await state.set_state("writing")
        seen.update(message=message, bot=bot, repo=repo)
        return f"{greeting} {sender.user_id}, {command.command} {command.args}, {tag}"

    app.install()
    answer = await app.feed(1, "/start now")
    state = await app.dispatcher.fsm.get_context(app.bot, chat_id=7, user_id=7).get_state()
    await app.container.aclose()
    assert answer == "hello 7, start now, from a middleware"
    assert seen["bot"] is app.bot
    assert seen["message"].text == "/start now"
    assert isinstance(seen["repo"], NoteRepo)
    assert state == "writing"


@pytest.mark.anyio
async def test_a_data_key_named_like_an_injected_parameter_does_not_replace_it(tmp_path: Path) -> None:
    """Workflow data ``repo`` and ``sender`` and middleware data ``unit`` stay aiogram's: the injected values win,
    for handlers, filters and ``**kwargs`` handlers, registered before or after ``setup``.
    """
    app = BotApp(tmp_path, repo="workflow data", sender="workflow data")
    seen: dict[str, Any] = {}

    async def put_unit(handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        data["unit"] = "middleware data"
        return await handler(event, data)

    app.dispatcher.message.outer_middleware.register(put_unit)

    @inject
    async def owner(message: Message, repo: Inject[NoteRepo]) -> bool:
        seen["filter"] = repo
        return True

    @app.router.message(F.text == "plain", owner)
    @inject
    async def plain(message: Message, repo: Inject[NoteRepo], unit: Inject[UnitOfWork]) -> str:
        seen.update(plain=(repo, unit))
        return "plain"

    app.install()

    @app.router.message(F.text == "kwargs")
    @inject
    async def everything(message: Message, repo: Inject[NoteRepo], **data: Any) -> str:
        seen.update(kwargs=repo, data=data)
        return "kwargs"

    @app.router.message(F.text == "sync kwargs")
    @inject
    def sync_everything(message: Message, sender: Inject[Sender], **data: Any) -> str:
        seen.update(sync=sender, sync_data=data)
        return "sync kwargs"

    assert await app.feed(1, "plain") == "plain"
    assert await app.feed(2, "kwargs") == "kwargs"
    assert await app.feed(3, "sync kwargs") == "sync kwargs"
    await app.container.aclose()
    repo, unit = seen["plain"]
    assert isinstance(repo, NoteRepo)
    assert isinstance(unit, UnitOfWork)
    assert isinstance(seen["filter"], NoteRepo)
    assert isinstance(seen["kwargs"], NoteRepo)
    assert isinstance(seen["sync"], Sender)
    assert "repo" not in seen["data"]
    assert "sender" not in seen["sync_data"]
    assert seen["sync_data"]["repo"] == "workflow data"
    assert seen["data"]["unit"] == "middleware data"  # not injected there: aiogram's value


def test_aiogram_reads_the_signature_callers_see(tmp_path: Path) -> None:
    """After ``setup``, aiogram's cached parameters omit the injected ones, and flags put on the
    wrapper are read.
    """
    app = BotApp(tmp_path)

    @app.router.message()
    @flags.audited
    @inject
    async def note(message: Message, repo: Inject[NoteRepo], unit: Inject[UnitOfWork]) -> None:
        """Decorated with a flag above ``@inject``."""

    handler = app.router.message.handlers[0]
    assert handler.params == {"message", "repo", "unit"}  # aiogram's reading of the unwrapped function
    assert get_flag(handler, "audited") is None
    app.install()
    assert handler.params == {"message"}
    assert not handler.varkw
    assert get_flag(handler, "audited") is True
    assert list(inspect.signature(handler.callback).parameters) == ["message"]

    @app.router.message()
    @inject
    async def later(message: Message, repo: Inject[NoteRepo]) -> None:
        """Registered after setup (and, say, after the start): corrected on request."""

    late = app.router.message.handlers[1]
    assert late.params == {"message", "repo"}
    hide_injected(app.dispatcher)
    assert late.params == {"message"}
    assert handler.params == {"message"}


@pytest.mark.anyio
async def test_a_sync_handler_runs_in_the_scope_in_a_thread(app: BotApp) -> None:
    """A ``def`` handler runs in aiogram's worker thread, in a copy of the update's context."""

    @app.router.message()
    @inject
    def who(message: Message, sender: Inject[Sender], update: Inject[Update]) -> str:
        return f"{sender.user_id} in update {update.update_id}"

    app.install()
    assert await app.feed(4, "hi", user_id=3) == "3 in update 4"


# --- keys the user registered ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_bot_the_user_registered_is_kept(app: BotApp) -> None:
    """``register(Bot, instance=...)`` is neither re-declared nor replaced by the update's bot;
    ``Update`` is still given.
    """
    own = Bot(token="99:OWN-TOKEN", session=RecordingSession())  # noqa: S106 - a fake token
    app.container.register(Bot, instance=own)

    @app.router.message()
    @inject
    async def which(message: Message, bot: Bot, registered: Inject[Bot], update: Inject[Update]) -> str:
        return f"{bot.id} fed, {registered.id} injected, update {update.update_id}"

    app.install()
    assert await app.feed(1, "hi") == "42 fed, 99 injected, update 1"


@pytest.mark.anyio
async def test_context_values_the_user_declared_are_given(app: BotApp) -> None:
    """``register_context(Bot, scope=Scope.REQUEST)`` made by the user: the scope is given the bot."""
    app.container.register_context(Bot, scope=Scope.REQUEST)

    @app.router.message()
    @inject
    async def which(message: Message, bot: Inject[Bot]) -> int:
        return bot.id

    app.install()
    assert await app.feed(1, "hi") == 42


# --- aiogram's control flow -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_skip_handler_moves_on_within_the_same_scope(app: BotApp) -> None:
    """``SkipHandler`` makes aiogram try the next handler, in the same unit of work, which commits both."""

    @app.router.message()
    @inject
    async def first(message: Message, repo: Inject[NoteRepo]) -> None:
        await repo.add(7, "first")
        raise SkipHandler

    @app.router.message()
    @inject
    async def second(message: Message, repo: Inject[NoteRepo]) -> str:
        await repo.add(7, "second")
        return f"unit {repo.unit.number}"

    app.install()
    assert await app.feed(1, "hi") == "unit 0"
    database = await app.database()
    assert await database.notes() == [(7, "first"), (7, "second")]
    assert database.log == ["begin 0", "commit 0"]


@pytest.mark.anyio
async def test_cancel_handler_passes_through_unchanged(app: BotApp) -> None:
    """``CancelHandler`` raised by a middleware leaves ``feed_update`` unchanged, after a rollback."""
    container = app.container
    cancelled: list[CancelHandler] = []

    async def throttle(handler: Next, event: TelegramObject, data: dict[str, Any]) -> Any:
        await container.resolve(UnitOfWork)
        cancelled.append(CancelHandler())
        raise cancelled[0]

    app.router.message.outer_middleware.register(throttle)

    @app.router.message()
    async def never(message: Message) -> str:
        return "never"

    app.install()
    with pytest.raises(CancelHandler) as caught:
        await app.feed(1, "hi")
    assert caught.value is cancelled[0]
    assert (await app.database()).log == ["begin 0", "rollback 0 CancelHandler"]


@pytest.mark.anyio
async def test_an_unhandled_update_returns_unhandled_after_its_scope(app: BotApp) -> None:
    """No handler matches: ``feed_update`` returns ``UNHANDLED``, the scope was opened and closed once."""

    @app.router.message(F.text == "only this")
    async def only(message: Message) -> str:
        return "handled"

    app.install()
    assert await app.feed(1, "something else") is UNHANDLED
    assert app.events == ["database open", "open 1", "close 1"]


@pytest.mark.anyio
async def test_concurrent_updates_are_isolated(app: BotApp) -> None:
    """Two updates at once, each blocked until both arrived: each its own scope and unit of work;
    the one that fails rolls back alone.
    """
    arrived: list[int] = []
    both = asyncio.Event()
    container = app.container

    @app.router.message()
    @inject
    async def slow(message: Message, repo: Inject[NoteRepo]) -> tuple[int, int, int]:
        arrived.append(repo.update_id)
        if len(arrived) == 2:
            both.set()
        await both.wait()
        await repo.add(7, message.text or "")
        update = await container.resolve(Update)
        if message.text == "fail":
            raise RuntimeError("fail")
        return repo.update_id, update.update_id, repo.unit.number

    app.install()
    results: tuple[Any, Any] = await asyncio.gather(app.feed(1, "keep"), app.feed(2, "fail"), return_exceptions=True)
    kept, failed = results
    database = await app.database()
    assert isinstance(failed, RuntimeError)
    assert isinstance(kept, tuple)
    assert kept[:2] == (1, 1)
    assert await database.notes() == [(7, "keep")]
    assert sorted(database.log) == [
        "begin 0",
        "begin 1",
        "commit " + str(kept[2]),
        "rollback " + str(1 - kept[2]) + " RuntimeError",
    ]


# --- the dispatcher's startup and shutdown --------------------------------------------------------


@pytest.mark.anyio
async def test_the_container_starts_at_startup_and_closes_once_after_every_shutdown_handler(
    tmp_path: Path,
) -> None:
    """APP instances open at ``emit_startup`` before the dispatcher's own startup handlers, and close
    at ``emit_shutdown`` after every router's shutdown handlers, once.
    """
    app = BotApp(tmp_path)
    events = app.events
    container = app.container
    deeper = Router(name="deeper")
    app.router.include_router(deeper)

    @app.dispatcher.startup()
    @inject(container=container)  # no update's scope at startup: resolved from the APP scope
    async def warm(database: Inject[Database], bot: Bot) -> None:
        events.append(f"own startup {type(database).__name__} {bot.id}")

    @app.dispatcher.shutdown()
    async def own_shutdown() -> None:
        events.append("own shutdown")

    @deeper.shutdown()
    async def deeper_shutdown() -> None:
        if "database close" in events:  # a second shutdown
            events.append("deeper shutdown again")
            return
        database = await container.resolve(Database)  # still open: the container closes after this
        events.append(f"deeper shutdown {len(database.log)}")

    app.install()
    await app.dispatcher.emit_startup(bot=app.bot, database="a workflow value named like the injected one")
    assert events == ["database open", "own startup Database 42"]
    await app.feed(1, "hi")
    await app.dispatcher.emit_shutdown()
    await app.dispatcher.emit_shutdown()
    assert events[2:] == [
        "open 1",
        "close 1",
        "own shutdown",
        "deeper shutdown 0",
        "database close",
        "own shutdown",
        "deeper shutdown again",
    ]


@pytest.mark.anyio
async def test_a_callable_needing_an_unregistered_type_stops_the_start(app: BotApp) -> None:
    """Every ``@inject`` callable of the router tree is checked at startup; the container is not started."""
    sub = Router(name="sub")
    app.router.include_router(sub)

    @inject
    async def needs(message: Message, mailer: Inject[Mailer]) -> bool:
        return True

    class MailFilter(Filter):
        @inject
        async def __call__(self, message: Message, mailer: Inject[Mailer]) -> bool:
            return True

    class Mailing(BaseMiddleware):
        @inject
        async def __call__(
            self, handler: Next, event: TelegramObject, data: dict[str, Any], mailer: Inject[Mailer]
        ) -> Any:
            return await handler(event, data)

    class MailHandler(MessageHandler):
        @inject
        async def handle(self, mailer: Inject[Mailer]) -> None:
            pass

    @inject
    async def mail_handler(message: Message, mailer: Inject[Mailer]) -> None:
        pass

    @inject
    async def mail_error(event: ErrorEvent, mailer: Inject[Mailer]) -> None:
        pass

    sub.message.filter(needs)
    sub.message.register(mail_handler, MailFilter())
    sub.edited_message.register(MailHandler)
    sub.errors.register(mail_error)
    sub.callback_query.outer_middleware(Mailing())
    app.install()
    with pytest.raises(InvalidContainerError) as raised:
        await app.dispatcher.emit_startup()
    await app.dispatcher.emit_shutdown()
    assert sorted(describe_path(error.path) for error in raised.value.errors) == sorted(
        f"{name} -> Mailer"
        for name in (
            "needs",
            "mail_handler",
            "MailFilter.__call__",
            "MailHandler.handle",
            "mail_error",
            "Mailing.__call__",
        )
    )
    assert len(handlers(app.dispatcher)) == 6
    assert app.events == []


def test_a_second_setup_and_a_plain_router_are_refused(tmp_path: Path) -> None:
    """``setup`` twice on one dispatcher, or on a ``Router``, raises ``RegistrationError``."""
    app = BotApp(tmp_path)
    app.install()
    with pytest.raises(RegistrationError, match="already called on this dispatcher"):
        app.install()
    with pytest.raises(RegistrationError, match="needs an aiogram Dispatcher, not a Router"):
        setup(app.router, app.container)  # type: ignore[arg-type]
    assert len(app.dispatcher.update.outer_middleware) == 4  # the scope's, then aiogram's three
    assert len(app.dispatcher.startup.handlers) == 1
