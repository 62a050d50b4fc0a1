"""The error hierarchy: types, structured fields, messages built from them, pickling,
and the errors raised while resolving."""

import pickle
from typing import Any

import pytest

import injectq_like
from injectq_like import (
    AnnotationError,
    AsyncProviderError,
    CircularDependencyError,
    Container,
    DIError,
    InvalidContainerError,
    MissingProviderError,
    NoActiveScopeError,
    RegistrationError,
    Scope,
    ScopeError,
)
from injectq_like import exceptions as exceptions_module


class Database:
    """The bottom of the graph."""


class UserRepo:
    """Needs a Database."""

    def __init__(self, database: Database) -> None:
        self.database = database


class UserService:
    """Needs a UserRepo."""

    def __init__(self, repo: UserRepo) -> None:
        self.repo = repo


class Unregistered:
    """Never registered: must never be constructed by the container."""

    constructed = 0

    def __init__(self) -> None:
        type(self).constructed += 1


class NeedsUnregistered:
    """Depends on Unregistered."""

    constructed = 0

    def __init__(self, dependency: Unregistered) -> None:
        type(self).constructed += 1
        self.dependency = dependency


class DatabaseDownError(Exception):
    """What a failing factory raises."""


class Exploding:
    """A class whose constructor fails."""

    def __init__(self, database: Database) -> None:
        raise DatabaseDownError(type(database).__name__)


class NeedsExploding:
    """Depends on Exploding."""

    def __init__(self, exploding: Exploding) -> None:
        self.exploding = exploding


# -- the hierarchy --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "bases"),
    [
        pytest.param(DIError, (Exception,), id="DIError"),
        pytest.param(RegistrationError, (DIError, ValueError), id="RegistrationError"),
        pytest.param(MissingProviderError, (DIError, LookupError), id="MissingProviderError"),
        pytest.param(CircularDependencyError, (DIError, RuntimeError), id="CircularDependencyError"),
        pytest.param(ScopeError, (DIError, RuntimeError), id="ScopeError"),
        pytest.param(NoActiveScopeError, (ScopeError, DIError, RuntimeError), id="NoActiveScopeError"),
        pytest.param(AsyncProviderError, (DIError, RuntimeError), id="AsyncProviderError"),
        pytest.param(AnnotationError, (DIError, TypeError), id="AnnotationError"),
        pytest.param(InvalidContainerError, (DIError, ValueError), id="InvalidContainerError"),
    ],
)
def test_hierarchy(error: type[DIError], bases: tuple[type[BaseException], ...]) -> None:
    """Each error is a DIError and also the matching builtin, as drawn in exceptions.py."""
    for base in bases:
        assert issubclass(error, base)


@pytest.mark.parametrize(
    ("error", "not_bases"),
    [
        pytest.param(MissingProviderError, (ValueError, RuntimeError, TypeError), id="MissingProviderError"),
        pytest.param(RegistrationError, (LookupError, RuntimeError, TypeError), id="RegistrationError"),
        pytest.param(ScopeError, (LookupError, ValueError), id="ScopeError"),
        pytest.param(AnnotationError, (ValueError, RuntimeError), id="AnnotationError"),
        pytest.param(InvalidContainerError, (LookupError, RuntimeError), id="InvalidContainerError"),
    ],
)
def test_hierarchy_is_not_too_broad(error: type[DIError], not_bases: tuple[type[BaseException], ...]) -> None:
    """An error inherits only the builtin that matches it."""
    for base in not_bases:
        assert not issubclass(error, base)


def test_no_active_scope_is_the_only_scope_error_subclass() -> None:
    """Catching ScopeError also catches NoActiveScopeError, and nothing else is below it."""
    public = [getattr(injectq_like, name) for name in injectq_like.__all__]
    below = [cls for cls in public if isinstance(cls, type) and issubclass(cls, ScopeError) and cls is not ScopeError]
    assert below == [NoActiveScopeError]


def test_every_public_error_is_exported_and_a_di_error() -> None:
    """Every exception in ``exceptions.__all__`` is public in the package and derives from DIError."""
    for name in exceptions_module.__all__:
        error = getattr(exceptions_module, name)
        assert getattr(injectq_like, name) is error
        assert name in injectq_like.__all__
        assert issubclass(error, DIError)
    errors = {name for name in injectq_like.__all__ if name.endswith("Error")}
    assert errors == set(exceptions_module.__all__)


def test_exceptions_docstring_draws_the_hierarchy() -> None:
    """The module docstring names every error, as the style guide asks."""
    doc = exceptions_module.__doc__ or ""
    for name in exceptions_module.__all__:
        assert name in doc


# -- fields and messages ---------------------------------------------------------------------


def test_di_error_fields_and_message() -> None:
    """A DIError keeps key, path and hint, and prints the path and the hint under its message."""
    error = DIError("something failed", key=Database, path=[UserService, UserRepo, Database], hint="do this")
    assert error.key is Database
    assert error.path == (UserService, UserRepo, Database)
    assert error.hint == "do this"
    assert str(error) == ("something failed\n  resolution path: UserService -> UserRepo -> Database\n  hint: do this")
    assert str(DIError("plain")) == "plain"
    assert (DIError("plain").key, DIError("plain").path, DIError("plain").hint) == (None, (), "")


def test_path_of_one_key_is_not_printed() -> None:
    """A path with only the key itself adds nothing to the message."""
    error = DIError("failed", key=Database, path=[Database])
    assert str(error) == "failed"


def test_message_is_built_from_the_fields() -> None:
    """Changing a field changes the message: nothing is frozen into it at construction."""
    error = MissingProviderError(Database, path=(UserRepo, Database), hint="register it")
    assert str(error).splitlines()[0] == "no provider for Database, which UserRepo needs"
    error.path = (UserService, UserRepo, Database)
    error.hint = "register Database"
    assert str(error) == (
        "no provider for Database, which UserRepo needs\n"
        "  resolution path: UserService -> UserRepo -> Database\n"
        "  hint: register Database"
    )
    error.key = UserRepo
    error.path = (UserRepo,)
    assert str(error) == "no provider for UserRepo\n  hint: register Database"


def test_missing_provider_fields() -> None:
    """key, path, requested_by, context and hint; the headline depends on them."""
    direct = MissingProviderError(Database)
    assert (direct.key, direct.path, direct.requested_by, direct.context) == (Database, (), None, False)
    assert str(direct) == "no provider for Database"
    nested = MissingProviderError(Database, path=(UserService, UserRepo, Database), hint="h")
    assert nested.requested_by is UserRepo
    context = MissingProviderError(Database, context=True)
    assert str(context) == "no value for context Database: no open scope was given it"
    custom = MissingProviderError(Database, message="custom", path=(UserRepo, Database))
    assert str(custom).splitlines() == ["custom", "  resolution path: UserRepo -> Database"]


def test_circular_dependency_fields() -> None:
    """cycle, key (its first member), path (the cycle when not given) and a default hint."""
    error = CircularDependencyError([UserService, UserRepo, UserService])
    assert error.cycle == (UserService, UserRepo, UserService)
    assert error.key is UserService
    assert error.path == error.cycle
    assert "Lazy[T]" in error.hint
    assert str(error) == (
        "circular dependency: UserService -> UserRepo -> UserService\n"
        "  hint: break the cycle: depend on Lazy[T] for one edge, or move the shared part into its own type"
    )
    reached = CircularDependencyError((UserRepo, UserRepo), path=(UserService, UserRepo, UserRepo), hint="h")
    assert str(reached) == (
        "circular dependency: UserRepo -> UserRepo\n  resolution path: UserService -> UserRepo -> UserRepo\n  hint: h"
    )


def test_scope_error_fields() -> None:
    """dependent, dependency and their lifetimes; key defaults to the dependency."""
    error = ScopeError(
        dependent=UserService,
        dependent_scope=Scope.APP,
        dependency=UserRepo,
        dependency_scope=Scope.REQUEST,
        path=(UserService, UserRepo),
        hint="shorten it",
    )
    assert error.key is UserRepo
    assert str(error) == (
        "UserService (APP) depends on UserRepo (REQUEST), which lives shorter\n"
        "  resolution path: UserService -> UserRepo\n"
        "  hint: shorten it"
    )
    plain = ScopeError("a scope can be entered only once", hint="open a new one")
    assert (plain.dependent, plain.dependency, plain.key) == (None, None, None)
    assert str(plain) == "a scope can be entered only once\n  hint: open a new one"


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(DIError(), id="DIError()"),
        pytest.param(RegistrationError(), id="RegistrationError()"),
        pytest.param(ScopeError(), id="ScopeError()"),
        pytest.param(ScopeError(dependent=UserService, dependency=UserRepo), id="ScopeError-without-scopes"),
        pytest.param(InvalidContainerError([]), id="InvalidContainerError([])"),
    ],
)
def test_str_never_raises(error: DIError) -> None:
    """Printing an error built with only some of its fields still works (a failing __str__ hides the error)."""
    assert isinstance(str(error), str)
    assert isinstance(repr(error), str)


def test_no_active_scope_fields() -> None:
    """The key, the missing level and a hint saying which scope to open."""
    request = NoActiveScopeError(UserRepo, Scope.REQUEST, path=(UserService, UserRepo))
    assert (request.key, request.scope) == (UserRepo, Scope.REQUEST)
    assert str(request).splitlines() == [
        "UserRepo has REQUEST lifetime, but no REQUEST scope is open",
        "  resolution path: UserService -> UserRepo",
        "  hint: open one around the code that needs it: `async with container.scope() as scope:`",
    ]
    session = NoActiveScopeError(UserRepo, Scope.SESSION)
    assert "container.scope(Scope.SESSION)" in session.hint


def test_async_provider_fields() -> None:
    """The key and the async provider's description, in the message."""
    error = AsyncProviderError(Database, "async factory open_db()", path=(UserRepo, Database))
    assert (error.key, error.provider) == (Database, "async factory open_db()")
    assert str(error).splitlines()[:2] == [
        "Database is provided by the async factory open_db(), which resolve_sync cannot run",
        "  resolution path: UserRepo -> Database",
    ]
    assert "await container.resolve" in error.hint


def test_annotation_error_fields() -> None:
    """owner and parameter name the place of the annotation."""
    error = AnnotationError("bad annotation", owner="UserRepo.__init__", parameter="database", hint="fix it")
    assert (error.owner, error.parameter, error.key) == ("UserRepo.__init__", "database", None)
    assert str(error) == "bad annotation\n  hint: fix it"


def test_invalid_container_fields() -> None:
    """errors is a tuple of the problems; the message numbers them."""
    problems = [MissingProviderError(Database, hint="register it"), CircularDependencyError((UserRepo, UserRepo))]
    error = InvalidContainerError(problems)
    assert error.errors == tuple(problems)
    assert (error.key, error.path, error.hint) == (None, (), "")
    lines = str(error).splitlines()
    assert lines[0] == "the container has 2 problems:"
    assert lines[1] == "  1. [MissingProviderError] no provider for Database"
    assert lines[2] == "       hint: register it"
    assert lines[3] == "  2. [CircularDependencyError] circular dependency: UserRepo -> UserRepo"
    assert str(InvalidContainerError([])).startswith("the container has 0 problems:")


def test_with_path_keeps_the_longest_path() -> None:
    """with_path sets the path only when the new one is longer, and returns the error."""
    error = MissingProviderError(Database, path=(UserRepo, Database))
    assert error.with_path((Database,)) is error
    assert error.path == (UserRepo, Database)
    longer = error.with_path([UserService, UserRepo, Database])
    assert longer.path == (UserService, UserRepo, Database)


# -- pickling ------------------------------------------------------------------------------------


def _round_trip(error: DIError) -> Any:
    """Pickle and unpickle an error (as pytest-xdist and multiprocessing do)."""
    return pickle.loads(pickle.dumps(error))  # noqa: S301 - our own data


ERRORS: list[Any] = [
    pytest.param(DIError("base", key=Database, path=(UserRepo, Database), hint="h"), id="DIError"),
    pytest.param(RegistrationError("bad", key=Database, hint="h"), id="RegistrationError"),
    pytest.param(
        MissingProviderError(Database, path=(UserService, UserRepo, Database), hint="h", context=True),
        id="MissingProviderError",
    ),
    pytest.param(CircularDependencyError((UserRepo, Database, UserRepo), path=(UserService, UserRepo)), id="Cycle"),
    pytest.param(
        ScopeError(
            dependent=UserRepo,
            dependent_scope=Scope.APP,
            dependency=Database,
            dependency_scope=Scope.REQUEST,
            path=(UserRepo, Database),
            hint="h",
        ),
        id="ScopeError",
    ),
    pytest.param(NoActiveScopeError(Database, Scope.SESSION, path=(UserRepo, Database)), id="NoActiveScopeError"),
    pytest.param(AsyncProviderError(Database, "async factory open_db()"), id="AsyncProviderError"),
    pytest.param(AnnotationError("bad", owner="UserRepo.__init__", parameter="database", hint="h"), id="Annotation"),
    pytest.param(
        InvalidContainerError([MissingProviderError(Database), CircularDependencyError((UserRepo, UserRepo))]),
        id="InvalidContainerError",
    ),
]


@pytest.mark.parametrize("error", ERRORS)
def test_pickling_keeps_type_fields_and_message(error: DIError) -> None:
    """A round trip through pickle keeps the type, every field and the message."""
    copy = _round_trip(error)
    assert type(copy) is type(error)
    assert copy is not error
    assert (copy.key, copy.path, copy.hint) == (error.key, error.path, error.hint)
    for field in ("cycle", "dependent", "dependent_scope", "dependency", "dependency_scope", "scope", "provider"):
        assert getattr(copy, field, None) == getattr(error, field, None)
    for field in ("owner", "parameter", "context", "message"):
        assert getattr(copy, field, None) == getattr(error, field, None)
    assert str(copy) == str(error)
    assert copy.args == error.args


def test_pickled_invalid_container_error_keeps_its_errors() -> None:
    """The nested errors survive the round trip with their own types and fields."""
    original = InvalidContainerError(
        [MissingProviderError(Database, path=(UserRepo, Database)), CircularDependencyError((UserRepo, UserRepo))]
    )
    copy = _round_trip(original)
    assert [type(e) for e in copy.errors] == [MissingProviderError, CircularDependencyError]
    assert copy.errors[0].path == (UserRepo, Database)
    assert copy.errors[1].cycle == (UserRepo, UserRepo)


def test_pickling_a_validation_error() -> None:
    """An error produced by validate() pickles too."""
    container = Container()
    container.register(UserService)
    container.register(UserRepo)
    with pytest.raises(InvalidContainerError) as caught:
        container.validate()
    copy = _round_trip(caught.value)
    assert str(copy) == str(caught.value)
    assert copy.errors[0].path == (UserService, UserRepo, Database)


# -- errors raised while resolving -------------------------------------------------------------------


def test_unregistered_class_is_missing_and_never_built() -> None:
    """Resolving an unregistered class is a MissingProviderError; its __init__ never runs."""
    Unregistered.constructed = 0
    container = Container()
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(Unregistered)
    assert caught.value.key is Unregistered
    assert caught.value.path == (Unregistered,)
    assert str(caught.value).startswith("no provider for Unregistered")
    assert "hint: register it: container.register(Unregistered)" in str(caught.value)
    assert Unregistered.constructed == 0


def test_unregistered_dependency_is_missing_with_its_path() -> None:
    """An unregistered dependency names who needs it; neither class is constructed."""
    Unregistered.constructed = 0
    NeedsUnregistered.constructed = 0
    container = Container()
    container.register(NeedsUnregistered)
    with pytest.raises(MissingProviderError) as caught:
        container.resolve_sync(NeedsUnregistered)
    assert caught.value.key is Unregistered
    assert caught.value.path == (NeedsUnregistered, Unregistered)
    assert caught.value.requested_by is NeedsUnregistered
    assert "no provider for Unregistered, which NeedsUnregistered needs" in str(caught.value)
    assert "NeedsUnregistered -> Unregistered" in str(caught.value)
    assert (Unregistered.constructed, NeedsUnregistered.constructed) == (0, 0)


@pytest.mark.anyio
async def test_unregistered_class_is_missing_with_await() -> None:
    """``await container.resolve`` behaves the same: error with path, nothing constructed."""
    Unregistered.constructed = 0
    NeedsUnregistered.constructed = 0
    container = Container()
    container.register(NeedsUnregistered)
    with pytest.raises(MissingProviderError) as caught:
        await container.resolve(NeedsUnregistered)
    assert caught.value.path == (NeedsUnregistered, Unregistered)
    with pytest.raises(MissingProviderError):
        await container.resolve(Unregistered)
    assert (Unregistered.constructed, NeedsUnregistered.constructed) == (0, 0)


def _failing_graph(failure: DatabaseDownError, *, asynchronous: bool, scope: Scope = Scope.TRANSIENT) -> Container:
    """UserService -> UserRepo -> Database, where Database's factory raises ``failure``."""
    container = Container()
    container.register(UserService, scope=scope)
    container.register(UserRepo, scope=scope)
    if asynchronous:

        async def open_database() -> Database:
            """An async factory that fails."""
            raise failure

        container.register(factory=open_database, scope=scope)
    else:

        def open_database_sync() -> Database:
            """A factory that fails."""
            raise failure

        container.register(factory=open_database_sync, scope=scope)
    return container


@pytest.mark.parametrize("scope", [Scope.TRANSIENT, Scope.APP], ids=["TRANSIENT", "APP"])
def test_factory_failure_propagates_unchanged_with_a_note(scope: Scope) -> None:
    """The factory's own exception comes out (same object, same type) with one note naming the path."""
    failure = DatabaseDownError("connection refused")
    container = _failing_graph(failure, asynchronous=False, scope=scope)
    with pytest.raises(DatabaseDownError) as caught:
        container.resolve_sync(UserService)
    assert caught.value is failure
    assert type(caught.value) is DatabaseDownError
    assert caught.value.args == ("connection refused",)
    assert caught.value.__notes__ == [
        "injectq_like: raised by factory open_database_sync() while resolving UserService -> UserRepo -> Database"
    ]


@pytest.mark.anyio
async def test_async_factory_failure_propagates_unchanged_with_a_note() -> None:
    """The same holds for an async factory under ``await container.resolve``."""
    failure = DatabaseDownError("connection refused")
    container = _failing_graph(failure, asynchronous=True)
    with pytest.raises(DatabaseDownError) as caught:
        await container.resolve(UserService)
    assert caught.value is failure
    assert caught.value.__notes__ == [
        "injectq_like: raised by async factory open_database() while resolving UserService -> UserRepo -> Database"
    ]


def test_each_failure_gets_its_own_single_note() -> None:
    """Resolving twice, each new exception gets exactly one note."""
    container = Container()
    container.register(NeedsExploding)
    container.register(Exploding)
    container.register(Database)
    notes = []
    for _ in range(2):
        with pytest.raises(DatabaseDownError) as caught:
            container.resolve_sync(NeedsExploding)
        notes.append(caught.value.__notes__)
    assert notes == [["injectq_like: raised by class Exploding while resolving NeedsExploding -> Exploding"]] * 2


def test_constructor_failure_is_not_wrapped() -> None:
    """A class whose __init__ raises propagates its exception, not a DIError."""
    container = Container()
    container.register(Exploding)
    container.register(Database)
    with pytest.raises(DatabaseDownError) as caught:
        container.resolve_sync(Exploding)
    assert not isinstance(caught.value, DIError)
    assert caught.value.args == ("Database",)
    assert caught.value.__notes__ == ["injectq_like: raised by class Exploding while resolving Exploding"]


def test_async_provider_error_names_the_provider_and_path() -> None:
    """resolve_sync reaching an async factory raises AsyncProviderError with the path to it."""

    async def open_database() -> Database:
        """An async factory."""
        return Database()

    container = Container()
    container.register(UserService)
    container.register(UserRepo)
    container.register(factory=open_database)
    with pytest.raises(AsyncProviderError) as caught:
        container.resolve_sync(UserService)
    error = caught.value
    assert error.key is Database
    assert error.provider == "async factory open_database()"
    assert error.path == (UserService, UserRepo, Database)
    assert "UserService -> UserRepo -> Database" in str(error)
    assert "hint: use `await container.resolve(...)`" in str(error)


def test_no_active_scope_error_when_resolving_request_outside_a_scope() -> None:
    """A REQUEST provider resolved with no scope open raises NoActiveScopeError with the path."""
    container = Container()
    container.register(UserService)
    container.register(UserRepo, scope=Scope.REQUEST)
    container.register(Database)
    with pytest.raises(NoActiveScopeError) as caught:
        container.resolve_sync(UserService)
    error = caught.value
    assert (error.key, error.scope) == (UserRepo, Scope.REQUEST)
    assert error.path == (UserService, UserRepo)
    assert "UserRepo has REQUEST lifetime, but no REQUEST scope is open" in str(error)
    assert "async with container.scope() as scope:" in error.hint


class Hen:
    pass


class Egg:
    pass


class Farm:
    pass


def test_a_cycle_error_prints_its_path_and_hint_only_when_they_say_something() -> None:
    """The path line appears when it differs from the cycle; the hint line disappears when the hint is cleared."""
    error = CircularDependencyError((Hen, Egg, Hen), path=(Farm, Hen, Egg, Hen))
    assert str(error).splitlines() == [
        "circular dependency: Hen -> Egg -> Hen",
        "  resolution path: Farm -> Hen -> Egg -> Hen",
        "  hint: break the cycle: depend on Lazy[T] for one edge, or move the shared part into its own type",
    ]
    bare = CircularDependencyError((Hen, Egg, Hen))
    bare.hint = ""
    assert str(bare) == "circular dependency: Hen -> Egg -> Hen"
