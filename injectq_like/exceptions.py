"""Every error injectq_like raises.

The hierarchy::

    DIError
    ├── RegistrationError (ValueError)      bad input to register(), include(), ...
    ├── MissingProviderError (LookupError)  nothing provides the key asked for
    ├── CircularDependencyError (RuntimeError)
    ├── ScopeError (RuntimeError)           a longer-lived instance needs a shorter-lived one
    │   └── NoActiveScopeError              no open scope of the level a provider needs
    ├── AsyncProviderError (RuntimeError)   something async where no event loop runs
    ├── AnnotationError (TypeError)         an annotation that cannot be read or used
    └── InvalidContainerError (ValueError)  validate() found problems; ``errors`` lists them

Each error keeps structured fields (the key, the resolution path, ...) and
builds its message from them in ``__str__``: what went wrong, the chain of
requesters, and a hint that says how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._keys import describe, describe_path

__all__ = [
    "AnnotationError",
    "AsyncProviderError",
    "CircularDependencyError",
    "DIError",
    "InvalidContainerError",
    "MissingProviderError",
    "NoActiveScopeError",
    "RegistrationError",
    "ScopeError",
]


class DIError(Exception):
    """The root of every injectq_like error.

    ``key`` is the type the error is about (``None`` where there is none),
    ``path`` the chain of keys from the one asked for down to ``key``.
    """

    key: Any
    path: tuple[Any, ...]
    hint: str

    def __init__(self, message: str = "", *, key: Any = None, path: Sequence[Any] = (), hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.path = tuple(path)
        self.hint = hint

    def _headline(self) -> str:
        return self.message

    def __str__(self) -> str:
        lines = [self._headline()]
        if len(self.path) > 1:
            lines.append(f"  resolution path: {describe_path(self.path)}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._headline()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields survive pickling (pytest-xdist, multiprocessing).
        return (_rebuild, (type(self), self.__dict__.copy()))

    def with_path(self, path: Sequence[Any]) -> DIError:
        """Set the resolution path if the error does not know a longer one yet."""
        if len(path) > len(self.path):
            self.path = tuple(path)
        return self


def _rebuild(cls: type[DIError], state: dict[str, Any]) -> DIError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class RegistrationError(DIError, ValueError):
    """A registration was rejected: its input is wrong, or the registry is frozen."""


class MissingProviderError(DIError, LookupError):
    """Nothing provides ``key``.

    ``requested_by`` is the key whose provider needs it (``None`` when it was
    asked for directly); ``context`` is true when ``key`` is a context value
    that the open scopes were not given.
    """

    def __init__(
        self,
        key: Any,
        *,
        path: Sequence[Any] = (),
        hint: str = "",
        context: bool = False,
        message: str = "",
    ) -> None:
        super().__init__(message, key=key, path=path, hint=hint)
        self.context = context

    @property
    def requested_by(self) -> Any:
        return self.path[-2] if len(self.path) > 1 else None

    def _headline(self) -> str:
        if self.message:
            return self.message
        if self.context:
            return f"no value for context {describe(self.key)}: no open scope was given it"
        if self.requested_by is not None:
            return f"no provider for {describe(self.key)}, which {describe(self.requested_by)} needs"
        return f"no provider for {describe(self.key)}"


class CircularDependencyError(DIError, RuntimeError):
    """The providers in ``cycle`` depend on each other in a circle."""

    def __init__(self, cycle: Sequence[Any], *, path: Sequence[Any] = (), hint: str = "") -> None:
        cycle = tuple(cycle)
        super().__init__(
            "",
            key=cycle[0],
            path=path or cycle,
            hint=hint or "break the cycle: depend on Lazy[T] for one edge, or move the shared part into its own type",
        )
        self.cycle = cycle

    def _headline(self) -> str:
        return f"circular dependency: {describe_path(self.cycle)}"

    def __str__(self) -> str:
        lines = [self._headline()]
        if self.path != self.cycle and len(self.path) > 1:
            lines.append(f"  resolution path: {describe_path(self.path)}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class ScopeError(DIError, RuntimeError):
    """A lifetime rule is broken.

    For a dependency that lives shorter than its dependent, ``dependent`` and
    ``dependency`` are the two keys and ``dependent_scope`` /
    ``dependency_scope`` their lifetimes.
    """

    def __init__(
        self,
        message: str = "",
        *,
        key: Any = None,
        path: Sequence[Any] = (),
        hint: str = "",
        dependent: Any = None,
        dependent_scope: Any = None,
        dependency: Any = None,
        dependency_scope: Any = None,
    ) -> None:
        super().__init__(message, key=key if key is not None else dependency, path=path, hint=hint)
        self.dependent = dependent
        self.dependent_scope = dependent_scope
        self.dependency = dependency
        self.dependency_scope = dependency_scope

    def _headline(self) -> str:
        if self.message or self.dependent_scope is None or self.dependency_scope is None:
            return self.message
        return (
            f"{describe(self.dependent)} ({self.dependent_scope.name}) depends on "
            f"{describe(self.dependency)} ({self.dependency_scope.name}), which lives shorter"
        )


class NoActiveScopeError(ScopeError):
    """A provider of ``scope`` level was needed with no scope of that level open."""

    def __init__(self, key: Any, scope: Any, *, path: Sequence[Any] = (), hint: str = "", message: str = "") -> None:
        level = scope.name
        super().__init__(
            message or f"{describe(key)} has {level} lifetime, but no {level} scope is open",
            key=key,
            path=path,
            hint=hint
            or (
                "open one around the code that needs it: "
                + (
                    "`async with container.scope(Scope.SESSION) as session:`"
                    if level == "SESSION"
                    else "`async with container.scope() as scope:`"
                )
            ),
        )
        self.scope = scope


class AsyncProviderError(DIError, RuntimeError):
    """Something async was needed where no event loop runs: ``resolve_sync`` reached the async
    provider ``provider`` of ``key``, or a scope entered with ``with`` was asked to hold an
    instance (or callback) whose cleanup is async.
    """

    def __init__(
        self,
        key: Any,
        provider: str,
        *,
        path: Sequence[Any] = (),
        hint: str = "",
        message: str = "",
    ) -> None:
        super().__init__(
            message or f"{describe(key)} is provided by the {provider}, which resolve_sync cannot run",
            key=key,
            path=path,
            hint=hint
            or "use `await container.resolve(...)`; an APP or SESSION instance that already exists "
            "(created by an earlier await, or autouse=True) is served to resolve_sync too",
        )
        self.provider = provider


class AnnotationError(DIError, TypeError):
    """An annotation that injectq_like cannot evaluate or cannot use as a dependency.

    ``owner`` names the class or function, ``parameter`` the parameter.
    """

    def __init__(
        self,
        message: str,
        *,
        owner: str,
        parameter: str | None = None,
        key: Any = None,
        path: Sequence[Any] = (),
        hint: str = "",
    ) -> None:
        super().__init__(message, key=key, path=path, hint=hint)
        self.owner = owner
        self.parameter = parameter


class InvalidContainerError(DIError, ValueError):
    """``validate()`` found problems; ``errors`` holds each one as its own error."""

    def __init__(self, errors: Sequence[DIError]) -> None:
        super().__init__("")
        self.errors: tuple[DIError, ...] = tuple(errors)

    def _headline(self) -> str:
        count = len(self.errors)
        header = f"the container has {count} problem{'s' if count != 1 else ''}:"
        body = []
        for number, error in enumerate(self.errors, 1):
            text = str(error).replace("\n", "\n     ")
            body.append(f"  {number}. [{type(error).__name__}] {text}")
        return "\n".join([header, *body])
