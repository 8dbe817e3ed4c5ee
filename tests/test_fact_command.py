"""``oxinfra INVENTORY fact MODULE.Fact key=value... [--json]`` against the loopback sshd
fleet: ``{"<host>": value}`` per fact as pyinfra prints it (``--json``: ``{"FACT": {"<host>":
value}}``), datetimes as ISO 8601; a host that fails does so alone, with one line and the
run's exit codes."""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from e2e_helpers import assert_no_traceback, run_cli, write_inventory

__all__ = ["inventory", "target"]  # fixtures used here
from e2e_helpers import inventory, target  # noqa: E402,F401


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_facts_of_every_host_as_json(inventory: Path, target: Path) -> None:
    probe = target / "probe"
    probe.write_text("x")
    os.chmod(probe, 0o640)
    out = run_cli(inventory, "fact", "server.Os", "files.File", f"path={probe}", "--json")
    assert out.code == 0, out.describe()
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    key = f"files.File (path={probe})"
    assert list(data) == ["server.Os", key]
    hosts = list(data["server.Os"])
    assert len(hosts) == 3 and set(data["server.Os"].values()) == {"Linux"}
    for name in hosts:
        info = data[key][name]
        assert info["size"] == 1 and info["mode"] == 640
        # a datetime, shown as ISO 8601 (the host's local time, as pyinfra shows it)
        assert datetime.fromisoformat(info["mtime"]) == datetime.fromtimestamp(int(probe.stat().st_mtime))
    assert_no_traceback(out)


def test_human_output_is_a_header_and_host_json_per_fact(inventory: Path) -> None:
    out = run_cli(inventory, "fact", "server.Os", "files.Directory", "path=/")
    assert out.code == 0, out.describe()
    assert "--> Fact data for: server.Os" in out.stderr
    assert "--> Fact data for: files.Directory (path=/)" in out.stderr
    decoder = json.JSONDecoder()
    text = out.stdout.strip()
    first, end = decoder.raw_decode(text)
    second, _ = decoder.raw_decode(text[end:].strip())
    assert set(first.values()) == {"Linux"} and len(first) == 3
    assert all(v["user"] == "root" for v in second.values())


def test_one_failing_and_one_unreachable_host_fail_alone(tmp_path: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(
        tmp_path,
        sshd_fleet,
        groups={"ok": sshd_fleet.hosts[:2]},
        extra=f"gone = (['127.0.0.9'], dict(_ssh, ssh_port={_closed_port()}))\n",
    )
    out = run_cli(inventory, "fact", "server.Os", "--json")
    assert out.code == 4, out.describe()  # unreachable, none failed
    data = json.loads(out.stdout)["server.Os"]
    assert data["127.0.0.9"] is None
    assert [data[h] for h in sshd_fleet.hosts[:2]] == ["Linux", "Linux"]
    assert "oxinfra: [127.0.0.9] unreachable:" in out.stderr, out.describe()
    # a fact that fails on a host: exit 1, the host named with the fact and why
    out = run_cli(inventory, "fact", "server.Command", "command=exit 3", "--limit", "ok", "--json")
    assert out.code == 1, out.describe()
    assert all(v is None for v in json.loads(out.stdout)["server.Command (command=exit 3)"].values())
    assert f"oxinfra: [{sshd_fleet.hosts[0]}] failed: fact server.Command failed (exit 3)" in out.stderr
    assert_no_traceback(out)


def test_bad_fact_names_and_arguments_are_usage_errors(tmp_path: Path) -> None:
    for args, error in [
        (["server.Nope"], "oxinfra.facts.server has no fact 'Nope'"),
        (["nomodule.Fact"], "no fact module 'nomodule'"),
        (["files.File", "pth=/x"], "fact files.File: no argument pth (its arguments: path)"),
        (["path=/x"], "an argument comes after the fact it is for"),
        ([], "fact needs a fact name"),
    ]:
        out = run_cli("@local", "fact", *args)
        assert out.code == 2 and error in out.stderr, (args, out.describe())
        assert_no_traceback(out)
