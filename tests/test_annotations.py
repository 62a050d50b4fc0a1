"""Reading dependencies: unions, a bare ``Lazy``, annotations that cannot be evaluated at all,
and a missing name hidden inside a generic annotation.

This module does not use ``from __future__ import annotations``: some tests
need annotations that are objects, not strings.
"""

from typing import TYPE_CHECKING

import pytest

from injectq_like import AnnotationError, Container, InvalidContainerError, Lazy, MissingProviderError

if TYPE_CHECKING:

    class Gone:
        """Imported only for the type checker, as under ``if TYPE_CHECKING:``."""


class Clock:
    pass


class Calendar:
    pass


def only_problem(*classes: type) -> AnnotationError:
    container = Container()
    for cls in classes:
        container.register(cls)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (problem,) = raised.value.errors
    assert isinstance(problem, AnnotationError)
    return problem


class EitherOrNone:
    def __init__(self, when: Clock | Calendar | None) -> None:
        self.when = when


class BareLazy:
    def __init__(self, clock: Lazy) -> None:  # type: ignore[type-arg]
        self.clock = clock


class Malformed:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock


Malformed.__init__.__annotations__["clock"] = "Clock +"


class Hidden:
    def __init__(self, items: list["Gone"]) -> None:
        self.items = items


def test_an_optional_union_of_several_types_is_a_key_of_its_own() -> None:
    """``A | B | None`` is a key like any type (not the ``T | None`` rule): unregistered, it is missing,
    and the hint says to register a factory returning it.
    """
    container = Container()
    container.register(EitherOrNone)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (problem,) = raised.value.errors
    assert isinstance(problem, MissingProviderError)
    assert str(problem).splitlines() == [
        "no provider for Clock | Calendar | None, which EitherOrNone needs",
        "  resolution path: EitherOrNone -> Clock | Calendar | None",
        "  hint: register a factory that returns it: container.register(Clock | Calendar | None, factory=...)",
    ]


def test_a_bare_lazy_needs_its_type_argument() -> None:
    """``Lazy`` without ``[T]`` does not say what to resolve."""
    problem = only_problem(BareLazy)
    assert str(problem).splitlines()[0] == (
        "parameter 'clock' of BareLazy.__init__ is annotated Lazy: Lazy needs a type argument: Lazy[T]"
    )


def test_an_annotation_that_is_not_valid_python_is_reported_not_raised() -> None:
    """A malformed string annotation is an AnnotationError saying what the evaluation raised."""
    problem = only_problem(Malformed)
    assert str(problem).startswith("cannot evaluate the annotations of Malformed.__init__: ")
    assert problem.hint == "fix the annotation so that typing.get_type_hints() can evaluate it"


def test_a_missing_name_inside_a_generic_annotation_names_the_callable() -> None:
    """When no annotation's text shows the missing name (``list["Gone"]`` is not a string), the callable is named."""
    problem = only_problem(Hidden)
    assert problem.parameter is None
    assert str(problem).splitlines()[0] == (
        "cannot evaluate the annotation of Hidden.__init__: name 'Gone' is not defined at runtime"
    )
