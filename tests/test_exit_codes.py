"""Each exit code through the real CLI, a child process, against the loopback sshd fleet:
0 all ok; 1 some host failed; 2 bad input; 4 some host unreachable and none failed; 70 a
host whose output cannot be parsed (or a bug). 130 (interrupted) is in test_interrupt.py."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, target, write_deploy

__all__ = ["target"]  # fixtures used here


def closed_port() -> int:
    """A loopback port nothing listens on (bound once to find it, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_inventory(directory: Path, fleet: Any, down: tuple[str, ...] = ()) -> Path:
    """An inventory of the fleet's hosts; the hosts in ``down`` point at a closed port."""
    good = fleet.ssh_data()
    entries = []
    for name in fleet.hosts:
        data = dict(good, ssh_port=closed_port(), ssh_connect_timeout=5) if name in down else good
        entries.append(f"({name!r}, {data!r})")
    path = directory / "inventory.py"
    path.write_text(f"hosts = [{', '.join(entries)}]\n")
    return path


#: Fails on the hosts named in FAIL (a comma-separated list in host data-free form).
DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import files, server
    files.file(name="mark", path=f"@ROOT@/{host.name}")
    server.shell(name="maybe fail", commands=[f"case ,@FAIL@, in *,{host.name},*) echo boom >&2; exit 3;; esac"])
"""


def _deploy(tmp_path: Path, target: Path, fail: str = "") -> Path:
    return write_deploy(tmp_path, DEPLOY.replace("@FAIL@", fail), target)


def _statuses(out: Any) -> dict[str, str]:
    return {name: host["status"] for name, host in out.summary["hosts"].items()}


def test_exit_0_every_host_succeeded(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    out = run_cli("--json", "-y", fleet_inventory(tmp_path, sshd_fleet), _deploy(tmp_path, target))
    assert out.code == 0, out.describe()
    assert set(_statuses(out).values()) == {"success"}
    assert out.summary["exit_code"] == 0


def test_exit_1_some_host_failed(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    out = run_cli("--json", "-y", fleet_inventory(tmp_path, sshd_fleet), _deploy(tmp_path, target, "127.0.0.2"))
    assert out.code == 1, out.describe()
    assert _statuses(out) == {"127.0.0.1": "success", "127.0.0.2": "failed", "127.0.0.3": "success"}
    assert out.summary["exit_code"] == 1


def test_exit_4_unreachable_and_none_failed(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = fleet_inventory(tmp_path, sshd_fleet, down=("127.0.0.3",))
    out = run_cli("--json", "-y", inventory, _deploy(tmp_path, target))
    assert_no_traceback(out)
    assert out.code == 4, out.describe()
    assert _statuses(out) == {"127.0.0.1": "success", "127.0.0.2": "success", "127.0.0.3": "unreachable"}
    human = run_cli("-y", inventory, _deploy(tmp_path, target))
    assert human.code == 4, human.describe()
    assert "    unreachable (1):\n      127.0.0.3: cannot connect" in human.stdout, human.describe()


def test_exit_1_wins_over_unreachable(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = fleet_inventory(tmp_path, sshd_fleet, down=("127.0.0.3",))
    out = run_cli("--json", "-y", inventory, _deploy(tmp_path, target, "127.0.0.1"))
    assert out.code == 1, out.describe()
    assert _statuses(out) == {"127.0.0.1": "failed", "127.0.0.2": "success", "127.0.0.3": "unreachable"}


@pytest.mark.parametrize("args", [("--parallel", "0"), ("--no-such-option",), ("missing.py",)])
def test_exit_2_bad_input_runs_nothing(tmp_path: Path, target: Path, sshd_fleet: Any, args: tuple[str, ...]) -> None:
    inventory = fleet_inventory(tmp_path, sshd_fleet)
    deploy = [] if args == ("missing.py",) else [_deploy(tmp_path, target)]
    out = run_cli("-y", inventory, *deploy, *args, cwd=tmp_path)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    assert list(target.iterdir()) == []


def test_exit_70_output_that_cannot_be_parsed(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    # A command that forges a malformed marker line (the nonce is a variable of the shell).
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files, server
        if host.name == "127.0.0.2":
            server.shell(name="forge", commands=["printf '\\\\n@@OX-%s:E:0:bogus\\\\n' \\"$__ox_n\\""])
        files.file(name="mark", path=f"@ROOT@/{host.name}")
    """,
        target,
    )
    out = run_cli("--json", "-y", fleet_inventory(tmp_path, sshd_fleet), deploy)
    assert_no_traceback(out)
    assert out.code == 70, out.describe()
    assert _statuses(out) == {"127.0.0.1": "success", "127.0.0.2": "error", "127.0.0.3": "success"}


def test_help_lists_the_exit_codes() -> None:
    out = run_cli("--help")
    assert out.code == 0
    text = " ".join(out.stdout.split())
    for words in (
        "0 every host succeeded",
        "1 some host failed",
        "2 bad input",
        "4 some host unreachable",
        "70 internal error",
        "130 interrupted",
    ):
        assert words in text, out.stdout
