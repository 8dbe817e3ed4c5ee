"""Inventory at scale: load, merge and match 100,000 hosts in 1,000 groups.

    python benches/inventory.py [--hosts 100000] [--groups 1000] [--repeat 3]

Writes a Python inventory file to a temporary directory: 60% of the groups are one range
pattern each (``g0007-n[001:100].dc3.example.com``), the rest list their hosts one by one
and also name 10 hosts of a ranged group (so hosts sit in one or two groups); every group
has group data, ``all`` has data, and 1% of the hosts have host data. Then, in this
process, times

* load: run the file, build the Rust layout (expand, dedupe, memberships), check data;
* hosts: make the Host objects (lazy in a run; all of them here);
* merge: read three keys through each host's data layers (host, group, all);
* match: ``--limit`` with groups, globs, a range and an exclusion;

and prints seconds (the best of ``--repeat``) and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time


def write_inventory(directory: str, hosts: int, groups: int) -> str:
    per_group = hosts // groups
    ranged = groups * 6 // 10
    lines = ["all = ([], {'ssh_port': 22, 'env': 'bench'})"]
    for g in range(ranged):
        lines.append(
            f"g{g:04} = (['g{g:04}-n[001:{per_group:03}].dc{g % 4}.example.com'], {{'rack': {g}, 'role': 'ranged'}})"
        )
    for g in range(ranged, groups):
        entries = []
        for h in range(per_group):
            name = f"e{g:04}-{h:03}.example.com"
            entries.append(f"({name!r}, {{'serial': {g * per_group + h}}})" if h % 100 == 0 else repr(name))
        entries.append(f"'g{g % ranged:04}-n[001:010].dc{g % ranged % 4}.example.com'")
        lines.append(f"e{g:04} = ([{', '.join(entries)}], {{'rack': {g}, 'role': 'explicit'}})")
    path = os.path.join(directory, "fleet.py")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from oxinfra.inventory import load_inventory

    rss_start = peak_rss_mb()
    first_explicit, last = args.groups * 6 // 10, args.groups - 1
    limit = [f"g00*,e{first_explicit:04}*", f"e{last:04}-[000:049].example.com", "!*-n0[5-9]?.*"]
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as directory:
        path = write_inventory(directory, args.hosts, args.groups)
        for _ in range(args.repeat):
            gc.collect()
            timings = {}
            start = time.perf_counter()
            inventory = load_inventory(path)
            timings["load"] = time.perf_counter() - start

            start = time.perf_counter()
            hosts = inventory.hosts
            timings["hosts"] = time.perf_counter() - start

            start = time.perf_counter()
            total = 0
            for host in hosts:
                data = host.data
                total += data.ssh_port + data.rack + data.get("serial", 0)
            timings["merge"] = time.perf_counter() - start

            start = time.perf_counter()
            chosen = inventory.limit(limit)
            timings["match"] = time.perf_counter() - start
            timings["total"] = sum(timings.values())
            for key, value in timings.items():
                best[key] = min(best.get(key, value), value)
            selected = len(chosen)
            count, group_count = len(inventory), len(inventory.groups) - 1
            del inventory, hosts, chosen
    print(f"inventory: {count} hosts in {group_count} groups (Python {sys.version.split()[0]})")
    for key in ("load", "hosts", "merge", "match", "total"):
        print(f"  {key:<6} {best[key]:.3f} s")
    print(f"  --limit selected {selected} hosts")
    print(f"  peak RSS {peak_rss_mb():.0f} MB (interpreter and imports: {rss_start:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
