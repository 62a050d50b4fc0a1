"""Random graphs: acyclic ones always resolve, graphs with one cycle are always rejected naming it.

Classes are made with ``type()``; each ``__init__`` takes one annotated
parameter per dependency (set through ``__signature__`` and
``__annotations__``, which is what the container reads) and records what it
was given and how often it ran.
"""

import inspect
import itertools
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from injectq_like import CircularDependencyError, Container, InvalidContainerError, Lazy, Scope, ScopeError

LAZY: Any = Lazy  # subscripted with classes made at runtime

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Graph:
    """A generated graph: ``edges[i]`` are the indices node ``i`` depends on, in parameter order."""

    edges: list[list[int]]
    scopes: list[Scope]
    order: list[int]  # registration order
    cycle: list[int] = field(default_factory=list)  # the injected cycle, if any
    lazy: list[tuple[int, int]] = field(default_factory=list)  # Lazy edges (from, to)


class Node:
    """The base of every generated class."""

    index: int
    created: int
    deps: tuple[Any, ...]


def make_classes(graph: Graph) -> list[type[Node]]:
    """One class per node; its ``__init__`` parameters are annotated with the classes it depends on."""
    classes: list[type[Node]] = []
    for index in range(len(graph.edges)):

        def init(self: Node, *deps: Any) -> None:
            type(self).created += 1
            self.deps = deps

        classes.append(type(f"N{index}", (Node,), {"__init__": init, "index": index, "created": 0}))
    for index, cls in enumerate(classes):
        parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        annotations: dict[str, Any] = {}
        for position, target in enumerate(graph.edges[index]):
            annotation: Any = classes[target]
            if (index, target) in graph.lazy:
                annotation = LAZY[classes[target]]
            name = f"d{position}"
            parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation))
            annotations[name] = annotation
        annotations["return"] = None
        constructor: Any = cls.__init__
        constructor.__signature__ = inspect.Signature(parameters, return_annotation=None)
        constructor.__annotations__ = annotations
    return classes


def register(graph: Graph, classes: list[type[Node]]) -> Container:
    """A container with every class registered, in the graph's registration order."""
    container = Container()
    for index in graph.order:
        container.register(classes[index], scope=graph.scopes[index])
    return container


@st.composite
def dags(draw: st.DrawFn, min_size: int = 1, max_size: int = 12) -> Graph:
    """An acyclic graph: node i depends only on nodes with a smaller index (repeats allowed)."""
    size = draw(st.integers(min_size, max_size))
    edges = [draw(st.lists(st.integers(0, index - 1), max_size=4)) if index else [] for index in range(size)]
    scopes = draw(st.lists(st.sampled_from([Scope.APP, Scope.TRANSIENT]), min_size=size, max_size=size))
    order = draw(st.permutations(range(size)))
    return Graph(edges=edges, scopes=scopes, order=list(order))


@st.composite
def cyclic_graphs(draw: st.DrawFn) -> Graph:
    """A graph with exactly one cycle.

    Nodes come in three bands: a DAG below the cycle, the cycle, and a DAG
    above it. The cycle's members may also depend on the band below, and
    the band above on anything before it, so no second cycle can form.
    """
    below = draw(st.integers(0, 5))
    length = draw(st.integers(1, 5))
    above = draw(st.integers(0, 4))
    size = below + length + above
    cycle = list(range(below, below + length))
    edges: list[list[int]] = [
        draw(st.lists(st.integers(0, index - 1), max_size=3)) if index else [] for index in range(below)
    ]
    for position in range(length):
        extra = draw(st.lists(st.integers(0, below - 1), max_size=2)) if below else []
        successor = cycle[(position + 1) % length]
        at = draw(st.integers(0, len(extra)))
        edges.append([*extra[:at], successor, *extra[at:]])
    edges.extend(draw(st.lists(st.integers(0, index - 1), max_size=3)) for index in range(below + length, size))
    scopes = draw(st.lists(st.sampled_from([Scope.APP, Scope.TRANSIENT]), min_size=size, max_size=size))
    order = draw(st.permutations(range(size)))
    return Graph(edges=edges, scopes=scopes, order=list(order), cycle=cycle)


@st.composite
def scoped_dags(draw: st.DrawFn) -> Graph:
    """An acyclic graph with every lifetime, so that some edges may break the lifetime rule."""
    graph = draw(dags(max_size=10))
    size = len(graph.edges)
    graph.scopes = draw(st.lists(st.sampled_from(list(Scope)), min_size=size, max_size=size))
    return graph


@st.composite
def valid_scoped_dags(draw: st.DrawFn) -> Graph:
    """An acyclic graph with every lifetime, each node living no longer than what it depends on."""
    graph = draw(dags(max_size=10))
    graph.scopes = []
    for index, targets in enumerate(graph.edges):
        floor = max((bound_level(graph, target) for target in targets), default=Scope.APP)
        allowed = [scope for scope in Scope if scope is Scope.TRANSIENT or scope >= floor]
        graph.scopes.append(draw(st.sampled_from(allowed)))
        assert bound_level(graph, index) >= floor
    return graph


def bound_level(graph: Graph, index: int) -> Scope:
    """The lifetime an instance of node ``index`` is bound to (SPEC): its own when cached; a TRANSIENT
    takes the shortest lifetime among its dependencies, APP when it has none."""
    scope = graph.scopes[index]
    if scope is not Scope.TRANSIENT:
        return scope
    return max((bound_level(graph, target) for target in graph.edges[index]), default=Scope.APP)


def violators(graph: Graph) -> set[int]:
    """The cached nodes with a dependency bound to a shorter lifetime than their own."""
    return {
        index
        for index, scope in enumerate(graph.scopes)
        if scope is not Scope.TRANSIENT and any(bound_level(graph, t) > scope for t in graph.edges[index])
    }


def walk(instance: Node, classes: list[type[Node]], graph: Graph, seen: dict[int, Node], visits: list[Node]) -> None:
    """Check that ``instance`` holds instances of its dependencies, recursively.

    APP instances are walked once (``seen``); every transient reached is appended to ``visits``.
    """
    index = instance.index
    assert type(instance) is classes[index]
    assert [type(dep) for dep in instance.deps] == [classes[target] for target in graph.edges[index]]
    if graph.scopes[index] is Scope.APP:
        if index in seen:
            assert seen[index] is instance
            return
        seen[index] = instance
    else:
        visits.append(instance)
    for dep in instance.deps:
        walk(dep, classes, graph, seen, visits)


def check_resolution(graph: Graph, classes: list[type[Node]], resolved: list[Node]) -> None:
    """Every class was built with the right dependencies, APP ones once, transients fresh at each point."""
    seen: dict[int, Node] = {}
    visits: list[Node] = []
    for instance in resolved:
        walk(instance, classes, graph, seen, visits)
    assert len({id(v) for v in visits}) == len(visits)  # no transient object reached twice
    for index, cls in enumerate(classes):
        if graph.scopes[index] is Scope.APP:
            assert cls.created == 1
        else:
            assert cls.created == sum(1 for v in visits if v.index == index)


@SETTINGS
@given(dags())
def test_random_dags_resolve_sync(graph: Graph) -> None:
    """resolve_sync builds every class of an acyclic graph; APP is shared, TRANSIENT is fresh."""
    classes = make_classes(graph)
    container = register(graph, classes)
    container.validate()
    resolved = [container.resolve_sync(cls) for cls in classes]
    again = [container.resolve_sync(cls) for cls in classes]
    for index, (first, second) in enumerate(zip(resolved, again, strict=True)):
        if graph.scopes[index] is Scope.APP:
            assert first is second
        else:
            assert first is not second
    check_resolution(graph, classes, resolved + again)


@SETTINGS
@given(dags(), st.sampled_from(["asyncio", "trio"]))
def test_random_dags_resolve_async(graph: Graph, backend: str) -> None:
    """``await container.resolve`` builds the same graphs on asyncio and trio."""
    classes = make_classes(graph)
    container = register(graph, classes)

    async def resolve_all() -> list[Node]:
        async with container:
            return [await container.resolve(cls) for cls in classes]

    resolved = anyio.run(resolve_all, backend=backend)
    check_resolution(graph, classes, resolved)


def is_rotation(found: tuple[Any, ...], expected: list[Any]) -> bool:
    """Whether ``found`` (closed: first == last) is ``expected`` (open) started somewhere else."""
    if len(found) != len(expected) + 1 or found[0] is not found[-1]:
        return False
    members = list(found[:-1])
    return any(members == expected[k:] + expected[:k] for k in range(len(expected)))


@SETTINGS
@given(cyclic_graphs())
def test_one_injected_cycle_is_reported_exactly(graph: Graph) -> None:
    """validate() rejects the graph with a single CircularDependencyError naming the injected cycle."""
    classes = make_classes(graph)
    container = register(graph, classes)
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    errors = caught.value.errors
    assert len(errors) == 1
    (error,) = errors
    assert isinstance(error, CircularDependencyError)
    expected = [classes[index] for index in graph.cycle]
    assert is_rotation(error.cycle, expected), (error.cycle, expected)
    names = " -> ".join(cls.__name__ for cls in error.cycle)
    assert f"circular dependency: {names}" in str(caught.value)
    assert all(cls.created == 0 for cls in classes)


@SETTINGS
@given(cyclic_graphs(), st.sampled_from(["asyncio", "trio"]))
def test_cycle_made_lazy_validates_and_resolves(graph: Graph, backend: str) -> None:
    """Turning the cycle's closing edge into ``Lazy[T]`` makes the same graph valid and resolvable."""
    last, first = graph.cycle[-1], graph.cycle[0]
    graph.lazy.append((last, first))
    classes = make_classes(graph)
    container = register(graph, classes)
    container.validate()

    async def resolve_closing_member() -> tuple[Any, Any]:
        async with container:
            closing = await container.resolve(classes[last])
            handle = closing.deps[graph.edges[last].index(first)]
            assert type(handle) is Lazy
            return handle, await handle()

    handle, target = anyio.run(resolve_closing_member, backend=backend)
    assert type(target) is classes[first]
    assert handle.resolved


@SETTINGS
@given(cyclic_graphs())
def test_cycle_is_reported_at_resolution(graph: Graph) -> None:
    """Resolving a member of the cycle raises CircularDependencyError without building anything."""
    classes = make_classes(graph)
    container = register(graph, classes)
    member = classes[graph.cycle[0]]
    with pytest.raises(CircularDependencyError) as caught:
        container.resolve_sync(member)
    expected = [classes[index] for index in graph.cycle]
    assert is_rotation(caught.value.cycle, expected)
    assert all(cls.created == 0 for cls in classes)


def test_helpers_build_what_they_describe() -> None:
    """The helpers themselves: a two-node graph wires N1(N0(), N0()), and rotations are recognised."""
    graph = Graph(edges=[[], [0, 0]], scopes=[Scope.TRANSIENT, Scope.TRANSIENT], order=[1, 0])
    classes = make_classes(graph)
    assert str(inspect.signature(classes[1].__init__)).startswith("(self, d0: ")
    container = register(graph, classes)
    top = container.resolve_sync(classes[1])
    assert [type(d) for d in top.deps] == [classes[0], classes[0]]
    assert top.deps[0] is not top.deps[1]
    assert is_rotation((2, 3, 1, 2), [1, 2, 3])
    assert not is_rotation((2, 1, 3, 2), [1, 2, 3])
    assert not is_rotation((1, 2, 3), [1, 2, 3])


@SETTINGS
@given(scoped_dags())
def test_lifetime_violations_are_exactly_the_longer_to_shorter_edges(graph: Graph) -> None:
    """validate() reports a ScopeError for every cached node depending (directly or through TRANSIENTs)
    on a shorter-lived one, and for no other; each names a real chain of the graph."""
    classes = make_classes(graph)
    container = register(graph, classes)
    expected = violators(graph)
    if not expected:
        container.validate()
        return
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    errors = caught.value.errors
    assert all(type(error) is ScopeError for error in errors)
    scope_errors = [error for error in errors if isinstance(error, ScopeError)]
    assert {classes.index(error.dependent) for error in scope_errors} == expected
    for error in scope_errors:
        dependent = classes.index(error.dependent)
        dependency = classes.index(error.dependency)
        assert error.dependent_scope is graph.scopes[dependent]
        assert error.dependency_scope is graph.scopes[dependency]
        assert error.dependency_scope > error.dependent_scope
        chain = [classes.index(key) for key in error.path]
        assert all(b in graph.edges[a] for a, b in itertools.pairwise(chain))
        assert chain[-1] == dependency
        between = chain[chain.index(dependent) + 1 : -1]
        assert all(graph.scopes[i] is Scope.TRANSIENT for i in between)


@SETTINGS
@given(valid_scoped_dags())
def test_valid_scoped_graphs_resolve_in_nested_scopes(graph: Graph) -> None:
    """A graph that respects the lifetime rule resolves in REQUEST scopes inside a SESSION scope:
    APP and SESSION instances are shared across requests, REQUEST ones only within one."""
    assert not violators(graph)
    classes = make_classes(graph)
    container = register(graph, classes)
    container.validate()

    async def resolve_in_two_requests() -> list[list[Node]]:
        rounds: list[list[Node]] = []
        async with container, container.scope(Scope.SESSION) as session:
            for _ in range(2):
                async with session.scope() as request:
                    rounds.append([await request.resolve(cls) for cls in classes])
                    again = [request.resolve_sync(cls) for cls in classes]
                    for index, (first, second) in enumerate(zip(rounds[-1], again, strict=True)):
                        assert (first is second) is (graph.scopes[index] is not Scope.TRANSIENT)
        return rounds

    first, second = anyio.run(resolve_in_two_requests)
    for index, scope in enumerate(graph.scopes):
        assert type(first[index]) is classes[index]
        assert (first[index] is second[index]) is (scope in (Scope.APP, Scope.SESSION))
