"""``injectq_like.testing``: the pytest plugin's fixtures, run in small pytest sessions of their own."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

#: Every inner session: no cache directory, no Hypothesis (its summary alone takes a second), warnings are errors.
ARGS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-W", "error")

CONTAINER_MODULE = """
    from collections.abc import Iterator

    from injectq_like import Container, Scope


    class Database:
        def __init__(self, name: str = "real") -> None:
            self.name = name


    class Session:
        pass


    closed: list[Session] = []


    def open_session() -> Iterator[Session]:
        session = Session()
        yield session
        closed.append(session)


    def make() -> Container:
        container = Container()
        container.register(Database, scope=Scope.APP)
        container.register(Session, factory=open_session, scope=Scope.REQUEST)
        return container


    container = make()
    not_a_container = 42
"""


def write_container_module(pytester: pytest.Pytester, *, ini_target: str | None = None) -> None:
    """Write an importable ``app_container`` module and, if given, point the ini option at it."""
    pytester.makepyfile(app_container=textwrap.dedent(CONTAINER_MODULE))
    pytester.syspathinsert()
    ini = "[pytest]\n"
    if ini_target is not None:
        ini += f"injectq_like_container = {ini_target}\n"
    pytester.makeini(ini)


def test_di_container_from_a_conftest_fixture(pytester: pytest.Pytester) -> None:
    """A `di_container` fixture in conftest.py is what the plugin's fixtures use, ahead of the ini option."""
    write_container_module(pytester, ini_target="app_container:container")
    pytester.makeconftest(
        """
        import pytest

        from app_container import Database
        from injectq_like import Container


        @pytest.fixture
        def di_container():
            container = Container()
            container.register(Database, instance=Database("conftest"))
            return container
        """
    )
    pytester.makepyfile(
        test_plugin_conftest="""
        import app_container
        from app_container import Database


        def test_uses_the_conftest_container(di_container):
            assert di_container is not app_container.container
            assert di_container.resolve_sync(Database).name == "conftest"


        def test_di_override_uses_it_too(di_container, di_override):
            fake = Database("fake")
            di_override(Database, instance=fake)
            assert di_container.resolve_sync(Database) is fake
            assert app_container.container.resolve_sync(Database).name == "real"
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=2)


def test_di_container_from_the_ini_option(pytester: pytest.Pytester) -> None:
    """`injectq_like_container = module:attribute` names a Container: the same object in every test."""
    write_container_module(pytester, ini_target="app_container:container")
    pytester.makepyfile(
        test_plugin_ini="""
        import app_container
        from app_container import Database


        def test_first(di_container):
            assert di_container is app_container.container
            assert di_container.resolve_sync(Database).name == "real"


        def test_second(di_container):
            assert di_container is app_container.container
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=2)


def test_di_container_from_a_factory_function(pytester: pytest.Pytester) -> None:
    """An ini target that is a function is called for each test: a fresh container every time."""
    write_container_module(pytester, ini_target="app_container:make")
    pytester.makepyfile(
        test_plugin_factory="""
        from injectq_like import Container

        seen = []


        def test_first(di_container):
            assert isinstance(di_container, Container)
            seen.append(di_container)


        def test_second(di_container):
            assert isinstance(di_container, Container)
            assert len(seen) == 1
            assert di_container is not seen[0]
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=2)


def test_missing_configuration_names_both_ways_to_give_the_container(pytester: pytest.Pytester) -> None:
    """Without a conftest fixture or ini option, di_container errors, naming both ways to give it."""
    write_container_module(pytester)
    pytester.makepyfile(
        test_plugin_missing="""
        def test_needs_container(di_container):
            pass


        def test_without_the_plugin():
            pass
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*di_container*injectq_like_container*"])
    result.stdout.no_fnmatch_line("*Traceback*")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("app_container", "*'app_container' is not of the form module:attribute*"),
        ("app_container:not_a_container", "*app_container:not_a_container is a int, not a Container*"),
    ],
)
def test_a_wrong_ini_target_is_reported(pytester: pytest.Pytester, target: str, message: str) -> None:
    """An ini target that is malformed or names something else is an error that says so."""
    write_container_module(pytester, ini_target=target)
    pytester.makepyfile(
        test_plugin_wrong="""
        def test_needs_container(di_container):
            pass
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


def test_di_scope_is_open_during_the_test_and_closed_after(pytester: pytest.Pytester) -> None:
    """di_scope is an open REQUEST scope, current in the test, closed with its cleanups when the test ends."""
    write_container_module(pytester, ini_target="app_container:container")
    pytester.makepyfile(
        test_plugin_scope="""
        import pytest

        from app_container import Session, closed
        from injectq_like import Inject, Scope, inject

        scopes = []
        sessions = []


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @inject
        async def handler(session: Inject[Session]) -> Session:
            return session


        @pytest.mark.anyio
        async def test_scope_is_open(di_scope, di_container):
            scopes.append(di_scope)
            assert di_scope.level is Scope.REQUEST
            assert not di_scope.closed
            session = await di_scope.resolve(Session)
            sessions.append(session)
            assert await di_scope.resolve(Session) is session
            assert await di_container.resolve(Session) is session
            assert await handler() is session
            assert closed == []


        @pytest.mark.anyio
        async def test_next_test_gets_a_new_scope(di_scope):
            assert scopes[0].closed
            assert closed == sessions
            assert di_scope is not scopes[0]
            assert await di_scope.resolve(Session) is not sessions[0]


        def test_after_both():
            assert len(closed) == 2
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=3)


def test_di_override_is_undone_after_each_test(pytester: pytest.Pytester) -> None:
    """di_override is active in its test and undone afterwards, also when the test fails."""
    write_container_module(pytester, ini_target="app_container:container")
    pytester.makepyfile(
        test_plugin_override="""
        import pytest

        from app_container import Database


        class FakeDatabase(Database):
            def __init__(self) -> None:
                super().__init__("fake")


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        def test_instance_override(di_override, di_container):
            fake = FakeDatabase()
            di_override(Database, instance=fake)
            assert di_container.resolve_sync(Database) is fake


        def test_real_provider_again(di_container):
            assert di_container.resolve_sync(Database).name == "real"


        def test_failing_with_an_override(di_override, di_container):
            di_override(Database, FakeDatabase)
            assert di_container.resolve_sync(Database).name == "real"


        def test_real_after_the_failure(di_container):
            assert type(di_container.resolve_sync(Database)) is Database


        @pytest.mark.anyio
        async def test_local_override(di_override, di_container):
            fake = FakeDatabase()
            di_override(Database, instance=fake, local=True)
            assert await di_container.resolve(Database) is fake


        def test_real_after_the_local_override(di_container):
            assert di_container.resolve_sync(Database).name == "real"
            from injectq_like._container import runtime_of
            assert runtime_of(di_container).layers.local_count == 0
        """
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_plugin_override.py::test_failing_with_an_override*"])
    result.stdout.fnmatch_lines(["*assert 'fake' == 'real'*"])
