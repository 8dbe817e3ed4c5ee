#!/usr/bin/env python3
"""How long a deploy stalls the event loop of the application that embeds oxinfra.

    python benches/embed.py --hosts 1000 2000 [--ops 20] [--fleet per-host|uniform]
                            [--interval 0.002] [--repeat 3] [--out results.json]

For each N, in a fresh child process, an asyncio "application" runs a ticker (``await
asyncio.sleep(interval)`` in a loop, recording when each tick wakes) beside one deploy on N
simulated hosts (``@sim``, benches/sim.py's workload: standard-10 plus file operations),
started these ways:

* ``engine`` (not run unless asked: ``--ways``): the engine's own ``run_async`` awaited on
  the application's loop (what ``oxinfra.api.run_async`` did before it left that loop);
* ``thread``: ``oxinfra.api.run_async(..., isolation="thread")``: the run on its own loop in
  a worker thread of the application's process;
* ``process``: ``oxinfra.api.run_async(..., isolation="process")`` (what ``"auto"`` picks for
  this run): the run in one worker process, its events and result read from a pipe; also
  reported: the longest single unpickling of a message on the application's loop
  (``max_loads_ms``), the number of messages and the largest one (``max_message_kb``);
* ``busy`` (a reference, no oxinfra): a thread spinning in pure Python for 5 s -- the stall
  any CPU-bound thread beside the loop causes on this machine under its current load (the
  interpreter hands the GIL over every 5 ms; a loaded machine adds its scheduling delays);
* ``idle`` (a reference): the ticker alone for 5 s.

Reported per way: the worst stall (the longest gap between two ticks, minus the interval:
how long the application's loop could not run), the 99th percentile gap, ticks seen, and
the run's wall seconds, every event delivered to ``on_event`` (counted), the garbage
collector's pauses during the run and what one full collection costs right after it (the
process then holds the result and the events). Measured, never asserted (tests/test_embed_bench.py checks the
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
                return await run_async(inventory, deploy, isolation=way, on_event=events.append)  # type: ignore[arg-type]

        events: list[Any] = []
        loads = _TimedLoads() if way == "process" else None
        collections = _Collections()
        result, stats = asyncio.run(beside(work, interval))
        stats.update(collections.stats())
        import gc

        started = time.perf_counter()
        gc.collect()  # what a full collection over the caller's process costs after the run
        stats["full_gc_after_ms"] = round((time.perf_counter() - started) * 1000, 2)
        stats["success"] = result if isinstance(result, bool) else result.success
        if way in ("thread", "process"):
            stats["events"] = len(events)
        if loads is not None:
            stats.update(loads.stats())
        return stats


class _Collections:
    """The garbage collector's pauses in the application's process while the bench runs."""

    def __init__(self) -> None:
        import gc

        self.pauses: list[tuple[float, int]] = []
        self._started = 0.0

        def callback(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                self._started = time.perf_counter()
            else:
                self.pauses.append((time.perf_counter() - self._started, info["generation"]))

        gc.callbacks.append(callback)

    def stats(self) -> dict[str, Any]:
        longest = max(self.pauses, default=(0.0, 0))
        return {
            "collections": len(self.pauses),
            "full_collections": sum(1 for _, g in self.pauses if g == 2),
            "max_gc_ms": round(longest[0] * 1000, 2),
        }


class _TimedLoads:
    """Times every ``pickle.loads`` of the parent's side of the process way (each message it
    reads from the worker, on the application's loop)."""

    def __init__(self) -> None:
        import pickle

        from oxinfra._engine import isolate

        self.times: list[float] = []
        self.sizes: list[int] = []
        real = pickle.loads
        outer = self

        class Shim:
            def __getattr__(self, name: str) -> Any:
                return getattr(pickle, name)

            @staticmethod
            def loads(data: bytes) -> Any:
                started = time.perf_counter()
                value = real(data)
                outer.times.append(time.perf_counter() - started)
                outer.sizes.append(len(data))
                return value

        isolate.pickle = Shim()  # type: ignore[assignment]

    def stats(self) -> dict[str, Any]:
        return {
            "messages": len(self.times),
            "max_loads_ms": round(max(self.times, default=0.0) * 1000, 2),
            "max_message_kb": round(max(self.sizes, default=0) / 1024, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--ops", type=int, default=20)
    parser.add_argument("--fleet", default="per-host", choices=["per-host", "uniform"])
    parser.add_argument("--ways", default="idle,busy,thread,process", help="of idle,busy,engine,thread,process")
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=2, metavar=("N", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.ops, args.fleet, args.child[1], args.interval)))
        return
    rows = []
    print(
        f"{'N':>6}  {'way':<7} {'rep':>3}  {'max stall ms':>12}  {'p99 gap ms':>10}  {'ticks':>6}  {'wall s':>7}  ok  load"
    )
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
                row["load"] = round(os.getloadavg()[0], 2)
                extra = (
                    f"  gc: {row['collections']} ({row['full_collections']} full), longest {row['max_gc_ms']} ms, "
                    f"a full one after: {row['full_gc_after_ms']} ms"
                )
                if "max_loads_ms" in row:
                    extra += f"; messages {row['messages']}, longest loads {row['max_loads_ms']} ms, largest {row['max_message_kb']} KiB"
                print(
                    f"{n:>6}  {way:<7} {rep:>3}  {row['max_stall_ms']:>12}  {row['p99_gap_ms']:>10}  "
                    f"{row['ticks']:>6}  {row['wall_s']:>7}  {row['success']}  {row['load']}{extra}",
                    flush=True,
                )
    print(f"load average at end: {[round(x, 2) for x in os.getloadavg()]}  ({os.cpu_count()} CPUs)")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
