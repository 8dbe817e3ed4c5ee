"""Error paths over real SSH: a tool's failure is never read as "absent", a failed write
fails its operation (never the host's shell), and no existing content is lost.

The loopback fleet logs in as an unprivileged user, so files owned by root (this test
process) are exactly the "not yours" files of a real server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import run_deploy, target, write_deploy, write_inventory

__all__ = ["target"]  # fixtures used here

HOST = "127.0.0.1"
KEEP = "first = 1\nsecond = 2\nthird = 3\n"


@pytest.fixture
def one_host(tmp_path: Path, sshd_fleet: Any) -> Path:
    return write_inventory(tmp_path, sshd_fleet, name="one.py", groups={"one": sshd_fleet.hosts[:1]})


def _login_user_owns(path: Path, sshd_fleet: Any) -> None:
    import pwd

    pw = pwd.getpwnam(sshd_fleet.user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def test_line_with_invalid_regex_keeps_the_file(tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any) -> None:
    """grep's exit 2 (a bad pattern) once meant "no match": the file was replaced by the line."""
    conf = target / "app.conf"
    conf.write_text(KEEP)
    _login_user_owns(conf, sshd_fleet)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="bad regex", path="@ROOT@/app.conf", line="opts=a[b", _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    for dry in (True, False):
        out = run_deploy(one_host, deploy, dry=dry)
        assert out.statuses(HOST) == {"bad regex": "failed", "after": "changed"}, out.describe()
        error = out.op(HOST, "bad regex")["error"]
        assert "files.FindInFile" in error and "exit 2" in error, error
        assert "Unmatched" in error or "unmatched" in error, error  # grep's own words
        assert conf.read_text() == KEEP
    assert (target / "after").is_file()


def test_line_in_unreadable_file_keeps_the_file(tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any) -> None:
    """A file the login user may write but not read: grep fails, and that is not "absent"."""
    conf = target / "secret.conf"
    conf.write_text(KEEP)
    _login_user_owns(conf, sshd_fleet)
    os.chmod(conf, 0o200)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.line(name="line", path="@ROOT@/secret.conf", line="fourth = 4")
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1, out.describe()
    assert out.statuses(HOST) == {"line": "failed", "after": "not run"}
    assert "Permission denied" in out.op(HOST, "line")["error"]
    assert conf.read_text() == KEEP
    assert not (target / "after").exists()


def test_replace_in_unreadable_file_fails(tmp_path: Path, target: Path, one_host: Path, sshd_fleet: Any) -> None:
    conf = target / "secret.conf"
    conf.write_text(KEEP)
    _login_user_owns(conf, sshd_fleet)
    os.chmod(conf, 0o200)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.replace(name="replace", path="@ROOT@/secret.conf", text="second", replace="2nd")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1 and out.statuses(HOST) == {"replace": "failed"}, out.describe()
    assert conf.read_text() == KEEP


def test_failed_write_fails_the_operation_not_the_shell(tmp_path: Path, target: Path, one_host: Path) -> None:
    """``: > file`` in a directory the user may not write: the redirection error of a special
    builtin made the persistent shell exit, and the host was reported unreachable."""
    locked = target / "locked"
    locked.mkdir()
    os.chmod(locked, 0o755)  # root's: the login user may not create entries in it
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.file(name="denied", path="@ROOT@/locked/x", _ignore_errors=True)
        files.file(name="denied 0600", path="@ROOT@/locked/y", mode="600", _ignore_errors=True)
        files.line(name="denied line", path="@ROOT@/locked/z", line="a", _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.host(HOST)["status"] == "success", out.describe()
    assert out.statuses(HOST) == {
        "denied": "failed",
        "denied 0600": "failed",
        "denied line": "failed",
        "after": "changed",
    }
    for name in ("denied", "denied 0600", "denied line"):
        op = out.op(HOST, name)
        assert op["error"].startswith("exit code"), op
        assert "Permission denied" in op["stderr"], op
    assert (target / "after").is_file()
    assert os.listdir(locked) == []


def test_failing_fact_fails_the_host(tmp_path: Path, target: Path, one_host: Path) -> None:
    """A fact whose command fails is an error naming the fact and its stderr, not ``None``."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import Command, User
        from oxinfra.operations import files
        value = host.get_fact(Command, command="echo oops >&2; exit 3")
        files.file(name="never", path=f"@ROOT@/never-{value}")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1, out.describe()
    summary = out.host(HOST)
    assert summary["status"] != "success"
    assert "server.Command" in summary["error"] and "oops" in summary["error"] and "3" in summary["error"]
    assert not any(target.iterdir())


def test_failing_fact_with_ignore_errors_is_its_default(tmp_path: Path, target: Path, one_host: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import Command
        from oxinfra.operations import files
        value = host.get_fact(Command, command="exit 3", _ignore_errors=True)
        files.file(name="marker", path=f"@ROOT@/got-{value}")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 0, out.describe()
    assert (target / "got-None").is_file()


def test_fact_failing_inside_an_operation_fails_it(tmp_path: Path, target: Path, one_host: Path) -> None:
    """A fact an operation reads fails (sudo is not allowed for the login user): the operation
    fails with the fact's name and stderr; ``_ignore_errors`` lets the host go on."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.file(name="as root", path="@ROOT@/root-file", _sudo=True, _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.statuses(HOST) == {"as root": "failed", "after": "changed"}, out.describe()
    error = out.op(HOST, "as root")["error"]
    assert "files.File" in error and "sudo" in error, error
    assert not (target / "root-file").exists()


def test_privileged_fact_that_cannot_run_fails_the_host(tmp_path: Path, target: Path, one_host: Path) -> None:
    """``get_fact(User, _sudo=True)`` where the login user may not sudo: sudo's own failure
    (exit 1, or 127 where sudo is missing) is not the fact's answer; the host fails, naming
    the fact, and does nothing."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import files
        who = host.get_fact(User, _sudo=True)
        files.file(name="never", path=f"@ROOT@/as-{who}")
    """,
        target,
    )
    out = run_deploy(one_host, deploy)
    assert out.code == 1, out.describe()
    summary = out.host(HOST)
    assert summary["status"] == "failed" and "server.User" in summary["error"], summary
    assert "sudo" in summary["error"], summary
    assert not any(target.iterdir())
