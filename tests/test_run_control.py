"""Run control through the real CLI on the loopback fleet: --host-timeout and
--round-trip-timeout end a stalled host unreachable (and kill what it ran on the host),
--fail-percent stops starting hosts."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, target, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here


def sleepers(tag: str) -> list[str]:
    """Processes of this machine whose command line names ``tag`` (fleet hosts are this machine)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if tag in line]


def wait_gone(tag: str, seconds: float = 5.0) -> list[str]:
    """What still runs with ``tag`` after waiting up to ``seconds`` for it to go."""
    end = time.monotonic() + seconds
    while True:
        left = sleepers(tag)
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


def stall_deploy(tmp_path: Path, root: Path, tag: str, stalled: str) -> Path:
    """Every host makes a file; host ``stalled`` then runs a command that never ends."""
    return write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.operations import files, server
        files.file(name="before", path=f"@ROOT@/{{host.name}}")
        if host.name == {stalled!r}:
            server.shell(name="stall", commands=["sleep {tag}"])
        server.shell(name="after", commands=["true"])
    """,
        root,
    )


@pytest.mark.parametrize(
    ("flag", "message"),
    [("--host-timeout", "host timeout after 3 s at stall"), ("--round-trip-timeout", "no answer within 3 s")],
)
def test_stalled_host_ends_unreachable_and_its_command_is_killed(
    tmp_path: Path, target: Path, sshd_fleet: Any, flag: str, message: str
) -> None:
    tag = f"1000.{secrets.randbelow(10**6):06d}"  # `sleep 1000.xxxxxx`: this test's own process
    inventory = write_inventory(tmp_path, sshd_fleet)
    started = time.monotonic()
    out = run_cli("--json", "-y", flag, "3", inventory, stall_deploy(tmp_path, target, tag, "127.0.0.2"))
    elapsed = time.monotonic() - started
    assert_no_traceback(out)
    assert out.code == 4, out.describe()
    stalled = out.host("127.0.0.2")
    assert stalled["status"] == "unreachable" and message in stalled["error"], stalled
    assert out.statuses("127.0.0.2") == {"before": "changed", "stall": "not run", "after": "not run"}
    for name in ("127.0.0.1", "127.0.0.3"):
        assert out.host(name)["status"] == "success", out.describe()
    assert out.summary["exit_code"] == 4
    assert elapsed < 15, elapsed
    assert wait_gone(tag) == []  # the shell's process group was killed on the host


def test_local_host_command_is_killed_too(tmp_path: Path) -> None:
    tag = f"1000.{secrets.randbelow(10**6):06d}"
    out = run_cli(
        "--json",
        "-y",
        "--round-trip-timeout",
        "2",
        "@local,@sim/other",
        stall_deploy(tmp_path, tmp_path, tag, "@local"),
    )
    assert out.code == 4, out.describe()
    assert "no answer within 2 s (--round-trip-timeout) at stall" in out.host("@local")["error"]
    assert out.host("@sim/other")["status"] == "success"
    assert wait_gone(tag) == []


def test_host_timeout_covers_connecting(tmp_path: Path, sshd_fleet: Any) -> None:
    """A host that accepts TCP but never speaks SSH: ended by --host-timeout while connecting."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        inv = tmp_path / "inventory.py"
        data = dict(sshd_fleet.ssh_data(), ssh_port=silent.getsockname()[1], ssh_connect_timeout=60)
        inv.write_text(f"hosts = [('127.0.0.1', {data!r}), ('127.0.0.2', {sshd_fleet.ssh_data()!r})]\n")
        deploy = write_deploy(
            tmp_path,
            """
            from oxinfra.operations import server
            server.shell(name="ok", commands=["true"])
        """,
        )
        started = time.monotonic()
        out = run_cli("--json", "-y", "--host-timeout", "2", inv, deploy)
    assert time.monotonic() - started < 12
    assert out.code == 4, out.describe()
    assert "host timeout after 2 s while connecting" in out.host("127.0.0.1")["error"], out.describe()
    assert out.host("127.0.0.2")["status"] == "success"


FAILING = """
    from oxinfra import host
    from oxinfra.operations import files, server
    files.file(name="ran", path=f"@ROOT@/{host.name}")
    server.shell(name="check", commands=[f"case ,@FAIL@, in *,{host.name},*) exit 1;; esac"])
"""


@pytest.mark.parametrize(
    ("percent", "fail", "expected"),
    [
        ("0", "127.0.0.1", ["failed", "not started", "not started"]),
        ("50", "127.0.0.1,127.0.0.2", ["failed", "failed", "not started"]),
        ("50", "127.0.0.1", ["failed", "success", "success"]),
    ],
)
def test_fail_percent_stops_starting_hosts(
    tmp_path: Path, target: Path, sshd_fleet: Any, percent: str, fail: str, expected: list[str]
) -> None:
    """--parallel 1: hosts start in inventory order, so which ones never start is known."""
    inventory = write_inventory(tmp_path, sshd_fleet, groups={"all_hosts": sshd_fleet.hosts})
    deploy = write_deploy(tmp_path, FAILING.replace("@FAIL@", fail), target)
    out = run_cli("--json", "-y", "--parallel", "1", "--fail-percent", percent, inventory, deploy)
    assert_no_traceback(out)
    assert out.code == 1, out.describe()
    assert [out.host(h)["status"] for h in sshd_fleet.hosts] == expected
    ran = sorted(p.name for p in target.iterdir())
    assert ran == [h for h, status in zip(sshd_fleet.hosts, expected) if status != "not started"]
    stopping = [e for e in out.events if e["event"] == "stopping"]
    if "not started" in expected:
        assert len(stopping) == 1 and f"more than --fail-percent {percent}" in stopping[0]["reason"]
        assert out.summary["stopped"] == stopping[0]["reason"]
        for h, status in zip(sshd_fleet.hosts, expected):
            if status == "not started":
                assert out.statuses(h) == {} and out.host(h)["not_run"] == 2  # no event per operation
    else:
        assert stopping == [] and out.summary["stopped"] is None
    human = run_cli("-y", "--parallel", "1", "--fail-percent", percent, inventory, deploy)
    if "not started" in expected:
        assert "--> stopping: " in human.stdout and "not started (" in human.stdout, human.describe()


def test_fail_percent_lets_a_running_host_finish_its_script_only(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """127.0.0.1 fails after 1 s; 127.0.0.2 is running its first script then (3 s): it finishes
    that script, its Python callback is in no script, and it sends nothing more."""
    inventory = write_inventory(tmp_path, sshd_fleet, groups={"all_hosts": sshd_fleet.hosts})
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.api import FunctionCommand, operation
        from oxinfra.operations import server

        @operation()
        def callback():
            yield FunctionCommand(lambda: None)

        log = f"@ROOT@/{host.name}"
        fail = f"test {host.name} != 127.0.0.1 || {{ sleep 1; exit 1; }}"  # after 127.0.0.2 has sent its script
        server.shell(name="first", commands=[fail, f"sleep 2; echo one >> {log}"])
        callback(name="callback")
        server.shell(name="second", commands=[f"echo two >> {log}"])
    """,
        target,
    )
    out = run_cli("--json", "-y", "--parallel", "2", "--fail-percent", "0", inventory, deploy)
    assert out.code == 1, out.describe()
    assert [out.host(h)["status"] for h in sshd_fleet.hosts] == ["failed", "stopped", "not started"]
    assert out.statuses("127.0.0.2") == {"first": "changed", "callback": "changed", "second": "not run"}
    assert "stopped before second" in out.host("127.0.0.2")["error"]
    assert (target / "127.0.0.2").read_text() == "one\n"
    assert not (target / "127.0.0.3").exists()


def test_options_are_checked(tmp_path: Path) -> None:
    for args in (["--fail-percent", "101"], ["--host-timeout", "0"], ["--round-trip-timeout", "-1"]):
        out = run_cli("-y", *args, "@local", "exec", "--", "true")
        assert out.code == 2 and args[0] in out.stderr, out.describe()
    assert os.path.exists(tmp_path)


def test_library_runs_take_a_control(tmp_path: Path) -> None:
    """oxinfra.api.run(..., control=RunControl(...)): the same limits without the CLI."""
    from oxinfra.api import RunControl, load_inventory, run

    tag = f"1000.{secrets.randbelow(10**6):06d}"
    deploy = stall_deploy(tmp_path, tmp_path, tag, "@local")
    result = run(load_inventory("@local"), [str(deploy)], control=RunControl(round_trip_timeout=1))
    local = result.hosts["@local"]
    assert local.status == "unreachable" and "no answer within 1 s" in (local.error or ""), local.summary()
    assert result.interrupted is None and result.stopped is None
    assert wait_gone(tag) == []


def test_stalled_fact_read_by_the_deploy_file_itself(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """A deploy file that reads a fact while it is evaluated connects before the others run:
    a stall there ends that host unreachable too, and the command is killed."""
    tag = f"1000.{secrets.randbelow(10**6):06d}"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.api import FactBase
        from oxinfra.operations import files

        class Slow(FactBase):
            def command(self):
                return "sleep {tag}; echo x"

            def process(self, output):
                return output

        if host.name == "127.0.0.2":
            host.get_fact(Slow)
        files.file(name="mark", path=f"@ROOT@/{{host.name}}")
    """,
        target,
    )
    out = run_cli("--json", "-y", "--round-trip-timeout", "2", write_inventory(tmp_path, sshd_fleet), deploy)
    assert out.code == 4, out.describe()
    assert "no answer within 2 s (--round-trip-timeout) while evaluating its deploy" in out.host("127.0.0.2")["error"]
    assert sorted(p.name for p in target.iterdir()) == ["127.0.0.1", "127.0.0.3"]
    assert wait_gone(tag) == []
