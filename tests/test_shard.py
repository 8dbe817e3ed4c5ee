"""Sharded runs (hosts spread over worker processes) give the same results as one process."""

from __future__ import annotations

import json
import shutil
import tempfile
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import load_inventory, run
from oxinfra.exceptions import DeployError


def _inventory(tmp_path: Path, fleet: Any, extra: str = "") -> Path:
    inv = tmp_path / "inventory.py"
    data = fleet.ssh_data()
    inv.write_text(f"hosts = [(h, {{**{data!r}, 'idx': i}}) for i, h in enumerate({fleet.hosts!r})]\n{extra}")
    return inv


def _deploy(tmp_path: Path, root: Path) -> Path:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra import host\n"
        "from oxinfra.operations import files, server\n"
        f"root = f'{root}/{{host.name}}'\n"
        "files.directory(name='dir', path=root, mode='755')\n"
        "files.line(name='line', path=f'{root}/env', line=f'IDX={host.data.idx}')\n"
        "files.replace(name='replace', path=f'{root}/env', text='IDX=1', replace='IDX=one')\n"
        "server.shell(name='probe', commands=['true'])\n"
    )
    return deploy


def _statuses(result: Any) -> dict[str, list[tuple[str, str]]]:
    return {name: [(op["op"], op["status"]) for op in h.ops] for name, h in result.hosts.items()}


@pytest.fixture
def root(tmp_path: Path) -> Any:
    # unique: concurrent test runs on one machine must not share the hosts' target
    path = Path(tempfile.mkdtemp(prefix="oxinfra-shard-", dir="/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_sharded_equals_single_process(tmp_path: Path, sshd_fleet: Any, root: Path) -> None:
    inventory = load_inventory(str(_inventory(tmp_path, sshd_fleet)))
    deploy = str(_deploy(tmp_path, root))
    dry_single = run(inventory, [deploy], dry=True)
    dry_sharded = run(inventory, [deploy], dry=True, shards=2)
    assert _statuses(dry_single) == _statuses(dry_sharded)
    assert dry_single.order == dry_sharded.order
    first = run(inventory, [deploy], shards=2)
    assert first.success
    assert (root / sshd_fleet.hosts[0] / "env").read_text() == "IDX=0\n"
    assert (root / sshd_fleet.hosts[1] / "env").read_text() == "IDX=one\n"
    again_sharded = run(inventory, [deploy], shards=3)
    again_single = run(inventory, [deploy])
    assert _statuses(again_sharded) == _statuses(again_single)
    # host 1's line is gone (replaced), so files.line adds it again on every run, then the
    # replace turns it into IDX=one again: the same on one process and on three
    changing = {(h, op) for h, ops in _statuses(again_single).items() for op, s in ops if s == "changed"}
    assert changing == {(h, "probe") for h in sshd_fleet.hosts} | {
        (sshd_fleet.hosts[1], "line"),
        (sshd_fleet.hosts[1], "replace"),
    }


def test_an_order_conflict_across_shards_changes_nothing(tmp_path: Path, sshd_fleet: Any, root: Path) -> None:
    inventory = load_inventory(str(_inventory(tmp_path, sshd_fleet)))
    deploy = tmp_path / "conflict.py"
    deploy.write_text(
        "from oxinfra import host\n"
        "from oxinfra.operations import files\n"
        f"def a(): files.directory(path='{root}/' + host.name + '/a')\n"
        f"def b(): files.directory(path='{root}/' + host.name + '/b')\n"
        "for step in ([a, b] if host.data.idx == 0 else [b, a]):\n    step()\n"
    )
    with pytest.raises(DeployError, match="conflict"):
        run(inventory, [str(deploy)], shards=3)
    assert list(root.iterdir()) == []


def test_cli_shards_json_summary(tmp_path: Path, sshd_fleet: Any, root: Path) -> None:
    inv = _inventory(tmp_path, sshd_fleet)
    deploy = _deploy(tmp_path, root)
    done = subprocess.run(
        [sys.executable, "-m", "oxinfra", str(inv), str(deploy), "-y", "--json", "--shards", "2"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["success"]
    assert [e["host"] for e in events if e["event"] == "host_done"].__len__() == len(sshd_fleet.hosts)
    assert list(summary["hosts"]) == sshd_fleet.hosts


def test_data_a_worker_cannot_receive_is_a_clear_error(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.py"
    inv.write_text("web = [('web1', {'hook': lambda: 1}), 'web2']\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from oxinfra.operations import server\nserver.shell(commands=['true'])\n")
    done = subprocess.run(
        [sys.executable, "-m", "oxinfra", str(inv), str(deploy), "-y", "--shards", "2"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "web1" in done.stderr and "'hook'" in done.stderr and "--shards 1" in done.stderr
    assert "Traceback" not in done.stderr
