"""``validate()``: the whole graph checked at once, every problem reported together."""

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest

from injectq_like import (
    AnnotationError,
    CircularDependencyError,
    Container,
    InvalidContainerError,
    Lazy,
    MissingProviderError,
    Named,
    RegistrationError,
    Scope,
    ScopeError,
)

# -- a layered application -------------------------------------------------------------


class Database:
    """The bottom layer."""


class UserRepo:
    """Needs a Database."""

    def __init__(self, database: Database) -> None:
        self.database = database


class UserService:
    """Needs a UserRepo."""

    def __init__(self, repo: UserRepo) -> None:
        self.repo = repo


# -- a cycle ----------------------------------------------------------------------------


class A:
    """A -> B."""

    def __init__(self, b: "B") -> None:
        self.b = b


class B:
    """B -> C."""

    def __init__(self, c: "C") -> None:
        self.c = c


class C:
    """C -> A, closing the cycle."""

    def __init__(self, a: A) -> None:
        self.a = a


class EntersCycle:
    """Depends on A, outside the cycle."""

    def __init__(self, a: A) -> None:
        self.a = a


class Myself:
    """Depends on itself."""

    def __init__(self, again: "Myself") -> None:
        self.again = again


class LazyA:
    """Like A, but its B edge goes to LazyB, which reaches back lazily."""

    def __init__(self, b: "LazyB") -> None:
        self.b = b


class LazyB:
    """Depends on LazyA through Lazy: no cycle."""

    def __init__(self, a: Lazy[LazyA]) -> None:
        self.a = a


# -- lifetimes ----------------------------------------------------------------------------


class RequestThing:
    """Registered with REQUEST lifetime."""


class SessionThing:
    """Registered with SESSION lifetime."""


class AppNeedsRequest:
    """APP -> REQUEST."""

    def __init__(self, thing: RequestThing) -> None:
        self.thing = thing


class Middle:
    """A TRANSIENT between an APP and a REQUEST provider."""

    def __init__(self, thing: RequestThing) -> None:
        self.thing = thing


class AppNeedsMiddle:
    """APP -> TRANSIENT -> REQUEST."""

    def __init__(self, middle: Middle) -> None:
        self.middle = middle


class SessionNeedsRequest:
    """SESSION -> REQUEST."""

    def __init__(self, thing: RequestThing) -> None:
        self.thing = thing


class AppNeedsSession:
    """APP -> SESSION."""

    def __init__(self, thing: SessionThing) -> None:
        self.thing = thing


class RequestNeedsApp:
    """REQUEST -> APP and REQUEST -> SESSION: both fine."""

    def __init__(self, database: Database, thing: SessionThing) -> None:
        self.database = database
        self.thing = thing


class Request:
    """A context value."""


class AppNeedsContext:
    """APP -> a REQUEST context value."""

    def __init__(self, request: Request) -> None:
        self.request = request


# -- annotations ----------------------------------------------------------------------------


class Unannotated:
    """A parameter without an annotation."""

    def __init__(self, value) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001 - the point
        self.value = value


class UnannotatedWithDefault:
    """A parameter without an annotation but with a default: not a dependency."""

    def __init__(self, value=3) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001 - the point
        self.value = value


class NeedsAny:
    """A parameter annotated Any."""

    def __init__(self, value: Any) -> None:
        self.value = value


class NeedsUnion:
    """A parameter annotated with a union of two types."""

    def __init__(self, value: Database | UserRepo) -> None:
        self.value = value


class NeedsUndefinedName:
    """A string annotation naming something that does not exist."""

    def __init__(self, value: "Nowhere") -> None:  # type: ignore[name-defined]  # noqa: F821 - the point
        self.value = value


class Optional:
    """Optional and defaulted dependencies on unregistered types."""

    def __init__(self, database: Database | None, repo: UserRepo = UserRepo(Database())) -> None:  # noqa: B008
        self.database = database
        self.repo = repo


class Plugin:
    """A collection element."""


class NeedsPlugins:
    """Depends on every Plugin."""

    def __init__(self, plugins: list[Plugin]) -> None:
        self.plugins = plugins


class NeedsNamed:
    """Depends on a named Database."""

    def __init__(self, database: Annotated[Database, Named("primary")]) -> None:
        self.database = database


def _problems(container: Container) -> InvalidContainerError:
    """Run validate(), which must fail, and return the error."""
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    return caught.value


def _layered(**scopes: Scope) -> Container:
    """UserService -> UserRepo -> Database, with Database missing."""
    container = Container()
    container.register(UserService, scope=scopes.get("service", Scope.TRANSIENT))
    container.register(UserRepo, scope=scopes.get("repo", Scope.TRANSIENT))
    return container


# -- a valid container ---------------------------------------------------------------------------


def test_valid_container_validates_silently() -> None:
    """A complete, acyclic, lifetime-respecting graph validates; validate() returns None."""
    container = _layered(service=Scope.REQUEST, repo=Scope.APP)
    container.register(Database, scope=Scope.APP)
    container.register(Optional)
    container.register(NeedsPlugins)
    container.register(UnannotatedWithDefault)
    container.register(RequestNeedsApp, scope=Scope.REQUEST)
    container.register(SessionThing, scope=Scope.SESSION)
    assert container.validate() is None  # type: ignore[func-returns-value]
    assert container.validate() is None  # type: ignore[func-returns-value]
    optional = container.resolve_sync(Optional)
    assert optional.database is not None
    assert type(optional.database) is Database
    assert container.resolve_sync(NeedsPlugins).plugins == []
    assert container.resolve_sync(UnannotatedWithDefault).value == 3


def test_empty_container_is_valid() -> None:
    """Nothing registered is nothing wrong."""
    Container().validate()


def test_optional_and_default_dependencies_are_not_missing() -> None:
    """``T | None`` gets None and a defaulted parameter its default when T is not registered."""
    container = Container()
    container.register(Optional)
    container.validate()
    optional = container.resolve_sync(Optional)
    assert optional.database is None
    assert type(optional.repo) is UserRepo


# -- missing providers ------------------------------------------------------------------------------


def test_missing_provider_has_the_resolution_path() -> None:
    """A missing Database under UserService -> UserRepo is reported with that path and a hint."""
    container = _layered()
    problems = _problems(container)
    assert len(problems.errors) == 1
    (error,) = problems.errors
    assert type(error) is MissingProviderError
    assert error.key is Database
    assert error.path == (UserService, UserRepo, Database)
    assert error.requested_by is UserRepo
    text = str(error)
    assert text.startswith("no provider for Database, which UserRepo needs")
    assert "UserService -> UserRepo -> Database" in text
    assert "hint: register it: container.register(Database)" in text
    assert "UserService -> UserRepo -> Database" in str(problems)


def test_missing_provider_is_reported_once() -> None:
    """Two providers reaching the same missing dependency through one edge: one problem."""
    container = _layered()
    container.register(Middle)
    problems = _problems(container)
    assert [(type(e), e.key) for e in problems.errors] == [
        (MissingProviderError, Database),
        (MissingProviderError, RequestThing),
    ]
    assert problems.errors[1].path == (Middle, RequestThing)


def test_missing_named_provider_hint() -> None:
    """A named dependency with only the unnamed key registered says which name to register."""
    container = Container()
    container.register(Database)
    container.register(NeedsNamed)
    (error,) = _problems(container).errors
    assert isinstance(error, MissingProviderError)
    assert error.key == Annotated[Database, Named("primary")]
    assert 'no provider for Database (named "primary"), which NeedsNamed needs' in str(error)
    assert "container.register(Database, name='primary')" in error.hint
    assert "it is registered without a name" in error.hint


def test_missing_provider_behind_lazy_is_still_missing() -> None:
    """Lazy[T] defers creation, not the check: a Lazy of an unregistered type is missing."""
    container = Container()
    container.register(LazyB)
    (error,) = _problems(container).errors
    assert isinstance(error, MissingProviderError)
    assert error.key is LazyA
    assert error.path == (LazyB, LazyA)


class NeedsMissing(Plugin):
    """A collection member whose dependency is not registered."""

    def __init__(self, database: Database) -> None:
        self.database = database


def test_collection_members_are_validated() -> None:
    """multi=True members are checked like any provider, including through a list[T] edge."""
    container = Container()
    container.register(Plugin, NeedsMissing, multi=True)
    (error,) = _problems(container).errors
    assert isinstance(error, MissingProviderError)
    assert error.path == (Plugin, Database)
    container = Container()
    container.register(Plugin, multi=True, scope=Scope.REQUEST)
    container.register(NeedsPlugins, scope=Scope.APP)
    (error,) = _problems(container).errors
    assert isinstance(error, ScopeError)
    assert (error.dependent, error.dependency) == (NeedsPlugins, Plugin)
    assert error.path == (NeedsPlugins, Plugin)


# -- cycles -------------------------------------------------------------------------------------------


def test_cycle_is_named_in_order() -> None:
    """A -> B -> C -> A is one CircularDependencyError naming the cycle, with a hint."""
    container = Container()
    container.register(A)
    container.register(B)
    container.register(C)
    (error,) = _problems(container).errors
    assert isinstance(error, CircularDependencyError)
    assert error.cycle == (A, B, C, A)
    assert error.key is A
    text = str(error)
    assert text.startswith("circular dependency: A -> B -> C -> A")
    assert "hint: break the cycle: depend on Lazy[T]" in text


def test_cycle_found_from_another_member_is_a_rotation() -> None:
    """Registered B first, the same cycle is reported starting at B."""
    container = Container()
    container.register(B)
    container.register(C)
    container.register(A)
    (error,) = _problems(container).errors
    assert isinstance(error, CircularDependencyError)
    assert error.cycle == (B, C, A, B)


def test_cycle_reached_from_outside_keeps_the_path() -> None:
    """A cycle reached from EntersCycle names the cycle and the path that led to it."""
    container = Container()
    container.register(EntersCycle)
    container.register(A)
    container.register(B)
    container.register(C)
    (error,) = _problems(container).errors
    assert isinstance(error, CircularDependencyError)
    assert error.cycle == (A, B, C, A)
    assert error.path == (EntersCycle, A, B, C, A)
    assert "resolution path: EntersCycle -> A -> B -> C -> A" in str(error)


def test_self_dependency_is_a_cycle() -> None:
    """A class depending on itself is the cycle ``Myself -> Myself``."""
    container = Container()
    container.register(Myself)
    (error,) = _problems(container).errors
    assert isinstance(error, CircularDependencyError)
    assert error.cycle == (Myself, Myself)
    assert "circular dependency: Myself -> Myself" in str(error)


def test_cycle_through_factories() -> None:
    """Factory parameters are edges too."""

    def make_a(c: C) -> A:
        """A from a C."""
        return A(B(c))

    container = Container()
    container.register(factory=make_a)
    container.register(C)
    (error,) = _problems(container).errors
    assert isinstance(error, CircularDependencyError)
    assert error.cycle == (A, C, A)
    assert "circular dependency: A -> C -> A" in str(error)


@pytest.mark.anyio
async def test_lazy_edge_does_not_close_a_cycle() -> None:
    """LazyA -> LazyB -> Lazy[LazyA] validates, and the handle resolves to the APP instance."""
    container = Container()
    container.register(LazyA, scope=Scope.APP)
    container.register(LazyB, scope=Scope.APP)
    container.validate()
    first = await container.resolve(LazyA)
    assert type(first.b.a) is Lazy
    assert not first.b.a.resolved
    assert await first.b.a() is first
    assert first.b.a.resolved


def test_cycle_resolution_raises_the_cycle_error() -> None:
    """Resolving into a cycle raises CircularDependencyError rather than recursing."""
    container = Container()
    container.register(A)
    container.register(B)
    container.register(C)
    with pytest.raises(CircularDependencyError) as caught:
        container.resolve_sync(B)
    assert set(caught.value.cycle) == {A, B, C}
    assert len(caught.value.cycle) == 4


# -- lifetimes --------------------------------------------------------------------------------------


def test_app_depending_on_request_is_a_scope_error() -> None:
    """APP -> REQUEST: both keys and lifetimes are on the error, and the message says them."""
    container = Container()
    container.register(AppNeedsRequest, scope=Scope.APP)
    container.register(RequestThing, scope=Scope.REQUEST)
    (error,) = _problems(container).errors
    assert type(error) is ScopeError
    assert (error.dependent, error.dependent_scope) == (AppNeedsRequest, Scope.APP)
    assert (error.dependency, error.dependency_scope) == (RequestThing, Scope.REQUEST)
    assert error.key is RequestThing
    assert error.path == (AppNeedsRequest, RequestThing)
    text = str(error)
    assert text.startswith("AppNeedsRequest (APP) depends on RequestThing (REQUEST), which lives shorter")
    assert "hint: give AppNeedsRequest a lifetime no longer than REQUEST" in text


def test_app_through_transient_to_request_is_a_scope_error() -> None:
    """APP -> TRANSIENT -> REQUEST: the transient takes its dependency's lifetime."""
    container = Container()
    container.register(AppNeedsMiddle, scope=Scope.APP)
    container.register(Middle)
    container.register(RequestThing, scope=Scope.REQUEST)
    (error,) = _problems(container).errors
    assert type(error) is ScopeError
    assert (error.dependent, error.dependent_scope) == (AppNeedsMiddle, Scope.APP)
    assert (error.dependency, error.dependency_scope) == (RequestThing, Scope.REQUEST)
    assert error.path == (AppNeedsMiddle, Middle, RequestThing)
    text = str(error)
    assert "AppNeedsMiddle (APP) depends on RequestThing (REQUEST) through Middle" in text
    assert "AppNeedsMiddle -> Middle -> RequestThing" in text


@pytest.mark.parametrize(
    ("dependent", "dependent_scope", "dependency", "dependency_scope"),
    [
        pytest.param(SessionNeedsRequest, Scope.SESSION, RequestThing, Scope.REQUEST, id="session-request"),
        pytest.param(AppNeedsSession, Scope.APP, SessionThing, Scope.SESSION, id="app-session"),
    ],
)
def test_longer_lived_depending_on_shorter_lived(
    dependent: type, dependent_scope: Scope, dependency: type, dependency_scope: Scope
) -> None:
    """Every longer -> shorter edge is a ScopeError, not only APP -> REQUEST."""
    container = Container()
    container.register(dependent, scope=dependent_scope)
    container.register(dependency, scope=dependency_scope)
    (error,) = _problems(container).errors
    assert isinstance(error, ScopeError)
    assert (error.dependent, error.dependent_scope) == (dependent, dependent_scope)
    assert (error.dependency, error.dependency_scope) == (dependency, dependency_scope)


@pytest.mark.parametrize("scope", [Scope.APP, Scope.SESSION], ids=["APP", "SESSION"])
def test_longer_lived_depending_on_a_request_context_value(scope: Scope) -> None:
    """A context value of REQUEST scopes cannot be kept by an APP or SESSION instance."""
    container = Container()
    container.register(AppNeedsContext, scope=scope)
    container.register_context(Request)
    (error,) = _problems(container).errors
    assert isinstance(error, ScopeError)
    assert (error.dependent, error.dependent_scope) == (AppNeedsContext, scope)
    assert (error.dependency, error.dependency_scope) == (Request, Scope.REQUEST)


def test_shorter_lived_depending_on_longer_lived_is_fine() -> None:
    """REQUEST -> APP, REQUEST -> SESSION, TRANSIENT -> REQUEST and REQUEST -> TRANSIENT -> REQUEST are valid."""
    container = Container()
    container.register(RequestNeedsApp, scope=Scope.REQUEST)
    container.register(Database, scope=Scope.APP)
    container.register(SessionThing, scope=Scope.SESSION)
    container.register(Middle)
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(AppNeedsMiddle, scope=Scope.REQUEST)
    container.validate()


# -- annotations ---------------------------------------------------------------------------------------


@pytest.fixture
def type_checking_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module with ``from __future__ import annotations`` whose dependency is imported only for type checking."""
    name = f"checked_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from decimal import Decimal


            class Priced:
                def __init__(self, price: Decimal) -> None:
                    self.price = price


            class Cart:
                def __init__(self, priced: Priced) -> None:
                    self.priced = priced
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    yield sys.modules[name]
    sys.modules.pop(name, None)


def test_type_checking_only_import_is_an_annotation_error(type_checking_module: ModuleType) -> None:
    """A name imported only under TYPE_CHECKING cannot be read at runtime: AnnotationError saying so."""
    container = Container()
    container.register(type_checking_module.Cart)
    container.register(type_checking_module.Priced)
    (error,) = _problems(container).errors
    assert type(error) is AnnotationError
    assert error.owner == "Priced.__init__"
    assert error.parameter == "price"
    assert error.path == (type_checking_module.Cart, type_checking_module.Priced)
    text = str(error)
    assert "cannot evaluate the annotation of parameter 'price' of Priced.__init__" in text
    assert "name 'Decimal' is not defined at runtime" in text
    assert "Cart -> Priced" in text
    assert "`if TYPE_CHECKING:`" in error.hint
    with pytest.raises(AnnotationError, match="'Decimal' is not defined at runtime"):
        container.resolve_sync(type_checking_module.Priced)


def test_future_annotations_with_runtime_imports_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``from __future__ import annotations`` is fine when the names exist at runtime."""
    name = f"future_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from decimal import Decimal


            class Priced:
                def __init__(self, price: Decimal) -> None:
                    self.price = price


            def make_priced(price: Decimal) -> Priced:
                return Priced(price)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    module = sys.modules[name]
    try:
        from decimal import Decimal

        container = Container()
        container.register(Decimal, instance=Decimal("1.5"))
        container.register(factory=module.make_priced)
        container.validate()
        assert container.resolve_sync(module.Priced).price == Decimal("1.5")
    finally:
        sys.modules.pop(name, None)


def test_type_checking_only_import_in_a_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A factory's TYPE_CHECKING-only parameter is reported by validate(), with the hint as a field.

    Registration reads only the return annotation (it names the provided type);
    parameters are read with the rest of the graph, as for classes.
    """
    name = f"factory_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from __future__ import annotations

            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from fractions import Fraction


            class Priced:
                pass


            def make_priced(price: Fraction) -> Priced:
                return Priced()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    module = sys.modules[name]
    try:
        container = Container()
        container.register(factory=module.make_priced)
        with pytest.raises(InvalidContainerError) as caught:
            container.validate()
        (error,) = caught.value.errors
        assert isinstance(error, AnnotationError)
        assert error.parameter == "price"
        assert "parameter 'price' of make_priced" in str(error)
        assert "name 'Fraction' is not defined at runtime" in str(error)
        assert "TYPE_CHECKING" in error.hint
        assert str(error).count("hint:") == 1
    finally:
        sys.modules.pop(name, None)


def test_parameter_without_annotation_is_an_annotation_error() -> None:
    """An unannotated parameter without a default cannot be injected."""
    container = Container()
    container.register(Unannotated)
    (error,) = _problems(container).errors
    assert type(error) is AnnotationError
    assert (error.owner, error.parameter) == ("Unannotated.__init__", "value")
    assert "parameter 'value' of Unannotated.__init__ has no annotation" in str(error)
    assert "hint: annotate it with the type to inject, or give it a default" in str(error)


def test_factory_parameter_without_annotation() -> None:
    """A factory's unannotated parameter is reported like a class's."""

    def make_database(dsn) -> Database:  # type: ignore[no-untyped-def]  # noqa: ANN001 - the point
        """A factory with an unannotated parameter."""
        return Database()

    container = Container()
    container.register(factory=make_database)
    (error,) = _problems(container).errors
    assert isinstance(error, AnnotationError)
    assert error.parameter == "dsn"
    assert "has no annotation" in str(error)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        pytest.param(NeedsAny, "parameter 'value' of NeedsAny.__init__ is annotated Any", id="Any"),
        pytest.param(NeedsUndefinedName, "name 'Nowhere' is not defined at runtime", id="undefined-name"),
    ],
)
def test_unusable_annotations(cls: type, message: str) -> None:
    """Any and an undefined name are AnnotationErrors."""
    container = Container()
    container.register(cls)
    (error,) = _problems(container).errors
    assert isinstance(error, AnnotationError)
    assert error.parameter == "value"
    assert message in str(error)
    assert error.hint


def test_a_union_dependency_is_a_key_satisfied_by_its_own_provider() -> None:
    """A parameter annotated with a union of two types depends on that union, a key like any type:
    missing until a provider of it is registered, then built from it.
    """
    container = Container()
    container.register(NeedsUnion)
    (error,) = _problems(container).errors
    assert isinstance(error, MissingProviderError)
    assert error.key == Database | UserRepo
    assert "no provider for Database | UserRepo, which NeedsUnion needs" in str(error)

    database = Database()
    fixed = Container()
    fixed.register(NeedsUnion)
    fixed.register(Database | UserRepo, factory=lambda: database)
    fixed.validate()
    assert fixed.resolve_sync(NeedsUnion).value is database


# -- everything together -----------------------------------------------------------------------------


def _broken() -> Container:
    """One container with one problem of each kind."""
    container = _layered()  # Database missing
    container.register(A)
    container.register(B)
    container.register(C)
    container.register(AppNeedsRequest, scope=Scope.APP)
    container.register(RequestThing, scope=Scope.REQUEST)
    container.register(AppNeedsMiddle, scope=Scope.APP)
    container.register(Middle)
    container.register(Unannotated)
    return container


def test_every_problem_is_reported_together() -> None:
    """One InvalidContainerError holds each problem as its own error, in registration order."""
    problems = _problems(_broken())
    assert [type(e) for e in problems.errors] == [
        MissingProviderError,
        CircularDependencyError,
        ScopeError,
        ScopeError,
        AnnotationError,
    ]
    missing, cycle, direct, through, annotation = problems.errors
    assert missing.path == (UserService, UserRepo, Database)
    assert isinstance(cycle, CircularDependencyError)
    assert cycle.cycle == (A, B, C, A)
    assert isinstance(direct, ScopeError)
    assert direct.path == (AppNeedsRequest, RequestThing)
    assert isinstance(through, ScopeError)
    assert through.path == (AppNeedsMiddle, Middle, RequestThing)
    assert isinstance(annotation, AnnotationError)
    assert annotation.parameter == "value"


def test_invalid_container_message_lists_every_problem() -> None:
    """The message counts the problems and numbers each, with its type and its own message."""
    problems = _problems(_broken())
    text = str(problems)
    lines = text.splitlines()
    assert lines[0] == "the container has 5 problems:"
    numbered = [line for line in lines if line[:5].strip().rstrip(".").isdigit()]
    assert numbered == [
        "  1. [MissingProviderError] no provider for Database, which UserRepo needs",
        "  2. [CircularDependencyError] circular dependency: A -> B -> C -> A",
        (
            "  3. [ScopeError] AppNeedsRequest (APP) depends on RequestThing (REQUEST), which lives shorter: "
            "the APP instance would keep a REQUEST one after its scope closed"
        ),
        (
            "  4. [ScopeError] AppNeedsMiddle (APP) depends on RequestThing (REQUEST) through Middle, which lives "
            "shorter: the APP instance would keep a REQUEST one after its scope closed"
        ),
        "  5. [AnnotationError] parameter 'value' of Unannotated.__init__ has no annotation",
    ]
    assert "       resolution path: UserService -> UserRepo -> Database" in lines
    assert text.count("hint:") == 5
    for error in problems.errors:
        assert str(error).replace("\n", "\n     ") in text


def test_single_problem_message_is_singular() -> None:
    """One problem is "1 problem"."""
    assert str(_problems(_layered())).splitlines()[0] == "the container has 1 problem:"


def test_validate_freezes_even_when_it_fails() -> None:
    """A failed validate() freezes the registry too; validating again reports the same problems."""
    container = _layered()
    first = _problems(container)
    with pytest.raises(RegistrationError, match="the container is frozen"):
        container.register(Database)
    second = _problems(container)
    assert [(type(e), e.key) for e in second.errors] == [(type(e), e.key) for e in first.errors]


def test_resolving_in_an_invalid_container_raises_the_problem_on_its_path() -> None:
    """Resolution of a broken key raises that key's problem; valid keys still resolve."""
    container = _layered()
    container.register(Plugin)
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(UserService)
    assert caught.value.path == (UserService, UserRepo, Database)
    assert type(container.resolve_sync(Plugin)) is Plugin
