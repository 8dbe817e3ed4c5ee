"""--retry-failed runs the hosts the last run did not finish, from the record every run
leaves (.oxinfra/last-run.json in the working directory); --limit @FILE reads host names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e_helpers import assert_no_traceback, run_cli, target, write_deploy, write_inventory
from test_exit_codes import fleet_inventory

__all__ = ["target"]  # fixtures used here

#: The default location: OXINFRA_STATE_FILE (set for the whole test session) is cleared.
DEFAULT = {"OXINFRA_STATE_FILE": ""}

DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import server
    server.shell(name="mark", commands=[f"echo x >> @ROOT@/{host.name}"])
    server.shell(name="check", commands=[f"test ! -e @ROOT@/fail-{host.name}"])
"""


def ran(root: Path) -> dict[str, int]:
    """How many times each host ran the deploy (lines in its file)."""
    return {p.name: len(p.read_text().splitlines()) for p in sorted(root.iterdir()) if not p.name.startswith("fail-")}


def test_retry_failed_runs_only_the_hosts_that_did_not_finish(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = fleet_inventory(tmp_path, sshd_fleet, down=("127.0.0.3",))
    deploy = write_deploy(tmp_path, DEPLOY, target)
    (target / "fail-127.0.0.2").touch()
    first = run_cli("--json", "-y", inventory, deploy, cwd=tmp_path, env=DEFAULT)
    assert first.code == 1, first.describe()
    state = json.loads((tmp_path / ".oxinfra" / "last-run.json").read_text())
    assert state["retry"] == ["127.0.0.2", "127.0.0.3"]
    assert state["by_status"] == {"failed": ["127.0.0.2"], "unreachable": ["127.0.0.3"]}
    assert state["exit_code"] == 1 and state["inventory"] == str(inventory)
    assert ran(target) == {"127.0.0.1": 1, "127.0.0.2": 1}

    # 127.0.0.2 is fixed; 127.0.0.3 is still down: the retry runs both, and only them.
    (target / "fail-127.0.0.2").unlink()
    second = run_cli("--json", "-y", "--retry-failed", inventory, deploy, cwd=tmp_path, env=DEFAULT)
    assert second.code == 4, second.describe()
    assert sorted(second.summary["hosts"]) == ["127.0.0.2", "127.0.0.3"]
    assert ran(target) == {"127.0.0.1": 1, "127.0.0.2": 2}
    assert json.loads((tmp_path / ".oxinfra" / "last-run.json").read_text())["retry"] == ["127.0.0.3"]

    # Back up: the retry converges; then there is nothing left to retry.
    up = fleet_inventory(tmp_path, sshd_fleet)
    third = run_cli("--json", "-y", "--retry-failed", up, deploy, cwd=tmp_path, env=DEFAULT)
    assert third.code == 0 and sorted(third.summary["hosts"]) == ["127.0.0.3"], third.describe()
    assert ran(target) == {"127.0.0.1": 1, "127.0.0.2": 2, "127.0.0.3": 1}
    nothing = run_cli("-y", "--retry-failed", up, deploy, cwd=tmp_path, env=DEFAULT)
    assert nothing.code == 0 and "nothing to retry" in nothing.stderr, nothing.describe()
    assert ran(target) == {"127.0.0.1": 1, "127.0.0.2": 2, "127.0.0.3": 1}


def test_retry_failed_without_a_record_or_with_unknown_hosts_is_an_error(
    tmp_path: Path, target: Path, sshd_fleet: Any
) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet)
    deploy = write_deploy(tmp_path, DEPLOY, target)
    out = run_cli("-y", "--retry-failed", inventory, deploy, cwd=tmp_path, env=DEFAULT)
    assert_no_traceback(out)
    assert out.code == 2 and "no previous run is recorded in .oxinfra/last-run.json" in out.stderr, out.describe()
    state = tmp_path / ".oxinfra" / "last-run.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"retry": ["127.0.0.2", "gone.example"], "inventory": "old.py"}))
    out = run_cli("-y", "--retry-failed", inventory, deploy, cwd=tmp_path, env=DEFAULT)
    assert out.code == 2 and "names hosts that are not in the inventory" in out.stderr, out.describe()
    assert "gone.example" in out.stderr and "old.py" in out.stderr and len(out.stderr.splitlines()) == 1
    state.write_text("{not json")
    out = run_cli("-y", "--retry-failed", inventory, deploy, cwd=tmp_path, env=DEFAULT)
    assert out.code == 2 and "is not a record oxinfra wrote" in out.stderr, out.describe()
    assert list(target.iterdir()) == []


def test_interrupted_and_not_started_hosts_are_retried(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """--fail-percent leaves hosts not started: the record lists them for --retry-failed;
    --state-file puts the record where it says."""
    inventory = fleet_inventory(tmp_path, sshd_fleet)
    deploy = write_deploy(tmp_path, DEPLOY, target)
    (target / "fail-127.0.0.1").touch()
    record = tmp_path / "elsewhere.json"
    out = run_cli(
        "--json",
        "-y",
        "--parallel",
        "1",
        "--fail-percent",
        "0",
        "--state-file",
        record,
        inventory,
        deploy,
        cwd=tmp_path,
    )
    assert out.code == 1, out.describe()
    state = json.loads(record.read_text())
    assert state["by_status"] == {"failed": ["127.0.0.1"], "not started": ["127.0.0.2", "127.0.0.3"]}
    assert not (tmp_path / ".oxinfra").exists()


def test_dry_runs_leave_the_record_alone(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = fleet_inventory(tmp_path, sshd_fleet, down=("127.0.0.3",))
    deploy = write_deploy(tmp_path, DEPLOY, target)
    assert run_cli("-y", inventory, deploy, cwd=tmp_path, env=DEFAULT).code == 4
    before = (tmp_path / ".oxinfra" / "last-run.json").read_text()
    assert run_cli("--dry", fleet_inventory(tmp_path, sshd_fleet), deploy, cwd=tmp_path, env=DEFAULT).code == 0
    assert (tmp_path / ".oxinfra" / "last-run.json").read_text() == before


def test_unwritable_record_is_a_notice_not_a_failure(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet)
    deploy = write_deploy(tmp_path, DEPLOY, target)
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = run_cli("-y", "--state-file", blocker / "last-run.json", inventory, deploy, cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert "could not record this run's failed hosts" in out.stderr, out.describe()


def test_limit_from_a_file(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet)
    deploy = write_deploy(tmp_path, DEPLOY, target)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# the hosts to redo\n127.0.0.1\n\n  127.0.0.3   # the db\n")
    out = run_cli("--json", "-y", "--limit", f"@{hosts}", inventory, deploy)
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == ["127.0.0.1", "127.0.0.3"]
    out = run_cli("--json", "-y", "--limit", "@hosts.txt,!127.0.0.3", inventory, deploy, cwd=tmp_path)
    assert out.code == 0 and sorted(out.summary["hosts"]) == ["127.0.0.1"], out.describe()
    for content, words in (("# nothing\n\n", "names no host"), ("127.0.0.9\n", "127.0.0.9")):
        hosts.write_text(content)
        bad = run_cli("-y", "--limit", f"@{hosts}", inventory, deploy)
        assert_no_traceback(bad)
        assert bad.code == 2 and words in bad.stderr, bad.describe()
    missing = run_cli("-y", "--limit", "@nope.txt", inventory, deploy, cwd=tmp_path)
    assert missing.code == 2 and "--limit @nope.txt: cannot read nope.txt" in missing.stderr, missing.describe()
    assert ran(target) == {"127.0.0.1": 2, "127.0.0.3": 1}


def test_limit_keeps_connector_names(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="ok", commands=["true"])
    """,
    )
    out = run_cli("--json", "-y", "--limit", "@sim/a", "@sim/a,@sim/b", deploy, cwd=tmp_path)
    assert out.code == 0 and list(out.summary["hosts"]) == ["@sim/a"], out.describe()
