"""Modules: reusable groups of registrations, included by object or by dotted path."""

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from injectq_like import Container, MissingProviderError, Module, RegistrationError, Scope


class Clock:
    """A class with no dependencies."""


class Database:
    """Another class with no dependencies."""


class Service:
    """Needs a Clock and a Database."""

    def __init__(self, clock: Clock, database: Database) -> None:
        self.clock = clock
        self.database = database


class Plugin:
    """The element type of a collection."""


class First(Plugin):
    """A plugin."""


class Second(Plugin):
    """Another plugin."""


class Third(Plugin):
    """A third plugin."""


class Request:
    """A context value."""


def _line() -> int:
    """The caller's line number."""
    return sys._getframe(1).f_lineno


WriteModule = Callable[..., str]


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteModule]:
    """Write Python source to an importable module with a unique name; returns its dotted path.

    ``package=True`` writes it as ``<package>.providers`` inside a new package.
    The modules are removed from ``sys.modules`` afterwards.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(source: str, *, package: bool = False) -> str:
        name = f"providers_{uuid.uuid4().hex}"
        text = textwrap.dedent(source)
        if package:
            directory = tmp_path / name
            directory.mkdir()
            (directory / "__init__.py").write_text("")
            (directory / "providers.py").write_text(text)
            written.extend([name, f"{name}.providers"])
            return f"{name}.providers"
        (tmp_path / f"{name}.py").write_text(text)
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


PROVIDERS = """
from injectq_like import Module, Scope


class Clock:
    pass


class Database:
    pass


class Unused:
    pass


class Service:
    def __init__(self, clock: Clock, database: Database) -> None:
        self.clock = clock
        self.database = database


clocks = Module(name="clocks")
clocks.register(Clock, scope=Scope.APP)

storage = Module(name="storage")
storage.register(Database)

services = Module(name="services")
services.register(Service)

alias = clocks  # the same Module under a second name: included once
nested = [Module()]  # not bound to a top-level name: not included
nested[0].register(Unused)
"""


def _modules() -> tuple[Module, Module, Module]:
    """Three modules that together provide Service."""
    clocks = Module(name="clocks")
    clocks.register(Clock, scope=Scope.APP)
    storage = Module(name="storage")
    storage.register(Database)
    services = Module(name="services")
    services.register(Service)
    return clocks, storage, services


def _keys(container: Container) -> list[Any]:
    """The keys registered in a container, in registration order."""
    return [provider.key for provider in container._registry.all()]


# -- including Module objects ---------------------------------------------------------


def test_container_built_from_modules() -> None:
    """``Container(a, b, c)`` has every module's providers, resolvable across modules."""
    clocks, storage, services = _modules()
    container = Container(clocks, storage, services)
    assert _keys(container) == [Clock, Database, Service]
    first = container.resolve_sync(Service)
    second = container.resolve_sync(Service)
    assert type(first.clock) is Clock
    assert first.clock is second.clock  # APP, from the clocks module
    assert first.database is not second.database  # TRANSIENT, from the storage module


def test_include_is_the_same_as_the_constructor() -> None:
    """``container.include(module)`` adds the module's providers after the container's own."""
    clocks, storage, services = _modules()
    container = Container()
    container.register(Plugin)
    container.include(clocks)
    container.include(storage)
    container.include(services)
    assert _keys(container) == [Plugin, Clock, Database, Service]
    assert type(container.resolve_sync(Service).database) is Database


def test_modules_keep_their_options() -> None:
    """Scopes, names, multi and the provider decorator survive inclusion."""
    module = Module()
    module.register(Plugin, First, multi=True)
    module.register(Plugin, Second, multi=True)
    module.register(Clock, name="wall", scope=Scope.APP)

    @module.provider(scope=Scope.APP)
    def database() -> Database:
        """A module-level factory."""
        return Database()

    assert database.__name__ == "database"
    container = Container(module)
    assert [type(p) for p in container.resolve_sync(list[Plugin])] == [First, Second]
    assert container.resolve_sync(Database) is container.resolve_sync(Database)
    with pytest.raises(MissingProviderError, match='Named\\("wall"\\)'):
        container.resolve_sync(Clock)


def test_collections_across_modules_keep_inclusion_order() -> None:
    """``multi=True`` providers from several modules form one list, in inclusion order."""
    one = Module()
    one.register(Plugin, Second, multi=True)
    two = Module()
    two.register(Plugin, First, multi=True)
    two.register(Plugin, Third, multi=True)
    container = Container(one)
    container.register(Plugin, Third, multi=True)
    container.include(two)
    assert [type(p) for p in container.resolve_sync(list[Plugin])] == [Second, Third, First, Third]


def test_including_the_same_module_twice_is_a_no_op() -> None:
    """A module included again (by constructor or include) adds nothing and raises nothing."""
    plugins = Module()
    plugins.register(Plugin, First, multi=True)
    plugins.register(Clock)
    container = Container(plugins, plugins)
    container.include(plugins)
    container.include(plugins)
    assert _keys(container) == [Plugin, Clock]
    assert [type(p) for p in container.resolve_sync(list[Plugin])] == [First]


@pytest.mark.parametrize("parts_first", [False, True], ids=["composite-first", "part-first"])
def test_module_included_directly_and_through_another_is_a_no_op(parts_first: bool) -> None:
    """A module reached twice, once on its own and once inside a composite module, is included once.

    The second time brings the very same registrations (same provider, same
    source line): they cannot be duplicates of themselves.
    """
    clocks = Module(name="clocks")
    clocks.register(Clock, scope=Scope.APP)
    application = Module(clocks, name="application")
    application.register(Database)
    modules = (clocks, application) if parts_first else (application, clocks)
    container = Container(*modules)
    assert sorted(key.__name__ for key in _keys(container)) == ["Clock", "Database"]
    container.include(clocks)
    container.include(application)
    assert len(_keys(container)) == 2


def test_diamond_of_modules_is_included_once() -> None:
    """Two modules that both include a shared module can be combined: the shared one counts once."""
    shared = Module(name="shared")
    shared.register(Clock)
    left = Module(shared, name="left")
    left.register(Database)
    right = Module(shared, name="right")
    right.register(Service)
    combined = Module(left, right)
    container = Container(combined)
    assert sorted(key.__name__ for key in _keys(container)) == ["Clock", "Database", "Service"]
    assert type(container.resolve_sync(Service).clock) is Clock
    assert len(_keys(Container(left, right))) == 3


def test_including_an_empty_module_adds_nothing() -> None:
    """An empty module is fine."""
    container = Container(Module())
    assert _keys(container) == []


def test_later_module_can_override_an_earlier_one() -> None:
    """A registration made with override=True in a module replaces the earlier module's."""
    base = Module()
    base.register(Clock)
    testing = Module()
    fake = Clock()
    testing.register(Clock, instance=fake, override=True)
    container = Container(base, testing)
    assert container.resolve_sync(Clock) is fake
    assert _keys(container) == [Clock]


def test_duplicates_across_modules_are_reported_with_both_sites() -> None:
    """A key registered by two modules is a duplicate, naming the two register calls."""
    one = Module()
    one.register(Clock)
    first = _line() - 1
    two = Module()
    two.register(Clock, scope=Scope.APP)
    second = _line() - 1
    with pytest.raises(RegistrationError) as caught:
        Container(one, two)
    message = str(caught.value)
    assert (
        f"Clock is already registered (class Clock, at test_modules.py:{first}); "
        f"registering class Clock at test_modules.py:{second} would replace it"
    ) in message
    assert "override=True" in caught.value.hint
    container = Container(one)
    with pytest.raises(RegistrationError, match="Clock is already registered"):
        container.include(two)


def test_duplicate_between_a_module_and_the_container() -> None:
    """The container's own registration and a module's collide like any duplicate."""
    module = Module()
    module.register(Clock)
    container = Container()
    container.register(Clock)
    with pytest.raises(RegistrationError, match="Clock is already registered"):
        container.include(module)


def test_multi_and_single_across_modules() -> None:
    """A module registering ``T`` with multi=True and another without it is a RegistrationError."""
    one = Module()
    one.register(Plugin, First, multi=True)
    two = Module()
    two.register(Plugin, Second)
    with pytest.raises(RegistrationError, match="Plugin is registered with multi=True"):
        Container(one, two)


def test_modules_reject_their_own_duplicates() -> None:
    """A module checks duplicates at its own register call."""
    module = Module()
    module.register(Clock)
    with pytest.raises(RegistrationError, match="Clock is already registered"):
        module.register(Clock)


def test_modules_combine_other_modules() -> None:
    """``Module(a, b)`` groups the registrations of a and b."""
    clocks, storage, services = _modules()
    combined = Module(clocks, storage, name="infrastructure")
    container = Container(combined, services)
    assert _keys(container) == [Clock, Database, Service]
    assert repr(combined) == "<Module 'infrastructure' with 2 registrations>"
    assert repr(Module()) == "<Module with 0 registrations>"


def test_modules_do_not_resolve() -> None:
    """A Module only registers: it has no resolve, resolve_sync or validate."""
    module = Module()
    for name in ("resolve", "resolve_sync", "validate", "scope"):
        assert not hasattr(module, name)


def test_include_after_freezing_is_rejected() -> None:
    """``include`` counts as registration: a frozen container refuses it."""
    container = Container()
    container.register(Database)
    container.resolve_sync(Database)
    module = Module()
    module.register(Clock)
    with pytest.raises(RegistrationError, match="the container is frozen"):
        container.include(module)
    with pytest.raises(MissingProviderError):
        container.resolve_sync(Clock)


@pytest.mark.anyio
async def test_module_context_values() -> None:
    """``register_context`` on a module declares the value for the container."""
    module = Module()
    module.register_context(Request)
    container = Container(module)
    request = Request()
    async with container.scope(context={Request: request}):
        assert await container.resolve(Request) is request


# -- including by dotted path ------------------------------------------------------------


def test_include_dotted_path_includes_every_top_level_module(write_module: WriteModule) -> None:
    """``include("pkg.mod")`` adds every Module bound at the top level, each once."""
    path = write_module(PROVIDERS)
    container = Container()
    container.include(path)
    imported = sys.modules[path]
    assert _keys(container) == [imported.Clock, imported.Database, imported.Service]
    service = container.resolve_sync(imported.Service)
    assert type(service.clock) is imported.Clock
    assert service.clock is container.resolve_sync(imported.Service).clock
    with pytest.raises(MissingProviderError):
        container.resolve_sync(imported.Unused)


def test_include_dotted_path_inside_a_package(write_module: WriteModule) -> None:
    """A dotted path into a package works like a top-level module."""
    path = write_module(PROVIDERS, package=True)
    assert "." in path
    container = Container()
    container.include(path)
    assert len(_keys(container)) == 3


def test_include_path_then_its_module_is_a_no_op(write_module: WriteModule) -> None:
    """The path and the Module objects it holds are the same modules: each is included once."""
    path = write_module(PROVIDERS)
    container = Container()
    container.include(path)
    container.include(path)
    imported = sys.modules[path]
    container.include(imported.clocks)
    container.include(imported.alias)
    assert len(_keys(container)) == 3


def test_include_module_then_its_path_is_a_no_op(write_module: WriteModule) -> None:
    """A Module included directly is skipped when its module's path is included."""
    path = write_module(PROVIDERS)
    __import__(path)
    imported = sys.modules[path]
    container = Container(imported.storage)
    container.include(path)
    assert _keys(container) == [imported.Database, imported.Clock, imported.Service]


def test_include_path_with_a_composite_module_and_its_part(write_module: WriteModule) -> None:
    """A module path binding both a composite Module and one of its parts includes each registration once."""
    path = write_module(
        """
        from injectq_like import Module

        class Clock:
            pass

        class Database:
            pass

        clocks = Module()
        clocks.register(Clock)
        application = Module(clocks)
        application.register(Database)
        """
    )
    container = Container()
    container.include(path)
    imported = sys.modules[path]
    assert sorted(key.__name__ for key in _keys(container)) == ["Clock", "Database"]
    assert type(container.resolve_sync(imported.Clock)) is imported.Clock


def test_include_path_sees_re_exported_modules(write_module: WriteModule) -> None:
    """A Module imported into the target module is bound at its top level, so it is included."""
    base = write_module(
        """
        from injectq_like import Module

        class Clock:
            pass

        clocks = Module()
        clocks.register(Clock)
        """
    )
    app = write_module(
        f"""
        from injectq_like import Module
        from {base} import clocks

        class Database:
            pass

        storage = Module()
        storage.register(Database)
        """
    )
    container = Container()
    container.include(app)
    assert _keys(container) == [sys.modules[base].Clock, sys.modules[app].Database]


def test_duplicates_between_path_modules_name_the_file(write_module: WriteModule) -> None:
    """Duplicates coming from an included path name that file's lines."""
    path = write_module(
        """
        from injectq_like import Module

        class Clock:
            pass

        one = Module()
        one.register(Clock)
        two = Module()
        two.register(Clock)
        """
    )
    with pytest.raises(RegistrationError) as caught:
        Container().include(path)
    assert (
        f"Clock is already registered (class Clock, at {path}.py:8); registering class Clock at {path}.py:10"
    ) in str(caught.value)


def test_include_path_without_modules_is_rejected(write_module: WriteModule) -> None:
    """A module defining no Module is a RegistrationError naming the path, with a hint."""
    path = write_module(
        """
        from injectq_like import Module

        class Clock:
            pass

        def make() -> Module:
            return Module()
        """
    )
    with pytest.raises(RegistrationError) as caught:
        Container().include(path)
    assert f"include({path!r}) found no Module defined at the top level of {path}" in str(caught.value)
    assert "module = Module()" in caught.value.hint
    with pytest.raises(RegistrationError, match="found no Module defined at the top level of json"):
        Container().include("json")


def test_include_unimportable_path_is_rejected() -> None:
    """A path that cannot be imported is a RegistrationError chained to the ImportError."""
    name = f"no_such_module_{uuid.uuid4().hex}"
    with pytest.raises(RegistrationError) as caught:
        Container().include(f"{name}.providers")
    message = str(caught.value)
    assert f"include('{name}.providers') cannot import '{name}.providers'" in message
    assert f"No module named '{name}'" in message
    assert "importable dotted path" in caught.value.hint
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_include_path_whose_import_fails_is_rejected(write_module: WriteModule) -> None:
    """A module that fails to import its own dependencies is reported the same way."""
    missing = f"missing_dependency_{uuid.uuid4().hex}"
    path = write_module(f"import {missing}\n")
    with pytest.raises(RegistrationError) as caught:
        Container().include(path)
    assert f"cannot import {path!r}" in str(caught.value)
    assert missing in str(caught.value)


@pytest.mark.parametrize("target", [42, None, Clock, Clock()])
def test_include_takes_a_module_or_a_path(target: Any) -> None:
    """Anything other than a Module or a string is a RegistrationError with a hint."""
    with pytest.raises(RegistrationError) as caught:
        Container().include(target)
    assert f"include() takes a Module or a dotted module path, not {target!r}" in str(caught.value)
    assert 'container.include("myapp.providers")' in caught.value.hint
    with pytest.raises(RegistrationError):
        Container(target)
