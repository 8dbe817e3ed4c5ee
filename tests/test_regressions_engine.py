"""Failures that must stay with their operation or host, and tool errors that must never read
as "absent" -- cases where they do not today. Each test is a known bug, marked
``xfail(strict=True)``: run with ``--runxfail`` to see it fail; when the bug is fixed the test
passes and the marker must go.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import hosts_inventory as _inventory, assert_no_traceback, run_cli, run_deploy, target, write_deploy

__all__ = ["target"]  # fixtures used here

IS_ROOT = os.geteuid() == 0
HAS_SUDO = shutil.which("sudo") is not None


CALLBACK_OP = """
    import sys
    from oxinfra import host
    from oxinfra.api import FunctionCommand, operation
    from oxinfra.operations import files, server

    @operation()
    def then_call(cmd: str, then=None):
        yield cmd
        yield FunctionCommand(then or (lambda: None))
"""


def test_failing_command_before_a_callback_fails_the_operation(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        CALLBACK_OP
        + """
    then_call(name="fails", cmd="false", then=lambda: open("@ROOT@/called", "w").close())
    server.shell(name="after", commands=["touch @ROOT@/after"])  # no fact read before the callback
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": sshd_fleet.ssh_data()}), deploy)
    assert out.statuses("127.0.0.1") == {"fails": "failed", "after": "not run"}, out.describe()
    assert not (target / "called").exists() and not (target / "after").exists()


def test_connection_lost_in_a_callback_operation_is_unreachable(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        CALLBACK_OP
        + """
    server.shell(name="first", commands=["true"])
    then_call(name="dies", cmd="sleep 0.3; kill -9 $PPID")
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": sshd_fleet.ssh_data()}), deploy)
    assert out.host("127.0.0.1")["status"] == "unreachable", out.describe()


def test_system_exit_in_a_callback_stays_with_its_host(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        CALLBACK_OP
        + """
    def give_up():
        if host.name == "127.0.0.2":
            sys.exit("gave up")
    server.shell(name="slow", commands=["sleep 0.5"])
    then_call(name="cb", cmd="true", then=give_up)
    files.file(name="after", path=f"@ROOT@/{host.name}")
    """,
        target,
    )
    hosts = {h: sshd_fleet.ssh_data() for h in sshd_fleet.hosts}
    out = run_cli("--json", "-y", _inventory(tmp_path, hosts), deploy)
    assert_no_traceback(out)
    assert out.host("127.0.0.2")["status"] != "success", out.describe()
    for name in ("127.0.0.1", "127.0.0.3"):
        assert out.host(name)["status"] == "success", out.describe()
        assert (target / name).is_file()


def test_unexpected_connect_error_of_a_fact_reading_deploy_stays_with_its_host(
    tmp_path: Path, target: Path, sshd_fleet: Any
) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import files
        if host.get_fact(User):
            files.file(name="mark", path=f"@ROOT@/{host.name}")
    """,
        target,
    )
    hosts = {h: sshd_fleet.ssh_data() for h in sshd_fleet.hosts}
    hosts["127.0.0.2"]["ssh_port"] = "\u00b2"  # str.isdigit() says yes, int() says no
    out = run_cli("--json", "-y", _inventory(tmp_path, hosts), deploy)
    assert_no_traceback(out)
    assert out.host("127.0.0.2")["status"] != "success", out.describe()
    for name in ("127.0.0.1", "127.0.0.3"):
        assert out.host(name)["status"] == "success", out.describe()


REMOVALS = """
    from oxinfra.operations import files
    files.@OP@
"""


@pytest.mark.skipif(not IS_ROOT, reason="needs root: a directory the fleet's login user may not search")
@pytest.mark.parametrize(
    "op",
    [
        'file(name="rm", path="@S@/f", present=False)',
        'line(name="rm", path="@S@/f", line="TOKEN=1", present=False)',
        'directory(name="rm", path="@S@/sub", present=False)',
        'link(name="rm", path="@S@/l", present=False)',
    ],
    ids=["file", "line", "directory", "link"],
)
def test_removal_under_an_unsearchable_directory_is_not_absent(
    tmp_path: Path, target: Path, sshd_fleet: Any, op: str
) -> None:
    secret = target / "secret"
    (secret / "sub").mkdir(parents=True)
    (secret / "f").write_text("TOKEN=1\n")
    (secret / "l").symlink_to("f")
    os.chmod(secret, 0o700)  # root's; the fleet logs in as an unprivileged user
    deploy = write_deploy(tmp_path, REMOVALS.replace("@OP@", op).replace("@S@", str(secret)))
    out = run_deploy(_inventory(tmp_path, {"127.0.0.1": sshd_fleet.ssh_data()}), deploy)
    assert sorted(os.listdir(secret)) == ["f", "l", "sub"] and (secret / "f").read_text() == "TOKEN=1\n"
    assert out.statuses("127.0.0.1") == {"rm": "failed"}, out.describe()


needs_root_sudo = pytest.mark.skipif(not (IS_ROOT and HAS_SUDO), reason="needs root and sudo")

ABSENT_FACT = """
    from oxinfra import host
    from oxinfra.api import FactBase
    from oxinfra.operations import files

    class Marker(FactBase):
        absent_status = frozenset({1})
        def command(self, path):
            return f"test -e {path} || exit 1; echo there"

    plain = host.get_fact(Marker, path="/nonexistent-oxinfra-marker")
    privileged = host.get_fact(Marker, path="/nonexistent-oxinfra-marker", _sudo=True)
    files.file(name="mark", path="@ROOT@/" + repr((plain, privileged)))
"""


@needs_root_sudo
def test_privileged_fact_that_exits_keeps_its_absent_status(tmp_path: Path, target: Path) -> None:
    out = run_deploy("@local", write_deploy(tmp_path, ABSENT_FACT, target))
    assert out.code == 0, out.describe()
    assert (target / "(None, None)").is_file()


STDERR_FACTS = """
    from oxinfra import host
    from oxinfra.api import get_facts, operation
    from oxinfra.facts.server import Command

    @operation()
    def both():
        get_facts(host, [(Command, {"command": "echo SUDO-FACT-ERROR >&2; false", "_sudo": True,
                                    "_ignore_errors": True}),
                         (Command, {"command": "echo PLAIN-FACT-ERROR >&2; false"})])
        yield "true"

    @operation()
    def sudo_only():
        get_facts(host, [(Command, {"command": "echo ONLY-SUDO-ERROR >&2; false", "_sudo": True})])
        yield "true"

    both(name="both", _ignore_errors=True)
    sudo_only(name="sudo_only")
"""


@needs_root_sudo
def test_privileged_fact_stderr_is_its_own(tmp_path: Path) -> None:
    out = run_deploy("@local", write_deploy(tmp_path, STDERR_FACTS))
    both = out.op("@local", "both")["error"]
    sudo_only = out.op("@local", "sudo_only")["error"]
    assert "PLAIN-FACT-ERROR" in both and "SUDO-FACT-ERROR" not in both, both
    assert "ONLY-SUDO-ERROR" in sudo_only, sudo_only


def test_a_fact_that_never_answers_does_not_loop_forever(tmp_path: Path) -> None:
    import subprocess

    lines = tmp_path / "lines"
    lines.write_text("A=1\n")
    # a shell-safe fact that ends the shell running it (as ${VAR?} did before interpolated
    # values were limited to $NAME): in a captured fact batch, the $( ... ) subshell, so the
    # fact's section is missing from the answer
    from test_host_containment import VANISHING_FACT_OP

    deploy = write_deploy(
        tmp_path,
        VANISHING_FACT_OP
        + """
        from oxinfra.operations import server
        server.shell(name="after", commands=["true"])
    """,
    )
    try:
        out = run_cli("--json", "-y", "@local", deploy, timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail("the run did not end within 15 s (a round trip loop)")
    assert_no_traceback(out)
    assert out.code == 1, out.describe()
    assert out.host("@local")["round_trips"] < 10, out.describe()
    assert lines.read_text() == "A=1\n"


@pytest.mark.parametrize(
    "status,message", [(1, "stat: illegal option -- c"), (127, "sh: stat: not found")], ids=["bsd-stat", "no-stat"]
)
def test_a_stat_that_cannot_run_never_reads_as_absent(tmp_path: Path, status: int, message: str) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "stat").write_text(f"#!/bin/sh\necho {message!r} >&2\nexit {status}\n")
    (fake / "stat").chmod(0o755)
    precious = tmp_path / "precious.conf"
    precious.write_text("important content\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.file(name="ensure", path={str(precious)!r})
    """,
    )
    out = run_cli("--json", "-y", "@local", deploy, env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert_no_traceback(out)
    assert precious.read_text() == "important content\n"
    assert out.statuses("@local") == {"ensure": "failed"}, out.describe()


def test_an_operation_planned_from_what_an_earlier_one_changes_is_planned_again(tmp_path: Path, target: Path) -> None:
    """The second operation's plan fails on the state before the run (the file is not there
    yet); the first one creates it. It is planned again once the first has run, not failed
    (and the host not left with "internal error: ... was not run, and nothing failed")."""
    deploy = write_deploy(
        tmp_path,
        """
    from oxinfra.api import get_facts, host, operation
    from oxinfra.exceptions import OperationError
    from oxinfra.facts.files import File
    from oxinfra.operations import server

    @operation()
    def needs_file(path):
        (info,) = get_facts(host, [(File, {"path": path})])
        if not info:
            raise OperationError(f"{path} is not there")
        yield "true"

    server.shell(name="make", commands=["touch @ROOT@/made"])
    needs_file(name="needs", path="@ROOT@/made")
    """,
        target,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("@local") == {"make": "changed", "needs": "changed"}
