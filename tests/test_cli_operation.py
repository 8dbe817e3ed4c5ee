"""``oxinfra INVENTORY MODULE.OP key=value...``: one operation from the command line, on
@local (unique temporary directories, no host lock) and on simulated hosts (sharded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_helpers import assert_no_traceback, invoke, run_cli


def test_files_line_runs_then_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "x"
    out = invoke("-y", "--no-host-lock", "@local", "files.line", f"path={path}", "line=y")
    assert out.code == 0, out.describe()
    assert path.read_text() == "y\n"
    assert out.statuses("@local") == {"files.line": "changed"}
    again = invoke("-y", "--no-host-lock", "@local", "files.line", f"path={path}", "line=y")
    assert again.statuses("@local") == {"files.line": "unchanged"}, again.describe()


def test_server_shell_takes_a_json_list(tmp_path: Path) -> None:
    commands = json.dumps([f"echo a > {tmp_path}/a", f"echo b > {tmp_path}/b"])
    out = run_cli("-y", "--no-host-lock", "@local", "server.shell", f"commands={commands}")
    assert out.code == 0, out.describe()
    assert (tmp_path / "a").read_text() == "a\n" and (tmp_path / "b").read_text() == "b\n"
    assert_no_traceback(out)


def test_values_parse_as_pyinfra_reads_them_but_text_parameters_keep_text(tmp_path: Path) -> None:
    # line is `str`: "3" stays the text 3 (pyinfra would pass the int 3 and fail); positional
    # words fill the parameters in order; name= names the operation
    out = invoke("-y", "--no-host-lock", "@local", "files.line", str(tmp_path / "n"), "3", "name=three")
    assert out.code == 0, out.describe()
    assert (tmp_path / "n").read_text() == "3\n"
    assert out.statuses("@local") == {"three": "changed"}
    # one JSON word [[positional], {keywords}] gives both; present=false removes the line
    both = json.dumps([[str(tmp_path / "n")], {"line": "3", "present": False}])
    out = invoke("-y", "--no-host-lock", "@local", "files.line", both)
    assert out.code == 0, out.describe()
    assert (tmp_path / "n").read_text() == ""
    out = invoke("-y", "--no-host-lock", "@local", "files.line", f"path={tmp_path / 'n'}", "line=4", "present=FALSE")
    assert out.statuses("@local") == {"files.line": "unchanged"}, out.describe()


def test_dry_changes_nothing_and_json_reports_it(tmp_path: Path) -> None:
    out = invoke("--dry", "--no-host-lock", "@local", "files.directory", f"path={tmp_path / 'd'}", "mode=700")
    assert out.code == 0, out.describe()
    assert out.summary["dry"] is True and out.statuses("@local") == {"files.directory": "changed"}
    assert not (tmp_path / "d").exists()


def test_without_yes_and_no_terminal_is_refused(tmp_path: Path) -> None:
    out = run_cli("--no-host-lock", "@local", "files.line", f"path={tmp_path / 'x'}", "line=y")
    assert out.code == 2 and "pass -y to execute" in out.stderr, out.describe()
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["filez.line", "path=/x"], "filez.line: no operation module 'filez'; did you mean files.line?"),
        (["files.nope", "path=/x"], "files.nope: oxinfra.operations.files has no operation 'nope' (its operations:"),
        (["files.host", "path=/x"], "files.host: oxinfra.operations.files has no operation 'host'"),
        (["files.line", "path=/x", "bogus=1"], "files.line: no argument bogus (it takes: path, line,"),
        (["files.line", "path=/x"], "files.line: missing a required argument: 'line'"),
        (["files.line", "path=/x", "line=a", "line=b"], "files.line: line= is given twice"),
        (["files.line", "path=/x", "line=a", "_bogus=1"], "files.line: no global argument _bogus"),
        (["files.line", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "files.line: too many positional arguments"),
        (["files.line", "path=/x", "line=a", "_sudo=maybe"], "_sudo"),
    ],
)
def test_bad_operations_are_one_line_and_exit_2(tmp_path: Path, words: list[str], message: str) -> None:
    out = run_cli("-y", "--no-host-lock", "@local", *words, cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.describe()


def test_bad_operation_with_json_is_an_error_event(tmp_path: Path) -> None:
    out = run_cli("--json", "-y", "--no-host-lock", "@local", "files.nope", cwd=tmp_path)
    assert out.code == 2
    assert out.events == [{"event": "error", "error": out.events[0]["error"]}]
    assert "files.nope" in out.events[0]["error"]


def test_secret_looking_keys_are_masked_everywhere(tmp_path: Path) -> None:
    template = tmp_path / "t.j2"
    template.write_text("pw={{ db_password }}\n")
    state = tmp_path / "state.json"
    dest = tmp_path / "app.conf"
    argv = ["-y", "-vvv", "--no-host-lock", "--state-file", state, "@local", "files.template"]
    out = invoke(*argv, f"src={template}", f"dest={dest}", "db_password=hunter2-very-secret")
    assert out.code == 0, out.describe()
    assert dest.read_text() == "pw=hunter2-very-secret\n"  # the value itself reaches the file
    assert "hunter2-very-secret" not in out.stdout + out.stderr
    assert "hunter2-very-secret" not in state.read_text() and "db_password=***" in state.read_text()


def test_sharded_runs_send_the_operation_to_their_workers() -> None:
    hosts = ",".join(f"@sim/op{i}" for i in range(4))
    one = invoke("--dry", "--shards", "1", hosts, "files.line", "path=/etc/motd", "line=hello")
    two = invoke("--dry", "--shards", "2", hosts, "files.line", "path=/etc/motd", "line=hello")
    assert one.code == two.code == 0, two.describe()
    for i in range(4):
        assert one.statuses(f"@sim/op{i}") == two.statuses(f"@sim/op{i}") == {"files.line": "changed"}


def test_a_deploy_file_that_looks_dotted_is_still_a_deploy_file(tmp_path: Path) -> None:
    # an existing file named like MODULE.OP is a deploy file; a missing *.py too
    (tmp_path / "site.web").write_text(
        f"from oxinfra.operations import files\nfiles.line(path={str(tmp_path / 'w')!r}, line='w')\n"
    )
    out = run_cli("-y", "--no-host-lock", "@local", "site.web", cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert (tmp_path / "w").read_text() == "w\n"
    missing = run_cli("-y", "--no-host-lock", "@local", "deplyo.py", cwd=tmp_path)
    assert missing.code == 2 and "deploy file not found: deplyo.py" in missing.stderr
