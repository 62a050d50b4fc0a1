"""Resolving a 10-class transient graph against building it by hand, in one process.

    python -m benchmarks.transient_graph

Prints the minimum ns per operation over several repetitions (loops
calibrated to about 0.2 s) and the ratio to the hand-written construction.
"""

from __future__ import annotations

import asyncio
import timeit
from collections.abc import Callable

from benchmarks.scenarios import A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, GRAPH
from injectq_like import Container


def by_hand() -> A9:
    return A9(A8(A7(A6(A5(), A4(A3(A2(A0(), A1(A0()))), A1(A0())))), A0()), A5())


def build_container() -> Container:
    container = Container()
    for cls in GRAPH:
        container.register(cls)
    container.validate()
    return container


def measure(function: Callable[[], object], repeat: int = 7) -> float:
    """Minimum seconds per call, loops calibrated to about 0.2 s."""
    timer = timeit.Timer(function)
    loops, _ = timer.autorange()
    loops = max(1, int(loops * 0.2 / max(timer.timeit(loops), 1e-9)))
    return min(timer.repeat(repeat=repeat, number=loops)) / loops


def main() -> dict[str, float]:
    container = build_container()
    resolve_sync = container.resolve_sync
    graph = resolve_sync(A9)
    assert graph.b is not graph.a.a.a.a  # transients are fresh at every injection point
    loop = asyncio.new_event_loop()

    def resolve_async() -> A9:
        return loop.run_until_complete(container.resolve(A9))

    def by_hand_in_loop() -> A9:
        async def build() -> A9:
            return by_hand()

        return loop.run_until_complete(build())

    results = {
        "by hand": measure(by_hand),
        "container.resolve_sync(A9)": measure(lambda: resolve_sync(A9)),
        "by hand, in a coroutine": measure(by_hand_in_loop),
        "await container.resolve(A9)": measure(resolve_async),
    }
    loop.close()
    hand, hand_async = results["by hand"], results["by hand, in a coroutine"]
    print("| what | ns/op | ratio |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        base = hand_async if "coroutine" in name or "await" in name else hand
        print(f"| {name} | {seconds * 1e9:,.0f} | {seconds / base:.2f}x |")
    return results


if __name__ == "__main__":
    main()
