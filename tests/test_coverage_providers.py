"""The "not given" sentinel, as users see it in signatures."""

from __future__ import annotations

import inspect

from injectq_like import Container, Module


def test_the_not_given_sentinel_reads_as_missing_in_signatures() -> None:
    """help(Container.register) shows ``= MISSING`` where an argument was not given, not an enum member."""
    for register in (Container.register, Module.register, Container.override):
        signature = inspect.signature(register)
        assert repr(signature.parameters["implementation"].default) == "MISSING"
        assert "instance: 'Any' = MISSING" in str(signature)
