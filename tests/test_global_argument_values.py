"""Values of global arguments that used to be taken and then went wrong on the host (found by
a hostile review): a failure read as success, a setting quietly not applied, a command not
run while the operation reported success. Each is now refused before any host is touched, or
fails the operation."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, run_deploy, write_deploy
from oxinfra._engine.script import render_commands
from oxinfra.api.arguments import GlobalArgs


def _local(tmp_path: Path, body: str) -> Any:
    return run_deploy(
        "@local", write_deploy(tmp_path, "from oxinfra.operations import server\n" + body), "--no-host-lock"
    )


def _refused(tmp_path: Path, arguments: str, message: str) -> None:
    source = f"from oxinfra.operations import server\nserver.shell(commands=['touch {tmp_path}/ran'], {arguments})\n"
    out = run_cli("-y", "--no-host-lock", "@local", write_deploy(tmp_path, source))
    assert out.code == 2 and message in out.stderr, out.describe()
    assert not (tmp_path / "ran").exists()
    assert_no_traceback(out)


def test_an_ifs_from_env_does_not_turn_a_failure_into_success(tmp_path: Path) -> None:
    # 31 split on "1" was "3", an accepted code
    out = _local(
        tmp_path, 'server.shell(name="s", commands=["exit 31"], _env={"IFS": "1"}, _success_exit_codes=[0, 3])\n'
    )
    assert out.code != 0 and out.statuses("@local") == {"s": "failed"}, out.describe()
    out = _local(
        tmp_path,
        'server.shell(name="s", commands=["exit 31", "true"], _env={"IFS": "1"}, _continue_on_error=True, '
        "_ignore_errors=True)\n",
    )
    assert out.statuses("@local") == {"s": "failed"}, out.describe()  # ignored, still failed


@pytest.mark.parametrize(
    "env", ['{"é": "x"}', '{"A": None}', '{"A": b"x"}', '{"A": "a\\x00b"}', '{"A": True}', '{"": "x"}']
)
def test_env_names_and_values_the_shell_cannot_take_are_refused(tmp_path: Path, env: str) -> None:
    _refused(tmp_path, f"_env={env}", "_env must be a dict of NAME: value")


def test_an_env_name_the_shell_will_not_set_fails_the_operation(tmp_path: Path) -> None:
    """bash goes on after ``export UID=5`` fails (a readonly name): the command ran without it."""
    marker = tmp_path / "ran"
    out = _local(
        tmp_path,
        f'server.shell(name="s", commands=["touch {marker}"], _env={{"UID": "5"}}, _shell_executable="bash")\n',
    )
    assert out.code != 0 and out.statuses("@local") == {"s": "failed"}, out.describe()
    assert not marker.exists()


def test_a_relative_chdir_is_below_the_working_directory_whatever_cdpath_says(tmp_path: Path) -> None:
    (tmp_path / "here" / "etc").mkdir(parents=True)
    (tmp_path / "elsewhere" / "etc").mkdir(parents=True)
    text = render_commands(["pwd"], GlobalArgs({"_chdir": "etc"}), "n0nce")
    done = subprocess.run(
        ["sh"], input=text.encode(), cwd=tmp_path / "here", capture_output=True, check=True,
        env={"CDPATH": str(tmp_path / "elsewhere"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.stdout.decode().splitlines() == [str(tmp_path / "here" / "etc")], done


@pytest.mark.parametrize(
    "value",
    [
        "sh -n",
        "bash -t",
        "bash -i",
        "bash -D",
        "bash -O extglob",
        "bash --version",
        "bash --rcfile /x",
        "bash -e --noprofile",  # bash takes long options before short ones only
        "sh --login",  # dash has none
    ],
)
def test_shell_options_that_would_not_run_the_script_as_given_are_refused(tmp_path: Path, value: str) -> None:
    _refused(tmp_path, f"_shell_executable={value!r}", "_shell_executable must be a shell's name or path")


@pytest.mark.parametrize("value, check", [("bash --login", "shopt -q login_shell"), ("bash -euo pipefail", "true")])
def test_bash_options_people_use_are_taken(tmp_path: Path, value: str, check: str) -> None:
    out = _local(tmp_path, f'server.shell(name="s", commands=[{check!r}], _shell_executable={value!r})\n')
    assert out.code == 0 and out.statuses("@local") == {"s": "changed"}, out.describe()


def test_sudo_false_turns_off_a_sudo_user_set_around_the_call() -> None:
    """``@deploy``/run defaults with ``_sudo=True, _sudo_user=...``: an operation's
    ``_sudo=False`` used to run it through sudo as that user all the same. As pyinfra, a
    ``_sudo_user`` beside ``_sudo=False`` is ignored."""
    from oxinfra.api.arguments import merge_global_args, privilege_with, split_global_args

    around = {"_sudo": True, "_sudo_user": "postgres"}
    assert split_global_args({"_sudo": False}, around, "w")[0].privilege == ()
    assert split_global_args({"_sudo_user": None}, around, "w")[0].privilege[1] is None  # sudo, as root
    assert privilege_with(split_global_args({}, around, "w")[0].privilege_settings, {"_sudo": False}, "w") == ()
    assert split_global_args({"_sudo": False, "_sudo_user": "x"}, {}, "w")[0].privilege == ()
    # a @deploy or host.arguments level
    assert split_global_args({}, merge_global_args(around, {"_sudo": False}), "w")[0].privilege == ()
    assert split_global_args({"_sudo_user": "x"}, {}, "w")[0].privilege[:2] == (True, "x")  # alone: sudo


def test_run_defaults_with_sudo_false_drop_their_sudo_user() -> None:
    """``run(global_args={"_sudo": False, "_sudo_user": "x"})`` ran every operation through
    sudo as x: the run's defaults are read as a call's arguments are (``_sudo_user`` beside
    ``_sudo=False`` is ignored)."""
    from oxinfra._engine.pipeline import check_defaults
    from oxinfra.api.arguments import split_global_args

    defaults = check_defaults({"_sudo": False, "_sudo_user": "x"})
    assert split_global_args({}, defaults, "w")[0].privilege == ()
    assert check_defaults({"_sudo_user": "x"}) == {"_sudo_user": "x"}  # alone: sudo as x


def test_a_deploy_level_sudo_false_runs_without_sudo(tmp_path: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        "from oxinfra import host\nfrom oxinfra.operations import server\n"
        "with host.arguments(_sudo=False):\n"
        f"    server.shell(name='s', commands=['id -un > {tmp_path}/who'])\n",
    )
    out = run_deploy("@local", deploy, "--no-host-lock", "--sudo-user", "nobody")
    assert out.code == 0, out.describe()
    assert (tmp_path / "who").read_text().strip() != "nobody"


def test_env_values_are_exported_as_their_text(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        "from pathlib import Path\n"
        f'server.shell(name="s", commands=["echo $P $N > {tmp_path}/env"], _env={{"P": Path("/srv/x"), "N": 3}})\n',
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "env").read_text() == "/srv/x 3\n"


def test_an_interpolated_chdir_is_expanded_on_the_host(tmp_path: Path) -> None:
    """``./`` goes before a relative directory on the host, after the expansion: in Python
    ``"./" + Interpolated("$HOME")`` was the plain text ``./$HOME``."""
    out = _local(
        tmp_path,
        "from oxinfra.quoting import Interpolated\n"
        f'server.shell(name="s", commands=["pwd > {tmp_path}/where"], _chdir=Interpolated("$HOME"))\n',
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "where").read_text().strip() == os.path.realpath(os.environ["HOME"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("_stdin=['a\\x00b']", "_stdin must be a string or a list of lines (no NUL byte)"),
        ("_stdin='a\\x00b'", "_stdin must be a string or a list of lines (no NUL byte)"),
        ("_chdir='/tmp\\x00x'", "_chdir must be a directory path"),
        ("_timeout=0", "_timeout must be a number of seconds above 0"),
    ],
)
def test_values_the_host_would_change_or_ignore_are_refused(tmp_path: Path, arguments: str, message: str) -> None:
    """A NUL byte the shell drops from _stdin, one no path holds, and a timeout of 0 (which
    GNU timeout reads as none at all)."""
    _refused(tmp_path, arguments, message)
