"""Making an async dependency in place, without a task: the *trier* of a provider, and what it answers.

An async factory of a REQUEST or SESSION provider is first tried in place
by its trier (``tN``, generated): its first step is taken by hand, and most
factories finish in it, without waiting, so that no task, no pending entry
and no coroutine of the resolver's own are needed. When one does wait, the
trier hands back a ``Started``: the rest of the factory, to be finished in
the task that took the first step; the slot is claimed meanwhile, so that
another task waits for it instead of creating it twice. Only a factory that
has finished without waiting before (``quiet``) is tried in place; the
others, and any the first to wait leaves, are made together, each in a task
of its own, where their triers learn whether they are quiet.
"""

from __future__ import annotations

import functools
import types
from typing import Any, Final

import anyio

from ._codegen import Refs, did_not_yield, first_failure
from ._contract import ASYNC_GENERATOR, SYNC, Resolver
from ._failures import async_cleanup_in_sync_scope, no_scope
from ._keys import describe
from ._providers import Kind, Provider, Scope, Shape
from ._shield import Resumed

__all__ = [
    "BUSY",
    "NOT_TRIED",
    "PENDING",
    "Later",
    "Started",
    "complete",
    "finish_one",
    "in_place_lines",
    "lone_expression",
    "make_trier",
    "waited",
]


class Later:
    """A trier's answer when the value is not made yet: ``BUSY`` (another task is creating it)
    or ``NOT_TRIED`` (known to wait, or another one started waiting first).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


BUSY: Final = Later("BUSY")
NOT_TRIED: Final = Later("NOT_TRIED")


class Started:
    """A trier's answer when its factory's first step waited: the rest of it, to be run in the task
    that took that step. Its slot is claimed in ``owner.pending`` until it ends.
    """

    __slots__ = ("first", "generator", "owner", "slot", "steps")

    def __init__(self, owner: Any, slot: int, steps: Any, first: Any, generator: Any) -> None:
        self.owner = owner
        self.slot = slot
        self.steps = steps
        self.first = first
        self.generator = generator  # an async generator factory's generator, else None
        pending = owner.pending
        if pending is None:
            pending = owner.pending = {}
        pending[slot] = None

    async def finish(self) -> Any:
        owner, slot = self.owner, self.slot
        try:
            try:
                value = await Resumed(self.steps, self.first)
            except StopAsyncIteration:
                raise did_not_yield(owner, slot) from None
            if self.generator is not None:
                owner.exits.append((slot, ASYNC_GENERATOR, self.generator))
            owner.cache[slot] = value
        finally:
            event = owner.pending.pop(slot)
            if event is not None:
                event.set()
        return value


#: The classes of a trier's answers that are not values.
PENDING: Final = frozenset({Later, Started})


def waited(slot: int, steps: Any, first: Any, owner: Any, generator: Any, quiet: set[int]) -> Started:
    """A trier's factory waited in its first step: no longer quiet; hand the rest over."""
    quiet.discard(slot)
    return Started(owner, slot, steps, first, generator)


async def finish_one(scope: Any, value: Any, getter: Resolver, slot: int) -> Any:
    """The instance at ``slot``, from what its trier answered instead: the rest of what it started,
    run here (the task that started it), then the instance made at once if what it started was a
    dependency's; or, when another task is creating it (``BUSY``), that instance, waited for.
    """
    if value.__class__ is Started:
        made = await value.finish()
        if value.slot == slot:
            return made
    return await getter(scope)  # BUSY, or a dependency it started was finished: now it is made at once


async def complete(
    scope: Any,
    triers: tuple[Resolver, ...],
    getters: tuple[Resolver, ...],
    values: list[Any],
    slots: tuple[int, ...],
    quiet: set[int],
) -> list[Any]:
    """The values the triers left to make: the one started here is finished first, alone (it must
    end in this task); the others are then made together, each in a task of its own.
    """
    rest: list[int] = []
    for n, value in enumerate(values):
        if value.__class__ is Started:
            values[n] = await finish_one(scope, value, getters[n], slots[n])
        elif value.__class__ is Later:
            rest.append(n)
    if not rest:
        return values

    async def make(n: int) -> None:
        value = triers[n](scope)  # in this task: what it starts, it finishes here
        if value.__class__ in PENDING:
            value = await finish_one(scope, value, getters[n], slots[n])
        else:
            quiet.add(slots[n])  # it did not wait: tried in place from now on
        values[n] = value

    if len(rest) == 1:
        await make(rest[0])
        return values
    failures: list[BaseException] = []
    async with anyio.create_task_group() as group:

        async def create(n: int) -> None:
            try:
                await make(n)
            except Exception as error:  # noqa: BLE001 - re-raised below, unchanged
                failures.append(error)
                group.cancel_scope.cancel()

        for n in rest:
            group.start_soon(create, n)
    if failures:
        raise first_failure(failures)
    return values


def _trier_lines(slot: int, level: int, shape: Shape, call: str, waiting: list[int], refs: Refs) -> list[str]:
    """The body of a trier: ``call`` makes the instance (a plain class or factory, over the triers
    of the ``waiting`` slots), the factory's awaitable, or its async generator, by ``shape``.
    ``_no_scope`` and, for a generator, ``_held_by_sync_scope`` must be in ``refs`` already.
    """
    refs.add("_busy", BUSY)
    lines = [
        f"    owner = scope.levels[{level}]",
        "    if owner is None:",
        "        raise _no_scope()",
        "    cache = owner.cache",
        f"    if {slot} in cache:",
        f"        return cache[{slot}]",
        "    pending = owner.pending",
        f"    if pending and {slot} in pending:",
        "        return _busy",
        "    scope = owner",
    ]
    if shape is Shape.VALUE:
        refs.add("_pending", PENDING)
        for j in waiting:  # started waiting, or BUSY: the caller goes on from there
            lines += [f"    _r{j} = t{j}(scope)", f"    if _r{j}.__class__ in _pending:", f"        return _r{j}"]
        return [*lines, f"    value = {call}", f"    cache[{slot}] = value", "    return value"]
    refs.add("_waited", waited)
    if shape is Shape.AWAIT:
        refs.add("_coroutine", types.CoroutineType)
        lines += [
            f"    _steps = {call}",
            "    if _steps.__class__ is not _coroutine:",
            "        _steps = _steps.__await__()",
            "    try:",
            "        _first = _steps.send(None)",
            "    except StopIteration as _stop:",
            "        value = _stop.value",
            "    else:",
            f"        return _waited({slot}, _steps, _first, owner, None, _quiet)",
        ]
    else:
        refs.add("_did_not_yield", did_not_yield)
        lines += [
            "    if scope.sync:",
            "        raise _held_by_sync_scope()",
            f"    _generator = {call}",
            "    _steps = _generator.__anext__()",
            "    try:",
            "        _first = _steps.send(None)",
            "    except StopIteration as _stop:",
            "        value = _stop.value",
            "    except StopAsyncIteration:",
            f"        raise _did_not_yield(scope, {slot}) from None",
            "    else:",
            f"        return _waited({slot}, _steps, _first, owner, _generator, _quiet)",
            f"    scope.exits.append(({slot}, {ASYNC_GENERATOR}, _generator))",
        ]
    return [*lines, f"    cache[{slot}] = value", "    return value"]


def in_place_lines(slots: list[int], refs: Refs, quiet: set[int]) -> list[str]:
    """Statements leaving the value of each slot's provider in ``_r<slot>``: each tried in place in
    turn by its trier ``t<slot>`` (if it is quiet), until one starts waiting; what is left is
    made by ``complete`` (with the async getters ``a<slot>``, in ``refs`` already).
    """
    refs.add("_pending", PENDING)
    refs.add("_started", Started)
    refs.add("_not_tried", NOT_TRIED)
    refs.add("_quiet", quiet)
    refs.add("_complete", complete)
    lines: list[str] = []
    names: list[str] = []
    for i in slots:
        guard = f"{i} not in _quiet" + "".join(f" or {name}.__class__ is _started" for name in names)
        lines.append(f"_r{i} = _not_tried if {guard} else t{i}(scope)")
        names.append(f"_r{i}")
    together = ", ".join(names)
    triers = ", ".join(f"t{i}" for i in slots)
    getters = ", ".join(f"a{i}" for i in slots)
    waiting = " or ".join(f"{name}.__class__ in _pending" for name in names)
    numbers = ", ".join(map(str, slots))
    call = f"_complete(scope, ({triers},), ({getters},), [{together}], ({numbers},), _quiet)"
    return [*lines, f"if {waiting}:", f"    {together}, = await {call}"]


def lone_expression(slot: int, getter: str, trier: Resolver, refs: Refs) -> str:
    """An expression for one async dependency on its own: it overlaps with nothing, so it is always
    tried in place first, by ``trier``, and finished by ``finish_one`` if need be.
    """
    refs.add(f"t{slot}", trier)
    refs.add("_pending", PENDING)
    refs.add("_finish_one", finish_one)
    name = f"_x{slot}"
    rest = f"(await _finish_one(scope, {name}, {getter}, {slot}))"
    return f"({name} if ({name} := t{slot}(scope)).__class__ not in _pending else {rest})"


def make_trier(builder: Any, provider: Provider) -> Resolver | None:
    """``provider``'s trier, a sync function that makes its instance if that does not wait, else
    answers ``BUSY`` or a ``Started`` (its own, or a dependency's). There is one for a provider
    cached in a REQUEST or SESSION scope that is either an async factory (or async generator
    factory) whose arguments need no waiting, or a plain class or factory whose only dependencies
    that wait have triers themselves (a repository over a session, say); ``None`` for any other.
    ``builder`` is the ``Builder`` of its graph.
    """
    shape = provider.shape
    if not provider.cached or provider.kind is Kind.CONTEXT or provider.scope is Scope.APP or provider.enter:
        return None
    graph = builder.graph
    waiting = [t for e in graph.edges(provider) if not e.lazy for t in e.targets if graph.needs_async(t)]
    if shape is Shape.VALUE:
        if not waiting or any(not t.cached or builder.trier(t) is None for t in waiting):
            return None
    elif shape is Shape.GENERATOR or waiting:
        return None
    i = builder.slots[provider]
    refs = Refs()
    _, arguments, _ = builder.arguments_for(graph.edges(provider), SYNC, refs, ready=frozenset(waiting))  # no gather
    refs.add("_no_scope", functools.partial(no_scope, provider))
    refs.add("_quiet", builder.quiet)
    call = f"{refs.add(f'p{i}', provider.target)}({arguments})"
    if shape is Shape.ASYNC_GENERATOR:
        refs.add("_held_by_sync_scope", functools.partial(async_cleanup_in_sync_scope, provider))
    slots = []
    for target in waiting:
        slots.append(builder.slots[target])
        refs.add(f"t{slots[-1]}", builder.trier(target))
    lines = [
        f"def t{i}(scope):",
        f"    # {provider.describe()} for {describe(provider.key)}, {provider.scope.name}: tried in place",
        *_trier_lines(i, int(provider.scope), shape, call, slots, refs),
    ]
    function: Resolver = builder.define(f"t{i}", "\n".join(lines) + "\n", refs)
    return function
