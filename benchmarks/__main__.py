"""Side-by-side benchmarks of injectq_like and its peers, in one process.

    python -m benchmarks            # the full run (about 2-3 minutes)
    python -m benchmarks --quick    # a smoke run: short loops, outputs under benchmarks/results/quick.tmp/

The peers come with the ``bench`` extra (``pip install -e '.[bench]'``); a
peer that is not installed shows as n/a. Prints a markdown table; writes
``benchmarks/results/results.json`` and ``docs/assets/benchmarks.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks import harness, memory, report

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short loops and few repetitions: a smoke run")
    parser.add_argument("--only", nargs="+", default=(), metavar="LIBRARY", help="run only these libraries")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurements")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    parser.add_argument("--json", type=Path, help="where to write the JSON results")
    parser.add_argument("--chart", type=Path, help="where to write the PNG chart")
    arguments = parser.parse_args(argv)

    if arguments.quick:
        settings = harness.Settings(target=0.01, repeat=2, repeat_slow=1)
        out = ROOT / "benchmarks" / "results" / "quick.tmp"
        json_path, chart_path = out / "results.json", out / "benchmarks.png"
        open_at_once, sequential = 1_000, 10_000
    else:
        settings = harness.Settings()
        json_path = ROOT / "benchmarks" / "results" / "results.json"
        chart_path = ROOT / "docs" / "assets" / "benchmarks.png"
        open_at_once, sequential = 10_000, 100_000
    settings.only = tuple(arguments.only)
    json_path = arguments.json or json_path
    chart_path = arguments.chart or chart_path

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    libraries, results = harness.run(settings, log)
    memory_result = None
    if not arguments.no_memory:
        log("memory: injectq_like REQUEST scopes")
        memory_result = memory.measure(open_at_once, sequential)

    versions = ", ".join(f"{library.name} {library.version}" for library in libraries if library.version)
    machine = report.machine()
    print(f"CPython {machine['python']} on {machine['cpu'] or machine['machine']}; {versions}")
    print(
        f"Minimum per operation over {settings.repeat} repetitions ({settings.repeat_slow} for S5) of loops "
        f"calibrated to {settings.target} s, libraries taking turns; ratio to hand-written in parentheses.\n"
    )
    print(report.table(libraries, results))
    print()
    print(report.garbage_table(libraries, results))
    if memory_result is not None:
        print()
        print(memory.table(memory_result))

    report.write_json(json_path, report.as_json(libraries, results, settings, memory_result))
    log(f"wrote {json_path}")
    if not arguments.no_chart:
        try:
            report.chart(
                chart_path, libraries, results, f"injectq_like and its peers, CPython {machine['python']}: {versions}"
            )
        except ImportError as error:
            log(f"no chart: {error} (pip install matplotlib, or the bench extra)")
        else:
            log(f"wrote {chart_path}")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
