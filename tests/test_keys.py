"""Keys: type forms that are not keys, and how bare generic forms are named in messages."""

from __future__ import annotations

import typing
from typing import Literal

import pytest

from injectq_like import AnnotationError, Container, InvalidContainerError, RegistrationError


def test_a_generic_form_whose_origin_is_not_a_class_is_not_a_key() -> None:
    """``Literal["r", "w"]`` has an origin, but not a class one: registering it says keys must be types."""
    container = Container()
    with pytest.raises(RegistrationError) as raised:
        container.register(Literal["r", "w"], instance="r")
    assert str(raised.value).splitlines()[0] == (
        "cannot register Literal['r', 'w']: typing.Literal['r', 'w'] is not a type: "
        "keys are classes, generic aliases or NewTypes"
    )


class Exporter:
    def __init__(self, sinks: typing.List) -> None:  # type: ignore[type-arg]  # noqa: UP006 - the bare form is the point
        self.sinks = sinks


def test_a_bare_generic_annotation_is_named_by_its_origin() -> None:
    """A bare ``typing.List`` (a list of anything) is unusable, and the message calls it ``list``."""
    container = Container()
    container.register(Exporter)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    (problem,) = raised.value.errors
    assert isinstance(problem, AnnotationError)
    assert str(problem).splitlines()[0] == (
        "parameter 'sinks' of Exporter.__init__ is annotated list: Any is not a key: register a concrete type"
    )
