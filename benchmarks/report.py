"""The harness's outputs: a markdown table, a JSON file and a bar chart."""

from __future__ import annotations

import json
import os
import platform
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import SCENARIOS, Library, Outcome, Settings

HAND = "hand-written"
COLUMNS = ("S1", "S2", "S3", "S4", "S5", "S5-trio")
#: Scenarios whose operations take milliseconds (shown in ms, not ns).
SLOW = frozenset({"S5", "S5-trio"})


def ratio(results: dict[str, Outcome], name: str) -> float | None:
    mine, hand = results[name].seconds, results.get(HAND, Outcome()).seconds
    if mine is None or hand is None:
        return None
    return mine / hand


def amount(scenario: str, seconds: float) -> str:
    if scenario in SLOW:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e9:,.0f} ns"


def table(libraries: list[Library], results: dict[str, dict[str, Outcome]]) -> str:
    """Libraries as rows, scenarios as columns; n/a cells point to a footnote with the reason."""
    reasons: list[str] = []
    columns = [column for column in COLUMNS if column in results]
    header = ["library", *(f"{column}" for column in columns)]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(columns)]
    for library in libraries:
        cells = [f"**{library.name}**" if library.name == "injectq_like" else library.name]
        for column in columns:
            outcome = results[column].get(library.name, Outcome(reason="not run"))
            if outcome.seconds is None:
                reason = outcome.reason or "not run"
                if reason not in reasons:
                    reasons.append(reason)
                cells.append(f"n/a[^{reasons.index(reason) + 1}]")
                continue
            cell = amount(column, outcome.seconds)
            factor = ratio(results[column], library.name)
            if factor is not None and library.name != HAND:
                cell += f" ({factor:.2f}x)"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- {column}: {SCENARIOS[column]}" for column in columns)
    lines.append("")
    lines.extend(f"[^{index}]: {reason}" for index, reason in enumerate(reasons, start=1))
    return "\n".join(lines)


def garbage_table(libraries: list[Library], results: dict[str, dict[str, Outcome]]) -> str:
    """Objects per operation left in reference cycles, for the libraries that ran S3 or S4."""
    columns = [column for column in ("S3", "S4") if column in results]
    lines = [
        "| objects left in reference cycles, per operation | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for library in libraries:
        cells = [results[column].get(library.name, Outcome()).garbage for column in columns]
        if all(cell is None for cell in cells):
            continue
        shown = ["n/a" if cell is None else f"{cell:g}" for cell in cells]
        lines.append(f"| {library.name} | " + " | ".join(shown) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "compiler": platform.python_compiler(),
    }


def as_json(
    libraries: list[Library],
    results: dict[str, dict[str, Outcome]],
    settings: Settings,
    memory: dict[str, Any] | None,
) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    for column, outcomes in results.items():
        entries: dict[str, Any] = {}
        for library in libraries:
            outcome = outcomes.get(library.name)
            if outcome is None:
                continue
            if outcome.seconds is None:
                entries[library.name] = {"n/a": outcome.reason}
                continue
            entries[library.name] = {
                "seconds_per_op": outcome.seconds,
                "ns_per_op": outcome.seconds * 1e9,
                "ratio_to_hand_written": ratio(outcomes, library.name),
                "loops": outcome.loops,
                "runs_seconds_per_op": outcome.runs,
            }
            if outcome.garbage is not None:
                entries[library.name]["objects_in_reference_cycles_per_op"] = outcome.garbage
        scenarios[column] = {"title": SCENARIOS[column], "results": entries}
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {library.name: library.version for library in libraries},
        "settings": {
            "target_seconds_per_loop": settings.target,
            "repetitions": settings.repeat,
            "repetitions_s5": settings.repeat_slow,
            "statistic": "minimum seconds per operation over the repetitions",
            "gc": "enabled",
            "order": "libraries take turns within each repetition; the order rotates",
        },
        "scenarios": scenarios,
        "memory": memory,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def chart(path: Path, libraries: list[Library], results: dict[str, dict[str, Outcome]], title: str) -> None:
    """One panel per scenario: a horizontal bar per library, log scale, ratio to hand-written beside it."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    columns = [column for column in COLUMNS if column in results]
    names = [library.name for library in libraries]
    figure, axes = plt.subplots(2, 3, figsize=(16, 10), constrained_layout=True)
    for axis, column in zip(axes.flat, columns, strict=False):
        outcomes = results[column]
        scale, unit = (1e3, "ms") if column in SLOW else (1e9, "ns")
        values = [outcomes.get(name, Outcome()).seconds for name in names]
        positions = list(range(len(names)))[::-1]
        measured = [value for value in values if value is not None]
        top = max(measured) * scale if measured else 1.0
        bottom = min(measured) * scale if measured else 1.0
        for position, name, value in zip(positions, names, values, strict=True):
            if value is None:
                axis.text(bottom * 1.05, position, "n/a", va="center", fontsize=9, color="#888888")
                continue
            color = "#9e9e9e" if name == HAND else "#e8710a" if name == "injectq_like" else "#4a78b5"
            axis.barh(position, value * scale, color=color, height=0.7)
            factor = ratio(outcomes, name)
            label = f"{value * scale:,.1f}" if column in SLOW else f"{value * scale:,.0f}"
            if factor is not None and name != HAND:
                label += f"  ({factor:.1f}x)"
            axis.text(value * scale * 1.08, position, label, va="center", fontsize=8.5)
        axis.set_xscale("log")
        axis.set_xlim(bottom / 2, top * 12)
        axis.set_yticks(positions, names, fontsize=9)
        axis.set_title(f"{column}: {SCENARIOS[column]}", fontsize=9.5, wrap=True)
        axis.set_xlabel(f"{unit} per operation (log scale; lower is better)", fontsize=8.5)
        axis.grid(axis="x", which="major", alpha=0.3)
    for axis in list(axes.flat)[len(columns) :]:
        axis.set_visible(False)
    figure.suptitle("\n".join(textwrap.wrap(title, 170)), fontsize=10.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
