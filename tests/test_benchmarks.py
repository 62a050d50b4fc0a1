"""The side-by-side benchmarks' scenarios stay valid: each adapter passes the lifetime checks.

No timing here. injectq_like and the hand-written baselines run on every
backend; a peer (the ``bench`` extra) runs on asyncio when it is installed and
is skipped otherwise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from benchmarks import adapters, harness, report
from benchmarks.harness import Library, Outcome
from benchmarks.scenarios import SyncOp, build_graph, check_s2

OURS = ("handwritten", "injectq_like_")
PEERS = tuple(module for module in adapters.MODULES if module not in OURS)


def load_peer(module: str) -> ModuleType:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a peer's own deprecation warnings on import
            return adapters.load(module)
    except ImportError as error:
        pytest.skip(f"{adapters.LIBRARIES[module]} is not installed ({error})")


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.anyio
@pytest.mark.parametrize("module", OURS)
async def test_scenarios_hold_for_injectq_like_and_by_hand(module: str) -> None:
    adapter = adapters.load(module)
    for scenario in ("s1", "s2", "s3", "s4", "s5"):
        assert hasattr(adapter, scenario), f"{module} lacks {scenario}"
    await harness.check_all(adapter)


@pytest.mark.parametrize("module", PEERS)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_scenarios_hold_for_a_peer(module: str) -> None:
    adapter = load_peer(module)
    if module == "injectq_":  # injectq fails S4's lifetime checks: the table reports it
        with pytest.raises(AssertionError, match="S4"):
            anyio.run(harness.check_all, adapter)
        return
    anyio.run(harness.check_all, adapter)


def test_the_checks_catch_a_shared_transient() -> None:
    shared = build_graph()
    with pytest.raises(AssertionError, match="root is reused"):
        check_s2(SyncOp(lambda: shared))


def test_the_sync_timer_calls_the_operation() -> None:
    calls: list[int] = []
    timer = harness.sync_timer(SyncOp(calls.append, (1,)))
    assert timer(3) >= 0
    assert calls == [1, 1, 1]


def test_the_table_shows_ratios_and_explains_every_gap() -> None:
    libraries = [Library("handwritten", "hand-written", None, None), Library("x", "injectq_like", None, "1")]
    results = {
        "S1": {"hand-written": Outcome(seconds=20e-9), "injectq_like": Outcome(seconds=50e-9)},
        "S5": {"hand-written": Outcome(seconds=0.0101), "injectq_like": Outcome(reason="no async factories")},
    }
    text = report.table(libraries, results)
    assert "| **injectq_like** | 50 ns (2.50x) | n/a[^1] |" in text
    assert "[^1]: no async factories" in text
    assert "10.1 ms" in text
    results["S3"] = {
        "hand-written": Outcome(seconds=2e-6, garbage=0.0),
        "injectq_like": Outcome(seconds=3e-6, garbage=2),
    }
    assert "| injectq_like | 2 |" in report.garbage_table(libraries, results)


def test_every_adapter_module_is_listed() -> None:
    for module in adapters.MODULES:
        assert module in adapters.LIBRARIES
        assert importlib.util.find_spec(f"benchmarks.adapters.{module}") is not None


def test_the_frameworks_benchmark_runs_every_framework_and_checks_its_answers() -> None:
    """A smoke run, in a process of its own (Django's setup is per process): every web framework's two
    apps answer, clean up once per request, and get a row.
    """
    command = [sys.executable, "-m", "benchmarks.frameworks", "--requests", "20", "--rounds", "1"]
    ran = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr
    for label in ("Litestar", "aiohttp", "Starlette", "FastAPI", "Flask", "Django"):
        assert f"| {label} (" in ran.stdout
    assert "n/a" not in ran.stdout
