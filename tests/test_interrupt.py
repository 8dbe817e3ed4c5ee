"""SIGINT or SIGTERM to the controller while hosts run: nothing more is sent, the commands
running on the hosts are killed there, the partial summary is printed and the exit code is
130. The CLI runs as a child process against the loopback fleet; the signal comes while a
slow operation runs."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import cli_env, target, write_deploy

from test_run_control import wait_gone

__all__ = ["target"]  # fixtures used here


@pytest.mark.parametrize(
    ("signum", "extra"),
    [(signal.SIGINT, ["--json"]), (signal.SIGTERM, []), (signal.SIGINT, ["--json", "--shards", "2"])],
    ids=["sigint-json", "sigterm-text", "sigint-sharded"],
)
def test_signal_mid_run_prints_partial_summary_and_exits_130(
    tmp_path: Path, target: Path, sshd_fleet: Any, signum: int, extra: list[str]
) -> None:
    tag = f"1000.{secrets.randbelow(10**6):06d}"
    data = sshd_fleet.ssh_data()
    inv = tmp_path / "inventory.py"
    # --parallel 2: 127.0.0.1 is quick, then 127.0.0.3 takes its place; @sim/late waits for a
    # place that never frees, so it never starts.
    inv.write_text(
        f"hosts = [('127.0.0.1', {data!r}), ('127.0.0.2', {data!r}), ('127.0.0.3', {data!r}), '@sim/late']\n"
    )
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.operations import files, server
        mark = f"@ROOT@/{{host.name.replace('/', '_')}}"
        files.file(name="first", path=mark)
        if host.name in ("127.0.0.2", "127.0.0.3"):
            server.shell(name="slow", commands=[f"echo started > {{mark}}.started; sleep {tag}"])
        files.file(name="last", path=mark + ".last")
    """,
        target,
    )
    argv = [sys.executable, "-m", "oxinfra", "-y", "--parallel", "2", *extra, str(inv), str(deploy)]
    proc = subprocess.Popen(
        argv, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        end = time.monotonic() + 30
        while not all((target / f"{h}.started").exists() for h in ("127.0.0.2", "127.0.0.3")):
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert time.monotonic() - sent < 10
    described = f"exit {proc.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert proc.returncode == 130, described
    assert "Traceback" not in stdout + stderr, described
    assert wait_gone(tag) == [], described  # the sleeps were killed on the hosts
    for h in ("127.0.0.2", "127.0.0.3"):
        assert not (target / f"{h}.last").exists()
    assert (target / "127.0.0.1.last").exists()
    name = signal.Signals(signum).name
    if "--json" in extra:
        events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
        summary = events[-1]
        assert summary["event"] == "summary" and summary["interrupted"] == name, described
        assert summary["exit_code"] == 130
        statuses = {h: v["status"] for h, v in summary["hosts"].items()}
        assert statuses == {
            "127.0.0.1": "success",
            "127.0.0.2": "interrupted",
            "127.0.0.3": "interrupted",
            "@sim/late": "not started",
        }, described
        for h in ("127.0.0.2", "127.0.0.3"):
            assert f"interrupted ({name}) at slow" in summary["hosts"][h]["error"], described
            assert summary["hosts"][h]["changed"] == 1 and summary["hosts"][h]["not_run"] == 2
    else:
        assert f"--> interrupted ({name})" in stdout, described
        assert re.search(
            r"--> 4 hosts in [0-9.]+ s: 0 ok, 1 changed, 0 failed, 0 unreachable, 2 interrupted, 1 not started\n",
            stdout,
        ), described
        assert (
            f"    interrupted (2):\n      2 hosts: interrupted ({name}) at slow (deploy.py:7)\n        127.0.0.2, 127.0.0.3\n"
            in stdout
        ), described
        assert f"    not started (1):\n      @sim/late: not started (interrupted ({name}))\n" in stdout, described
