"""SSH hosts connect while the deploy files are evaluated (oxinfra._engine.early), through the
real CLI on the loopback fleet: the connections exist before evaluation ends; a deploy that
fails to evaluate, or an interrupt while evaluating, leaves nothing run and no session open;
``--parallel`` below the number of hosts connects as before."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from e2e_helpers import assert_no_traceback, cli_env, run_cli, target, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here

#: Deploy code run on every host's evaluation: how many sockets the controller holds then.
SOCKETS = """
import os
def _sockets():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n
with open("@ROOT@/sockets.log", "a") as log:
    log.write(f"{host.name} {_sockets()}\\n")
"""


def sessions(user: str) -> list[str]:
    """The post-login sshd processes of ``user`` on this machine (one per open session)."""
    out = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.startswith(f"sshd: {user}")]


def wait_no_sessions(user: str, seconds: float = 10.0) -> list[str]:
    end = time.monotonic() + seconds
    while True:
        left = sessions(user)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


def socket_counts(root: Path) -> dict[str, int]:
    lines = (root / "sockets.log").read_text().split("\n")
    return {name: int(n) for name, n in (line.split() for line in lines if line)}


def test_hosts_connect_while_deploys_are_evaluated(tmp_path: Path, target: Path, sshd_fleet_factory: Any) -> None:
    # Evaluating a host takes a while here (0.2 s), and the event loop runs one turn between
    # two hosts: asyncssh needs a few turns (its options are prepared in a worker thread)
    # before a connection has its socket.
    fleet = sshd_fleet_factory(12)
    deploy = write_deploy(
        tmp_path,
        "import time\nfrom oxinfra import host\nfrom oxinfra.operations import files\n"
        + SOCKETS
        + 'files.file(name="mark", path=f"@ROOT@/{host.name}")\ntime.sleep(0.2)\n',
        target,
    )
    out = run_cli("--json", "-y", write_inventory(tmp_path, fleet, groups={"all": fleet.hosts}), deploy)
    assert out.code == 0, out.describe()
    counts = socket_counts(target)
    # The first host is evaluated before the event loop ever runs; by the last one, every
    # host's connection has been started (a socket each).
    first, last = fleet.hosts[0], fleet.hosts[-1]
    assert counts[last] >= counts[first] + len(fleet.hosts), counts
    assert all((target / h).exists() for h in fleet.hosts)
    assert all(out.host(h)["round_trips"] == 2 for h in fleet.hosts), out.describe()


def test_parallel_below_the_hosts_connects_when_each_host_starts(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        "from oxinfra import host\nfrom oxinfra.operations import files\n"
        + SOCKETS
        + 'files.file(name="mark", path=f"@ROOT@/{host.name}")\n',
        target,
    )
    out = run_cli("--json", "-y", "--parallel", "2", write_inventory(tmp_path, sshd_fleet), deploy)
    assert out.code == 0, out.describe()
    counts = socket_counts(target)
    assert counts["127.0.0.3"] == counts["127.0.0.1"], counts
    assert all((target / h).exists() for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3"))


def test_deploy_that_fails_to_evaluate_leaves_nothing_run_and_no_session(
    tmp_path: Path, target: Path, sshd_fleet: Any
) -> None:
    user = sshd_fleet.ssh_data()["ssh_user"]
    assert wait_no_sessions(user) == []
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files
        files.file(name="mark", path=f"@ROOT@/{host.name}")
        if host.name == "127.0.0.3":
            files.directory(name="bad", path="@ROOT@/bad", mode="rwx-oops")
        """,
        target,
    )
    out = run_cli("--json", "-y", write_inventory(tmp_path, sshd_fleet), deploy)
    assert_no_traceback(out)
    assert out.code != 0, out.describe()
    assert "rwx-oops" in out.stderr, out.describe()
    assert sorted(p.name for p in target.iterdir()) == [], "something ran on a host"
    assert wait_no_sessions(user) == []


def test_interrupt_while_evaluating_closes_the_early_connections(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    user = sshd_fleet.ssh_data()["ssh_user"]
    assert wait_no_sessions(user) == []
    deploy = write_deploy(
        tmp_path,
        """
        import time
        from oxinfra import host
        from oxinfra.operations import files
        files.file(name="mark", path=f"@ROOT@/{host.name}")
        if host.name == "127.0.0.3":
            open("@ROOT@.evaluating", "w").close()
            time.sleep(3)  # the signal comes now; the loop sees it once this host is evaluated
        """,
        target,
    )
    marker = Path(f"{target}.evaluating")
    argv = [sys.executable, "-m", "oxinfra", "-y", "--json", str(write_inventory(tmp_path, sshd_fleet)), str(deploy)]
    proc = subprocess.Popen(
        argv, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        end = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < end, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        marker.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    described = f"exit {proc.returncode}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert proc.returncode == 130, described
    assert "Traceback" not in stdout + stderr, described
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert {h["status"] for h in summary["hosts"].values()} == {"not started"}, described
    assert sorted(p.name for p in target.iterdir()) == [], "something ran on a host"
    assert wait_no_sessions(user) == []
