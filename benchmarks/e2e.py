"""End to end: requests per second of the minimal endpoint under uvicorn, loaded by wrk
from a second process on 127.0.0.1, for each way of wiring it (benchmarks/e2e_apps.py).

    python -m benchmarks.e2e [--seconds 10] [--connections 64] [--rounds 3]

Needs ``wrk`` (Debian: ``apt-get install wrk``). Variants take turns within
each round; the best round of each is reported, with its p99 latency, and
the ratio of requests per second to manual wiring.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.e2e_apps import VARIANTS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(variant: str, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            VARIANTS[variant],
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/items/1", timeout=1) as response:
                assert json.loads(response.read())["id"] == 1
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    sys.exit(f"{variant}: the server did not start")


def load(port: int, seconds: int, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from one wrk run."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", f"http://127.0.0.1:{port}/items/42"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in output:
        sys.exit(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99_text is not None
    p99 = float(p99_text.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    return rate, p99


def available(variant: str) -> bool:
    """Whether the variant's module imports here (the peers are the optional `bench` extra)."""
    module = VARIANTS[variant].partition(":")[0]
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[v for v in VARIANTS if available(v)])
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(arguments.rounds):
        for variant in arguments.variants:
            port = free_port()
            server = start(variant, port)
            try:
                load(port, 2, arguments.connections)  # warm up
                rate, p99 = load(port, arguments.seconds, arguments.connections)
            finally:
                server.terminate()
                server.wait(timeout=20)
            if variant not in best or rate > best[variant][0]:
                best[variant] = (rate, p99)
    manual_rate, manual_p99 = best.get("manual", (float("nan"), float("nan")))
    print(f"uvicorn (1 worker) + wrk -t1 -c{arguments.connections} -d{arguments.seconds}s, best of {arguments.rounds}")
    print("| wiring | requests/s | ratio to manual | p99 ms | p99 ratio |")
    print("|---|---:|---:|---:|---:|")
    for variant, (rate, p99) in best.items():
        print(f"| {variant} | {rate:,.0f} | {rate / manual_rate:.2f}x | {p99:.1f} | {p99 / manual_p99:.2f}x |")


if __name__ == "__main__":
    main()
