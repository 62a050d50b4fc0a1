"""Keys: type forms that are not keys, one key for every spelling of a type, unions as keys,
and how keys are named in messages.
"""

from __future__ import annotations

import typing
from collections import abc
from typing import Literal

import pytest

from injectq_like import AnnotationError, Container, InvalidContainerError, RegistrationError, Scope


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


# -- one key per type, however it is spelled (SPEC "Keys") --------------------------------------------


class User:
    pass


class Formatter:
    pass


def shout(text: str) -> str:
    return text.upper()


class UsesTypingCallable:
    def __init__(self, format_text: typing.Callable[[str], str]) -> None:
        self.format_text = format_text


class UsesTypingDict:
    def __init__(self, limits: typing.Dict[str, int]) -> None:  # noqa: UP006 - the spelling tested
        self.limits = limits


def test_two_spellings_of_callable_are_one_key() -> None:
    """``collections.abc.Callable[[str], str]`` registered satisfies ``typing.Callable[[str], str]``, and
    resolving either spelling gives the one provider.
    """
    container = Container()
    container.register(abc.Callable[[str], str], instance=shout)
    with pytest.raises(RegistrationError, match=r"Callable\[\[str\], str\] is already registered"):
        container.register(typing.Callable[[str], str], instance=shout)
    container.register(UsesTypingCallable)
    container.validate()
    assert container.resolve_sync(UsesTypingCallable).format_text is shout
    assert container.resolve_sync(typing.Callable[[str], str]) is shout


def test_typing_dict_and_dict_are_one_key() -> None:
    """``dict[str, int]`` registered satisfies a ``typing.Dict[str, int]`` parameter."""
    limits = {"requests": 10}
    container = Container()
    container.register(dict[str, int], instance=limits)
    container.register(UsesTypingDict)
    assert container.resolve_sync(UsesTypingDict).limits is limits


def test_keys_are_written_as_code_reads_them_in_messages_hints_and_graphs() -> None:
    """A missing ``Callable[[str], str]`` is named so in the message, the hint and the graph, never
    with ``<class 'str'>`` in it.
    """
    container = Container()
    container.register(UsesTypingCallable)
    with pytest.raises(InvalidContainerError) as raised:
        container.validate()
    text = str(raised.value)
    assert "no provider for Callable[[str], str], which UsesTypingCallable needs" in text
    assert "container.register(Callable[[str], str], Implementation)" in text
    assert "<class" not in text
    assert "Callable[[str], str]" in container.graph("text")
    assert "<class" not in container.graph("mermaid")


def current_user() -> User | None:
    return None


class Page:
    def __init__(self, user: User | None) -> None:
        self.user = user


def test_a_union_is_a_key_and_its_provider_wins_over_the_optional_rule() -> None:
    """A factory returning ``User | None`` provides that union; a dependency annotated ``User | None``
    gets it even when ``User`` is registered too; ``Optional[User]`` is the same key.
    """
    container = Container()
    container.register(User)
    container.register(factory=current_user, scope=Scope.REQUEST)
    container.register(Page)
    container.validate()
    with container.scope():
        assert container.resolve_sync(Page).user is None  # the union's factory, not User()
        assert container.resolve_sync(typing.Optional[User]) is None  # noqa: UP045
        assert isinstance(container.resolve_sync(User), User)


def test_without_a_union_provider_the_optional_rule_applies() -> None:
    """With no provider of ``User | None``, the parameter gets ``User`` when it is registered, else None."""
    with_user = Container()
    with_user.register(User)
    with_user.register(Page)
    assert isinstance(with_user.resolve_sync(Page).user, User)
    without = Container()
    without.register(Page)
    assert without.resolve_sync(Page).user is None


def test_an_instance_of_a_member_is_accepted_for_a_union_key() -> None:
    """``types.UnionType`` is a class too: a ``User`` registered for ``User | None`` is not refused."""
    user = User()
    container = Container()
    container.register(User | None, instance=user)
    assert container.resolve_sync(User | None) is user
