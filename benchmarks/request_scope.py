"""A request's cost: open a scope, resolve a REQUEST graph with one async-generator
resource, close the scope, against the same work written by hand, in one process.

    python -m benchmarks.request_scope [asyncio|trio]

Prints the minimum ns per request over several repetitions and the ratio.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio

from injectq_like import Container, Scope


class Settings:
    pass


class Session:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.closed = False


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session


class Service:
    def __init__(self, repository: Repository, settings: Settings) -> None:
        self.repository = repository
        self.settings = settings


async def open_session(settings: Settings) -> AsyncIterator[Session]:
    session = Session(settings)
    try:
        yield session
    finally:
        session.closed = True


def build_container() -> Container:
    container = Container()
    container.register(Settings, instance=Settings())
    container.register(Session, factory=open_session, scope=Scope.REQUEST)
    container.register(Repository, scope=Scope.REQUEST)
    container.register(Service)
    container.validate()
    return container


async def measure(request: Callable[[], Awaitable[object]], repeat: int = 7) -> float:
    """Minimum seconds per request, loops calibrated to about 0.2 s."""
    loops = 100
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            await request()
        if time.perf_counter() - started > 0.05:
            break
        loops *= 4
    loops = max(1, int(loops * 0.2 / (time.perf_counter() - started)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            await request()
        best = min(best, (time.perf_counter() - started) / loops)
    return best


async def main() -> dict[str, float]:
    container = build_container()
    settings = container.resolve_sync(Settings)

    async def by_hand() -> Service:
        generator = open_session(settings)
        session = await generator.__anext__()
        try:
            return Service(Repository(session), settings)
        finally:
            try:  # noqa: SIM105 - the plainest form, as written by hand
                await generator.__anext__()
            except StopAsyncIteration:
                pass

    async def with_container() -> Service:
        async with container.scope() as scope:
            return await scope.resolve(Service)

    service = await with_container()
    assert service.repository.session.closed
    assert (await with_container()).repository.session is not service.repository.session

    async def empty_scope() -> None:
        async with container.scope():
            pass

    results = {
        "by hand": await measure(by_hand),
        "container.scope() + resolve + close": await measure(with_container),
        "an empty scope, opened and closed": await measure(empty_scope),
    }
    hand = results["by hand"]
    print(f"backend: {anyio_backend()}")
    print("| what | ns/request | ratio to by hand |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e9:,.0f} | {seconds / hand:.2f}x |")
    return results


def anyio_backend() -> str:
    return sys.argv[1] if len(sys.argv) > 1 else "asyncio"


if __name__ == "__main__":
    anyio.run(main, backend=anyio_backend())
