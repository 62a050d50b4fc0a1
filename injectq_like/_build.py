"""Building one provider's instance: its getter in each mode, or its expression inlined in a parent's.

A cached provider gets a getter that returns its instance from the owning
scope's cache and builds it only on a miss (once across tasks and threads);
a transient is built in place (``Service(Repo(Database()), Clock())``)
where that needs no statement. In async mode only what needs the event
loop is awaited, and two or more dependencies that wait are created
together (``gather``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

from ._codegen import (
    Refs,
    define,
    did_not_yield,
    enter_async_context,
    enter_context,
    first_value,
    gather,
    wait_pending,
)
from ._contract import ASYNC, ASYNC_GENERATOR, SYNC, Mode, Resolver
from ._failures import async_cleanup_in_sync_scope, async_provider, no_context, no_scope
from ._graph import Edge, Graph
from ._keys import MISSING, describe
from ._markers import Lazy
from ._providers import Kind, Provider, Scope, Shape
from ._signature import DepKind
from ._try import in_place_lines, lone_expression, make_trier

__all__ = ["Builder"]

_INLINE_LIMIT: Final = 1500  # characters of one inlined expression; larger ones get a getter


class Builder:
    """Getters and expressions for the providers of one graph, each made once per mode.

    Not locked itself: the ``Compiler`` that owns it calls it under its lock.
    """

    def __init__(self, graph: Graph, slots: dict[Provider, int], values: dict[Any, Any] | None) -> None:
        self.graph = graph
        self.slots = slots
        #: Where getters publish the APP instances they create, by key (the base layer only).
        self.values = values
        #: The source of every generated function, by name.
        self.sources: dict[str, str] = {}
        self._getters: dict[tuple[int, Mode], Resolver] = {}
        self._triers: dict[int, Resolver | None] = {}
        #: Slots whose creation finished without waiting the last time: tried in place (``_try``).
        self.quiet: set[int] = set()
        self._inline: dict[tuple[int, Mode, frozenset[Provider]], tuple[str, dict[str, Any], bool] | None] = {}

    def define(self, name: str, source: str, refs: Refs) -> Any:
        """Compile a generated function, keeping its source."""
        self.sources[name] = source
        return define(name, source, refs)

    # -- expressions -----------------------------------------------------------------

    def expression(
        self, provider: Provider, mode: Mode, refs: Refs, ready: frozenset[Provider] = frozenset()
    ) -> tuple[str, bool]:
        """Python source evaluating to an instance of ``provider`` in the local ``scope``.

        ``ready`` holds cached providers whose instances are known to be in the
        scope's cache at this point (a gather just made them): they are read
        with the sync getter, without awaiting.
        """
        i = self.slots[provider]
        if provider.kind is Kind.INSTANCE:
            return refs.add(f"c{i}", provider.instance), False
        if provider in ready:
            if self.trier(provider) is not None:
                return f"_r{i}", False  # made by _try_in_place, in this function
            return f"{refs.add(f'g{i}', self.getter(provider, SYNC))}(scope)", False
        if (
            provider.cached
            and provider.scope is Scope.APP
            and provider.kind is not Kind.CONTEXT
            and not (mode is ASYNC and self.needs_async_given(provider, ready))
        ):
            # Created once, then read on every request: read the APP cache in place, call the getter
            # only to create it.
            getter = refs.add(f"g{i}", self.getter(provider, SYNC))
            refs.add("_missing", MISSING)
            return (
                f"(_a{i} if (_a{i} := scope.levels[0].cache.get({i}, _missing)) is not _missing else {getter}(scope))"
            ), False
        asynchronous = mode is ASYNC and self.needs_async_given(provider, ready)
        if not provider.cached and provider.kind is not Kind.CONTEXT:
            inline = self._inlined(provider, ASYNC if asynchronous else SYNC, ready)
            if inline is not None:
                code, names, awaits = inline
                refs.names.update(names)
                return code, awaits
        if asynchronous:
            getter, trier = refs.add(f"a{i}", self.getter(provider, ASYNC)), self.trier(provider)
            if trier is None:
                return f"(await {getter}(scope))", True
            return lone_expression(i, getter, trier, refs), True
        return f"{refs.add(f'g{i}', self.getter(provider, SYNC))}(scope)", False

    def root(self, provider: Provider, mode: Mode, refs: Refs) -> tuple[list[str], str, bool]:
        """(statements, the value's expression, whether it awaits) for a resolver returning ``provider``:
        a transient that needs statements is built in the resolver itself, not by a getter it calls.
        """
        code, awaits = self.expression(provider, mode, refs)
        if provider.cached or provider.kind in (Kind.CONTEXT, Kind.INSTANCE):
            return [], code, awaits
        if self._inlined(provider, ASYNC if awaits else SYNC) is not None:
            return [], code, awaits  # built in place already
        return self._construct(provider, mode, refs), "value", awaits

    def needs_async_given(self, provider: Provider, ready: frozenset[Provider]) -> bool:
        """``needs_async``, counting the ``ready`` providers as available without waiting."""
        if not ready or not self.graph.needs_async(provider):
            return self.graph.needs_async(provider)
        if provider in ready:
            return False
        if provider.is_async or provider.cached:
            return True
        return any(
            self.needs_async_given(target, ready)
            for edge in self.graph.edges(provider)
            if not edge.lazy
            for target in edge.targets
        )

    def _inlined(
        self, provider: Provider, mode: Mode, ready: frozenset[Provider] = frozenset()
    ) -> tuple[str, dict[str, Any], bool] | None:
        """A transient built in place (``Cls(dep(), ...)``) when that needs no statement."""
        i = self.slots[provider]
        found = self._inline.get((i, mode, ready), MISSING)
        if found is not MISSING:
            return found
        self._inline[(i, mode, ready)] = None
        result = None
        simple = provider.shape is Shape.VALUE or (provider.shape is Shape.AWAIT and mode is ASYNC)
        if simple and not provider.enter and not (mode is SYNC and provider.is_async):
            refs = Refs()
            statements, arguments, awaits = self.arguments_for(self.graph.edges(provider), mode, refs, ready=ready)
            if not statements:
                call = f"{refs.add(f'p{i}', provider.target)}({arguments})"
                if provider.shape is Shape.AWAIT:
                    call, awaits = f"(await {call})", True
                if len(call) <= _INLINE_LIMIT:
                    result = (call, refs.names, awaits)
        self._inline[(i, mode, ready)] = result
        return result

    def _arguments(self, provider: Provider, mode: Mode, refs: Refs) -> tuple[list[str], str, bool]:
        """(statements to run first, the argument list, whether it awaits) for calling the target."""
        return self.arguments_for(self.graph.edges(provider), mode, refs)

    def arguments_for(
        self,
        edges: Sequence[Edge],
        mode: Mode,
        refs: Refs,
        *,
        keywords: bool = False,
        ready: frozenset[Provider] = frozenset(),
    ) -> tuple[list[str], str, bool]:
        """The arguments for a call taking ``edges`` (``keywords``: the items of a dict of them).

        In async mode, the dependencies that must wait are created together
        (``gather``): the cached ones and those whose own creation is async.
        A transient that is async only because of cached dependencies being
        gathered anyway is built afterwards, reading them from the cache.
        """
        before = ready
        made = ready

        def waits(target: Provider) -> bool:
            return target not in before and self.needs_async_given(target, before)

        def gathered_here(target: Provider) -> bool:
            # Created in the gather: what waits itself, and a transient still waiting with `made` ready.
            return waits(target) and (target.cached or target.is_async or self.needs_async_given(target, made))

        gathered: list[Provider] = []
        if mode is ASYNC:
            direct = [target for edge in edges if edge.dependency.kind is not DepKind.LAZY for target in edge.targets]
            made = before | frozenset(t for t in direct if waits(t) and t.cached)
            gathered = [t for t in direct if gathered_here(t)]
            if len(gathered) < 2:  # noqa: PLR2004 - one async dependency is simply awaited
                gathered, made = [], before
        slots = iter(range(len(gathered)))  # handed out in the order `gathered` was built

        def value(target: Provider) -> tuple[str, bool]:
            if gathered and gathered_here(target):
                return f"_v[{next(slots)}]", False
            return self.expression(target, mode, refs, made)

        statements: list[str] = []
        triers = [self.trier(p) for p in gathered]
        in_place = bool(gathered) and all(t is not None for t in triers)
        if in_place:
            statements += self._try_in_place(gathered, refs)
            gathered, made = [], made | frozenset(gathered)  # now in locals: read as ready
        elif gathered:
            getters = ", ".join(refs.add(f"a{self.slots[p]}", self.getter(p, ASYNC)) for p in gathered)
            probes = ", ".join(
                f"({int(p.scope) if p.cached and p.kind is not Kind.CONTEXT else -1}, {self.slots[p]})"
                for p in gathered
            )
            refs.add("_gather", gather)
            statements.append(f"_v = await _gather(scope, ({getters},), ({probes},))")
        positional = not keywords
        arguments: list[str] = []
        awaits = bool(gathered) or in_place
        for edge in edges:
            dependency = edge.dependency
            if dependency.kind is DepKind.LIST:
                parts = [value(target) for target in edge.targets]
                code = "[" + ", ".join(c for c, _ in parts) + "]"
                awaits = awaits or any(a for _, a in parts)
            elif not edge.targets:
                if dependency.has_default:
                    positional = False
                    continue
                code = "None"  # T | None with T not registered
            elif dependency.kind is DepKind.LAZY:
                target = edge.targets[0]
                refs.add("_lazy", Lazy)
                code = f"_lazy(scope, {refs.add(f'k{self.slots[target]}', dependency.key)})"
            else:
                code, awaited = value(edge.targets[0])
                awaits = awaits or awaited
            if keywords:  # the items of a dict display
                arguments.append(f"{dependency.name!r}: {code}")
            elif dependency.positional_only or (positional and not dependency.keyword_only):
                arguments.append(code)
            else:
                arguments.append(f"{dependency.name}={code}")
        return statements, ", ".join(arguments), awaits

    def _try_in_place(self, providers: list[Provider], refs: Refs) -> list[str]:
        """Statements leaving each provider's value in ``_r<slot>`` (see ``in_place_lines``)."""
        slots = [self.slots[p] for p in providers]
        for i, provider in zip(slots, providers, strict=True):
            refs.add(f"t{i}", self.trier(provider))
            refs.add(f"a{i}", self.getter(provider, ASYNC))
        return in_place_lines(slots, refs, self.quiet)

    def trier(self, provider: Provider) -> Resolver | None:
        """``provider``'s trier (``_try.make_trier``), made once; ``None`` for a provider that has none."""
        i = self.slots[provider]
        if i not in self._triers:
            self._triers[i] = None  # while it is made: a cycle back to it finds none
            self._triers[i] = make_trier(self, provider)
        return self._triers[i]

    # -- getters -----------------------------------------------------------------

    def getter(self, provider: Provider, mode: Mode) -> Resolver:
        """The function returning ``provider``'s instance in a scope, made once per mode."""
        i = self.slots[provider]
        found = self._getters.get((i, mode))
        if found is not None:
            return found
        refs = Refs()
        name = f"{'a' if mode is ASYNC else 'g'}{i}"
        level = int(provider.scope)
        lines = [f"{'async def' if mode is ASYNC else 'def'} {name}(scope):"]
        lines.append(f"    # {provider.describe()} for {describe(provider.key)}, {provider.scope.name}")
        if provider.kind is Kind.CONTEXT:
            refs.add("_no_scope", functools.partial(no_scope, provider))
            refs.add("_no_context", functools.partial(no_context, provider))
            lines += [
                f"    owner = scope.levels[{level}]",
                "    if owner is None:",
                "        raise _no_scope()",
                "    try:",
                f"        return owner.cache[{i}]",
                "    except KeyError:",
                "        raise _no_context() from None",
            ]
        elif not provider.cached:
            lines += ["    " + line for line in self._construct(provider, mode, refs)]
            lines.append("    return value")
        else:
            lines.append(f"    owner = scope.levels[{level}]")
            if level != Scope.APP:
                refs.add("_no_scope", functools.partial(no_scope, provider))
                lines += ["    if owner is None:", "        raise _no_scope()"]
            if level == Scope.APP:  # found nearly every time: a try costs nothing then
                lines += [
                    "    cache = owner.cache",
                    "    try:",
                    f"        return cache[{i}]",
                    "    except KeyError:",
                    "        pass",
                ]
            else:  # created once per scope: a KeyError raised on each first use costs more than a test
                lines += ["    cache = owner.cache", f"    if {i} in cache:", f"        return cache[{i}]"]
            build = ["        " + line for line in self._construct(provider, mode, refs)]
            publish = []
            if self.values is not None and level == Scope.APP and self.graph.provider(provider.key) is provider:
                refs.add("_values", self.values)
                publish = [f"        _values[{refs.add(f'k{i}', provider.key)}] = value  # APP: served directly"]
            if mode is SYNC and provider.is_async:
                lines += ["    " + line.strip() for line in build]  # raise _async_error()
            elif mode is ASYNC:
                refs.add(name, None)  # itself, bound after exec
                refs.add("_wait", wait_pending)
                lines += [
                    "    pending = owner.pending",
                    "    if pending is None:",
                    "        pending = owner.pending = {}",
                    f"    elif {i} in pending:",
                    f"        return await _wait(owner, {i}, {name})",
                    f"    pending[{i}] = None",
                    "    try:",
                    "        scope = owner",
                    *build,
                    f"        cache[{i}] = value",
                    *publish,
                    "    finally:",
                    f"        event = pending.pop({i})",
                    "        if event is not None:",
                    "            event.set()",
                    "    return value",
                ]
            else:
                lines += [
                    "    lock = owner.lock",
                    # `with`, not acquire() then `try`: an exception delivered between the two (a
                    # KeyboardInterrupt) would leave the lock held.
                    "    with lock:",
                    f"        if {i} in cache:",
                    f"            return cache[{i}]",
                    "        scope = owner",
                    *build,
                    f"        cache[{i}] = value",
                    *publish,
                    "    return value",
                ]
        function: Resolver = self.define(name, "\n".join(lines) + "\n", refs)
        self._getters[(i, mode)] = function
        return function

    def _construct(self, provider: Provider, mode: Mode, refs: Refs) -> list[str]:
        """Statements that leave a new instance of ``provider`` in ``value``, its cleanup recorded."""
        i = self.slots[provider]
        if mode is SYNC and provider.is_async:
            refs.add("_async_error", functools.partial(async_provider, provider))
            return ["raise _async_error()"]
        guard = []
        if provider.shape is Shape.ASYNC_GENERATOR or provider.async_enter:
            refs.add("_held_by_sync_scope", functools.partial(async_cleanup_in_sync_scope, provider))
            guard = ["if scope.sync:", "    raise _held_by_sync_scope()"]
        statements, arguments, _ = self._arguments(provider, mode, refs)
        statements[:0] = guard
        call = f"{refs.add(f'p{i}', provider.target)}({arguments})"
        shape = provider.shape
        if shape is Shape.VALUE:
            statements.append(f"value = {call}")
            if provider.async_enter:
                refs.add("_enter_async", enter_async_context)
                statements.append(f"value = await _enter_async(scope, value, {i})")
            elif provider.enter:
                refs.add("_enter", enter_context)
                statements.append(f"value = _enter(scope, value, {i})")
        elif shape is Shape.AWAIT:
            statements.append(f"value = await {call}")
        elif shape is Shape.GENERATOR:
            refs.add("_first", first_value)
            statements.append(f"value = _first(scope, {call}, {i})")
        else:
            refs.add("_did_not_yield", did_not_yield)
            statements += [
                f"_generator = {call}",
                "try:",
                "    value = await _generator.__anext__()",
                "except StopAsyncIteration:",
                f"    raise _did_not_yield(scope, {i}) from None",
                f"scope.exits.append(({i}, {ASYNC_GENERATOR}, _generator))",
            ]
        return statements
