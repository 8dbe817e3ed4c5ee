#!/usr/bin/env python3
"""oxinfra at scale with no network: N simulated hosts (``@sim/NAME``), one deploy.

    python benches/sim.py --hosts 1000 10000 100000 --ops 20 [--dry] [--runs 2]
                          [--fleet uniform|per-host] [--shards N]
                          [--out results.json] [--plot seconds.png] [--profile 10000]

For each N, in a fresh child process (so peak RSS and caches are that N's own):

* writes a Python inventory of N hosts ``@sim/hostNNNNNN`` in ~N/100 groups of 100 (one
  range pattern per group, ``@sim/host[000001:000100]``) and loads it with the public
  ``oxinfra.api.load_inventory``;
* runs the deploy with ``oxinfra.api.run_async``: standard-10's ten operations plus
  ``--ops - 10`` more file operations (directories, files, lines, uploads, templates, links,
  a replace), on fresh simulated hosts (run 1; ``--runs 2`` also times the second, idempotent
  run; ``--dry`` plans without executing);
* records the run phases of ``result.timings`` (``compile``, ``evaluate``, ``order``,
  ``hosts``), the per-host phase sums of the report (``facts``, ``plan``, ``execute``), the
  seconds the simulator itself spent answering scripts, wall and CPU seconds of the run,
  inventory load seconds and the peak RSS of the process (with ``--shards``: CPU includes the
  workers, RSS is the largest process's, and the simulator's seconds are not seen).

``--fleet uniform`` (default) runs the deploy as on a real fleet: one root for every host,
nothing named after the host, so every call is equal on every host and is computed once
(docs/architecture.md, "Compute once, reuse"). ``--fleet per-host`` runs standard-10 as is:
every path names the host, nothing can be shared -- the cost when nothing is alike.

Prints a table; ``--out`` writes every number as JSON; ``--plot`` draws seconds vs N
(log-log, needs matplotlib); ``--profile N`` runs that N under cProfile and prints the top
functions by own time and the top oxinfra functions by cumulative time.

Simulated hosts hold no file descriptors, and the run's open-files check counts none for them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "benches" / "workloads" / "standard-10"

EXTRA_OPS = [
    'files.directory(name="data dir{k}", path=f"{{root}}/data{k}", mode="750")',
    'files.file(name="pid file{k}", path=f"{{root}}/data{k}/app.pid", mode="644")',
    'files.line(name="env debug{k}", path=f"{{root}}/app/env", line="DEBUG{k}=0")',
    'files.line(name="hosts line{k}", path=f"{{root}}/app/hosts{k}", line=f"127.0.0.1 {{host.name}}")',
    'files.put(name="second blob{k}", src="files/blob.txt", dest=f"{{root}}/data{k}/blob.txt", mode="600")',
    'files.template(name="data config{k}", src="templates/app.conf.j2", dest=f"{{root}}/data{k}/app.conf", '
    'app_name="data", workers=2, peers=["x", "y"])',
    'files.link(name="data link{k}", path=f"{{root}}/data{k}/current", target=f"{{root}}/app")',
    'files.directory(name="cache dir{k}", path=f"{{root}}/cache{k}")',
    'files.file(name="cache marker{k}", path=f"{{root}}/cache{k}/.keep")',
    'files.replace(name="env fix{k}", path=f"{{root}}/app/env", text="DEBUG{k}=1", replace="DEBUG{k}=0")',
]


# standard-10 runs many "hosts" on one machine, so each writes under a root named after it
# and every argument differs per host. On a fleet each host is its own machine: the same
# deploy with one root and nothing named after the host makes equal calls on every host.
PER_HOST_ROOT = 'root = f"/tmp/fleet-target/oxinfra/{host.name}"'
UNIFORM_ROOT = 'root = "/srv/oxinfra"'


def write_workdir(directory: Path, hosts: int, ops: int, fleet: str = "uniform") -> tuple[Path, Path]:
    """The deploy (standard-10 plus ``ops - 10`` file operations) and the inventory file.

    ``fleet="per-host"``: standard-10 as is (paths, a template line and one file line name
    the host: nothing can be shared between hosts). ``fleet="uniform"``: one root, and the
    template and that line do not name the host (every call is equal on every host)."""
    if ops < 10:
        raise SystemExit("--ops must be at least 10 (standard-10's operations come first)")
    work = directory / "deploy"
    shutil.copytree(WORKLOAD, work)
    deploy = work / "deploy.py"
    text = deploy.read_text().rstrip("\n")
    extra = list(EXTRA_OPS)
    if fleet == "uniform":
        assert PER_HOST_ROOT in text, "standard-10's root line changed: update benches/sim.py"
        text = text.replace(PER_HOST_ROOT, UNIFORM_ROOT)
        conf = work / "templates" / "app.conf.j2"
        conf.write_text(conf.read_text().replace("{{ host.name }}", "the fleet"))
        extra = [op.replace("{{host.name}}", "fleet") for op in extra]
    elif fleet != "per-host":
        raise SystemExit(f"--fleet must be uniform or per-host, not {fleet!r}")
    lines = [text]
    for i in range(ops - 10):
        k = "" if i < len(extra) else str(i // len(extra))
        lines.append(extra[i % len(extra)].format(k=k))
    deploy.write_text("\n".join(lines) + "\n")
    inventory = directory / "inventory.py"
    per_group = 100
    groups = []
    for g, start in enumerate(range(1, hosts + 1, per_group)):
        end = min(hosts, start + per_group - 1)
        groups.append(f"g{g:05d} = (['@sim/host[{start:06d}:{end:06d}]'], {{'rack': {g}}})")
    inventory.write_text("all = ([], {'env': 'bench'})\n" + "\n".join(groups) + "\n")
    return deploy, inventory


def peak_rss_mb() -> float:
    """Peak RSS of this process, or of its largest worker (--shards) if that is larger."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) / 1024.0


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished workers (--shards)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


# --------------------------------------------------------------------------------------------
# One N, in a child process
# --------------------------------------------------------------------------------------------


def child(
    hosts: int, ops: int, dry: bool, runs: int, profile: str | None, fleet: str = "uniform", shards: int = 1
) -> dict[str, Any]:
    import asyncio
    import gc

    from oxinfra._engine.report import build_report
    from oxinfra._engine.run import run_async  # the engine itself, on this loop (oxinfra.api's runs on a thread)
    from oxinfra.api import load_inventory
    from oxinfra.testing import sim

    row: dict[str, Any] = {"hosts": hosts, "ops": ops, "dry": dry, "fleet": fleet, "shards": shards}
    with tempfile.TemporaryDirectory(prefix="oxinfra-sim-bench-") as tmp:
        deploy, inventory_file = write_workdir(Path(tmp), hosts, ops, fleet)
        started, cpu = time.perf_counter(), cpu_seconds()
        inventory = load_inventory(str(inventory_file))
        count = len(inventory.hosts)
        row["inventory_s"] = round(time.perf_counter() - started, 4)
        row["inventory_cpu_s"] = round(cpu_seconds() - cpu, 4)
        assert count == hosts, (count, hosts)
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
        for number in range(1, runs + 1):
            gc.collect()
            sim.stats.update(scripts=0, seconds=0.0)
            started, cpu = time.perf_counter(), cpu_seconds()
            if profiler is not None and number == 1:
                profiler.enable()
            result = asyncio.run(run_async(inventory, [str(deploy)], dry=dry, shards=shards))
            if profiler is not None and number == 1:
                profiler.disable()
            wall, used = time.perf_counter() - started, cpu_seconds() - cpu
            report = build_report(result, slowest=0)
            statuses: dict[str, int] = {}
            for host in result.hosts.values():
                for op in host.ops:
                    statuses[op["status"]] = statuses.get(op["status"], 0) + 1
            key = f"run{number}"
            row[key] = {
                "wall_s": round(wall, 3),
                "cpu_s": round(used, 3),
                "phases": report["run_phases"],
                "host_phase_sums": {k: v["sum"] for k, v in report["host_phases"].items() if v["sum"]},
                "sim_s": round(sim.stats["seconds"], 3),
                "sim_scripts": sim.stats["scripts"],
                "round_trips_mean": report["round_trips"]["mean"],
                "success": result.success,
                "statuses": statuses,
                "us_per_host_op": round(wall / (hosts * ops) * 1e6, 2),
            }
            del result, report
        row["peak_rss_mb"] = round(peak_rss_mb(), 1)
        if profiler is not None:
            profiler.dump_stats(profile)
    return row


# --------------------------------------------------------------------------------------------
# The parent: one child per N, then the table, JSON and plot
# --------------------------------------------------------------------------------------------


def run_child(hosts: int, args: argparse.Namespace, profile: str | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(hosts),
        "--ops",
        str(args.ops),
        "--runs",
        str(args.runs),
        "--fleet",
        args.fleet,
        "--shards",
        str(args.shards),
    ]
    if args.dry:
        cmd.append("--dry")
    if profile:
        cmd += ["--profile-file", profile]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH", "")]))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"N={hosts} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(rows: list[dict[str, Any]], runs: int) -> None:
    header = (
        f"{'hosts':>8} {'run':>4} {'inv s':>7} {'eval s':>8} {'order s':>8} {'hosts s':>8} "
        f"{'wall s':>8} {'cpu s':>8} {'sim s':>7} {'us/host-op':>10} {'rss MB':>8}  statuses"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        for number in range(1, runs + 1):
            r = row[f"run{number}"]
            p = r["phases"]
            statuses = " ".join(f"{k}={v}" for k, v in sorted(r["statuses"].items()))
            print(
                f"{row['hosts']:>8} {number:>4} {row['inventory_s']:>7.2f} {p['evaluate']:>8.2f} {p['order']:>8.2f} "
                f"{p['hosts']:>8.2f} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['sim_s']:>7.2f} "
                f"{r['us_per_host_op']:>10.1f} {row['peak_rss_mb']:>8.0f}  {statuses}"
                + ("" if r["success"] else "  NOT ALL HOSTS SUCCEEDED")
            )


def plot(rows: list[dict[str, Any]], path: str, title: str, others: list[dict[str, Any]] | None = None) -> None:
    """Seconds vs hosts, log-log: this invocation's phases and total (inventory + run), and
    the total of each result file in ``others`` (``--plot-with``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return

    def total(row: dict[str, Any]) -> float:
        return row["inventory_s"] + row["run1"]["wall_s"]

    ns = [row["hosts"] for row in rows]
    fleet = rows[0].get("fleet", "uniform") if rows else "uniform"
    series = {
        f"total, {fleet} fleet": [total(row) for row in rows],
        "evaluate": [row["run1"]["phases"]["evaluate"] for row in rows],
        "hosts (facts + plan)": [row["run1"]["phases"]["hosts"] for row in rows],
        "inventory load": [row["inventory_s"] for row in rows],
    }
    fig, ax = plt.subplots(figsize=(7, 5))
    for label, values in series.items():
        ax.plot(ns, [max(v, 1e-3) for v in values], marker="o", label=label)
    for other in others or []:
        other_rows = other["rows"]
        label = f"total, {other_rows[0].get('fleet', '?')} fleet" if other_rows else "other"
        ax.plot(
            [r["hosts"] for r in other_rows],
            [max(total(r), 1e-3) for r in other_rows],
            marker="s",
            linestyle="--",
            label=label,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("hosts")
    ax.set_ylabel("seconds")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def print_profile(path: str, top: int = 25) -> None:
    import pstats

    stats = pstats.Stats(path)
    print(f"\n== profile ({path}): top {top} by own time ==")
    stats.sort_stats("tottime").print_stats(top)
    print("== oxinfra functions by cumulative time ==")
    stats.sort_stats("cumtime").print_stats(r"oxinfra", top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--ops", type=int, default=20)
    parser.add_argument("--dry", action="store_true", help="plan only (no execution)")
    parser.add_argument(
        "--fleet",
        default="uniform",
        choices=("uniform", "per-host"),
        help="uniform: equal calls on every host (a fleet); per-host: standard-10 as is, "
        "every path names the host (nothing shared)",
    )
    parser.add_argument("--shards", type=int, default=1, help="worker processes (run_async shards=)")
    parser.add_argument("--runs", type=int, default=1, choices=(1, 2), help="2: also time the second run")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--plot", help="write a PNG of seconds vs hosts (log-log)")
    parser.add_argument(
        "--plot-with", nargs="*", default=[], metavar="JSON", help="also draw the totals of these earlier --out files"
    )
    parser.add_argument("--profile", type=int, metavar="N", help="also profile the run of N hosts (cProfile)")
    parser.add_argument("--profile-out", default="sim-profile.prof", help="where --profile writes its stats")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child is not None:
        row = child(args.child, args.ops, args.dry, args.runs, args.profile_file, args.fleet, args.shards)
        print(json.dumps(row))
        return

    rows = []
    for n in args.hosts:
        print(f"N={n} ...", file=sys.stderr, flush=True)
        rows.append(run_child(n, args, None))
    print_table(rows, args.runs)
    result = {
        "ops": args.ops,
        "dry": args.dry,
        "runs": args.runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "rows": rows,
    }
    if args.profile:
        path = os.path.abspath(args.profile_out)
        print(f"profiling N={args.profile} ...", file=sys.stderr, flush=True)
        result["profile"] = {"hosts": args.profile, "file": path, "row": run_child(args.profile, args, path)}
        print_profile(path)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=1)
            handle.write("\n")
        print(f"results: {args.out}")
    if args.plot and rows:
        kind = "dry run" if args.dry else "run 1"
        others = [json.loads(Path(p).read_text()) for p in args.plot_with]
        plot(rows, args.plot, f"oxinfra on simulated hosts: {args.ops} ops, {kind}", others)


if __name__ == "__main__":
    main()
