"""Error messages: a cycle error's lines."""

from __future__ import annotations

from injectq_like import CircularDependencyError


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
