"""Run the notes service end to end: ``python -m examples.notes``.

Starts the service under uvicorn on 127.0.0.1 (a random free port), makes
real requests against it (create, list, fetch, a failing batch that is
rolled back, a missing note), listens to the WebSocket feed, prints what
happened and the container's graph, and stops the service. The database is
a new file in a temporary folder unless ``NOTES_DATABASE`` names one.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.sync.client import connect

from .app import Settings, build_container, create_app


def show(title: str, response: httpx.Response) -> Any:
    body = response.json()
    print(f"{title:<42} {response.request.method} {response.request.url.path} -> {response.status_code} {body}")
    return body


def run(database: str) -> None:
    container = build_container(Settings(database=database))
    app = create_app(container)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            sys.exit("the service did not start")
        time.sleep(0.02)
    print(f"notes service on http://127.0.0.1:{port} (database: {database})\n")
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
            connect(f"ws://127.0.0.1:{port}/feed", open_timeout=10) as feed,
        ):
            first = show("create a note", client.post("/notes", json={"title": "Buy milk", "body": "2 litres"}))
            second = show("create another", client.post("/notes", json={"title": "Write docs"}))
            pushed = [feed.recv(timeout=10), feed.recv(timeout=10)]
            print(f"{'the WebSocket feed pushed':<42} {pushed}")
            listed = show("list them", client.get("/notes"))
            fetched = show("fetch one", client.get(f"/notes/{first['id']}"))
            failed = show(
                "a batch with a bad note (rolled back)",
                client.post("/notes/batch", json=[{"title": "Call mum"}, {"title": "  "}]),
            )
            after = show("list again: nothing from the batch", client.get("/notes"))
            missing = show("fetch a note that does not exist", client.get("/notes/999"))
        assert [n["title"] for n in listed] == ["Buy milk", "Write docs"]
        assert fetched == first
        assert second["title"] == "Write docs"
        assert '"Buy milk"' in pushed[0]
        assert failed == {"detail": "nothing was saved: note 2 has an empty title"}
        assert after == listed, "the failed batch left rows behind"
        assert missing == {"detail": "no note 999"}
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    print("\nthe service stopped; every request scope was closed and the database connection too")
    print("\nthe container's graph:\n")
    print(container.graph("text"))


def main() -> None:
    database = os.environ.get("NOTES_DATABASE")
    if database:
        run(database)
        return
    with tempfile.TemporaryDirectory() as folder:
        run(str(Path(folder) / "notes.db"))


if __name__ == "__main__":
    main()
