"""Smoke test of benches/fleet.py at N=3: the JSON shape, the ratio arithmetic, and that the
oxinfra run it drives succeeds (its own checks raise otherwise). No timing assertions."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load_fleet_bench():
    name = "oxinfra_bench_fleet"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benches" / "fleet.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_ratio_computation() -> None:
    bench = _load_fleet_bench()
    rows = [
        {"n": 3, "tool": "floor", "run": 1, "wall_s": 2.0},
        {"n": 3, "tool": "floor", "run": 2, "wall_s": 4.0},
        {"n": 3, "tool": "oxinfra", "run": 1, "wall_s": 3.0},
        {"n": 3, "tool": "oxinfra", "run": 2, "wall_s": 2.0},
        {"n": 5, "tool": "oxinfra", "run": 1, "wall_s": 1.0},  # no floor for N=5
        {"n": 3, "tool": "floor", "run": 1, "rep": 2, "wall_s": 1.0},
        {"n": 3, "tool": "oxinfra", "run": 1, "rep": 2, "wall_s": 3.0},
    ]
    bench.add_ratios(rows)
    assert [r["ratio"] for r in rows] == [1.0, 1.0, 1.5, 0.5, None, 1.0, 3.0]
    for r in rows:
        r.update(cpu_s=1.0, sshd_cpu_s=1.0)
    summary = {(s["n"], s["tool"], s["run"]): s for s in bench.summarize(rows)}
    assert summary[(3, "floor", 1)]["wall_s"] == 1.5  # median of 2.0 and 1.0
    assert summary[(3, "oxinfra", 1)]["ratio"] == 2.0  # median 3.0 / floor median 1.5
    assert summary[(3, "oxinfra", 1)]["reps"] == 2
    assert summary[(5, "oxinfra", 1)]["ratio"] is None


def test_fleet_bench_n3(sshd_fleet, tmp_path: Path) -> None:
    bench = _load_fleet_bench()
    report = bench.run_bench(
        sshd_fleet, [3], tools=["floor", "oxinfra"], runs=2, workdir=tmp_path / "work", log=lambda s: None
    )
    json.loads(json.dumps(report))  # serialisable as the --out file
    assert set(report) == {"meta", "results", "summary"}
    assert [(s["tool"], s["run"], s["reps"]) for s in report["summary"]] == [
        ("floor", 1, 1),
        ("floor", 2, 1),
        ("oxinfra", 1, 1),
        ("oxinfra", 2, 1),
    ]
    rows = report["results"]
    assert [(r["n"], r["tool"], r["run"]) for r in rows] == [
        (3, "floor", 1),
        (3, "floor", 2),
        (3, "oxinfra", 1),
        (3, "oxinfra", 2),
    ]
    for r in rows:
        for key in ("wall_s", "cpu_s", "sshd_cpu_s", "ratio"):
            assert isinstance(r[key], float), (key, r)
        assert r["wall_s"] > 0
    floors = {r["run"]: r["wall_s"] for r in rows if r["tool"] == "floor"}
    for r in rows:
        assert r["ratio"] == pytest.approx(r["wall_s"] / floors[r["run"]], abs=1e-3)
    ox = [r for r in rows if r["tool"] == "oxinfra"]
    assert ox[0]["verified_hosts"] == [sshd_fleet.hosts[0], sshd_fleet.hosts[2]]
    assert ox[1]["oxinfra"]["changed_per_host"] == [1]
    assert ox[0]["oxinfra"]["changed_per_host"][0] >= 9


def test_verify_detects_missing_state(sshd_fleet) -> None:
    bench = _load_fleet_bench()
    problems = asyncio.run(
        bench.verify_hosts(sshd_fleet.hosts[:1], sshd_fleet.ssh_data(), "/tmp/fleet-target/none/does-not-exist")
    )
    assert problems and "stat failed" in problems[0]
