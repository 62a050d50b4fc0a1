"""Registration: keys no isinstance check applies to, factories whose annotations cannot all be
evaluated, generic aliases, ``-> Any`` factories, and modules.

This module does not use ``from __future__ import annotations``: some tests
need annotations that are objects, not strings.
"""

import contextlib
from typing import TYPE_CHECKING, Any, Generic, Literal, NewType, TypeVar

import pytest

from injectq_like import (
    AnnotationError,
    Container,
    InvalidContainerError,
    MissingProviderError,
    Module,
    RegistrationError,
)

if TYPE_CHECKING:

    class Gone:
        """Imported only for the type checker, as under ``if TYPE_CHECKING:``."""


T = TypeVar("T")

_new_type: Any = NewType  # mypy accepts only classes as NewType's supertype; this is legal at runtime
Mode = _new_type("Mode", Literal["r", "w"])


class Clock:
    pass


def test_keys_without_a_class_to_check_against_accept_what_is_given() -> None:
    """A NewType of a Literal has no class: an instance or a factory's return type is taken as it is."""

    def read_mode() -> str:
        return "r"

    with_instance = Container()
    with_instance.register(Mode, instance="w")
    assert with_instance.resolve_sync(Mode) == "w"
    with_factory = Container()
    with_factory.register(Mode, factory=read_mode)
    assert with_factory.resolve_sync(Mode) == "r"


def make_clock(settings: "Gone") -> Clock:
    return Clock()  # pragma: no cover - never resolved


def make_gone() -> "Gone":
    raise AssertionError  # pragma: no cover - never registered


def test_a_factory_whose_parameter_annotation_fails_still_provides_its_return_type() -> None:
    """The provided type comes from the return annotation; the parameter's problem is validate()'s to report."""
    container = Container()
    container.register(factory=make_clock)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (problem,) = raised.value.errors
    assert isinstance(problem, AnnotationError)
    assert problem.parameter == "settings"
    assert problem.path == (Clock,)
    assert "name 'Gone' is not defined at runtime" in str(problem)


def test_a_factory_whose_return_annotation_cannot_be_evaluated_is_refused_at_registration() -> None:
    """Without its return type the provided type is unknown: a RegistrationError with the evaluation's message."""
    container = Container()
    with pytest.raises(RegistrationError) as raised:
        container.register(factory=make_gone)
    assert raised.value.key is None
    assert "make_gone: name 'Gone' is not defined at runtime" in str(raised.value)
    assert "import it at runtime" in raised.value.hint


class Box(Generic[T]):
    pass


def test_a_generic_alias_registered_on_its_own_builds_its_class() -> None:
    """``register(Box[int])`` builds a ``Box``, provided for ``Box[int]`` only."""
    container = Container()
    container.register(Box[int])
    assert type(container.resolve_sync(Box[int])) is Box
    with pytest.raises(MissingProviderError):
        container.resolve_sync(Box[str])


def make_anything() -> Any:
    return Clock()


def test_a_factory_returning_any_can_be_registered_for_a_key() -> None:
    """``-> Any`` promises nothing to check against the key."""
    container = Container()
    container.register(Clock, factory=make_anything)
    assert type(container.resolve_sync(Clock)) is Clock


def test_module_include_takes_only_modules() -> None:
    """A dotted path given to ``Module.include`` is refused, pointing at ``container.include``."""
    module = Module()
    with pytest.raises(RegistrationError) as raised:
        module.include("myapp.providers")  # type: ignore[arg-type]
    assert str(raised.value).splitlines() == [
        "Module.include() takes a Module, not 'myapp.providers'",
        "  hint: to include the modules of a dotted path, use container.include('pkg.mod')",
    ]


def test_modules_including_each_other_count_once() -> None:
    """Include docstring: "a module reached twice (directly or through others) counts once".

    BUG: a module that includes itself, directly or through another,
    recurses without end (RecursionError) in ``Module.modules()``, as soon
    as it is printed or given to a container.
    """
    itself = Module(name="itself")
    itself.register(Clock)
    with contextlib.suppress(RegistrationError):  # refusing the cycle is fine too
        itself.include(itself)
    assert repr(itself) == "<Module 'itself' with 1 registrations>"
    assert type(Container(itself).resolve_sync(Clock)) is Clock

    first = Module(name="first")
    first.register(Clock)
    second = Module(first, name="second")
    with contextlib.suppress(RegistrationError):
        first.include(second)
    assert repr(second) == "<Module 'second' with 1 registrations>"
    assert type(Container(first).resolve_sync(Clock)) is Clock
