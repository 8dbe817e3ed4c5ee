"""The ``oxinfra`` command: version, JSON events, exec, exit codes, --limit, --data, inventories.

Runs that test what a user sees (exit code, stdout vs stderr, the TTY check) use a child
process ``python -m oxinfra``; the others call the click command in-process.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import (
    assert_no_traceback,
    inventory,
    invoke,
    run_cli,
    run_deploy,
    target,
    tree,
    write_deploy,
    write_inventory,
)
from oxinfra import __version__

__all__ = ["inventory", "target"]  # fixtures used here

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]

# Writes <root>/<host>/greeting and reports what it did.
SMALL = """
    from oxinfra import host
    from oxinfra.operations import files, server
    d = f"@ROOT@/{host.name}"
    files.directory(name="dir", path=d)
    files.file(name="file", path=d + "/f", mode="600")
    server.shell(name="echo", commands=["echo out-$((40 + 2))"])
"""


def test_version() -> None:
    out = run_cli("--version")
    assert out.code == 0
    assert out.stdout.strip() == f"oxinfra {__version__}"
    assert __version__.count(".") == 2


def test_help_names_the_forms() -> None:
    out = run_cli("--help")
    assert out.code == 0
    assert "exec -- COMMAND" in out.stdout and "--dry" in out.stdout and "@local" in out.stdout


def test_json_is_one_object_per_line_ending_with_summary(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    out = run_cli("--json", "-y", inventory, deploy)
    assert out.code == 0, out.describe()
    lines = out.stdout.splitlines()
    events = [json.loads(line) for line in lines]  # every line parses on its own
    assert all(isinstance(e, dict) and "event" in e for e in events)
    assert events[0]["event"] == "plan" and events[0]["hosts"] == 3 and len(events[0]["operations"]) == 3
    assert events[-1]["event"] == "summary"
    assert [e["event"] for e in events].count("summary") == 1
    summary = events[-1]
    assert summary["success"] is True and summary["dry"] is False
    assert set(summary["hosts"]) == set(HOSTS)
    for h in HOSTS:
        counts = summary["hosts"][h]
        assert (counts["changed"], counts["unchanged"], counts["failed"]) == (3, 0, 0)
        assert counts["status"] == "success"
        ops = [e for e in events if e["event"] == "operation" and e["host"] == h]
        assert [e["op"] for e in ops] == ["dir", "file", "echo"]
        assert {"host_done", "connected"} <= {e["event"] for e in events if e.get("host") == h}
    assert summary["totals"]["changed"] == 9
    assert out.stderr == ""
    for h in HOSTS:
        assert tree(target / h) == {"f": "file"}


def test_human_output_and_dry_run(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    dry = run_cli("--dry", inventory, deploy)
    assert dry.code == 0, dry.describe()
    assert "Dry run: 3 operations on 3 hosts" in dry.stdout
    assert "[127.0.0.2] file: would change" in dry.stdout
    lines = dry.stdout.splitlines()
    assert any(re.fullmatch(r"    operation +would change +unchanged +failed +not run", line) for line in lines)
    assert any(re.fullmatch(r"    file \(deploy\.py:6\) +3 +0 +0 +0", line) for line in lines), dry.describe()
    assert any(re.fullmatch(r"    total +9 +0 +0 +0", line) for line in lines), dry.describe()
    assert re.search(r"--> 3 hosts in [0-9.]+ s: 0 ok, 3 would change, 0 failed, 0 unreachable\n", dry.stdout)
    assert tree(target) == {}
    real = run_cli("-y", "-v", inventory, deploy)
    assert real.code == 0, real.describe()
    assert "[127.0.0.3] dir: changed" in real.stdout
    assert re.search(r"\n    total +9 +0 +0 +0\n", real.stdout), real.describe()
    assert re.search(r"--> 3 hosts in [0-9.]+ s: 0 ok, 3 changed, 0 failed, 0 unreachable\n", real.stdout)
    again = run_cli("-y", "-v", inventory, deploy)
    assert "[127.0.0.1] file: unchanged (file " in again.stdout
    assert re.search(r"\n    total +3 +6 +0 +0\n", again.stdout), again.describe()


def test_exec_prints_per_host_output(inventory: Path) -> None:
    out = run_cli(inventory, "exec", "--", "echo", "hi", "from", "'$(id -un)'")
    assert out.code == 0, out.describe()
    for h in HOSTS:
        # several words: each is one argument, as typed (quotes included), never shell code
        assert f"[{h}] hi from '$(id -un)'" in out.stdout.splitlines()
    assert "3 hosts" in out.stdout


def test_exec_multiline_output_is_prefixed(inventory: Path) -> None:
    out = run_cli(inventory, "--limit", "db", "exec", "--", "printf 'a\\nb\\n'")
    assert out.code == 0, out.describe()
    assert "[127.0.0.3] a\n[127.0.0.3] b\n" in out.stdout
    assert "127.0.0.1" not in out.stdout


def test_exit_code_is_1_when_one_host_fails(inventory: Path) -> None:
    cmd = 'case "$SSH_CONNECTION" in *" 127.0.0.2 "*) echo boom >&2; exit 4;; esac; echo ok'
    out = run_cli("--json", inventory, "exec", "--", cmd)
    assert out.code == 1, out.describe()
    summary = out.summary
    assert summary["success"] is False
    assert summary["hosts"]["127.0.0.2"]["status"] == "failed"
    assert summary["hosts"]["127.0.0.2"]["failed"] == 1
    failed = out.op("127.0.0.2", "exec")
    assert failed["error"] == "exit code 4" and failed["stderr"].strip() == "boom"
    for h in ("127.0.0.1", "127.0.0.3"):
        assert summary["hosts"][h]["status"] == "success"
    human = run_cli(inventory, "exec", "--", cmd)
    assert human.code == 1
    assert "[127.0.0.1] ok" in human.stdout and "[127.0.0.3] ok" in human.stdout
    assert "failed: exit code 4" in human.stdout and "boom" in human.stdout
    assert "[127.0.0.2] failed: exit code 4\n    stderr: boom\n" in human.stdout, human.describe()
    assert re.search(r"--> 3 hosts in [0-9.]+ s: 0 ok, 2 changed, 1 failed, 0 unreachable\n", human.stdout)
    assert "    failed (1):\n      127.0.0.2: exit code 4\n" in human.stdout, human.describe()


@pytest.mark.parametrize(
    ("limit", "hosts"),
    [
        (["web"], ["127.0.0.1", "127.0.0.2"]),
        (["db"], ["127.0.0.3"]),
        (["*.0.3"], ["127.0.0.3"]),
        (["127.0.0.?"], HOSTS),
        (["127.0.0.1", "db"], ["127.0.0.1", "127.0.0.3"]),
        (["127.0.0.2,db"], ["127.0.0.2", "127.0.0.3"]),
        (["127.0.0.[1:2]"], ["127.0.0.1", "127.0.0.2"]),
    ],
)
def test_limit(tmp_path: Path, target: Path, inventory: Path, limit: list[str], hosts: list[str]) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    args: list[Any] = []
    for pattern in limit:
        args += ["--limit", pattern]
    out = run_deploy(inventory, deploy, *args)
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == hosts
    assert sorted(os.listdir(target)) == hosts


def test_data_reaches_host_data(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inv = write_inventory(tmp_path, sshd_fleet, extra="")
    text = inv.read_text().replace("dict(_ssh))", "dict(_ssh, color='blue', size=1))")
    inv.write_text(text)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import server
        server.shell(name="data", commands=[
            f"printf '%s' {repr(host.data.color)!r} {repr(host.data.size)!r} {repr(host.data.get('extra'))!r}"
            f" > @ROOT@/{host.name}"])
    """,
        target,
    )
    plain = run_deploy(inv, deploy, "--limit", "web")
    assert plain.code == 0, plain.describe()
    assert (target / "127.0.0.1").read_text() == "'blue'1None"
    out = run_deploy(inv, deploy, "--data", "color=red", "--data", 'extra=[1, "two"]', "--data", "size=3")
    assert out.code == 0, out.describe()
    for h in HOSTS:  # --data wins over inventory data; values that parse as JSON are JSON
        assert (target / h).read_text() == "'red'3[1, 'two']"


def test_comma_separated_inventory(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    data = [f"--data={k}={v}" for k, v in sshd_fleet.ssh_data().items()]
    out = run_deploy("127.0.0.2,127.0.0.3", deploy, *data)
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == ["127.0.0.2", "127.0.0.3"]
    assert sorted(os.listdir(target)) == ["127.0.0.2", "127.0.0.3"]


def test_local_inventory(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files, server
        files.directory(name="dir", path="@ROOT@/out", mode="700")
        files.line(name="line", path="@ROOT@/out/who", line=f"host={host.name}")
        server.shell(name="shell", commands=["id -u > @ROOT@/out/uid"])
    """,
        tmp_path,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"dir": "changed", "line": "changed", "shell": "changed"}
    assert (tmp_path / "out" / "who").read_text() == "host=@local\n"
    assert (tmp_path / "out" / "uid").read_text().strip() == str(os.getuid())
    assert oct((tmp_path / "out").stat().st_mode & 0o777) == "0o700"
    again = run_deploy("@local", deploy)
    assert again.statuses("@local") == {"dir": "unchanged", "line": "unchanged", "shell": "changed"}


def test_without_yes_and_no_tty_is_an_error(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    out = run_cli(inventory, deploy)  # stdin is a pipe, not a terminal
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a terminal" in lines[0] and "-y" in lines[0] and "--dry" in lines[0]
    assert tree(target) == {}


def test_in_process_and_child_process_agree(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, SMALL, target)
    first = invoke("--dry", inventory, deploy)
    second = run_cli("--json", "--dry", inventory, deploy)
    assert first.code == second.code == 0
    for h in HOSTS:
        assert first.statuses(h) == second.statuses(h) == {"dir": "changed", "file": "changed", "echo": "changed"}


@pytest.mark.parametrize(
    ("hosts", "cpus", "expected"),
    [
        (1, 2, 1),
        (19_999, 2, 1),
        (39_999, 2, 1),
        (40_000, 2, 2),
        (100_000, 2, 2),
        (100_000, 8, 5),
        (1_000_000, 8, 8),
        (100_000, None, 1),
    ],
)
def test_auto_shards_one_per_20000_hosts_at_most_one_per_cpu(
    monkeypatch: pytest.MonkeyPatch, hosts: int, cpus: int | None, expected: int
) -> None:
    from oxinfra import cli

    monkeypatch.setattr(cli.os, "cpu_count", lambda: cpus)
    assert cli.auto_shards(hosts) == expected


@pytest.mark.parametrize(("value", "error"), [("0", "needs at least 1 shard"), ("two", "is not a number")])
def test_bad_shards_is_a_usage_error(value: str, error: str) -> None:
    out = run_cli("@local", "--shards", value, "--dry", "deploy.py")
    assert out.code == 2
    assert error in out.stderr
    assert_no_traceback(out)


def test_shards_from_the_environment(tmp_path: Path) -> None:
    out = run_cli("@local", "--dry", "deploy.py", env={"OXINFRA_SHARDS": "0"})
    assert out.code == 2 and "needs at least 1 shard" in out.stderr
