"""A value of ``-`` is a file named ``-``, never a tool's standard input or output, and never
an option: ``touch -- -`` changes the times of its standard output, ``grep``, ``gpg`` and
``rpm --import`` read standard input for ``-``, ``cd -`` goes to the previous directory (and
``cd -P`` to the home directory, ``--`` or not), and ``su -`` with no user left becomes root.
Relative paths are allowed (the shell's working directory), so each of these was reachable
with a plain call."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, write_deploy
from oxinfra._engine.script import render_commands
from oxinfra.api.arguments import GlobalArgs
from oxinfra.operations import apt, dnf, files
from oxinfra.quoting import path_operand
from oxinfra.testing.plan import plan_operation

_STAT = {"user": "root", "group": "root", "mode": 644, "size": 0, "atime": 0, "mtime": 0, "ctime": 0}


def _commands(op: Any, args: dict[str, Any], facts: list[tuple[str, dict[str, Any], Any]]) -> str:
    return "\n".join(plan_operation(op, args, facts).commands)


def test_path_operand_puts_dot_slash_before_a_leading_dash_only() -> None:
    assert [path_operand(p) for p in ("-", "-P", "-x/y", "/srv/-", "a/-", "a")] == [
        "./-",
        "./-P",
        "./-x/y",
        "/srv/-",
        "a/-",
        "a",
    ]


def test_touching_the_file_named_dash_touches_that_file(tmp_path: Path) -> None:
    text = _commands(files.file, {"path": "-", "touch": True}, [("files.File", {"path": "-"}, _STAT)])
    assert "touch -- ./-" in text, text
    # what that command does on a real shell: the file's times move, the output is untouched
    target = tmp_path / "-"
    target.write_text("")
    before = target.stat().st_mtime_ns
    subprocess.run(["sh", "-c", "sleep 0.01; " + text], cwd=tmp_path, check=True, capture_output=True)
    assert target.stat().st_mtime_ns != before


def test_a_key_file_named_dash_is_read_as_that_file() -> None:
    text = _commands(
        apt.key, {"src": "-", "dest": "x.gpg"}, [("files.File", {"path": "/etc/apt/keyrings/x.gpg"}, None)]
    )
    assert (
        "if grep -q -- '-----BEGIN PGP' ./-; then gpg --batch --yes --dearmor -o /etc/apt/keyrings/x.gpg.part -- ./-; "
        "else cp -- ./- /etc/apt/keyrings/x.gpg.part; fi"
    ) in text, text
    text = _commands(dnf.key, {"src": "-"}, [])
    assert "rpm --import -- ./-" in text, text


def test_chdir_to_a_directory_named_like_an_option(tmp_path: Path) -> None:
    for name in ("-", "-P"):
        (tmp_path / name).mkdir()
        text = render_commands(["pwd"], GlobalArgs({"_chdir": name}), "n0nce")
        done = subprocess.run(["sh"], input=text.encode(), cwd=tmp_path, capture_output=True, check=True)
        assert done.stdout.decode().splitlines()[-1] == str(tmp_path / name), (name, text, done)


@pytest.mark.parametrize("argument", ["_su_user", "_sudo_user"])
@pytest.mark.parametrize("value", ["-", "-l", "--login"])
def test_a_user_name_starting_with_dash_is_refused(tmp_path: Path, argument: str, value: str) -> None:
    source = f"from oxinfra.operations import server\nserver.shell(commands=['id -u > {tmp_path}/ran'], {argument}={value!r})\n"
    out = run_cli("-y", "--no-host-lock", "@local", write_deploy(tmp_path, source))
    assert out.code == 2 and f"{argument} must be a user name (not starting with -)" in out.stderr, out.describe()
    assert not (tmp_path / "ran").exists()
    assert_no_traceback(out)
