"""``Registry``: keys to providers, with duplicates refused and a moment it freezes."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._keys import describe
from ._make_provider import caller
from ._providers import Provider
from .exceptions import RegistrationError

__all__ = ["Registry"]


class Registry:
    """Keys to providers. Not thread-safe for registration (registration happens at startup)."""

    __slots__ = ("_serial", "frozen", "frozen_at", "multi", "single")

    def __init__(self) -> None:
        self.single: dict[Any, Provider] = {}
        self.multi: dict[Any, list[Provider]] = {}
        self.frozen = False
        self.frozen_at = ""
        self._serial = 0

    def check_open(self, what: str, key: Any = None) -> None:
        if self.frozen:
            raise RegistrationError(
                f"cannot {what}: the container is frozen (its first resolution or validate() was {self.frozen_at})",
                key=key,
                hint=f"register every provider, and call every integration's setup(), before {self.frozen_at}; "
                "to replace a provider in tests, use `with container.override(Key, ...)`, which works "
                "before and after the first resolution",
            )

    def add(self, provider: Provider, *, override: bool) -> Provider:
        self.check_open(f"register {describe(provider.key)}", provider.key)
        key = provider.key
        self._serial += 1
        provider = dataclasses.replace(provider, serial=self._serial)
        if provider.multi:
            if key in self.single:
                raise _duplicate(key, self.single[key], provider, "without multi=True", "with multi=True")
            if override:
                raise RegistrationError(
                    f"override=True does not apply to the multi=True provider {provider.describe()}",
                    key=key,
                    hint="multi=True registrations add to the list of "
                    f"{describe(key)}; use container.override(...) to replace one in tests",
                )
            self.multi.setdefault(key, []).append(provider)
            return provider
        if key in self.multi:
            raise _duplicate(key, self.multi[key][0], provider, "with multi=True", "without multi=True")
        if key in self.single and not override:
            raise _duplicate(key, self.single[key], provider, "", "")
        self.single[key] = provider
        return provider

    def all(self) -> list[Provider]:
        providers = [*self.single.values()]
        for group in self.multi.values():
            providers.extend(group)
        providers.sort(key=lambda p: p.serial)
        return providers

    def frozen_copy(self) -> Registry:
        """A frozen copy whose providers an override layer replaces."""
        copy = Registry()
        copy.single = dict(self.single)
        copy.multi = {key: list(group) for key, group in self.multi.items()}
        copy.frozen = True
        copy.frozen_at = self.frozen_at
        return copy

    def freeze(self, reason: str) -> None:
        """Refuse registrations from now on; called once, by the container, before it builds its graph."""
        self.frozen = True
        self.frozen_at = f"{reason} at {caller()}"


def _duplicate(key: Any, old: Provider, new: Provider, old_how: str, new_how: str) -> RegistrationError:
    if old_how:
        return RegistrationError(
            f"{describe(key)} is registered {old_how} ({old.describe()}, at {old.source}) "
            f"and again {new_how} ({new.describe()}, at {new.source})",
            key=key,
            hint="register a key either as a collection (multi=True, consumed as list[T]) or as one provider",
        )
    return RegistrationError(
        f"{describe(key)} is already registered ({old.describe()}, at {old.source}); "
        f"registering {new.describe()} at {new.source} would replace it",
        key=key,
        hint="pass override=True to replace it on purpose, or register it under a name: name='...'",
    )
