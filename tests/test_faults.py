"""Faults stay with their host: a connection lost mid-run ends that host as unreachable at
the operation it was at; every other host finishes, and the run ends with its summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_helpers import assert_no_traceback, run_cli, target, tree, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here


def test_connection_lost_mid_run_stays_with_its_host(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet)
    # 127.0.0.2 kills its own sshd session (the persistent shell's parent) in the middle of
    # the one script that runs all three operations.
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files, server
        d = f"@ROOT@/{host.name}"
        files.directory(name="dir", path=d)
        server.shell(name="maybe die", commands=[f"test {host.name} != 127.0.0.2 || {{ sleep 0.5; kill -9 $PPID; }}"])
        files.file(name="after", path=d + "/after")
    """,
        target,
    )
    out = run_cli("--json", "-y", inventory, deploy, timeout=60)
    assert_no_traceback(out)
    assert out.code == 4, out.describe()
    lost = out.host("127.0.0.2")
    assert lost["status"] == "unreachable", lost
    assert "connection lost" in lost["error"] and "maybe die" in lost["error"], lost
    assert out.statuses("127.0.0.2") == {"dir": "changed", "maybe die": "not run", "after": "not run"}
    # Whether 127.0.0.2 went on with the rest of its script after its sshd was killed depends
    # on whether sshd's pipes were still held open: nothing is claimed about "after" there.
    for name in ("127.0.0.1", "127.0.0.3"):
        assert out.host(name)["status"] == "success", out.describe()
        assert tree(target / name) == {"after": "file"}
