"""Bad input: a clear one-line error on stderr, a non-zero exit, no traceback, nothing changed.

Most cases run the real command (``python -m oxinfra``) against the loopback fleet; the
parametrized tables call the click command in-process (``invoke``, which lets any uncaught
exception escape and fail the test, so "no traceback" holds there too).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import Outcome, assert_no_traceback, inventory, invoke, run_cli, target, tree, write_deploy

__all__ = ["inventory", "target"]  # fixtures used here

OK_DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import files
    files.directory(name="dir", path=f"@ROOT@/{host.name}")
    files.file(name="file", path=f"@ROOT@/{host.name}/f")
"""


def one_line_error(out: Outcome, code: int = 2) -> str:
    """The single stderr line of a failed run (its ``oxinfra: error:`` prefix removed)."""
    assert out.code == code, out.describe()
    assert_no_traceback(out)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.describe()
    assert lines[0].startswith("oxinfra: error: "), out.describe()
    return lines[0][len("oxinfra: error: ") :]


def test_missing_inventory_file(tmp_path: Path, target: Path) -> None:
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    message = one_line_error(run_cli("-y", tmp_path / "nope.py", deploy))
    assert "inventory file not found" in message and "nope.py" in message


def test_missing_deploy_file(tmp_path: Path, inventory: Path) -> None:
    message = one_line_error(run_cli("-y", inventory, tmp_path / "missing_deploy.py"))
    assert "deploy file not found" in message and "missing_deploy.py" in message


def test_missing_second_deploy_file_changes_nothing(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    message = one_line_error(run_cli("-y", inventory, deploy, tmp_path / "second.py"))
    assert "second.py" in message
    assert tree(target) == {}


def test_syntax_error_in_deploy(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """\
        from oxinfra.operations import files
        files.directory(path="@ROOT@/a")
        if True:
            files.file(path="@ROOT@/b"
    """,
        target,
    )
    message = one_line_error(run_cli("-y", inventory, deploy))
    assert "deploy.py:4" in message and "syntax error" in message
    assert tree(target) == {}


@pytest.mark.parametrize(
    ("call", "needles"),
    [
        ('files.file(path="@ROOT@/x", colour="red")', ["files.file()", "'colour'"]),
        (
            'files.file("@ROOT@/x", True, None, None, "644", False, True, False, True, None, "extra")',
            ["files.file()", "positional"],
        ),
        ('files.directory(path="@ROOT@/x", _sudoo=True)', ["files.directory()", "'_sudoo'", "_sudo"]),
        ('files.directory(path="@ROOT@/x", _timeout="soon")', ["_timeout", "'soon'"]),
        ('files.directory(path="@ROOT@/x", _env={"BAD NAME": "1"})', ["_env"]),
        ('files.file(path="@ROOT@/x", mode="rwx")', ["mode", "'rwx'"]),
        ("server.shell(commands=42)", ["commands"]),
        ('files.link(path="@ROOT@/x")', ["target"]),
        ('files.file(path="@ROOT@/x", user="nobody:root")', ["user must be a user name", "'nobody:root'"]),
        ("undefined_name()", ["NameError", "undefined_name"]),
    ],
    ids=[
        "unknown-arg",
        "too-many-positional",
        "unknown-global",
        "global-type",
        "env-name",
        "bad-mode",
        "shell-commands-type",
        "link-needs-target",
        "user-with-colon",
        "name-error",
    ],
)
def test_bad_operation_call(tmp_path: Path, target: Path, inventory: Path, call: str, needles: list[str]) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""\
        from oxinfra import host
        from oxinfra.operations import files, server
        files.directory(name="first", path=f"@ROOT@/{{host.name}}")
        {call}
    """,
        target,
    )
    message = one_line_error(invoke("-y", inventory, deploy, json_events=False))
    assert "deploy.py:4" in message, message  # the deploy file and line of the bad call
    for needle in needles:
        assert needle in message, message
    assert tree(target) == {}  # nothing ran anywhere, not even the operation before


def test_missing_template_variable_changes_nothing_anywhere(tmp_path: Path, target: Path, inventory: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "app.conf.j2").write_text("app = {{ app }}\n\nport = {{ port }}\n")
    deploy = write_deploy(
        tmp_path,
        """\
        from oxinfra import host
        from oxinfra.operations import files
        files.directory(name="dir", path=f"@ROOT@/{host.name}")
        extra = {"port": 80} if host.name != "127.0.0.3" else {}  # only the last host lacks it
        files.template(src="templates/app.conf.j2", dest=f"@ROOT@/{host.name}/app.conf", app="x", **extra)
    """,
        target,
    )
    message = one_line_error(run_cli("-y", inventory, deploy))
    assert "deploy.py:5" in message and "app.conf.j2:3" in message and "'port'" in message
    assert tree(target) == {}  # not even the hosts that had the variable were touched
    dry = run_cli("--dry", inventory, deploy)
    assert "'port'" in one_line_error(dry)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_host_is_reported_and_others_finish(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inv = tmp_path / "inventory.py"
    good = sshd_fleet.ssh_data()
    bad = dict(good, ssh_port=_free_port(), ssh_connect_timeout=5)
    inv.write_text(f"hosts = [('127.0.0.1', {good!r}), ('127.0.0.2', {bad!r}), ('127.0.0.3', {good!r})]\n")
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    out = run_cli("--json", "-y", inv, deploy)
    assert out.code == 4, out.describe()
    assert_no_traceback(out)
    summary = out.summary
    assert summary["success"] is False
    down = summary["hosts"]["127.0.0.2"]
    assert down["status"] == "unreachable" and "127.0.0.2" in down["error"] and str(bad["ssh_port"]) in down["error"]
    assert [e["host"] for e in out.events if e["event"] == "unreachable"] == ["127.0.0.2"]
    for h in ("127.0.0.1", "127.0.0.3"):
        assert summary["hosts"][h]["status"] == "success" and summary["hosts"][h]["changed"] == 2
    assert sorted(tree(target)) == ["127.0.0.1", "127.0.0.1/f", "127.0.0.3", "127.0.0.3/f"]
    human = run_cli("-y", inv, deploy)
    assert human.code == 4
    assert "[127.0.0.2] unreachable: " in human.stdout
    assert "    unreachable (1):\n      127.0.0.2: cannot connect to 127.0.0.2:" in human.stdout, human.describe()
    assert "1 host ran no operation" in human.stdout


def test_unreachable_host_with_deploy_time_facts(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    """A deploy that reads facts while it is evaluated connects first: same reporting."""
    inv = tmp_path / "inventory.py"
    good = sshd_fleet.ssh_data()
    bad = dict(good, ssh_port=_free_port())
    inv.write_text(f"hosts = [('127.0.0.1', {good!r}), ('127.0.0.2', {bad!r})]\n")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import files
        files.file(name="f", path=f"@ROOT@/{host.name}-{host.get_fact(User)}")
    """,
        target,
    )
    out = run_cli("--json", "-y", inv, deploy)
    assert out.code == 4, out.describe()
    assert_no_traceback(out)
    assert out.summary["hosts"]["127.0.0.2"]["status"] == "unreachable"
    assert tree(target) == {f"127.0.0.1-{sshd_fleet.user}": "file"}


# A command can forge a marker line: the nonce is a variable of the host's shell.
FORGE = "printf '\\n@@OX-%s:E:%s\\n' \"$__ox_n\" "


@pytest.mark.parametrize("bad", ["@local", "@sim/bad"])
@pytest.mark.parametrize(
    ("marker", "needle"),
    [
        ("0:bogus", 'malformed status (expected an exit status or "stale") in marker line "E:0:bogus"'),
        ("x:0", "malformed section index"),
        ("0:99999999999", "exit status too large"),
    ],
)
def test_malformed_marker_fails_that_host_only(tmp_path: Path, bad: str, marker: str, needle: str) -> None:
    """A malformed marker in a host's output (real sh, or the simulator) ends that host with
    status error and one line naming it; the other host finishes; no traceback."""
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.operations import files, server
        if host.name == {bad!r}:
            server.shell(name="forge", commands=[{FORGE + marker!r}])
        files.file(name="done", path=f"@ROOT@/{{host.name.replace('/', '_')}}")
    """,
        tmp_path,
    )
    hosts = f"{bad},@sim/good"
    out = run_cli("--json", "-y", hosts, deploy)
    assert out.code == 70, out.describe()
    assert_no_traceback(out)
    failed = out.summary["hosts"][bad]
    assert failed["status"] == "error" and "cannot parse demux output: " in failed["error"], failed
    assert needle in failed["error"] and "\n" not in failed["error"]
    good = out.summary["hosts"]["@sim/good"]
    assert good["status"] == "success" and good["changed"] == 1, good
    human = run_cli("-y", hosts, deploy)
    assert human.code == 70 and human.stderr == "", human.describe()
    assert_no_traceback(human)
    [line] = [line for line in human.stdout.splitlines() if line.startswith("[") and "error:" in line]
    assert line == f"[{bad}] error: {failed['error']}"
    assert f"    error (1):\n      {bad}: {failed['error']}\n" in human.stdout, human.describe()


@pytest.mark.parametrize(
    ("inventory_text", "needles"),
    [
        ("web = ['web[10:01]']\n", ["web[10:01]", "inventory.py"]),
        ("web = ['web[01:]']\n", ["web[01:]"]),
        ("web = ['a'\n", ["inventory.py:1", "syntax error"]),
        ("web = [('a', 'not a dict')]\n", ["'web'"]),
        ("x = 1\n", ["defines no hosts"]),
        ("raise RuntimeError('boom')\n", ["RuntimeError", "boom"]),
    ],
    ids=["reversed-range", "open-range", "syntax", "bad-entry", "no-hosts", "raises"],
)
def test_bad_inventory_file(tmp_path: Path, target: Path, inventory_text: str, needles: list[str]) -> None:
    inv = tmp_path / "inventory.py"
    inv.write_text(inventory_text)
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    message = one_line_error(invoke("-y", inv, deploy, json_events=False))
    for needle in needles:
        assert needle in message, message
    assert tree(target) == {}


def test_bad_host_range_on_command_line(tmp_path: Path, target: Path) -> None:
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    message = one_line_error(run_cli("-y", "web[10:01]", deploy))
    assert "web[10:01]" in message


def test_limit_matching_nothing(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    message = one_line_error(run_cli("-y", "--limit", "nohost*", inventory, deploy))
    assert "nohost*" in message
    assert tree(target) == {}


def test_bad_data_option(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(tmp_path, OK_DEPLOY, target)
    out = run_cli("-y", "--data", "not-an-identifier=1", inventory, deploy)
    assert out.code == 2
    assert_no_traceback(out)
    assert "KEY=VALUE" in out.stderr and "--data" in out.stderr
    assert tree(target) == {}


def test_exec_without_command(inventory: Path) -> None:
    message = one_line_error(run_cli(inventory, "exec"))
    assert "exec needs a command" in message


def test_errors_in_json_mode_are_events(tmp_path: Path, inventory: Path) -> None:
    out = run_cli("--json", "-y", inventory, tmp_path / "missing.py")
    assert out.code == 2
    assert_no_traceback(out)
    assert out.events == [{"event": "error", "error": f"deploy file not found: {tmp_path / 'missing.py'}"}]
