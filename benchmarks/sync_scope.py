"""A sync request's cost: open a scope with ``with``, resolve a REQUEST graph with one generator
resource, close the scope, against the same work written by hand, in one process.

    python -m benchmarks.sync_scope

Prints the minimum ns per request over several repetitions and the ratio. No event loop runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from benchmarks.request_scope import Repository, Service, Session, Settings
from injectq_like import Container, Inject, Scope, inject


def open_session(settings: Settings) -> Iterator[Session]:
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


def measure(request: Callable[[], object], repeat: int = 7) -> float:
    """Minimum seconds per request, loops calibrated to about 0.2 s."""
    loops = 100
    while True:
        started = time.perf_counter()
        for _ in range(loops):
            request()
        if time.perf_counter() - started > 0.05:
            break
        loops *= 4
    loops = max(1, int(loops * 0.2 / (time.perf_counter() - started)))
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(loops):
            request()
        best = min(best, (time.perf_counter() - started) / loops)
    return best


def main() -> dict[str, float]:
    container = build_container()
    settings = container.resolve_sync(Settings)

    def by_hand() -> Service:
        generator = open_session(settings)
        session = next(generator)
        try:
            return Service(Repository(session), settings)
        finally:
            try:  # noqa: SIM105 - the plainest form, as written by hand
                next(generator)
            except StopIteration:
                pass

    def with_container() -> Service:
        with container.scope() as scope:
            return scope.resolve_sync(Service)

    @inject(container=container, scope=Scope.REQUEST)
    def handler(service: Inject[Service]) -> Service:
        return service

    service = with_container()
    assert service.repository.session.closed
    assert with_container().repository.session is not service.repository.session
    assert handler().repository.session.closed

    def empty_scope() -> None:
        with container.scope():
            pass

    results = {
        "by hand": measure(by_hand),
        "with container.scope() + resolve_sync + close": measure(with_container),
        "@inject(scope=Scope.REQUEST) sync handler": measure(handler),
        "an empty scope, opened and closed": measure(empty_scope),
    }
    hand = results["by hand"]
    print("| what | ns/request | ratio to by hand |")
    print("|---|---:|---:|")
    for name, seconds in results.items():
        print(f"| {name} | {seconds * 1e9:,.0f} | {seconds / hand:.2f}x |")
    return results


if __name__ == "__main__":
    main()
