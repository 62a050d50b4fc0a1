"""Registration: what ``register``, ``provider`` and ``register_context`` accept and reject.

Every rejected registration is a ``RegistrationError`` raised at the call
that made the mistake, naming the type involved and saying how to fix it.
"""

import abc
import functools
import inspect
import sys
import typing
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from types import TracebackType
from typing import Annotated, Any, Generic, NewType, Protocol, Self, TypeVar, runtime_checkable

import pytest

from injectq_like import (
    AsyncProviderError,
    Container,
    DIError,
    MissingProviderError,
    Module,
    Named,
    RegistrationError,
    Scope,
    ScopeError,
)

T = TypeVar("T")

# -- the types registered below ---------------------------------------------------


class Clock:
    """A class with no dependencies."""


class Database:
    """Another class with no dependencies."""


class Base:
    """A plain (non-abstract) base class."""


class Derived(Base):
    """A subclass of Base."""


class Repo(abc.ABC):
    """An abstract interface."""

    @abc.abstractmethod
    def get(self) -> str:
        """The repository's name."""


class SqlRepo(Repo):
    """An implementation of Repo."""

    def get(self) -> str:
        """The repository's name."""
        return "sql"


class Greeter(Protocol):
    """A Protocol that is not runtime-checkable."""

    def greet(self) -> str:
        """A greeting."""
        ...


@runtime_checkable
class Pinger(Protocol):
    """A runtime-checkable Protocol."""

    def ping(self) -> str:
        """A pong."""
        ...


class English:
    """Structurally a Greeter; not a Pinger."""

    def greet(self) -> str:
        """A greeting."""
        return "hello"


class Echo:
    """Structurally a Pinger."""

    def ping(self) -> str:
        """A pong."""
        return "pong"


class Exporter:
    """The element type of a collection."""


class CsvExporter(Exporter):
    """The first exporter."""


class JsonExporter(Exporter):
    """The second exporter."""


class XmlExporter(Exporter):
    """The third exporter."""


class Report:
    """Depends on every registered Exporter."""

    def __init__(self, exporters: list[Exporter]) -> None:
        self.exporters = exporters


class Product:
    """Made by the factories below; remembers which one."""

    def __init__(self, made_by: str) -> None:
        self.made_by = made_by


class User:
    """A value type."""


class Store(Generic[T]):
    """A generic interface."""


class UserStore(Store[User]):
    """An implementation of Store[User]."""


UserId = NewType("UserId", int)


class SyncResource:
    """A context manager."""

    def __init__(self) -> None:
        self.entered = 0
        self.exited = 0

    def __enter__(self) -> Self:
        self.entered += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.exited += 1


class AsyncResource:
    """An async context manager."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


class Request:
    """A context value."""


# -- factories ------------------------------------------------------------------------


def make_clock() -> Clock:
    """A factory with a return annotation."""
    return Clock()


def make_anything():  # type: ignore[no-untyped-def]  # noqa: ANN201 - the missing annotation is the point
    """A factory without a return annotation."""
    return Clock()


def make_nothing() -> None:
    """A factory annotated to return None."""


def make_database() -> Database:
    """A factory whose return annotation says Database."""
    return Database()


def make_derived() -> Derived:
    """A factory returning a subclass of Base."""
    return Derived()


def product_iterator() -> Iterator[Product]:
    """A generator factory annotated with Iterator."""
    yield Product("iterator")


def product_generator() -> Generator[Product, None, None]:
    """A generator factory annotated with Generator."""
    yield Product("generator")


async def product_async_iterator() -> AsyncIterator[Product]:
    """An async generator factory annotated with AsyncIterator."""
    yield Product("async iterator")


async def product_async_generator() -> AsyncGenerator[Product, None]:
    """An async generator factory annotated with AsyncGenerator."""
    yield Product("async generator")


async def product_coroutine() -> Product:
    """A coroutine function."""
    return Product("coroutine")


def product_awaitable() -> Awaitable[Product]:
    """A plain def returning an awaitable."""
    return product_coroutine()


def bare_generator():  # type: ignore[no-untyped-def]  # noqa: ANN201 - the missing annotation is the point
    """A generator factory without a return annotation."""
    yield Clock()


async def bare_async_generator():  # type: ignore[no-untyped-def]  # noqa: ANN201 - likewise
    """An async generator factory without a return annotation."""
    yield Clock()


def generator_annotated_plainly() -> Clock:  # type: ignore[misc]
    """A generator annotated as if it returned its value: the provided type is unknown."""
    yield Clock()


def clock_generator() -> Iterator[Clock]:
    """A generator factory of Clock."""
    yield Clock()


def _line() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


def _raises(action: Callable[[], object]) -> RegistrationError:
    """Run ``action``, which must raise ``RegistrationError``, and return the error."""
    with pytest.raises(RegistrationError) as caught:
        action()
    return caught.value


# -- keys ------------------------------------------------------------------------------


NON_TYPE_KEYS = [
    pytest.param("Clock", "cannot register 'Clock': a string is not a key: pass the type itself", id="str"),
    pytest.param(5, "cannot register 5: 5 is not a type", id="int-instance"),
    pytest.param(Clock(), "is not a type: keys are classes, generic aliases or NewTypes", id="instance"),
    pytest.param(None, "cannot register None: None is not a key: register a concrete type", id="None"),
    pytest.param(
        Clock | T,
        "cannot register Clock | ~T: in the union Clock | ~T: the type variable ~T is not a key",
        id="union-with-a-type-variable",
    ),
    pytest.param(Any, "cannot register Any: Any is not a key: register a concrete type", id="Any"),
    pytest.param(T, "cannot register ~T: the type variable ~T is not a key", id="TypeVar"),
    pytest.param(
        list[int],
        "cannot register list[int]: list[T] is not a key: register T with multi=True and depend on list[T]",
        id="list[int]",
    ),
]


@pytest.mark.parametrize(("key", "message"), NON_TYPE_KEYS)
def test_non_type_keys_are_rejected_naming_the_key(key: Any, message: str) -> None:
    """A key that is not a type is a RegistrationError whose message names it and says why."""
    container = Container()
    error = _raises(lambda: container.register(key))
    assert message in str(error)
    assert error.key is key or error.key == key
    assert container._registry.all() == []


@pytest.mark.parametrize(("key", "message"), NON_TYPE_KEYS)
def test_non_type_keys_are_rejected_whatever_is_registered_for_them(key: Any, message: str) -> None:
    """The key is checked whether an implementation, an instance or a factory is given for it."""
    container = Container()
    assert message in str(_raises(lambda: container.register(key, Clock)))
    assert message in str(_raises(lambda: container.register(key, instance=Clock())))
    assert message in str(_raises(lambda: container.register(key, factory=make_clock)))
    assert message in str(_raises(lambda: container.register_context(key)))


def test_optional_key_is_named_as_written() -> None:
    """``Clock | None`` is a key, described as ``Clock | None`` (not ``Clock | NoneType``) in messages;
    ``Optional[Clock]`` is the same key.
    """
    container = Container()
    container.register(Clock | None, factory=make_clock)
    error = _raises(lambda: container.register(typing.Optional[Clock], factory=make_clock))  # noqa: UP045
    assert str(error).startswith("Clock | None is already registered")
    assert "NoneType" not in str(error)


def test_every_registration_error_has_a_hint() -> None:
    """SPEC: every error carries a hint; each rejected registration says how to fix it.

    The hint is a structured field (``error.hint``) rendered as a ``hint:``
    line, not only prose inside the message.
    """
    container = Container()
    cases: dict[str, Callable[[], object]] = {
        "str key": lambda: container.register("Clock"),
        "int key": lambda: container.register(5),
        "None key": lambda: container.register(None),
        "union key": lambda: container.register(Clock | T),
        "Any key": lambda: container.register(Any),
        "TypeVar key": lambda: container.register(T),
        "list[int] key": lambda: container.register(list[int]),
        "wrong instance": lambda: container.register(Clock, instance=Database()),
        "not a subclass": lambda: container.register(Base, Clock),
        "abstract": lambda: container.register(Repo),
        "protocol": lambda: container.register(Greeter),
        "function as implementation": lambda: container.register(Clock, make_clock),
        "no return annotation": lambda: container.register(factory=make_anything),
        "returns None": lambda: container.register(factory=make_nothing),
        "contradicting return": lambda: container.register(Clock, factory=make_database),
        "autouse transient": lambda: container.register(Clock, autouse=True),
        "enter on non-cm": lambda: container.register(Clock, enter=True),
        "bad scope": lambda: container.register(Clock, scope="app"),  # type: ignore[arg-type]
        "context APP": lambda: container.register_context(Request, scope=Scope.APP),
        "empty name": lambda: container.register(Clock, name=""),
        "named twice": lambda: container.register(Annotated[Clock, Named("a")], name="b"),
        "several targets": lambda: container.register(Clock, Clock, instance=Clock()),
        "class as factory": lambda: container.register(Clock, factory=Clock),
        "non-callable implementation": lambda: container.register(Clock, 5),
    }
    without_hint = []
    for label, action in cases.items():
        error = _raises(action)
        if not error.hint or "hint:" not in str(error):
            without_hint.append(f"{label}: {str(error)!r}")
    assert without_hint == []


def test_generic_aliases_and_new_types_are_keys() -> None:
    """``Store[User]`` and a NewType are valid keys, each distinct from its base."""
    container = Container()
    container.register(Store[User], UserStore)
    container.register(UserId, instance=UserId(7))
    assert type(container.resolve_sync(Store[User])) is UserStore
    assert container.resolve_sync(UserId) == 7
    with pytest.raises(MissingProviderError):
        container.resolve_sync(Store)


def test_annotated_without_named_is_the_plain_key() -> None:
    """``Annotated[T, "doc"]`` registers ``T`` itself: other metadata is dropped."""
    container = Container()
    container.register(Annotated[Clock, "documentation"])
    assert type(container.resolve_sync(Clock)) is Clock


# -- instances -------------------------------------------------------------------------


def test_instance_of_the_wrong_type_is_rejected() -> None:
    """``register(Clock, instance=Database())`` names both types and hints at the fix."""
    container = Container()
    error = _raises(lambda: container.register(Clock, instance=Database()))
    assert "the instance registered for Clock is a Database" in str(error)
    assert error.key is Clock
    assert "register it under its own type" in error.hint


def test_instance_of_a_subclass_is_accepted_and_returned_as_is() -> None:
    """An instance of a subclass provides its base; resolution returns that very object."""
    container = Container()
    derived = Derived()
    container.register(Base, instance=derived)
    assert container.resolve_sync(Base) is derived
    assert container.resolve_sync(Base) is derived


def test_instance_without_key_is_registered_under_its_own_type() -> None:
    """``register(instance=obj)`` keys the instance by ``type(obj)``."""
    container = Container()
    clock = Clock()
    container.register(instance=clock)
    assert container.resolve_sync(Clock) is clock


def test_instance_checked_against_runtime_checkable_protocol_only() -> None:
    """A runtime-checkable Protocol is checked; a plain Protocol cannot be, so it is not."""
    container = Container()
    error = _raises(lambda: container.register(Pinger, instance=English()))
    assert "the instance registered for Pinger is a English" in str(error)
    echo = Echo()
    container.register(Pinger, instance=echo)
    database = Database()
    container.register(Greeter, instance=database)  # not checked: Greeter is not runtime-checkable
    assert container.resolve_sync(Pinger) is echo
    greeter: object = container.resolve_sync(Greeter)
    assert greeter is database


@pytest.mark.parametrize("scope", [Scope.SESSION, Scope.REQUEST, Scope.TRANSIENT])
def test_instance_with_a_shorter_lifetime_is_rejected(scope: Scope) -> None:
    """An instance is one object: only APP lifetime makes sense for it."""
    container = Container()
    error = _raises(lambda: container.register(Clock, instance=Clock(), scope=scope))
    assert f"it has APP lifetime, not {scope.name}" in str(error)
    assert "drop scope=" in error.hint
    container.register(Clock, instance=Clock(), scope=Scope.APP)


# -- implementations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interface", "implementation", "message"),
    [
        pytest.param(Repo, Clock, "cannot register Clock for Repo: Clock is not a subclass of Repo", id="abc"),
        pytest.param(Base, Clock, "cannot register Clock for Base: Clock is not a subclass of Base", id="plain"),
        pytest.param(
            Derived, Base, "cannot register Base for Derived: Base is not a subclass of Derived", id="reversed"
        ),
        pytest.param(
            Pinger, English, "cannot register English for Pinger: English is not a subclass of Pinger", id="protocol"
        ),
    ],
)
def test_implementation_must_subclass_its_interface(interface: type, implementation: type, message: str) -> None:
    """An implementation that is not a subclass of the key is rejected, naming both."""
    container = Container()
    error = _raises(lambda: container.register(interface, implementation))
    assert message in str(error)
    assert error.key is interface
    assert "make it implement the interface" in error.hint


def test_subclass_implementations_are_accepted_and_built() -> None:
    """ABC -> concrete subclass, base -> derived, and runtime Protocol -> structural match all work."""
    container = Container()
    container.register(Repo, SqlRepo)
    container.register(Base, Derived)
    container.register(Pinger, Echo)
    assert type(container.resolve_sync(Repo)) is SqlRepo
    assert type(container.resolve_sync(Base)) is Derived
    assert container.resolve_sync(Pinger).ping() == "pong"


def test_non_runtime_checkable_protocol_implementation_is_not_checked() -> None:
    """A plain Protocol cannot be checked with issubclass: any class is accepted for it."""
    container = Container()
    container.register(Greeter, Database)
    greeter: object = container.resolve_sync(Greeter)
    assert type(greeter) is Database


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        pytest.param(Repo, "Repo is abstract and cannot be built", id="abc"),
        pytest.param(Greeter, "Greeter is a Protocol and cannot be built", id="protocol"),
        pytest.param(Pinger, "Pinger is a Protocol and cannot be built", id="runtime-protocol"),
    ],
)
def test_abstract_class_or_protocol_registered_to_itself(cls: type, message: str) -> None:
    """An interface cannot be its own implementation; the hint says to register one."""
    container = Container()
    error = _raises(lambda: container.register(cls))
    assert message in str(error)
    assert f"register({cls.__name__}, Implementation)" in error.hint


def test_abstract_implementation_is_rejected() -> None:
    """An abstract class given as the implementation of another key cannot be built either."""

    container = Container()
    error = _raises(lambda: container.register(Repo, Repo))
    assert "Repo is abstract and cannot be built" in str(error)


def test_function_as_implementation_hints_at_factory() -> None:
    """``register(Clock, make_clock)`` says a function goes in ``factory=``."""
    container = Container()
    error = _raises(lambda: container.register(Clock, make_clock))
    assert "make_clock is not a class" in str(error)
    assert "pass it as factory=" in str(error)
    assert error.hint == "register(Clock, factory=make_clock)"
    assert "hint: register(Clock, factory=make_clock)" in str(error)


def test_class_passed_as_factory_is_rejected() -> None:
    """``factory=`` takes a function; a class goes in the implementation slot."""
    container = Container()
    error = _raises(lambda: container.register(Clock, factory=Clock))
    assert "is not a function" in str(error)
    assert "register(Key, Class)" in str(error)


def test_register_with_nothing_is_rejected() -> None:
    """``register()`` with no key, implementation, instance or factory says what it takes."""
    error = _raises(lambda: Container().register())
    assert "register() needs something to register" in str(error)
    assert "register(Type)" in error.hint


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"instance": Clock(), "factory": make_clock}, id="instance+factory"),
        pytest.param({"instance": Clock()}, id="implementation+instance"),
        pytest.param({"factory": make_clock}, id="implementation+factory"),
    ],
)
def test_only_one_way_of_providing_at_a_time(kwargs: dict[str, Any]) -> None:
    """An implementation, ``instance=`` and ``factory=`` exclude each other."""
    container = Container()
    if "factory" in kwargs and "instance" in kwargs:
        error = _raises(lambda: container.register(Clock, **kwargs))
    else:
        error = _raises(lambda: container.register(Clock, Clock, **kwargs))
    assert "takes one of an implementation, instance= or factory=, not several" in str(error)


@pytest.mark.parametrize("scope", ["app", 0, "REQUEST"])
def test_scope_must_be_a_scope(scope: Any) -> None:
    """``scope=`` takes the Scope enum, not strings or other values."""
    error = _raises(lambda: Container().register(Clock, scope=scope))
    assert f"scope={scope!r} for Clock is not a Scope" in str(error)
    assert "Scope.APP, Scope.SESSION, Scope.REQUEST or Scope.TRANSIENT" in error.hint


# -- factories --------------------------------------------------------------------------


def test_factory_without_return_annotation_needs_a_key() -> None:
    """With no key, the provided type comes from the return annotation; none is an error."""
    container = Container()
    error = _raises(lambda: container.register(factory=make_anything))
    assert "factory make_anything() has no usable return annotation" in str(error)
    assert "annotate its return type (`-> T`)" in error.hint
    assert "register(T, factory=make_anything)" in error.hint
    container.register(Clock, factory=make_anything)  # with a key it is fine
    assert type(container.resolve_sync(Clock)) is Clock


def test_factory_annotated_none_does_not_provide_a_type() -> None:
    """``-> None`` does not count as a return annotation."""
    error = _raises(lambda: Container().register(factory=make_nothing))
    assert "factory make_nothing() has no usable return annotation" in str(error)


@pytest.mark.parametrize(
    ("factory", "hint"),
    [
        pytest.param(bare_generator, "`-> Iterator[T]`", id="generator"),
        pytest.param(bare_async_generator, "`-> AsyncIterator[T]`", id="async-generator"),
        pytest.param(generator_annotated_plainly, "`-> Iterator[T]`", id="generator-annotated-T"),
    ],
)
def test_generator_factory_without_iterator_annotation(factory: Callable[..., Any], hint: str) -> None:
    """A generator needs ``-> Iterator[T]`` (or the async form) to say what it yields."""
    error = _raises(lambda: Container().register(factory=factory))
    assert f"factory {factory.__name__}() has no usable return annotation" in str(error)
    assert hint in error.hint


def test_factory_with_key_and_return_annotation_is_the_key() -> None:
    """``register(factory=make_clock)`` provides Clock, the return annotation."""
    container = Container()
    container.register(factory=make_clock)
    first = container.resolve_sync(Clock)
    second = container.resolve_sync(Clock)
    assert type(first) is Clock
    assert first is not second  # TRANSIENT by default


def clock_in(zone: str) -> Clock:
    """A factory taking a value that a functools.partial binds."""
    clock = Clock()
    clock.__dict__["zone"] = zone
    return clock


def test_partial_and_callable_objects_are_factories() -> None:
    """``functools.partial`` and objects with ``__call__`` are callables like functions: usable as factories."""

    class MakeDatabase:
        """A callable object."""

        def __call__(self) -> Database:
            return Database()

    container = Container()
    container.register(factory=MakeDatabase())
    container.register(Clock, factory=functools.partial(clock_in, zone="UTC"))
    assert type(container.resolve_sync(Database)) is Database
    assert container.resolve_sync(Clock).__dict__["zone"] == "UTC"


def test_factory_returning_a_subclass_provides_the_base() -> None:
    """A return annotation that is a subclass of the key is consistent with it."""
    container = Container()
    container.register(Base, factory=make_derived)
    assert type(container.resolve_sync(Base)) is Derived


@pytest.mark.parametrize(
    ("key", "factory", "message"),
    [
        pytest.param(
            Clock,
            make_database,
            "factory make_database() returns Database, which cannot provide Clock: Database is not a subclass of Clock",
            id="plain",
        ),
        pytest.param(
            Derived,
            make_derived,
            None,
            id="same",
        ),
        pytest.param(
            Database,
            clock_generator,
            "factory clock_generator() returns Clock, which cannot provide Database",
            id="generator",
        ),
    ],
)
def test_factory_return_annotation_must_agree_with_key(
    key: type, factory: Callable[..., Any], message: str | None
) -> None:
    """A return annotation that contradicts the key is a RegistrationError naming both."""
    container = Container()
    if message is None:
        container.register(key, factory=factory)
        return
    error = _raises(lambda: container.register(key, factory=factory))
    assert message in str(error)
    assert error.key is key
    assert "fix the return annotation" in error.hint


SHAPES = [
    pytest.param(product_iterator, "iterator", "generator factory product_iterator()", False, id="Iterator"),
    pytest.param(product_generator, "generator", "generator factory product_generator()", False, id="Generator"),
    pytest.param(
        product_async_iterator,
        "async iterator",
        "async generator factory product_async_iterator()",
        True,
        id="AsyncIterator",
    ),
    pytest.param(
        product_async_generator,
        "async generator",
        "async generator factory product_async_generator()",
        True,
        id="AsyncGenerator",
    ),
    pytest.param(product_coroutine, "coroutine", "async factory product_coroutine()", True, id="coroutine"),
    pytest.param(product_awaitable, "coroutine", "async factory product_awaitable()", True, id="Awaitable"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("factory", "made_by", "described", "is_async"), SHAPES)
async def test_factory_shapes_provide_the_unwrapped_type(
    factory: Callable[..., Any], made_by: str, described: str, is_async: bool
) -> None:
    """Generators, async generators, coroutines and awaitable-returning defs all provide ``Product``."""
    container = Container()
    container.register(factory=factory, scope=Scope.APP)
    async with container:
        product = await container.resolve(Product)
        assert type(product) is Product
        assert product.made_by == made_by
        assert await container.resolve(Product) is product


@pytest.mark.parametrize(("factory", "made_by", "described", "is_async"), SHAPES)
def test_factory_shapes_under_resolve_sync(
    factory: Callable[..., Any], made_by: str, described: str, is_async: bool
) -> None:
    """resolve_sync runs sync generators and rejects async shapes, naming the provider."""
    container = Container()
    container.register(factory=factory)
    if not is_async:
        assert container.resolve_sync(Product).made_by == made_by
        return
    with pytest.raises(AsyncProviderError) as caught:
        container.resolve_sync(Product)
    assert caught.value.key is Product
    assert caught.value.provider == described
    assert f"Product is provided by the {described}, which resolve_sync cannot run" in str(caught.value)


# -- duplicates and override -------------------------------------------------------------


def test_duplicate_registration_names_both_sites() -> None:
    """A second registration of a key is rejected; the message gives both file:line sites."""
    container = Container()
    container.register(Base)
    first = _line() - 1
    with pytest.raises(RegistrationError) as caught:
        container.register(Base, Derived)
    second = _line() - 1
    message = str(caught.value)
    assert (
        f"Base is already registered (class Base, at test_registration.py:{first}); "
        f"registering class Derived at test_registration.py:{second} would replace it"
    ) in message
    assert "override=True" in caught.value.hint
    assert caught.value.key is Base
    assert type(container.resolve_sync(Base)) is Base  # the first registration stands


def test_duplicate_of_every_kind_is_rejected() -> None:
    """Instance, factory and class registrations of the same key collide alike."""
    container = Container()
    container.register(Clock, instance=Clock())
    with pytest.raises(RegistrationError, match="already registered"):
        container.register(Clock)
    with pytest.raises(RegistrationError, match="already registered"):
        container.register(factory=make_clock)
    with pytest.raises(RegistrationError, match="already registered"):
        container.register(Clock, instance=Clock())


def test_override_true_replaces() -> None:
    """``override=True`` replaces the earlier provider, keeping one registration of the key."""
    container = Container()
    container.register(Base)
    container.register(Base, Derived, override=True)
    clock = Clock()
    container.register(Clock, factory=make_clock)
    container.register(Clock, instance=clock, override=True)
    assert type(container.resolve_sync(Base)) is Derived
    assert container.resolve_sync(Clock) is clock
    assert [p.key for p in container._registry.all()] == [Base, Clock]


def test_override_true_without_earlier_registration_just_registers() -> None:
    """``override=True`` on a new key is an ordinary registration."""
    container = Container()
    container.register(Clock, override=True)
    assert type(container.resolve_sync(Clock)) is Clock


def test_multi_then_single_is_rejected() -> None:
    """A key registered with multi=True cannot also be registered without it."""
    container = Container()
    container.register(Exporter, CsvExporter, multi=True)
    first = _line() - 1
    with pytest.raises(RegistrationError) as caught:
        container.register(Exporter, JsonExporter)
    second = _line() - 1
    assert (
        f"Exporter is registered with multi=True (class CsvExporter, at test_registration.py:{first}) "
        f"and again without multi=True (class JsonExporter, at test_registration.py:{second})"
    ) in str(caught.value)
    assert "multi=True, consumed as list[T]" in caught.value.hint
    with pytest.raises(RegistrationError):
        container.register(Exporter, JsonExporter, override=True)


def test_single_then_multi_is_rejected() -> None:
    """A key registered without multi=True cannot join a collection afterwards."""
    container = Container()
    container.register(Exporter, CsvExporter)
    first = _line() - 1
    with pytest.raises(RegistrationError) as caught:
        container.register(Exporter, JsonExporter, multi=True)
    second = _line() - 1
    assert (
        f"Exporter is registered without multi=True (class CsvExporter, at test_registration.py:{first}) "
        f"and again with multi=True (class JsonExporter, at test_registration.py:{second})"
    ) in str(caught.value)


def test_override_does_not_apply_to_multi() -> None:
    """``multi=True, override=True`` is rejected: collections only grow."""
    container = Container()
    container.register(Exporter, CsvExporter, multi=True)
    error = _raises(lambda: container.register(Exporter, JsonExporter, multi=True, override=True))
    assert "override=True does not apply to the multi=True provider class JsonExporter" in str(error)
    assert [type(e) for e in container.resolve_sync(list[Exporter])] == [CsvExporter]


# -- options --------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [None, Scope.TRANSIENT])
def test_autouse_needs_a_lifetime(scope: Scope | None) -> None:
    """``autouse=True`` with TRANSIENT (explicit or default) has no scope to be created in."""
    error = _raises(lambda: Container().register(Clock, scope=scope, autouse=True))
    assert "autouse=True needs a lifetime for Clock" in str(error)
    assert "Scope.APP, Scope.SESSION or Scope.REQUEST" in error.hint


@pytest.mark.parametrize("scope", [Scope.APP, Scope.SESSION, Scope.REQUEST])
def test_autouse_with_a_lifetime_is_accepted(scope: Scope) -> None:
    """``autouse=True`` is fine for every cached lifetime."""
    container = Container()
    container.register(Clock, scope=scope, autouse=True)
    assert [p.autouse for p in container._registry.all()] == [True]


def test_enter_on_a_non_context_manager_is_rejected() -> None:
    """``enter=True`` needs ``__enter__`` or ``__aenter__`` on the created type."""
    container = Container()
    error = _raises(lambda: container.register(Clock, enter=True))
    assert "enter=True, but Clock is not a context manager" in str(error)
    assert "drop enter=True" in error.hint
    error = _raises(lambda: container.register(Clock, factory=make_clock, enter=True))
    assert "enter=True, but Clock is not a context manager" in str(error)


def test_enter_on_an_instance_or_generator_is_rejected() -> None:
    """An instance is managed where it was made; a generator cleans up after its yield."""
    container = Container()
    error = _raises(lambda: container.register(SyncResource, instance=SyncResource(), enter=True))
    assert "enter=True does not apply to the instance of SyncResource" in str(error)

    def resources() -> Iterator[SyncResource]:
        """A generator factory of a context manager."""
        yield SyncResource()

    error = _raises(lambda: container.register(factory=resources, enter=True))
    assert "a generator cleans up after its yield" in str(error)


def test_enter_on_context_managers_is_accepted_and_entered() -> None:
    """Sync and async context managers may be registered with ``enter=True``."""
    container = Container()
    container.register(SyncResource, scope=Scope.APP, enter=True)
    container.register(AsyncResource, scope=Scope.APP, enter=True)
    resource = container.resolve_sync(SyncResource)
    assert (resource.entered, resource.exited) == (1, 0)
    assert [p.async_enter for p in container._registry.all()] == [False, True]


# -- freezing -----------------------------------------------------------------------------


def test_registering_after_the_first_resolution_is_rejected() -> None:
    """The first resolution freezes the registry; the message says so and suggests override()."""
    container = Container()
    container.register(Clock)
    container.resolve_sync(Clock)
    resolved_at = _line() - 1
    error = _raises(lambda: container.register(Database))
    message = str(error)
    assert "cannot register Database: the container is frozen" in message
    assert f"the first resolution of Clock at test_registration.py:{resolved_at}" in message
    assert "container.override(" in error.hint
    error = _raises(lambda: container.register(Clock, override=True))
    assert "frozen" in str(error)


@pytest.mark.anyio
async def test_registering_after_an_async_resolution_is_rejected() -> None:
    """``await container.resolve`` freezes the registry too."""
    container = Container()
    container.register(Clock)
    await container.resolve(Clock)
    error = _raises(lambda: container.register(Database))
    assert "the container is frozen" in str(error)
    assert "container.override(" in error.hint


def test_registering_after_a_failed_resolution_is_rejected() -> None:
    """The registry freezes at the first resolution attempt, even one that fails."""
    container = Container()
    with pytest.raises(MissingProviderError):
        container.resolve_sync(Clock)
    error = _raises(lambda: container.register(Clock))
    assert "the container is frozen" in str(error)


def test_registering_after_validate_is_rejected() -> None:
    """``validate()`` freezes the registry: register, include, register_context and provider all fail after it."""
    container = Container()
    container.register(Clock)
    container.validate()
    validated_at = _line() - 1
    error = _raises(lambda: container.register(Database))
    assert (
        "cannot register Database: the container is frozen (its first resolution or validate() "
        f"was validate() at test_registration.py:{validated_at})"
    ) in str(error)
    assert "container.override(" in error.hint
    module = Module()
    module.register(Database)
    assert "frozen" in str(_raises(lambda: container.include(module)))
    assert "frozen" in str(_raises(lambda: container.register_context(Request)))
    assert "frozen" in str(_raises(lambda: container.provider(make_database)))


def test_override_suggested_by_the_frozen_error_works() -> None:
    """The frozen error tells the user to use ``container.override(...)``, which SPEC says keeps working."""
    container = Container()
    container.register(Clock)
    container.resolve_sync(Clock)
    fake = Clock()
    with container.override(Clock, instance=fake):
        assert container.resolve_sync(Clock) is fake
    assert container.resolve_sync(Clock) is not fake
    with pytest.raises(RegistrationError, match="the container is frozen"):
        container.register(Clock, instance=fake, override=True)


# -- names -----------------------------------------------------------------------------------


def test_name_makes_an_annotated_named_key() -> None:
    """``name="x"`` registers ``Annotated[T, Named("x")]``, resolvable by that key."""
    container = Container()
    container.register(Clock, name="x", scope=Scope.APP)
    assert [p.key for p in container._registry.all()] == [Annotated[Clock, Named("x")]]
    first = container.resolve_sync(Annotated[Clock, Named("x")])
    assert type(first) is Clock
    assert container.resolve_sync(Annotated[Clock, Named("x")]) is first


def test_named_registration_does_not_satisfy_the_unnamed_key() -> None:
    """Resolving ``Clock`` when only ``Clock`` named "x" exists says which names there are."""
    container = Container()
    container.register(Clock, name="x")
    container.register(Clock, name="y")
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(Clock)
    assert caught.value.key is Clock
    assert "no provider for Clock" in str(caught.value)
    assert 'Named("x")' in caught.value.hint
    assert 'Named("y")' in caught.value.hint
    assert "registered only under a name" in caught.value.hint


def test_names_and_the_unnamed_key_coexist() -> None:
    """The unnamed key and each name are separate registrations, not duplicates."""
    container = Container()
    container.register(Base)
    container.register(Base, Derived, name="derived")
    ready = Base()
    container.register(Base, instance=ready, name="ready")
    with pytest.raises(RegistrationError, match='Base \\(named "derived"\\) is already registered'):
        container.register(Base, Derived, name="derived")
    assert type(container.resolve_sync(Base)) is Base
    assert type(container.resolve_sync(Annotated[Base, Named("derived")])) is Derived
    assert container.resolve_sync(Annotated[Base, Named("ready")]) is ready


def test_instance_and_factory_under_an_annotated_key() -> None:
    """``Annotated[T, Named("x")]`` as the key of an instance or a factory is the named key."""
    container = Container()
    clock = Clock()
    container.register(Annotated[Clock, Named("ready")], instance=clock)
    container.register(Annotated[Clock, Named("made")], factory=make_clock)
    with pytest.raises(RegistrationError, match="already registered"):
        container.register(Clock, instance=Clock(), name="ready")
    assert container.resolve_sync(Annotated[Clock, Named("ready")]) is clock
    assert type(container.resolve_sync(Annotated[Clock, Named("made")])) is Clock


def test_class_registered_under_an_annotated_named_key() -> None:
    """SPEC: keys are types or ``Annotated[type, Named("x")]``; ``register(Annotated[Clock, Named("x")])``
    binds the class Clock to the named key, like ``register(Clock, name="x")``.
    """
    container = Container()
    container.register(Annotated[Clock, Named("x")])
    container.register(Annotated[Base, Named("y")], Derived)
    with pytest.raises(RegistrationError, match="already registered"):
        container.register(Clock, name="x")
    assert type(container.resolve_sync(Annotated[Clock, Named("x")])) is Clock
    assert type(container.resolve_sync(Annotated[Base, Named("y")])) is Derived


def test_bad_names_are_rejected() -> None:
    """A name must be a non-empty string, and a key is qualified only once."""
    container = Container()
    assert "name='' for Clock must be a non-empty string" in str(_raises(lambda: container.register(Clock, name="")))
    error = _raises(lambda: container.register(Annotated[Clock, Named("a")], name="b"))
    assert "is already qualified by Named(...); name='b' would qualify it twice" in str(error)
    with pytest.raises(TypeError, match="Named\\(\\) takes a non-empty string"):
        Named("")


# -- collections ------------------------------------------------------------------------------


def test_multi_registrations_are_a_list_in_order() -> None:
    """``multi=True`` providers are resolved as ``list[T]`` in registration order."""
    container = Container()
    container.register(Exporter, JsonExporter, multi=True)
    container.register(Exporter, CsvExporter, multi=True)
    container.register(Exporter, XmlExporter, multi=True)
    container.register(Exporter, CsvExporter, multi=True)
    container.register(Report)
    exporters = container.resolve_sync(list[Exporter])
    assert [type(e) for e in exporters] == [JsonExporter, CsvExporter, XmlExporter, CsvExporter]
    assert len({id(e) for e in exporters}) == 4  # TRANSIENT: four distinct objects
    report = container.resolve_sync(Report)
    assert [type(e) for e in report.exporters] == [JsonExporter, CsvExporter, XmlExporter, CsvExporter]


def test_multi_mixes_classes_instances_and_factories_in_order() -> None:
    """Every way of providing joins the same collection in registration order; names make separate lists."""

    def make_json() -> JsonExporter:
        """A factory member."""
        return JsonExporter()

    container = Container()
    ready = Exporter()
    container.register(Exporter, XmlExporter, multi=True)
    container.register(Exporter, instance=ready, multi=True)
    container.register(Exporter, factory=make_json, multi=True)
    container.register(Exporter, CsvExporter, multi=True, name="csv")
    exporters = container.resolve_sync(list[Exporter])
    assert [type(e) for e in exporters] == [XmlExporter, Exporter, JsonExporter]
    assert exporters[1] is ready
    named = container.resolve_sync(list[Annotated[Exporter, Named("csv")]])
    assert [type(e) for e in named] == [CsvExporter]


def test_multi_with_app_lifetime_is_shared() -> None:
    """APP members of a collection are created once and shared between lists."""
    container = Container()
    container.register(Exporter, CsvExporter, multi=True, scope=Scope.APP)
    container.register(Exporter, JsonExporter, multi=True)
    first = container.resolve_sync(list[Exporter])
    second = container.resolve_sync(list[Exporter])
    assert first[0] is second[0]
    assert first[1] is not second[1]


def test_multi_key_is_not_a_single_key() -> None:
    """A collection is consumed as ``list[T]``; asking for ``T`` says so."""
    container = Container()
    container.register(Exporter, CsvExporter, multi=True)
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(Exporter)
    assert "depend on list[Exporter]" in caught.value.hint


def test_list_with_nothing_registered_is_empty() -> None:
    """``list[T]`` with no ``multi=True`` registration of T is ``[]``, directly or as a dependency."""
    container = Container()
    container.register(Report)
    assert container.resolve_sync(list[Exporter]) == []
    assert container.resolve_sync(Report).exporters == []


# -- the provider decorator ---------------------------------------------------------------------


def test_provider_decorator_without_arguments_returns_the_function() -> None:
    """``@container.provider`` registers a TRANSIENT factory and returns the function unchanged."""
    container = Container()

    @container.provider
    def clock() -> Clock:
        """A factory of Clock."""
        return Clock()

    assert clock.__name__ == "clock"
    assert type(clock()) is Clock
    assert container.provider(make_database) is make_database
    (registered, database) = container._registry.all()
    assert registered.target is clock
    assert registered.scope is Scope.TRANSIENT
    assert database.target is make_database
    assert container.resolve_sync(Clock) is not container.resolve_sync(Clock)


def test_provider_decorator_with_arguments_returns_the_function() -> None:
    """``@container.provider(scope=..., name=...)`` passes its options to register."""
    container = Container()

    @container.provider(scope=Scope.APP, name="main")
    def clock() -> Clock:
        """A named APP factory of Clock."""
        return Clock()

    @container.provider(key=Base)
    def base():  # type: ignore[no-untyped-def]  # noqa: ANN202 - the key stands in for the annotation
        """A factory registered under an explicit key."""
        return Derived()

    @container.provider(multi=True)
    def exporter() -> Exporter:
        """A collection member."""
        return CsvExporter()

    assert clock.__name__ == "clock"
    assert base.__name__ == "base"
    assert exporter.__name__ == "exporter"
    named = container.resolve_sync(Annotated[Clock, Named("main")])
    assert named is container.resolve_sync(Annotated[Clock, Named("main")])
    assert type(container.resolve_sync(Base)) is Derived
    assert [type(e) for e in container.resolve_sync(list[Exporter])] == [CsvExporter]


def test_provider_decorator_duplicate_names_the_decorator_lines() -> None:
    """A duplicate made with the decorator points at the two decorated functions."""
    container = Container()

    @container.provider
    def first_clock() -> Clock:
        """The first factory of Clock."""
        return Clock()

    first = first_clock.__code__.co_firstlineno  # the decorator's line
    with pytest.raises(RegistrationError) as caught:
        second = _line() + 2  # the decorator's line

        @container.provider(scope=Scope.APP)
        def second_clock() -> Clock:
            """A second factory of Clock."""
            return Clock()

    assert (
        f"Clock is already registered (factory first_clock(), at test_registration.py:{first}); "
        f"registering factory second_clock() at test_registration.py:{second} would replace it"
    ) in str(caught.value)
    assert first_clock.__name__ == "first_clock"


def test_provider_decorator_checks_like_register() -> None:
    """The decorator form rejects what register(factory=...) rejects."""
    container = Container()
    error = _raises(lambda: container.provider(make_anything))
    assert "has no usable return annotation" in str(error)
    error = _raises(lambda: container.provider(key=Clock)(make_database))
    assert "cannot provide Clock" in str(error)


# -- context values -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [Scope.APP, Scope.TRANSIENT])
def test_context_values_need_a_scope_level(scope: Scope) -> None:
    """A context value is supplied when a SESSION or REQUEST scope opens: APP and TRANSIENT are rejected."""
    error = _raises(lambda: Container().register_context(Request, scope=scope))
    assert f"context value Request cannot have {scope.name} lifetime" in str(error)
    assert "register(T, instance=obj)" in error.hint


@pytest.mark.parametrize("scope", ["request", None, 2])
def test_context_scope_must_be_a_scope(scope: Any) -> None:
    """``register_context(scope=...)`` takes the Scope enum."""
    error = _raises(lambda: Container().register_context(Request, scope=scope))
    assert f"scope={scope!r} for Request is not a Scope" in str(error)


def test_context_values_are_registered_like_providers() -> None:
    """REQUEST (the default) and SESSION context values are accepted; duplicates are not."""
    container = Container()
    container.register_context(Request)
    container.register_context(Clock, scope=Scope.SESSION)
    container.register_context(Request, name="other")
    assert [(p.key, p.scope) for p in container._registry.all()] == [
        (Request, Scope.REQUEST),
        (Clock, Scope.SESSION),
        (Annotated[Request, Named("other")], Scope.REQUEST),
    ]
    with pytest.raises(RegistrationError, match="Request is already registered"):
        container.register_context(Request)
    with pytest.raises(RegistrationError, match="Request is already registered"):
        container.register(Request)
    container.register_context(Request, scope=Scope.SESSION, override=True)


@pytest.mark.anyio
async def test_context_value_is_supplied_by_its_scope() -> None:
    """A declared context value is what the scope was given, checked for level and type."""
    container = Container()
    container.register_context(Request)
    request = Request()
    async with container.scope(context={Request: request}) as scope:
        assert await scope.resolve(Request) is request
    with pytest.raises(ScopeError, match="is a context value of REQUEST scopes"):
        container.scope(Scope.SESSION, context={Request: request})
    with pytest.raises(RegistrationError, match="the context value given for Request is a Clock"):
        container.scope(context={Request: Clock()})
    with pytest.raises(MissingProviderError, match="not a declared context value"):
        container.scope(context={Clock: Clock()})


def test_module_registration_checks_like_the_container() -> None:
    """A Module applies the same checks at its own register call."""
    module = Module()
    assert "a string is not a key" in str(_raises(lambda: module.register("Clock")))
    assert "is not a subclass of Base" in str(_raises(lambda: module.register(Base, Clock)))
    module.register(Clock)
    assert "already registered" in str(_raises(lambda: module.register(Clock)))
    assert "autouse=True needs a lifetime" in str(_raises(lambda: module.register(Database, autouse=True)))


def test_registration_errors_are_di_errors_and_value_errors() -> None:
    """Callers can catch a rejected registration as DIError or as ValueError."""
    error = _raises(lambda: Container().register("Clock"))
    assert isinstance(error, DIError)
    assert isinstance(error, ValueError)


def test_the_not_given_sentinel_reads_as_missing_in_signatures() -> None:
    """help(Container.register) shows ``= MISSING`` where an argument was not given, not an enum member."""
    for register in (Container.register, Module.register, Container.override):
        signature = inspect.signature(register)
        assert repr(signature.parameters["implementation"].default) == "MISSING"
        assert "instance: 'Any' = MISSING" in str(signature)
