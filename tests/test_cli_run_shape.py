"""``--serial``, ``--no-wait``, ``--chdir DIR`` and ``--exclude PATTERN`` (with ``--limit``,
``@FILE`` and ``--retry-failed``), on the loopback sshd fleet and @local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, inventory, invoke, run_cli, target, write_deploy

__all__ = ["inventory", "target"]  # fixtures used here

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]

# Each host notes when its (only) command started and ended.
TIMED = """
    from oxinfra import host
    from oxinfra.operations import server
    server.shell(name="timed", commands=[
        f"date +%s.%N > @ROOT@/{host.name}.start; sleep 0.6; date +%s.%N > @ROOT@/{host.name}.end"])
"""


def _spans(root: Path) -> list[tuple[float, float, str]]:
    return sorted(
        (float((root / f"{h}.start").read_text()), float((root / f"{h}.end").read_text()), h)
        for h in HOSTS
        if (root / f"{h}.start").exists()
    )


def test_serial_runs_one_host_at_a_time_in_inventory_order(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, TIMED, target)
    out = invoke("-y", "--serial", "--shards", "2", inventory, deploy)
    assert out.code == 0, out.describe()
    spans = _spans(target)
    assert [h for _, _, h in spans] == HOSTS
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        assert end <= start, spans  # the next host starts only once the one before is done
    # without it the hosts overlap (so the check above can fail)
    out = invoke("-y", inventory, deploy)
    assert out.code == 0, out.describe()
    spans = _spans(target)
    assert any(end > start for (_, end, _), (start, _, _) in zip(spans, spans[1:])), spans


def test_serial_and_parallel_together_are_a_usage_error() -> None:
    out = run_cli("--serial", "--parallel", "4", "@local", "exec", "--", "true")
    assert out.code == 2 and "--serial or --parallel N, not both" in out.stderr, out.describe()
    assert_no_traceback(out)


def test_no_wait_is_accepted_and_changes_nothing(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, TIMED, target)
    out = invoke("-y", "--no-wait", inventory, deploy)
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == HOSTS and len(_spans(target)) == 3


@pytest.mark.parametrize(
    ("args", "hosts"),
    [
        (["--exclude", "db"], ["127.0.0.1", "127.0.0.2"]),
        (["--exclude", "127.0.0.[1:2]"], ["127.0.0.3"]),
        (["--exclude", "127.0.0.1", "--exclude", "127.0.0.3"], ["127.0.0.2"]),
        (["--exclude", "127.0.0.1,db"], ["127.0.0.2"]),
        (["--limit", "web", "--exclude", "*.2"], ["127.0.0.1"]),
        (["--limit", "web", "--exclude", "db"], ["127.0.0.1", "127.0.0.2"]),  # outside the limit: nothing to drop
    ],
)
def test_exclude(inventory: Path, args: list[str], hosts: list[str]) -> None:
    out = invoke(inventory, "exec", *args, "--", "true")
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == hosts


def test_exclude_from_a_file_and_with_retry_failed(tmp_path: Path, inventory: Path) -> None:
    (tmp_path / "skip.txt").write_text("# canaries\n127.0.0.1\n\n127.0.0.3  # db\n")
    out = invoke(inventory, "exec", "--exclude", f"@{tmp_path / 'skip.txt'}", "--", "true")
    assert sorted(out.summary["hosts"]) == ["127.0.0.2"], out.describe()
    state = tmp_path / "state.json"
    failing = invoke("--state-file", state, inventory, "exec", "--", "false")
    assert failing.code == 1
    retry = invoke("--state-file", state, "--retry-failed", "--exclude", "127.0.0.2", inventory, "exec", "--", "true")
    assert retry.code == 0 and sorted(retry.summary["hosts"]) == ["127.0.0.1", "127.0.0.3"], retry.describe()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exclude", "nope*"], '--exclude "nope*": matches no host or group of the inventory'),
        (["--exclude", "all"], "--exclude 'all' leaves no host to run"),
        (["--limit", "db", "--exclude", "db"], "--exclude 'db' leaves no host to run"),
        (["--exclude", "@missing.txt"], "--exclude @missing.txt: cannot read missing.txt"),
    ],
)
def test_bad_exclude_is_one_line_and_exit_2(tmp_path: Path, inventory: Path, args: list[str], message: str) -> None:
    out = run_cli(inventory, "exec", *args, "--", "true", cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.describe()


def test_chdir_reads_everything_from_there(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    project = tmp_path / "project"
    (project / "group_data").mkdir(parents=True)
    (project / "inventory.py").write_text(f"web = (['127.0.0.1', '127.0.0.2'], {sshd_fleet.ssh_data()!r})\n")
    (project / "group_data" / "web.py").write_text("greeting = 'from group data'\n")
    (project / "config.py").write_text("from oxinfra import config\nconfig.PARALLEL = 1\n")
    (project / "only.txt").write_text("127.0.0.2\n")
    out_dir = target
    write_deploy(
        project,
        """
        from oxinfra import host
        from oxinfra.operations import files
        files.line(name="line", path=f"@ROOT@/{host.name}", line=host.data.greeting)
        """,
        out_dir,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    argv = ["--json", "-y", "--chdir", project, "--limit", "@only.txt", "--state-file", "state.json"]
    out = run_cli(*argv, "inventory.py", "deploy.py", cwd=elsewhere)
    assert out.code == 0, out.describe()
    assert sorted(out.summary["hosts"]) == ["127.0.0.2"]
    assert (out_dir / "127.0.0.2").read_text() == "from group data\n"
    assert (project / "state.json").exists() and not (elsewhere / "state.json").exists()
    missing = run_cli("--chdir", tmp_path / "nope", "inventory.py", "deploy.py", cwd=elsewhere)
    assert missing.code == 2 and "--chdir" in missing.stderr and "No such file or directory" in missing.stderr
    assert_no_traceback(missing)
