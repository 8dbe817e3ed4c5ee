"""``python.call`` and ``python.raise_exception`` against a loopback sshd host: a callback reads
the host as it is when it runs (after the operations before it), its return value steers
later operations' ``_if``, and its failures stay with its operation and host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from e2e_helpers import run_deploy, target, write_deploy

__all__ = ["target"]  # a fixture, used by name


def _inventory(directory: Path, sshd_fleet: Any) -> Path:
    path = directory / "inventory.py"
    path.write_text(f"hosts = [('127.0.0.1', {sshd_fleet.ssh_data()!r})]\n")
    return path


HEADER = """
    from oxinfra import host
    from oxinfra.facts.files import File
    from oxinfra.facts.server import Command
    from oxinfra.operations import files, python, server
"""


def test_a_callback_reads_the_host_as_it_is_then(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        HEADER
        + """
    before = host.get_fact(File, path="@ROOT@/made")  # read while the deploy is evaluated: no file yet
    server.shell(name="make", commands=["echo hello > @ROOT@/made"])

    def look():
        return host.get_fact(Command, command="cat @ROOT@/made"), host.get_fact(File, path="@ROOT@/made")["size"]

    seen = python.call(name="look", function=look)
    files.file(name="yes", path="@ROOT@/yes", _if=lambda: seen.return_value == ("hello", 6))
    files.file(name="no", path="@ROOT@/no", _if=lambda: seen.return_value != ("hello", 6))
    files.file(name="before", path="@ROOT@/before-was-none", _if=lambda: before is None)
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, sshd_fleet), deploy)
    assert out.code == 0, out.describe()
    assert out.statuses("127.0.0.1") == {
        "make": "changed",
        "look": "changed",
        "yes": "changed",
        "no": "skipped",
        "before": "changed",
    }, out.describe()
    assert (target / "yes").exists() and not (target / "no").exists()


def test_callback_arguments_and_a_failing_fact(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        HEADER
        + """
    def write(path, text="", mode="w"):
        with open(path, mode) as fh:
            fh.write(text)

    python.call(name="args", function=write, path="@ROOT@/local", text="from the controller")
    python.call(name="bad fact", function=lambda: host.get_fact(Command, command="echo oops >&2; exit 3"))
    server.shell(name="after", commands=["touch @ROOT@/after"])
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, sshd_fleet), deploy)
    assert out.code == 1, out.describe()
    assert out.statuses("127.0.0.1") == {"args": "changed", "bad fact": "failed", "after": "not run"}
    error = out.op("127.0.0.1", "bad fact")["error"]
    assert "server.Command" in error and "exit 3" in error and "oops" in error, error
    assert (target / "local").read_text() == "from the controller"  # the callback ran here, on the controller
    assert not (target / "after").exists()


def test_raise_exception_fails_its_host_only_there(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        HEADER
        + """
    python.raise_exception(ValueError, "not on this host", name="boom", _ignore_errors=True)
    python.raise_exception(KeyError, "stop", name="stop")
    server.shell(name="after", commands=["touch @ROOT@/after"])
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, sshd_fleet), deploy)
    assert out.statuses("127.0.0.1") == {"boom": "failed", "stop": "failed", "after": "not run"}
    assert out.op("127.0.0.1", "boom")["error"] == "ValueError: not on this host"
    assert out.op("127.0.0.1", "stop")["error"] == "KeyError: 'stop'"
    assert not (target / "after").exists()


def test_return_value_read_too_early_is_a_clear_error(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    deploy = write_deploy(
        tmp_path,
        HEADER
        + """
    seen = python.call(name="look", function=lambda: 1)
    print(seen.return_value)
    """,
        target,
    )
    out = run_deploy(_inventory(tmp_path, sshd_fleet), deploy)
    assert out.code == 2, out.describe()
    assert "deploy.py:8: the return value of 'look' on 127.0.0.1 is not known: its callback has not run" in out.stderr
