"""What generated resolvers are made of: the names their source refers to, how that source
becomes a function, and the helpers the generated code calls at run time.

The generated code reads a scope's plain attributes directly (``levels``,
``cache``, ``pending``, ``lock``, ``exits``, ``sync``, ``runtime``): those
are the scope's side of the contract, listed on ``AsyncRequestScope``.
"""

from __future__ import annotations

from typing import Any, Final

import anyio

from ._contract import ASYNC_CONTEXT_MANAGER, CONTEXT_MANAGER, GENERATOR, Resolver
from ._keys import MISSING, describe
from ._shield import Resumed

__all__ = [
    "Refs",
    "define",
    "did_not_yield",
    "enter_async_context",
    "enter_context",
    "first_failure",
    "first_value",
    "gather",
    "identifier",
    "resolve_none",
    "wait_pending",
]

_NOTE: Final = "injectq_like: "


class Refs:
    """The global names one generated function refers to."""

    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> str:
        self.names[name] = value
        return name


def define(name: str, source: str, refs: Refs) -> Any:
    """Compile ``source``, which defines the function ``name`` using ``refs``; return the function."""
    namespace = dict(refs.names)
    code = compile(source, f"<injectq_like resolver {name}>", "exec")
    exec(code, namespace)
    return namespace[name]


def identifier(text: str) -> str:
    """A Python identifier made from a key's description, for generated function names."""
    return "".join(c if c.isalnum() else "_" for c in text)[:60]


# -- called by generated code ----------------------------------------------------


def resolve_none(_scope: Any) -> None:
    """The resolver of ``T | None`` when ``T`` has no provider."""
    return


def first_value(scope: Any, generator: Any, slot: int) -> Any:
    """A generator factory's value; the rest of the generator becomes one of the scope's exits."""
    try:
        value = next(generator)
    except StopIteration:
        raise did_not_yield(scope, slot) from None
    scope.exits.append((slot, GENERATOR, generator))
    return value


def did_not_yield(scope: Any, slot: int) -> RuntimeError:
    provider = scope.runtime.provider_at(slot)
    return RuntimeError(f"the {provider.describe()} for {describe(provider.key)} returned without yielding a value")


def enter_context(scope: Any, manager: Any, slot: int) -> Any:
    manager.__enter__()
    scope.exits.append((slot, CONTEXT_MANAGER, manager))
    return manager


async def enter_async_context(scope: Any, manager: Any, slot: int) -> Any:
    await manager.__aenter__()
    scope.exits.append((slot, ASYNC_CONTEXT_MANAGER, manager))
    return manager


async def wait_pending(owner: Any, slot: int, getter: Resolver) -> Any:
    """Another task is creating the instance at ``slot`` in ``owner``: wait for it, or take over if it gave up."""
    while True:
        pending = owner.pending
        event = pending.get(slot, MISSING) if pending is not None else MISSING
        if event is MISSING:
            return await getter(owner)  # created (a cache hit now), or abandoned: create it
        if event is None:
            event = anyio.Event()
            pending[slot] = event
        await event.wait()


async def gather(
    scope: Any,
    getters: tuple[Resolver, ...],
    probes: tuple[tuple[int, int], ...],
) -> list[Any]:
    """Values of several async dependencies, creating the ones not cached yet concurrently.

    ``probes`` holds (the lifetime level it is cached at, or -1, its slot)
    for each. Nothing is started when at most one needs creating, nor when
    every one to create has always been created without waiting (there is
    nothing to overlap): those are created in turn, and one that waits after
    all is finished alone and created concurrently from then on. Else each
    is created in a task of one task group; if one fails, the others are
    cancelled and its own exception is raised.
    """
    count = len(getters)
    values: list[Any] = [MISSING] * count
    levels = scope.levels
    quiet = scope.runtime.quiet_creations
    missing = 0
    loud = False  # one to create may wait
    for n in range(count):
        level, slot = probes[n]
        if level >= 0:
            owner = levels[level]
            if owner is not None:
                cache = owner.cache
                if slot in cache:
                    values[n] = cache[slot]
                    continue
        missing += 1
        if slot not in quiet:
            loud = True
    if not missing:
        return values
    if missing == 1 or not loud:  # nothing to overlap: one by one, in this task
        for n in range(count):
            if values[n] is not MISSING:
                continue
            if missing == 1:
                values[n] = await getters[n](scope)
                return values
            steps = getters[n](scope)
            try:
                first = steps.send(None)
            except StopIteration as stop:
                values[n] = stop.value
                continue
            quiet.discard(probes[n][1])
            values[n] = await Resumed(steps, first)
        return values
    failures: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def create(n: int) -> None:
            try:
                steps = getters[n](scope)
                try:
                    first = steps.send(None)
                except StopIteration as stop:
                    quiet.add(probes[n][1])
                    values[n] = stop.value
                    return
                quiet.discard(probes[n][1])
                values[n] = await Resumed(steps, first)
            except Exception as error:  # noqa: BLE001 - re-raised below, unchanged
                failures.append(error)
                group.cancel_scope.cancel()

        for n in range(count):
            if values[n] is MISSING:
                group.start_soon(create, n)
    if failures:
        raise first_failure(failures)
    return values


def first_failure(failures: list[BaseException]) -> BaseException:
    """What a failed concurrent creation raises: its first failure, the others named in notes."""
    first = failures[0]
    for other in failures[1:]:
        first.add_note(f"{_NOTE}a sibling dependency also failed: {other!r}")
    return first
