#!/usr/bin/env python3
"""How long a deploy stalls the event loop of the application that embeds oxinfra.

    python benches/embed.py --hosts 1000 2000 [--ops 20] [--fleet per-host|uniform]
                            [--interval 0.002] [--repeat 3] [--out results.json]

For each N, in a fresh child process, an asyncio "application" runs a ticker (``await
asyncio.sleep(interval)`` in a loop, recording when each tick wakes) beside one deploy on N
simulated hosts (``@sim``, benches/sim.py's workload: standard-10 plus file operations),
started two ways:

* ``engine``: the engine's own ``run_async`` awaited on the application's loop (what
  ``oxinfra.api.run_async`` did before it ran on a worker thread);
* ``api``: ``oxinfra.api.run_async``: the run on its own loop in a worker thread;
* ``busy`` (a reference, no oxinfra): a thread spinning in pure Python for 5 s -- the stall
  any CPU-bound thread beside the loop causes on this machine under its current load (the
  interpreter hands the GIL over every 5 ms; a loaded machine adds its scheduling delays);
* ``idle`` (a reference): the ticker alone for 5 s.

Reported per way: the worst stall (the longest gap between two ticks, minus the interval:
how long the application's loop could not run), the 99th percentile gap, ticks seen, and
the run's wall seconds. Measured, never asserted (tests/test_embed_bench.py checks the
ticker itself on a small run). The machine's other load shows in the numbers: run it
when the machine is quiet, and read the spread over ``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Ticker:
    """Wakes every ``interval`` seconds on the running loop and records when."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.wakes: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            self.wakes.append(time.perf_counter())
            await asyncio.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()

    def stats(self) -> dict[str, Any]:
        gaps = sorted(b - a for a, b in zip(self.wakes, self.wakes[1:]))
        if not gaps:
            return {"ticks": len(self.wakes), "max_stall_ms": None, "p99_gap_ms": None}
        p99 = gaps[min(len(gaps) - 1, int(0.99 * (len(gaps) - 1) + 0.5))]
        return {
            "ticks": len(self.wakes),
            "max_stall_ms": round(max(0.0, gaps[-1] - self.interval) * 1000, 2),
            "p99_gap_ms": round(p99 * 1000, 2),
        }


async def beside(work: Callable[[], Awaitable[Any]], interval: float) -> tuple[Any, dict[str, Any]]:
    """Run ``work()`` with a ticker beside it; the result and the ticker's stats."""
    ticker = Ticker(interval)
    task = asyncio.create_task(ticker.run())
    await asyncio.sleep(interval * 2)  # the ticker is going
    started = time.perf_counter()
    result = await work()
    wall = time.perf_counter() - started
    ticker.stop()
    await task
    stats = ticker.stats()
    stats["wall_s"] = round(wall, 3)
    return result, stats


def child(hosts: int, ops: int, fleet: str, way: str, interval: float) -> dict[str, Any]:
    from sim import write_workdir

    from oxinfra.api import load_inventory

    with tempfile.TemporaryDirectory(prefix="oxinfra-embed-bench-") as tmp:
        deploy, inventory_file = write_workdir(Path(tmp), hosts, ops, fleet)
        inventory = load_inventory(str(inventory_file))
        if way in ("busy", "idle"):

            async def work() -> Any:
                def spin() -> bool:
                    end, x = time.perf_counter() + 5, 0
                    while time.perf_counter() < end:
                        x += 1
                    return True

                if way == "idle":
                    await asyncio.sleep(5)
                    return True
                return await asyncio.to_thread(spin)

        elif way == "engine":
            from oxinfra._engine.run import run_async as engine_run

            async def work() -> Any:
                return await engine_run(inventory, [str(deploy)])
        else:
            from oxinfra.api import run_async

            async def work() -> Any:
                return await run_async(inventory, deploy)

        result, stats = asyncio.run(beside(work, interval))
        stats["success"] = result if isinstance(result, bool) else result.success
        return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--ops", type=int, default=20)
    parser.add_argument("--fleet", default="per-host", choices=["per-host", "uniform"])
    parser.add_argument("--ways", default="idle,busy,engine,api")
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=2, metavar=("N", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.ops, args.fleet, args.child[1], args.interval)))
        return
    rows = []
    print(f"{'N':>6}  {'way':<7} {'rep':>3}  {'max stall ms':>12}  {'p99 gap ms':>10}  {'ticks':>6}  {'wall s':>7}  ok")
    for n in args.hosts:
        for way in args.ways.split(","):
            for rep in range(1, args.repeat + 1):
                cmd = [sys.executable, __file__, "--child", str(n), way, "--ops", str(args.ops)]
                cmd += ["--fleet", args.fleet, "--interval", str(args.interval)]
                proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
                if proc.returncode:
                    raise SystemExit(f"child failed ({n}, {way}):\n{proc.stderr}")
                row = {"hosts": n, "way": way, "rep": rep, **json.loads(proc.stdout.splitlines()[-1])}
                rows.append(row)
                print(
                    f"{n:>6}  {way:<7} {rep:>3}  {row['max_stall_ms']:>12}  {row['p99_gap_ms']:>10}  "
                    f"{row['ticks']:>6}  {row['wall_s']:>7}  {row['success']}",
                    flush=True,
                )
    print(f"load average at end: {[round(x, 2) for x in os.getloadavg()]}  ({os.cpu_count()} CPUs)")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
