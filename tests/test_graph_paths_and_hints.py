"""The graph: local classes sharing a name, hints for generic keys, lifetimes through unusable
providers, problems met twice, and resolution paths found (or not) by searching the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pytest

from injectq_like import (
    AnnotationError,
    CircularDependencyError,
    Container,
    InvalidContainerError,
    Lazy,
    MissingProviderError,
    Scope,
)

if TYPE_CHECKING:

    class Dep:
        """Only the type checker knows this name: at runtime a registered local class supplies it."""

    class NotAtRuntime:
        pass


T = TypeVar("T")


def problems_of(container: Container) -> list[Any]:
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    return list(raised.value.errors)


def make_dep() -> type[Any]:
    class Dep:
        pass

    return Dep


def test_a_local_class_name_shared_by_two_registered_classes_is_not_guessed() -> None:
    """A string annotation naming a local class is looked up among the registered ones, unless two share it."""

    class Consumer:
        def __init__(self, dep: Dep) -> None:
            self.dep = dep

    unique = make_dep()
    container = Container()
    container.register(unique)
    container.register(Consumer)
    assert type(container.resolve_sync(Consumer).dep) is unique

    ambiguous = Container()
    ambiguous.register(make_dep())
    ambiguous.register(make_dep())
    ambiguous.register(Consumer)
    (problem,) = problems_of(ambiguous)
    assert isinstance(problem, AnnotationError)
    assert problem.parameter == "dep"
    assert str(problem).splitlines()[0] == (
        "cannot evaluate the annotation of parameter 'dep' of Consumer.__init__: name 'Dep' is not defined at runtime"
    )


class Repo(Generic[T]):
    pass


class User:
    pass


class UserService:
    def __init__(self, repo: Repo[User]) -> None:
        self.repo = repo


def test_a_missing_generic_key_hints_at_registering_an_implementation() -> None:
    """The hint for a missing ``Repo[User]`` shows how to register an implementation of the alias."""
    container = Container()
    container.register(UserService)
    (problem,) = problems_of(container)
    assert isinstance(problem, MissingProviderError)
    assert str(problem).splitlines() == [
        "no provider for Repo[User], which UserService needs",
        "  resolution path: UserService -> Repo[User]",
        "  hint: register it: container.register(Repo[User], Implementation)",
    ]


class Broken:
    def __init__(self, value: NotAtRuntime) -> None:
        self.value = value


class Cached:
    def __init__(self, broken: Broken) -> None:
        self.broken = broken


def test_an_unusable_transient_under_a_cached_provider_is_one_problem() -> None:
    """The unusable annotation is reported once, on its path; it causes no lifetime error of its own."""
    container = Container()
    container.register(Cached, scope=Scope.APP)
    container.register(Broken)
    (problem,) = problems_of(container)
    assert isinstance(problem, AnnotationError)
    assert problem.path == (Cached, Broken)
    assert "name 'NotAtRuntime' is not defined at runtime" in str(problem)


class Clock:
    pass


class TwoClocks:
    def __init__(self, start: Clock, end: Clock) -> None:
        self.start = start
        self.end = end


class Hen:
    def __init__(self, egg: Egg) -> None:
        self.egg = egg


class Egg:
    def __init__(self, mother: Hen, grandmother: Hen) -> None:
        self.mother = mother


def test_a_problem_met_twice_through_one_provider_is_reported_once() -> None:
    """Two parameters of the same missing type, or two edges closing the same cycle, make one problem each."""
    container = Container()
    container.register(TwoClocks)
    container.register(Hen)
    container.register(Egg)
    missing, cycle = problems_of(container)
    assert isinstance(missing, MissingProviderError)
    assert missing.path == (TwoClocks, Clock)
    assert isinstance(cycle, CircularDependencyError)
    assert cycle.cycle == (Hen, Egg, Hen)


# -- resolution paths --------------------------------------------------------------------


class Unregistered:
    pass


class Other:
    pass


class Fetcher:
    def __init__(self, other: Other) -> None:
        self.other = other


class Root:
    def __init__(self, optional: Unregistered | None, later: Lazy[Broken], fetcher: Fetcher) -> None:
        self.fetcher = fetcher


def test_an_error_about_a_key_the_graph_does_not_reach_gets_the_shortest_path_it_can() -> None:
    """A factory that resolves something unregistered at run time fails with a path from the key asked for.

    The graph is searched from ``Root`` past an optional parameter with no
    provider and a lazy edge to a provider with unusable annotations; no edge
    leads to ``Other``, so the path is ``Root -> Other``.
    """
    container = Container()

    def fetch() -> Fetcher:
        return Fetcher(container.resolve_sync(Other))

    container.register(Root)
    container.register(Broken)
    container.register(Fetcher, factory=fetch)
    with pytest.raises(MissingProviderError) as raised:
        container.resolve_sync(Root)
    assert raised.value.key is Other
    assert raised.value.path[0] is Root
    assert raised.value.path[-1] is Other
