"""Run reports: per-phase timings, round trips and the slowest hosts, from a real run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from oxinfra.api import load_inventory, run
from oxinfra._engine.report import HOST_PHASES, RUN_PHASES, build_report


def _deploy(tmp_path: Path) -> Path:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import files, server\n"
        f"files.directory(path={str(tmp_path / 'out')!r})\n"
        f"files.line(path={str(tmp_path / 'out' / 'f')!r}, line='x=1')\n"
        "server.shell(commands=['true'])\n"
    )
    return deploy


def test_report_of_a_local_run(tmp_path: Path) -> None:
    result = run(load_inventory("@local"), [str(_deploy(tmp_path))])
    report = build_report(result)
    assert report["success"] and report["hosts"] == 1 and report["operations"] == 3
    assert set(report["run_phases"]) == set(RUN_PHASES)
    assert set(report["host_phases"]) == set(HOST_PHASES)
    assert report["round_trips"] == {"mean": 2.0, "max": 2, "histogram": {"2": 1}}
    host = report["per_host"]["@local"]
    assert host["changed"] == 3 and host["status"] == "success"
    assert host["phases"]["facts"] > 0 and host["phases"]["execute"] > 0
    assert report["slowest_hosts"][0]["host"] == "@local"
    json.dumps(report)  # serialisable as is


def test_report_flag_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "oxinfra", "@local", str(_deploy(tmp_path)), "-y", "--report", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(target.read_text())
    assert report["run_phases"]["inventory"] >= 0 and report["total_seconds"] > 0
    assert report["per_host"]["@local"]["round_trips"] == 2
