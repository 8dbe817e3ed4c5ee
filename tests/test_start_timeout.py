"""A host whose shell never starts the first script -- a login script that reads its input
or waits (``~/.bashrc`` of a bash login: sshd runs ``bash -c``, and bash reads it) -- ends
``unreachable`` after ``start_timeout`` (RunControl; 60 s by default), saying why, and the
run ends with its summary.

Found by a hostile review: such a host held the run forever (no summary, no exit code) unless
``--round-trip-timeout`` was given; the other hosts had finished long before."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import RunControl, load_inventory, run

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_a_shell_that_reads_its_input_at_login_fails_alone_in_time(tmp_path: Path, sshd_fleet_factory: Any) -> None:
    user = "oxinfra-stall"
    fleet = sshd_fleet_factory(1, user=user)
    entry = pwd.getpwnam(user)
    subprocess.run(["usermod", "-s", "/bin/bash", user], check=True)
    rc = Path(entry.pw_dir) / ".bashrc"
    rc.write_text("IFS= read -r x\n")
    try:
        inventory = tmp_path / "inventory.py"
        inventory.write_text(f"hosts = [({fleet.hosts[0]!r}, {fleet.ssh_data()!r}), ('@local', {{}})]\n")
        deploy = tmp_path / "deploy.py"
        deploy.write_text(f"from oxinfra.operations import files\nfiles.file(path={str(tmp_path)!r} + '/mark')\n")
        started = time.monotonic()
        result = run(load_inventory(str(inventory)), [str(deploy)], control=RunControl(start_timeout=2, lock_timeout=1))
        assert time.monotonic() - started < 30
        stalled = result.hosts[fleet.hosts[0]]
        assert stalled.status == "unreachable", stalled
        assert "did not start the first script within 3 s" in (stalled.error or "")  # + the lock wait
        assert result.hosts["@local"].status == "success"
        assert (tmp_path / "mark").exists()
    finally:
        rc.unlink(missing_ok=True)
        subprocess.run(["usermod", "-s", "/bin/sh", user], check=True)


def test_a_slow_first_script_is_not_a_stalled_shell(tmp_path: Path) -> None:
    """The limit is on the first marker, not the first script: a first script whose facts
    take longer than it still runs (its first marker comes at once)."""
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra import host\nfrom oxinfra.facts.server import Command\n"
        "from oxinfra.facts.files import File\n"
        "host.get_fact(File, path='/')\n"
        "host.get_fact(Command, command='sleep 3; echo slow')\n"
    )
    result = run(load_inventory("@local"), [str(deploy)], control=RunControl(start_timeout=1))
    assert result.hosts["@local"].status == "success", result.hosts["@local"]
