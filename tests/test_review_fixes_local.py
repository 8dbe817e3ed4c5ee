"""Fixes from a security review, each run for real on ``@local`` (this machine's ``sh`` is
dash): server.kill's command line under dash, git.repo's checkout of a branch named like a
path, apt.deb's download directory, files.download's temporary file, and Secrets given in an
operation's arguments kept out of the output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signal", [9, "KILL"])
def test_kill_runs_under_dash(tmp_path: Path, signal: object) -> None:
    assert os.path.realpath("/bin/sh").endswith("dash")
    proc = subprocess.Popen(["sleep", "300"])
    try:
        deploy = write_deploy(
            tmp_path,
            f"""
            from oxinfra.operations import server
            server.kill(name="kill", pid={proc.pid}, signal={signal!r})
            """,
        )
        out = run_deploy("@local", deploy)
        assert out.code == 0 and out.statuses("@local")["kill"] == "changed", out.describe()
        proc.wait(timeout=10)
        assert proc.returncode == -9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
