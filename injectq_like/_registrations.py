"""The registration API that ``Module`` and ``Container`` share, and ``Module`` itself."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from ._keys import MISSING, describe, normalize
from ._make_provider import (
    caller,
    class_provider,
    context_provider,
    factory_provider,
    instance_provider,
    with_options,
)
from ._providers import Kind, Provider, Scope
from ._registry import Registry
from .exceptions import RegistrationError

__all__ = ["Module", "Registrations", "declare_context", "modules_in", "providers_of"]

F = TypeVar("F", bound=Callable[..., Any])


class _Decorator(Protocol):
    def __call__(self, function: F, /) -> F: ...


class Registrations:
    """The registration API shared by ``Container`` and ``Module``."""

    __slots__ = ()

    _registry: Registry

    def _add(self, provider: Provider, *, override: bool) -> None:
        self._registry.add(provider, override=override)

    def register(
        self,
        key: Any = MISSING,
        implementation: Any = MISSING,
        /,
        *,
        instance: Any = MISSING,
        factory: Callable[..., Any] | None = None,
        scope: Scope | None = None,
        name: str | None = None,
        multi: bool = False,
        autouse: bool = False,
        enter: bool = False,
        override: bool = False,
    ) -> None:
        """Register a provider for ``key``.

        * ``register(Clock)``: the class, autowired from its ``__init__``;
        * ``register(Repo, SqlRepo)``: an implementation of an interface;
        * ``register(Settings, instance=settings)``: a ready object (APP lifetime);
        * ``register(Db, factory=open_db)`` or ``register(factory=open_db)``: a
          function, coroutine function, generator or async generator; without a
          key, the provided type is the factory's return annotation.

        ``scope`` is the lifetime (``Scope.TRANSIENT`` by default), ``name``
        qualifies the key (consumed as ``Annotated[T, Named(name)]``),
        ``multi`` adds to the collection consumed as ``list[T]``, ``autouse``
        creates the instance whenever a scope of its level opens, ``enter``
        enters and exits the created object as a (async) context manager, and
        ``override`` replaces an earlier registration of the same key.
        """
        source = caller()
        if instance is not MISSING:
            provider = instance_provider(key, implementation, instance, factory, scope, name, source)
        elif factory is not None:
            provider = factory_provider(key, implementation, factory, scope, name, source)
        elif implementation is not MISSING:
            provider = class_provider(key, implementation, scope, name, source)
        elif key is not MISSING:
            provider = class_provider(key, key, scope, name, source)
        else:
            raise RegistrationError(
                "register() needs something to register",
                hint="register(Type), register(Interface, Implementation), register(Type, instance=obj) "
                "or register(factory=function)",
            )
        provider = with_options(provider, multi=multi, autouse=autouse, enter=enter)
        self._add(provider, override=override)

    @overload
    def provider(self, function: F, /) -> F: ...

    @overload
    def provider(
        self,
        function: None = None,
        /,
        *,
        key: Any = ...,
        scope: Scope | None = ...,
        name: str | None = ...,
        multi: bool = ...,
        autouse: bool = ...,
        enter: bool = ...,
        override: bool = ...,
    ) -> _Decorator: ...

    def provider(
        self,
        function: Callable[..., Any] | None = None,
        /,
        *,
        key: Any = MISSING,
        scope: Scope | None = None,
        name: str | None = None,
        multi: bool = False,
        autouse: bool = False,
        enter: bool = False,
        override: bool = False,
    ) -> Any:
        """Decorator form of ``register(factory=...)``; returns the function unchanged."""

        def decorate(function: F) -> F:
            self.register(
                key,
                factory=function,
                scope=scope,
                name=name,
                multi=multi,
                autouse=autouse,
                enter=enter,
                override=override,
            )
            return function

        if function is not None:
            return decorate(function)
        return decorate

    def register_context(
        self,
        key: Any,
        *,
        scope: Scope = Scope.REQUEST,
        name: str | None = None,
        override: bool = False,
    ) -> None:
        """Declare a value that scopes of ``scope`` level are given when they open.

        ``container.scope(context={Request: request})`` supplies it.
        """
        self._add(context_provider(key, scope, name, caller()), override=override)


class Module(Registrations):
    """A reusable group of registrations, with the same API as ``Container`` and no resolution.

    ``Container(module_a, module_b)`` or ``container.include(module)`` adds its
    providers to a container; a key registered by two modules is reported
    like any duplicate.
    """

    __slots__ = ("__weakref__", "_entries", "_parts", "_registry", "name")

    def __init__(self, *modules: Module, name: str | None = None) -> None:
        self._registry = Registry()
        self._entries: list[tuple[Provider, bool]] = []  # registered on this module itself
        self._parts: list[Module] = []  # included modules
        self.name = name
        for module in modules:
            self.include(module)

    def _add(self, provider: Provider, *, override: bool) -> None:
        self._registry.add(provider, override=override)
        self._entries.append((provider, override))

    def include(self, module: Module) -> None:
        """Include another module: a module reached twice (directly or through others) counts once."""
        if not isinstance(module, Module):
            raise RegistrationError(
                f"Module.include() takes a Module, not {module!r}",
                hint="to include the modules of a dotted path, use container.include('pkg.mod')",
            )
        if any(self is part for part in module.modules()):
            raise RegistrationError(
                f"{module!r} cannot be included in {self!r}: it is, or includes, that module",
                hint="modules form a tree: include each shared module from the modules that use it",
            )
        mine = self.modules()
        for part in module.modules():
            if any(part is seen for seen in mine):
                continue
            for provider, override in part._entries:
                self._registry.add(provider, override=override)  # duplicates are reported here already
        self._parts.append(module)

    def modules(self) -> list[Module]:
        """This module and every module it includes, each once, included ones first."""
        found: list[Module] = []
        for part in self._parts:
            for module in part.modules():
                if not any(module is seen for seen in found):
                    found.append(module)
        found.append(self)
        return found

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        count = sum(len(module._entries) for module in self.modules())
        return f"<Module{label} with {count} registrations>"


def modules_in(target: Module | str) -> list[Module]:
    """The modules ``include()`` adds for a ``Module`` or a dotted module path."""
    if isinstance(target, Module):
        return [target]
    if not isinstance(target, str):
        raise RegistrationError(
            f"include() takes a Module or a dotted module path, not {target!r}",
            hint='container.include(persistence) or container.include("myapp.providers")',
        )
    try:
        imported = importlib.import_module(target)
    except ImportError as error:
        raise RegistrationError(
            f"include({target!r}) cannot import {target!r}: {error}",
            hint="pass an importable dotted path, such as 'myapp.providers'",
        ) from error
    found: list[Module] = []
    for value in vars(imported).values():
        if isinstance(value, Module) and not any(value is m for m in found):
            found.append(value)
    if not found:
        raise RegistrationError(
            f"include({target!r}) found no Module defined at the top level of {target}",
            hint="define `module = Module()` there and register providers on it",
        )
    return found


def providers_of(module: Module) -> list[tuple[Provider, bool]]:
    """The registrations made on ``module`` itself, as (provider, override) pairs, in order."""
    return list(module._entries)


def declare_context(target: Registrations, key: Any, scope: Scope) -> bool:
    """``register_context(key, scope=scope)`` unless ``key`` is registered already (integrations).

    Returns whether scopes of ``scope`` level must be given a value for ``key``: true when it is
    declared now or was declared by the user as a context value of that level, false when the user
    registered a provider of their own for it (a factory, a class, an instance), which is then used.
    A context value of another level is a ``RegistrationError``.
    """
    registered = target._registry.single.get(normalize(key))
    if registered is None:
        target.register_context(key, scope=scope)
        return True
    if registered.kind is not Kind.CONTEXT:
        return False
    if registered.scope is not scope:
        name = describe(key)
        where = f" (at {registered.source})" if registered.source else ""
        raise RegistrationError(
            f"{name} is registered as a context value of {registered.scope.name} scopes{where}, but the "
            f"integration gives it to {scope.name} scopes",
            key=key,
            hint=f"declare it at the integration's level, register_context({name}, scope=Scope.{scope.name}), "
            "or leave it to setup(), which declares it; to provide it yourself, register a factory for it",
        )
    return True
