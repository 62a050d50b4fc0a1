"""The per-call cost of an ``@inject`` handler with two injected dependencies, inside an
open scope, against calling the same handler with the two passed by hand.

    python -m benchmarks.inject_handler [asyncio|trio]
"""

from __future__ import annotations

import sys

import anyio

from benchmarks.request_scope import measure
from injectq_like import Container, Inject, Scope, inject


class Settings:
    pass


class Repository:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


async def handler(user_id: int, repository: Repository, settings: Settings) -> int:
    return user_id


@inject
async def injected(user_id: int, repository: Inject[Repository], settings: Inject[Settings]) -> int:
    return user_id


async def main() -> dict[str, float]:
    container = Container()
    container.register(Settings, scope=Scope.APP)
    container.register(Repository, scope=Scope.REQUEST)
    container.validate()
    results: dict[str, float] = {}
    async with container.scope() as scope:
        repository = await scope.resolve(Repository)
        settings = await scope.resolve(Settings)

        async def by_hand() -> int:
            return await handler(7, repository, settings)

        async def with_inject() -> int:
            return await injected(7)

        assert await with_inject() == 7
        results["handler(7, repository, settings)"] = await measure(by_hand)
        results["@inject handler(7)"] = await measure(with_inject)
    hand = results["handler(7, repository, settings)"]
    print(f"backend: {sys.argv[1] if len(sys.argv) > 1 else 'asyncio'}")
    print("| what | ns/call | ratio to by hand |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e9:,.0f} | {seconds / hand:.2f}x |")
    return results


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
