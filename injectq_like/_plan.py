"""Compiling a key's resolution into a plan, once.

A plan is a small Python function generated from the graph and compiled
with ``exec``: for a graph of transient classes it is the nested
constructor call a person would write by hand
(``Service(Repo(Database()), Clock())``); a cached provider gets a getter
that returns its instance from the owning scope's cache and builds it only
on a miss. Nothing on the per-resolve path inspects a signature, evaluates
an annotation or takes a lock when the value is cached.

Each generated function keeps its source (``Compiler.source(key)`` shows
the whole plan of a key), so the compiled form can always be read.

Two modes are compiled per key: *sync* (``resolve_sync``: an async provider
raises ``AsyncProviderError`` unless its instance is already cached) and
*async* (``resolve``: only the parts that need an event loop are awaited,
and two or more async dependencies of one provider that are not cached yet
are created concurrently).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any, Final

import anyio

from ._graph import Edge
from ._keys import MISSING, describe, describe_path
from ._markers import Lazy
from ._providers import Kind, Provider, Scope, Shape
from ._scope import ASYNC_CONTEXT_MANAGER, ASYNC_GENERATOR, CONTEXT_MANAGER, GENERATOR, Resumed
from ._signature import Dependency, DepKind, analyse
from ._validate import hint_for_missing, problems
from .exceptions import AsyncProviderError, DIError, MissingProviderError, NoActiveScopeError

if TYPE_CHECKING:
    from ._graph import Graph
    from ._scope import AsyncRequestScope

__all__ = ["Compiler"]

SYNC: Final = False
ASYNC: Final = True
_INLINE_LIMIT: Final = 1500  # characters of one inlined expression; larger ones get a getter
_NOTE: Final = "injectq_like: "
_PATH_NOTE: Final = "injectq_like: raised"  # the note naming where a failure was raised

Getter = Callable[["AsyncRequestScope"], Any]
Plan = tuple[Callable[["AsyncRequestScope"], Any], bool]


class _Refs:
    """The global names one generated function refers to."""

    __slots__ = ("names",)

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def add(self, name: str, value: Any) -> str:
        self.names[name] = value
        return name


class Requests:
    """The injected parameters of one handler, compiled like a key into a single plan.

    Hashed by identity: each handler has one, used as its key in the plan tables.
    """

    __slots__ = ("__weakref__", "dependencies", "owner")

    def __init__(self, owner: Any, dependencies: Sequence[Dependency]) -> None:
        self.owner = owner  # the handler, named in resolution paths
        self.dependencies = tuple(dependencies)

    def __repr__(self) -> str:
        return f"<injected parameters of {describe(self.owner)}>"


class Compiler:
    """Compiles plans for one frozen graph. Thread-safe; every method is off the hot path."""

    def __init__(
        self,
        graph: Graph,
        index: dict[Provider, int] | None = None,
        values: dict[Any, Any] | None = None,
    ) -> None:
        self.graph = graph
        #: Where getters publish the APP instances they create, by key (the base layer only).
        self.values = values
        self.providers: list[Provider] = list(graph.providers)
        #: Each provider's slot in the scope caches. An override layer keeps the slots of the
        #: providers it leaves alone and gives new ones to those it replaces.
        self.index: dict[Provider, int] = index if index is not None else {p: i for i, p in enumerate(self.providers)}
        self.by_index: dict[int, Provider] = {i: p for p, i in self.index.items()}
        self._getters: dict[tuple[int, bool], Getter] = {}
        self._inline: dict[tuple[int, bool, frozenset[Provider]], tuple[str, dict[str, Any], bool] | None] = {}
        self._needs_async: dict[Provider, bool] = {}
        self._closure: dict[int, frozenset[int]] = {}
        self._checked: set[Provider] = set()
        self._sources: dict[str, str] = {}
        self._codes: dict[CodeType, Provider] | None = None
        self._lock = threading.RLock()

    # -- entry points ------------------------------------------------------------

    def plan(self, annotation: Any, mode: bool) -> Plan:
        """The root function resolving ``annotation`` in a scope, and whether it is a coroutine function."""
        if isinstance(annotation, Requests):
            return self._handler_plan(annotation, mode)
        with self._lock:
            key, kind, _ = analyse(annotation, owner="resolve()", parameter="key")
            refs = _Refs()
            if kind is DepKind.LIST:
                root: Provider | None = None
                parts = [self.expression(p, mode, refs) for p in self.graph.collection(key)]
                self._check(self.graph.collection(key))
                expression = "[" + ", ".join(code for code, _ in parts) + "]"
                awaits = any(a for _, a in parts)
            else:
                root = self.graph.provider(key)
                if root is None:
                    if kind is DepKind.OPTIONAL:
                        return _none_plan, False
                    raise MissingProviderError(key, path=(key,), hint=hint_for_missing(self.graph, key))
                if kind is DepKind.LAZY:
                    raise MissingProviderError(key, message="resolve() does not take Lazy[T]: resolve T itself")
                self._check([root])
                expression, awaits = self.expression(root, mode, refs)
            refs.add("_failed", functools.partial(self._failed, root, key))
            name = f"resolve_{_identifier(describe(key))}"
            asynchronous = mode is ASYNC and awaits
            source = (
                f"{'async def' if asynchronous else 'def'} {name}(scope):\n"
                "    try:\n"
                f"        return {expression}\n"
                "    except BaseException as error:\n"
                "        _failed(error)\n"
                "        raise\n"
            )
            return self._define(name, source, refs), asynchronous

    def _handler_plan(self, requests: Requests, mode: bool) -> Plan:
        """One function resolving all the injected parameters of a handler, as a dict of keyword arguments."""
        with self._lock:
            edges = [self.graph.edge(dependency) for dependency in requests.dependencies]
            for edge in edges:
                if edge.missing:
                    key = edge.dependency.key
                    raise MissingProviderError(
                        key,
                        path=(requests.owner, key),
                        hint=hint_for_missing(self.graph, key),
                        message=f"no provider for {describe(key)}, which {describe(requests.owner)} needs",
                    )
            self._check([target for edge in edges if not edge.lazy for target in edge.targets])
            refs = _Refs()
            statements, arguments, awaits = self._arguments_for(edges, mode, refs, keywords=True)
            refs.add("_failed", functools.partial(self._failed, None, requests.owner))
            name = f"inject_{_identifier(describe(requests.owner))}"
            asynchronous = mode is ASYNC and awaits
            body = "".join(f"        {line}\n" for line in statements)
            source = (
                f"{'async def' if asynchronous else 'def'} {name}(scope):\n"
                "    try:\n"
                f"{body}"
                f"        return dict({arguments})\n"
                "    except BaseException as error:\n"
                "        _failed(error)\n"
                "        raise\n"
            )
            return self._define(name, source, refs), asynchronous

    def source(self, annotation: Any, mode: bool = ASYNC) -> str:
        """Every generated function a key's plan uses, for reading and debugging."""
        with self._lock:
            self.plan(annotation, mode)
            key, _, _ = analyse(annotation, owner="explain()", parameter="key")
            root = self.graph.provider(key)
            names = [n for n in self._sources if n == f"resolve_{_identifier(describe(key))}"]
            wanted = self._reachable(root) if root is not None else set()
            names.extend(f"{p}{i}" for i in sorted(wanted) for p in ("g", "a") if f"{p}{i}" in self._sources)
            return "\n".join(self._sources[n] for n in dict.fromkeys(names))

    def closure(self, index: int) -> frozenset[int]:
        """The providers that provider ``index`` depends on, directly or not (Lazy edges excluded)."""
        found = self._closure.get(index)
        if found is None:
            with self._lock:
                found = frozenset(self._reachable(self.by_index[index])) - {index}
                self._closure[index] = found
        return found

    def needs_async(self, provider: Provider) -> bool:
        """Whether building ``provider`` from scratch needs an event loop."""
        found = self._needs_async.get(provider)
        if found is None:
            self._needs_async[provider] = False  # provisional: graphs are checked for cycles first
            found = provider.is_async or any(
                self.needs_async(target)
                for edge in self.graph.edges(provider)
                if not edge.lazy
                for target in edge.targets
            )
            self._needs_async[provider] = found
        return found

    # -- checking ------------------------------------------------------------------

    def _check(self, roots: Sequence[Provider]) -> None:
        todo = [p for p in roots if p not in self._checked]
        if not todo:
            return
        found = problems(self.graph, todo)
        if found:
            raise found[0]
        self._checked.update(self.graph.reachable(todo))

    def _reachable(self, root: Provider) -> set[int]:
        return {self.index[p] for p in self.graph.reachable([root])}

    # -- expressions -----------------------------------------------------------------

    def expression(
        self, provider: Provider, mode: bool, refs: _Refs, ready: frozenset[Provider] = frozenset()
    ) -> tuple[str, bool]:
        """Python source evaluating to an instance of ``provider`` in the local ``scope``.

        ``ready`` holds cached providers whose instances are known to be in the
        scope's cache at this point (a gather just made them): they are read
        with the sync getter, without awaiting.
        """
        i = self.index[provider]
        if provider.kind is Kind.INSTANCE:
            return refs.add(f"c{i}", provider.instance), False
        if provider in ready:
            return f"{refs.add(f'g{i}', self.getter(provider, SYNC))}(scope)", False
        asynchronous = mode is ASYNC and self._needs_async_given(provider, ready)
        if not provider.cached and provider.kind is not Kind.CONTEXT:
            inline = self._inlined(provider, asynchronous, ready)
            if inline is not None:
                code, names, awaits = inline
                refs.names.update(names)
                return code, awaits
        if asynchronous:
            return f"(await {refs.add(f'a{i}', self.getter(provider, ASYNC))}(scope))", True
        return f"{refs.add(f'g{i}', self.getter(provider, SYNC))}(scope)", False

    def _needs_async_given(self, provider: Provider, ready: frozenset[Provider]) -> bool:
        """``needs_async``, counting the ``ready`` providers as available without waiting."""
        if not ready or not self.needs_async(provider):
            return self.needs_async(provider)
        if provider in ready:
            return False
        if provider.is_async or provider.cached:
            return True
        return any(
            self._needs_async_given(target, ready)
            for edge in self.graph.edges(provider)
            if not edge.lazy
            for target in edge.targets
        )

    def _inlined(
        self, provider: Provider, mode: bool, ready: frozenset[Provider] = frozenset()
    ) -> tuple[str, dict[str, Any], bool] | None:
        """A transient built in place (``Cls(dep(), ...)``) when that needs no statement."""
        i = self.index[provider]
        found = self._inline.get((i, mode, ready), MISSING)
        if found is not MISSING:
            return found
        self._inline[(i, mode, ready)] = None
        result = None
        simple = provider.shape is Shape.VALUE or (provider.shape is Shape.AWAIT and mode is ASYNC)
        if simple and not provider.enter and not (mode is SYNC and provider.is_async):
            refs = _Refs()
            statements, arguments, awaits = self._arguments_for(self.graph.edges(provider), mode, refs, ready=ready)
            if not statements:
                call = f"{refs.add(f'p{i}', provider.target)}({arguments})"
                if provider.shape is Shape.AWAIT:
                    call, awaits = f"(await {call})", True
                if len(call) <= _INLINE_LIMIT:
                    result = (call, refs.names, awaits)
        self._inline[(i, mode, ready)] = result
        return result

    def _arguments(self, provider: Provider, mode: bool, refs: _Refs) -> tuple[list[str], str, bool]:
        """(statements to run first, the argument list, whether it awaits) for calling the target."""
        return self._arguments_for(self.graph.edges(provider), mode, refs)

    def _arguments_for(
        self,
        edges: Sequence[Edge],
        mode: bool,
        refs: _Refs,
        *,
        keywords: bool = False,
        ready: frozenset[Provider] = frozenset(),
    ) -> tuple[list[str], str, bool]:
        """The arguments for a call taking ``edges``.

        In async mode, the dependencies that must wait are created together
        (``gather``): the cached ones and those whose own creation is async.
        A transient that is async only because of cached dependencies being
        gathered anyway is built afterwards, reading them from the cache.
        """
        before = ready
        made = ready

        def waits(target: Provider) -> bool:
            return target not in before and self._needs_async_given(target, before)

        def gathered_here(target: Provider) -> bool:
            # Created in the gather: what waits itself, and a transient still waiting with `made` ready.
            return waits(target) and (target.cached or target.is_async or self._needs_async_given(target, made))

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
        if gathered:
            getters = ", ".join(refs.add(f"a{self.index[p]}", self.getter(p, ASYNC)) for p in gathered)
            probes = ", ".join(
                f"({int(p.scope) if p.cached and p.kind is not Kind.CONTEXT else -1}, {self.index[p]})"
                for p in gathered
            )
            refs.add("_gather", gather)
            statements.append(f"_v = await _gather(scope, ({getters},), ({probes},))")
        positional = not keywords
        arguments: list[str] = []
        awaits = bool(gathered)
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
                code = f"_lazy(scope, {refs.add(f'k{self.index[target]}', dependency.key)})"
            else:
                code, awaited = value(edge.targets[0])
                awaits = awaits or awaited
            if dependency.positional_only or (positional and not dependency.keyword_only):
                arguments.append(code)
            else:
                arguments.append(f"{dependency.name}={code}")
        return statements, ", ".join(arguments), awaits

    # -- getters -----------------------------------------------------------------

    def getter(self, provider: Provider, mode: bool) -> Getter:
        """The function returning ``provider``'s instance in a scope, made once per mode."""
        i = self.index[provider]
        found = self._getters.get((i, mode))
        if found is not None:
            return found
        refs = _Refs()
        name = f"{'a' if mode is ASYNC else 'g'}{i}"
        level = int(provider.scope)
        lines = [f"{'async def' if mode is ASYNC else 'def'} {name}(scope):"]
        lines.append(f"    # {provider.describe()} for {describe(provider.key)}, {provider.scope.name}")
        if provider.kind is Kind.CONTEXT:
            refs.add("_no_scope", functools.partial(self._no_scope, provider))
            refs.add("_no_context", functools.partial(self._no_context, provider))
            lines += [
                f"    owner = scope._levels[{level}]",
                "    if owner is None:",
                "        raise _no_scope()",
                "    try:",
                f"        return owner._cache[{i}]",
                "    except KeyError:",
                "        raise _no_context() from None",
            ]
        elif not provider.cached:
            lines += ["    " + line for line in self._construct(provider, mode, refs)]
            lines.append("    return value")
        else:
            lines.append(f"    owner = scope._levels[{level}]")
            if level != Scope.APP:
                refs.add("_no_scope", functools.partial(self._no_scope, provider))
                lines += ["    if owner is None:", "        raise _no_scope()"]
            lines += [
                "    cache = owner._cache",
                "    try:",
                f"        return cache[{i}]",
                "    except KeyError:",
                "        pass",
            ]
            build = ["        " + line for line in self._construct(provider, mode, refs)]
            publish = []
            if self.values is not None and level == Scope.APP and self.graph.provider(provider.key) is provider:
                refs.add("_values", self.values)
                publish = [f"        _values[{refs.add(f'k{i}', provider.key)}] = value  # APP: served directly"]
            if mode is SYNC and provider.is_async:
                lines += ["    " + line.strip() for line in build]  # raise _async_error()
            elif mode is ASYNC:
                refs.add(name, None)  # itself, bound after exec
                lines += [
                    "    pending = owner._pending",
                    "    if pending is None:",
                    "        pending = owner._pending = {}",
                    f"    elif {i} in pending:",
                    f"        return await owner._wait_pending({i}, {name})",
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
                    "    lock = owner._lock",
                    "    with lock:",
                    "        try:",
                    f"            return cache[{i}]",
                    "        except KeyError:",
                    "            pass",
                    "        scope = owner",
                    *build,
                    f"        cache[{i}] = value",
                    *publish,
                    "    return value",
                ]
        function: Getter = self._define(name, "\n".join(lines) + "\n", refs)
        self._getters[(i, mode)] = function
        return function

    def _construct(self, provider: Provider, mode: bool, refs: _Refs) -> list[str]:
        """Statements that leave a new instance of ``provider`` in ``value``, its cleanup recorded."""
        i = self.index[provider]
        if mode is SYNC and provider.is_async:
            refs.add("_async_error", functools.partial(self._async_error, provider))
            return ["raise _async_error()"]
        statements, arguments, _ = self._arguments(provider, mode, refs)
        call = f"{refs.add(f'p{i}', provider.target)}({arguments})"
        shape = provider.shape
        if shape is Shape.VALUE:
            statements.append(f"value = {call}")
            if provider.async_enter:
                refs.add("_enter_async", _enter_async_context)
                statements.append(f"value = await _enter_async(scope, value, {i})")
            elif provider.enter:
                refs.add("_enter", _enter_context)
                statements.append(f"value = _enter(scope, value, {i})")
        elif shape is Shape.AWAIT:
            statements.append(f"value = await {call}")
        elif shape is Shape.GENERATOR:
            refs.add("_first", _first_value)
            statements.append(f"value = _first(scope, {call}, {i})")
        else:
            refs.add("_did_not_yield", _did_not_yield)
            statements += [
                f"_generator = {call}",
                "try:",
                "    value = await _generator.__anext__()",
                "except StopAsyncIteration:",
                f"    raise _did_not_yield(scope, {i}) from None",
                f"scope._exits.append(({i}, {ASYNC_GENERATOR}, _generator))",
            ]
        return statements

    def _define(self, name: str, source: str, refs: _Refs) -> Any:
        namespace = dict(refs.names)
        code = compile(source, f"<injectq_like plan {name}>", "exec")
        exec(code, namespace)
        function = namespace[name]
        self._sources[name] = source
        return function

    # -- errors, built only when something goes wrong -------------------------------

    def _no_scope(self, provider: Provider) -> DIError:
        return NoActiveScopeError(provider.key, provider.scope)

    def _no_context(self, provider: Provider) -> DIError:
        return MissingProviderError(
            provider.key,
            context=True,
            hint=(
                f"pass it when opening the {provider.scope.name} scope: "
                f"container.scope(context={{{describe(provider.key)}: value}})"
            ),
        )

    def _async_error(self, provider: Provider) -> DIError:
        return AsyncProviderError(provider.key, provider.describe())

    def _failed(self, root: Provider | None, key: Any, error: BaseException) -> None:
        """Add the resolution path to an error leaving a root plan (the slow path only)."""
        if isinstance(error, DIError):
            if error.key is not None:
                error.with_path(self.graph.path(root, error.key) if root is not None else (key, error.key))
            return
        if not isinstance(error, Exception):
            return  # cancellation and the like pass through untouched
        if any(note.startswith(_PATH_NOTE) for note in getattr(error, "__notes__", ())):
            return
        culprit = self._culprit(error.__traceback__)
        if culprit is None:
            error.add_note(f"{_PATH_NOTE} while resolving {describe(key)}")
            return
        path = self.graph.path(root, culprit.key) if root is not None else (key, culprit.key)
        error.add_note(f"{_PATH_NOTE} by {culprit.describe()} while resolving {describe_path(path)}")

    def _culprit(self, traceback: TracebackType | None) -> Provider | None:
        if self._codes is None:
            codes: dict[CodeType, Provider] = {}
            for provider in self.providers:
                target = provider.target
                if provider.kind is Kind.CLASS:
                    target = getattr(target, "__init__", None)
                code = getattr(target, "__code__", None)
                if isinstance(code, CodeType):
                    codes.setdefault(code, provider)
            self._codes = codes
        found = None
        while traceback is not None:
            found = self._codes.get(traceback.tb_frame.f_code, found)
            traceback = traceback.tb_next
        return found


# -- runtime helpers the generated code calls -----------------------------------


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text)[:60]


def _none_plan(_scope: AsyncRequestScope) -> None:
    return None


def _first_value(scope: AsyncRequestScope, generator: Any, index: int) -> Any:
    try:
        value = next(generator)
    except StopIteration:
        raise _did_not_yield(scope, index) from None
    scope._exits.append((index, GENERATOR, generator))
    return value


def _did_not_yield(scope: AsyncRequestScope, index: int) -> RuntimeError:
    provider = scope._container._compiled_provider(index)
    return RuntimeError(f"the {provider.describe()} for {describe(provider.key)} returned without yielding a value")


def _enter_context(scope: AsyncRequestScope, manager: Any, index: int) -> Any:
    manager.__enter__()
    scope._exits.append((index, CONTEXT_MANAGER, manager))
    return manager


async def _enter_async_context(scope: AsyncRequestScope, manager: Any, index: int) -> Any:
    await manager.__aenter__()
    scope._exits.append((index, ASYNC_CONTEXT_MANAGER, manager))
    return manager


async def gather(
    scope: AsyncRequestScope,
    getters: tuple[Getter, ...],
    probes: tuple[tuple[int, int], ...],
) -> list[Any]:
    """Values of several async dependencies, creating the ones not cached yet concurrently.

    ``probes`` holds (the lifetime level it is cached at, or -1, its provider
    index) for each. Nothing is started when at most one needs creating, nor
    when every one to create has always been created without waiting (there
    is nothing to overlap): those are created in turn, and one that waits
    after all is finished alone and created concurrently from then on. Else
    each is created in a task of one task group; if one fails, the others are
    cancelled and its own exception is raised.
    """
    values: list[Any] = [MISSING] * len(getters)
    missing: list[int] = []
    for n, (level, index) in enumerate(probes):
        if level >= 0:
            owner = scope._levels[level]
            if owner is not None:
                found = owner._cache.get(index, MISSING)
                if found is not MISSING:
                    values[n] = found
                    continue
        missing.append(n)
    if len(missing) == 1:
        values[missing[0]] = await getters[missing[0]](scope)
        return values
    if not missing:
        return values
    quiet = scope._container._quiet_creations
    if all(probes[n][1] in quiet for n in missing):
        for n in missing:
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

        for n in missing:
            group.start_soon(create, n)
    if failures:
        first_failure = failures[0]
        for other in failures[1:]:
            first_failure.add_note(f"{_NOTE}a sibling dependency also failed: {other!r}")
        raise first_failure
    return values
