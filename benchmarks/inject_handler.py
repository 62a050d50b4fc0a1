"""The per-call cost of an ``@inject`` handler with two injected dependencies (one APP, one
REQUEST), against calling the same handler with the two passed by hand: in a scope that is
already open, and in a scope opened for each call (S4's two forms).

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

    @inject(container=container, scope=Scope.REQUEST)
    async def in_a_scope_of_its_own(user_id: int, repository: Inject[Repository], settings: Inject[Settings]) -> int:
        return user_id

    results: dict[str, float] = {}
    async with container:
        settings = await container.resolve(Settings)

        async def each_by_hand() -> int:  # what a scope per call amounts to, written out
            return await handler(7, Repository(settings), settings)

        async def each_in_an_explicit_scope() -> int:
            async with container.scope():
                return await injected(7)

        async def each_in_its_own_scope() -> int:
            return await in_a_scope_of_its_own(7)

        async with container.scope() as scope:
            repository = await scope.resolve(Repository)

            async def by_hand() -> int:
                return await handler(7, repository, settings)

            async def with_inject() -> int:
                return await injected(7)

            assert await with_inject() == 7
            results["open scope: handler(7, repository, settings)"] = await measure(by_hand)
            results["open scope: @inject handler(7)"] = await measure(with_inject)
        assert await each_in_an_explicit_scope() == await each_in_its_own_scope() == 7
        results["scope per call: handler(7, Repository(settings), settings)"] = await measure(each_by_hand)
        results["scope per call: async with container.scope(): await handler(7)"] = await measure(
            each_in_an_explicit_scope
        )
        results["scope per call: @inject(scope=Scope.REQUEST) handler(7)"] = await measure(each_in_its_own_scope)
    print(f"backend: {sys.argv[1] if len(sys.argv) > 1 else 'asyncio'}")
    print("| what | ns/call | ratio to the same by hand |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        hand = next(v for k, v in results.items() if k.split(":")[0] == name.split(":")[0])
        print(f"| {name} | {seconds * 1e9:,.0f} | {seconds / hand:.2f}x |")
    return results


if __name__ == "__main__":
    anyio.run(main, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
