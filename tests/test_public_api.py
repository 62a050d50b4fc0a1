"""The public API is exactly what the SPEC names (plus AnnotationError), sorted, with nothing private leaking."""

from __future__ import annotations

import importlib

import injectq_like

SPEC_NAMES = {
    "Container",
    "Module",
    "Scope",
    "AsyncRequestScope",
    "inject",
    "Inject",
    "Lazy",
    "Named",
    "DIError",
    "MissingProviderError",
    "CircularDependencyError",
    "ScopeError",
    "RegistrationError",
    "AsyncProviderError",
    "NoActiveScopeError",
    "InvalidContainerError",
}


def test_all_is_the_spec_api_and_sorted() -> None:
    """``injectq_like.__all__`` holds the SPEC's names and AnnotationError, in sorted order."""
    assert set(injectq_like.__all__) == SPEC_NAMES | {"AnnotationError"}
    assert list(injectq_like.__all__) == sorted(injectq_like.__all__)
    for name in injectq_like.__all__:
        assert getattr(injectq_like, name) is not None


def test_public_modules_declare_all() -> None:
    """Every public module declares ``__all__``, sorted, naming only what it defines or re-exports."""
    for name in ("injectq_like.exceptions", "injectq_like.testing", "injectq_like.integrations.starlette"):
        module = importlib.import_module(name)
        names = module.__all__
        assert list(names) == sorted(names), name
        for exported in names:
            assert hasattr(module, exported), f"{name}.{exported}"


def test_errors_are_exported_from_both_places() -> None:
    """The errors re-exported at the top are the classes of ``injectq_like.exceptions``."""
    from injectq_like import exceptions

    for name in exceptions.__all__:
        assert getattr(injectq_like, name) is getattr(exceptions, name)
