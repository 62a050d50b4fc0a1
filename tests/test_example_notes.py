"""The example notes service: its behaviour in process, and the end-to-end run of `python -m examples.notes`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from examples.notes.app import Settings, build_container, create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=[("asyncio", {}), ("asyncio", {"use_uvloop": True})], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> object:
    """aiosqlite, the example's database driver, runs on asyncio only."""
    return request.param


@asynccontextmanager
async def client_for(database: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(build_container(Settings(database=str(database))))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notes") as client:
            yield client


@pytest.mark.anyio
async def test_create_list_fetch(tmp_path: Path) -> None:
    """Notes are created, listed and fetched through the request-scoped unit of work."""
    async with client_for(tmp_path / "notes.db") as client:
        created = await client.post("/notes", json={"title": " Buy milk ", "body": "2 litres"})
        assert created.status_code == 201
        assert created.json() == {"id": 1, "title": "Buy milk", "body": "2 litres"}
        assert (await client.get("/notes/1")).json() == created.json()
        assert [n["title"] for n in (await client.get("/notes")).json()] == ["Buy milk"]
        assert (await client.get("/notes/2")).status_code == 404


@pytest.mark.anyio
async def test_failed_batch_is_rolled_back_and_data_survives_a_restart(tmp_path: Path) -> None:
    """A batch with one bad note saves nothing; committed notes are on disk for the next start."""
    database = tmp_path / "notes.db"
    async with client_for(database) as client:
        await client.post("/notes", json={"title": "kept"})
        failed = await client.post("/notes/batch", json=[{"title": "lost"}, {"title": ""}])
        assert failed.status_code == 422
        assert failed.json() == {"detail": "nothing was saved: note 2 has an empty title"}
        saved = await client.post("/notes/batch", json=[{"title": "a"}, {"title": "b"}])
        assert [n["title"] for n in saved.json()] == ["a", "b"]
    async with client_for(database) as client:
        assert [n["title"] for n in (await client.get("/notes")).json()] == ["kept", "a", "b"]


def test_openapi_hides_injected_parameters(tmp_path: Path) -> None:
    """The schema shows the caller's parameters only."""
    app = create_app(build_container(Settings(database=str(tmp_path / "notes.db"))))
    schema = app.openapi()
    assert [p["name"] for p in schema["paths"]["/notes/{note_id}"]["get"]["parameters"]] == ["note_id"]
    assert "parameters" not in schema["paths"]["/notes"]["get"]


def test_the_run_command_end_to_end(tmp_path: Path) -> None:
    """`python -m examples.notes` starts the service, talks to it over HTTP and WebSocket, and stops it."""
    environment = {**os.environ, "NOTES_DATABASE": str(tmp_path / "run.db")}
    result = subprocess.run(
        [sys.executable, "-m", "examples.notes"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "POST /notes/batch -> 422" in result.stdout
    assert "the WebSocket feed pushed" in result.stdout
    assert "NoteService (REQUEST, class)" in result.stdout
    assert "Traceback" not in result.stderr
