"""One module per library; each turns the scenarios of ``benchmarks.scenarios`` into operations.

An adapter module defines ``NAME`` (as shown in the table), ``DISTRIBUTION``
(the package whose version is reported) and, for each scenario it can
express, a function:

- ``s1() -> SyncOp`` and ``s2() -> SyncOp``;
- ``s3()``, ``s4()`` and ``s5()``: async context managers yielding the operation
  (``ScopeOps`` for S3, a zero-argument coroutine function for S4 and S5),
  entered inside the running event loop and exited when the scenario is done.

A scenario the library cannot express with its documented API raises
``Unsupported(reason)`` (or the function is missing and ``UNSUPPORTED`` gives
the reason); the table shows n/a with the reason as a footnote.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Module names under ``benchmarks.adapters``, in table order.
MODULES: tuple[str, ...] = (
    "handwritten",
    "injectq_like_",
    "aioinject_",
    "dependency_injector_",
    "dishka_",
    "diwire_",
    "injectq_",
    "lagom_",
    "rodi_",
    "svcs_",
    "that_depends_",
    "wireup_",
)

#: The library each module adapts, for the table when the module cannot be imported.
LIBRARIES: dict[str, str] = {
    "handwritten": "hand-written",
    "injectq_like_": "injectq_like",
    "aioinject_": "aioinject",
    "dependency_injector_": "dependency-injector",
    "dishka_": "dishka",
    "diwire_": "diwire",
    "injectq_": "injectq",
    "lagom_": "lagom",
    "rodi_": "rodi",
    "svcs_": "svcs",
    "that_depends_": "that-depends",
    "wireup_": "wireup",
}


def load(module: str) -> ModuleType:
    """Import one adapter; ImportError when its library is not installed."""
    return importlib.import_module(f"{__name__}.{module}")
