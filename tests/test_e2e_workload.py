"""The standard-10 benchmark workload, end to end on the 3 loopback hosts.

Run 1 on clean hosts, the end state its README names, run 2 (only the shell probe changes),
``--dry`` after run 2 (predicts exactly that, touches nothing) and ``--dry`` on clean hosts
(predicts exactly what run 1 does, creates nothing). Round trips per host are checked as
structural constants from the JSON summary.

Note on run 1: the workload's README says "all ten operations change something". Under
execution-time semantics (pyinfra 3, and oxinfra's planner) that cannot be true of
``files.replace(text="MODE=staging")``: when it runs, ``files.line`` has just written the env
file as ``MODE=production``, so there is nothing to replace. Run 1 is 9 changed + 1 unchanged,
and the dry run on clean hosts predicts exactly the same.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import WORKLOAD_OPS, WORKLOAD_SRC, Outcome, mode, run_deploy, snapshot, tree, write_inventory

ALL_OPS = WORKLOAD_OPS
# Run 1: what can change does; the replace finds nothing to replace (see module docstring).
RUN1 = {name: "changed" for name in ALL_OPS} | {"env replace": "unchanged"}
RUN2 = {name: "unchanged" for name in ALL_OPS} | {"probe": "changed"}


def _app_conf(host: str) -> str:
    return f"# managed file for {host}\n[app]\nname = demo\nworkers = 4\npeer = a\npeer = b\npeer = c\n\n"


def _copy_workload(dest: Path, root: Path) -> Path:
    shutil.copytree(WORKLOAD_SRC, dest)
    deploy = dest / "deploy.py"
    text = deploy.read_text()
    original = 'root = f"/tmp/fleet-target/oxinfra/{host.name}"'
    assert original in text, "the workload's root line moved: update this test"
    deploy.write_text(text.replace(original, f'root = f"{root}/{{host.name}}"'))
    return deploy


def _target() -> Path:
    path = Path(tempfile.mkdtemp(prefix="oxinfra-e2e-std10-", dir="/tmp"))
    os.chmod(path, 0o1777)
    return path


class Runs:
    """The outcomes of the sequence run 1, run 2, dry after run 2 on one target."""

    root: Path
    run1: Outcome
    after_run1: dict[str, Any]
    run2: Outcome
    after_run2: dict[str, Any]
    dry: Outcome
    after_dry: dict[str, Any]


@pytest.fixture(scope="module")
def runs(sshd_fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    work = tmp_path_factory.mktemp("std10")
    root = _target()
    try:
        deploy = _copy_workload(work / "standard-10", root)
        inv = write_inventory(work, sshd_fleet)
        r = Runs()
        r.root = root
        r.run1 = run_deploy(inv, deploy)
        r.after_run1 = snapshot(root)
        r.run2 = run_deploy(inv, deploy)
        r.after_run2 = snapshot(root)
        r.dry = run_deploy(inv, deploy, dry=True)
        r.after_dry = snapshot(root)
        yield r
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_run1_changes_everything_that_can_change(runs: Runs, sshd_fleet: Any) -> None:
    out = runs.run1
    assert out.code == 0, out.describe()
    summary = out.summary
    assert summary["success"] is True and summary["dry"] is False
    assert len(summary["operations"]) == 10
    for h in sshd_fleet.hosts:
        assert out.statuses(h) == RUN1, h
        counts = out.host(h)
        assert (counts["status"], counts["changed"], counts["unchanged"], counts["failed"]) == ("success", 9, 1, 0)
        assert "not found" in out.op(h, "env replace")["noop"]
    assert summary["totals"]["changed"] == 27


def test_run1_end_state(runs: Runs, sshd_fleet: Any) -> None:
    blob = (WORKLOAD_SRC / "files" / "blob.txt").read_bytes()
    for h in sshd_fleet.hosts:
        base = runs.root / h
        app = base / "app"
        assert tree(base) == {
            "app": "dir",
            "app/conf": "dir",
            "app/conf/app.conf": "file",
            "app/blob.txt": "file",
            "app/env": "file",
            "app/marker": "file",
            "current": f"link -> {app}",
            "log": "dir",
        }
        assert mode(app) == 755 and mode(app / "conf") == 755
        assert mode(app / "blob.txt") == 644 and (app / "blob.txt").read_bytes() == blob
        conf = (app / "conf" / "app.conf").read_text()
        assert conf.splitlines()[0] == f"# managed file for {h}"
        assert conf == _app_conf(h)
        assert (app / "env").read_bytes() == b"MODE=production\n"
        assert mode(app / "marker") == 600 and (app / "marker").stat().st_size == 0
        assert mode(base / "log") == 750
        # no upload temporaries or backups left behind
        assert not [p for p in tree(base) if "oxinfra" in p or p.startswith(".")]


def test_run2_only_the_shell_probe_changes(runs: Runs, sshd_fleet: Any) -> None:
    out = runs.run2
    assert out.code == 0, out.describe()
    for h in sshd_fleet.hosts:
        assert out.statuses(h) == RUN2, h
        counts = out.host(h)
        assert (counts["changed"], counts["unchanged"], counts["failed"]) == (1, 9, 0)
    # nothing on disk moved: same contents, modes and mtimes
    assert runs.after_run2 == runs.after_run1


def test_dry_after_run2_predicts_run2_and_changes_nothing(runs: Runs, sshd_fleet: Any) -> None:
    out = runs.dry
    assert out.code == 0, out.describe()
    assert out.summary["dry"] is True
    for h in sshd_fleet.hosts:
        assert out.statuses(h) == runs.run2.statuses(h) == RUN2
    assert runs.after_dry == runs.after_run2


def test_round_trips_are_small_constants(runs: Runs, sshd_fleet: Any) -> None:
    """Structural, not timing: one shell per host, facts batched, ops pipelined."""
    trips1 = {runs.run1.host(h)["round_trips"] for h in sshd_fleet.hosts}
    assert len(trips1) == 1 and 2 <= trips1.pop() <= 4
    # run 2: one batch of facts, one script with every operation
    assert [runs.run2.host(h)["round_trips"] for h in sshd_fleet.hosts] == [2, 2, 2]
    # a dry run only reads facts: one batch
    assert [runs.dry.host(h)["round_trips"] for h in sshd_fleet.hosts] == [1, 1, 1]


def test_dry_on_clean_hosts_predicts_run1_and_creates_nothing(sshd_fleet: Any, tmp_path: Path) -> None:
    root = _target()
    try:
        deploy = _copy_workload(tmp_path / "standard-10", root)
        inv = write_inventory(tmp_path, sshd_fleet)
        dry = run_deploy(inv, deploy, dry=True)
        assert dry.code == 0, dry.describe()
        assert tree(root) == {}, "a dry run created files"
        for h in sshd_fleet.hosts:
            assert dry.statuses(h) == RUN1
            assert dry.host(h)["changed"] == 9
            assert dry.host(h)["round_trips"] == 1
        # ... and the real run does exactly what was predicted
        real = run_deploy(inv, deploy)
        for h in sshd_fleet.hosts:
            assert real.statuses(h) == dry.statuses(h)
    finally:
        shutil.rmtree(root, ignore_errors=True)
