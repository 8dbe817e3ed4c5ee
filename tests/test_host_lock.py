"""One run at a time per host: the lock the first script takes on the host (through the
real CLI, child processes, the loopback fleet), and its mkdir fallback under a real sh."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import (
    Outcome,
    _parse_events,
    assert_no_traceback,
    cli_env,
    run_cli,
    target,
    write_deploy,
    write_inventory,
)
from oxinfra._engine.lock import BUSY, lock_path, lock_script
from test_run_control import sleepers, wait_gone

__all__ = ["target"]  # fixtures used here

HOST = "127.0.0.1"


def start(*args: Any) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "oxinfra", "--json", "-y", *(str(a) for a in args)]
    return subprocess.Popen(
        argv, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> Outcome:
    stdout, stderr = proc.communicate(timeout=60)
    return Outcome(proc.returncode, stdout, stderr, _parse_events(stdout))


def wait_for(path: Path, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def one_host(tmp_path: Path, fleet: Any) -> Path:
    return write_inventory(tmp_path, fleet, groups={"one": [HOST]})


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "no-host-lock"])
def test_concurrent_runs_are_serialized_never_interleaved(
    tmp_path: Path, target: Path, sshd_fleet: Any, locked: bool
) -> None:
    """Two runs appending with server.shell: with the lock both append, one after the other;
    with --no-host-lock (the control) their lines interleave."""
    log = target / "log"
    deploys = [
        write_deploy(
            tmp_path,
            f"""
        from oxinfra.operations import server
        server.shell(name="append", commands=["echo {run}-start >> {log}; sleep 2; echo {run}-end >> {log}"])
    """,
            name=f"{run}.py",
        )
        for run in "AB"
    ]
    inventory = one_host(tmp_path, sshd_fleet)
    flags = [] if locked else ["--no-host-lock"]
    first = start(*flags, inventory, deploys[0])
    wait_for(log)
    second = start(*flags, inventory, deploys[1])
    a, b = finish(first), finish(second)
    assert a.code == 0 and b.code == 0, a.describe() + b.describe()
    lines = log.read_text().split()
    if locked:
        assert lines == ["A-start", "A-end", "B-start", "B-end"]
    else:
        assert lines == ["A-start", "B-start", "A-end", "B-end"]


def test_concurrent_line_deploys_write_the_line_once(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    path = target / "conf"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files, server
        server.shell(name="slow", commands=["echo >> {target}/started; sleep 1"])
        files.line(name="line", path="{path}", line="MODE=production")
    """,
    )
    inventory = one_host(tmp_path, sshd_fleet)
    first = start(inventory, deploy)
    wait_for(target / "started")
    second = start(inventory, deploy)
    a, b = finish(first), finish(second)
    assert a.code == 0 and b.code == 0, a.describe() + b.describe()
    assert path.read_text() == "MODE=production\n"
    assert {a.statuses(HOST)["line"], b.statuses(HOST)["line"]} == {"changed", "unchanged"}


def test_a_held_lock_fails_that_host_after_the_timeout(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files
        files.file(name="mark", path=f"@ROOT@/{host.name}")
    """,
        target,
    )
    inventory = write_inventory(tmp_path, sshd_fleet)
    path = lock_path(HOST)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        os.fchmod(fd, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run, as far as the host can tell
        for wait in ("1", "0"):
            started = time.monotonic()
            out = run_cli("--json", "-y", "--lock-timeout", wait, inventory, deploy)
            assert_no_traceback(out)
            assert out.code == 1, out.describe()
            held = out.host(HOST)
            assert held["status"] == "failed" and held["not_run"] == 1, held
            assert f"another run holds this host's lock {path}" in held["error"], held
            assert f"waited {wait} s (--lock-timeout)" in held["error"], held
            assert time.monotonic() - started < 10
            assert sorted(p.name for p in target.iterdir()) == ["127.0.0.2", "127.0.0.3"]
    finally:
        os.close(fd)
    out = run_cli("--json", "-y", "--lock-timeout", "0", inventory, deploy)
    assert out.code == 0, out.describe()


def test_a_daemon_started_by_a_run_does_not_hold_the_lock(tmp_path: Path, sshd_fleet: Any) -> None:
    tag = f"1000.{secrets.randbelow(10**6):06d}"
    inventory = one_host(tmp_path, sshd_fleet)
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.shell(name="daemon", commands=["nohup sleep {tag} >/dev/null 2>&1 &"])
    """,
    )
    try:
        assert run_cli("-y", inventory, deploy).code == 0
        assert sleepers(tag), "the daemon should run on after the run"
        again = run_cli("--json", "-y", "--lock-timeout", "0", inventory, deploy)
        assert again.code == 0, again.describe()
    finally:
        for line in sleepers(tag):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    assert wait_gone(tag) == []


def test_the_lock_of_a_controller_that_died_goes_with_its_shell(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """SIGKILL to a controller mid-command: its shell finishes that command, then ends (its
    input is gone) and the lock with it; the next run waits that long, not its timeout."""
    inventory = one_host(tmp_path, sshd_fleet)
    slow = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.shell(name="slow", commands=["echo >> {target}/started; sleep 3"])
    """,
        name="slow.py",
    )
    quick = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.file(name="after", path="{target}/after")
    """,
        name="quick.py",
    )
    proc = start(inventory, slow)
    wait_for(target / "started")
    killed = time.monotonic()
    proc.kill()
    finish(proc)
    out = run_cli("--json", "-y", "--lock-timeout", "20", inventory, quick)
    waited = time.monotonic() - killed
    assert out.code == 0, out.describe()
    assert 1.5 < waited < 15, waited
    assert (target / "after").exists()


# -- the mkdir fallback, under a real sh without flock ---------------------------------------


@pytest.fixture
def no_flock_path(tmp_path: Path) -> str:
    """A PATH with what the fallback uses but no flock."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mkdir", "rm", "rmdir", "mv", "ps", "sleep"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def shell_taking(path: str, timeout: float, env_path: str, then: str = "exec sleep 30") -> subprocess.Popen[str]:
    """A real sh that runs the lock text, prints its status, then runs ``then``."""
    proc = subprocess.Popen(
        [shutil.which("sh") or "/bin/sh"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": env_path},
    )
    assert proc.stdin is not None
    proc.stdin.write(lock_script(path, timeout) + 'echo "status $__ox_k"\n' + then + "\n")
    proc.stdin.flush()
    return proc


def status_of(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def test_mkdir_fallback_waits_times_out_and_breaks_a_dead_holders_lock(tmp_path: Path, no_flock_path: str) -> None:
    path = str(tmp_path / "host.lock")
    holder = shell_taking(path, 5, no_flock_path)
    waiter = None
    try:
        assert status_of(holder) == "status 0"
        assert Path(path + ".d", "pid").read_text().strip() == str(holder.pid)
        busy = shell_taking(path, 1, no_flock_path, then="exit")
        assert status_of(busy) == f"status {BUSY}"
        busy.communicate()
        waiter = shell_taking(path, 20, no_flock_path, then="exit")
        time.sleep(0.5)
        holder.kill()  # dies holding the lock: no EXIT trap runs
        holder.communicate()
        started = time.monotonic()
        assert status_of(waiter) == "status 0"  # the stale lock was broken
        assert time.monotonic() - started < 5
        waiter.communicate()
        assert not Path(path + ".d").exists()  # released by the EXIT trap
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_flock_lock_under_a_real_sh(tmp_path: Path) -> None:
    if not shutil.which("flock"):
        pytest.skip("no flock here")
    path = str(tmp_path / "host.lock")
    env_path = os.environ.get("PATH", "/usr/bin:/bin")
    holder = shell_taking(path, 5, env_path)
    try:
        assert status_of(holder) == "status 0"
        busy = shell_taking(path, 0.5, env_path, then="exit")
        assert status_of(busy) == f"status {BUSY}"
        busy.communicate()
        waiter = shell_taking(path, 10, env_path, then="exit")
        time.sleep(0.3)
        holder.kill()
        holder.communicate()
        assert status_of(waiter) == "status 0"
        waiter.communicate()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()


def test_a_flock_without_e_falls_back_to_the_mkdir_lock(tmp_path: Path, no_flock_path: str) -> None:
    """A flock that knows neither ``-E`` nor ``-w`` (busybox's, util-linux before 2.26) fails
    with a usage error: that is never "busy" and never "taken", but the mkdir lock. The
    stand-in below answers every call as such a flock does (Debian's busybox has no flock
    applet to run instead)."""
    old_flock = Path(no_flock_path, "flock")
    old_flock.write_text("#!/bin/sh\necho \"flock: unrecognized option '-E'\" >&2\nexit 1\n")
    old_flock.chmod(0o755)
    path = str(tmp_path / "host.lock")
    holder = shell_taking(path, 5, no_flock_path)
    try:
        assert status_of(holder) == "status 0"
        assert Path(path + ".d", "pid").read_text().strip() == str(holder.pid)
        busy = shell_taking(path, 1, no_flock_path, then="exit")
        assert status_of(busy) == f"status {BUSY}"
        busy.communicate()
    finally:
        holder.kill()
        holder.communicate()
