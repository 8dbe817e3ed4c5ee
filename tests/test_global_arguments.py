"""Every global argument of pyinfra 3.10's table is honoured (shown here on a real host:
``@local``, this machine, where the tests run as root, or the loopback sshd fleet) or
refused with one line saying why, before any host is touched."""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, run_cli, run_deploy, write_deploy

__all__ = ["inventory", "target"]  # fixtures used here
from e2e_helpers import inventory, target  # noqa: E402,F401

from oxinfra.api.arguments import GLOBAL_ARG_NAMES, REFUSED

IS_ROOT = os.geteuid() == 0
USER = "oxinfra-test"
HAS_USER = any(p.pw_name == USER for p in pwd.getpwall())

# pyinfra 3.10's global arguments (pyinfra.api.arguments.all_argument_meta, less ``name``).
PYINFRA_3_10 = {
    "_sudo", "_sudo_user", "_use_sudo_login", "_sudo_password", "_preserve_sudo_env",
    "_su_user", "_use_su_login", "_preserve_su_env", "_su_shell", "_su_password",
    "_doas", "_doas_user", "_dzdo", "_dzdo_user",
    "_shell_executable", "_chdir", "_env", "_success_exit_codes", "_timeout", "_get_pty", "_stdin", "_temp_dir",
    "_ignore_errors", "_continue_on_error", "_if",
    "_parallel", "_run_once", "_serial",
    "_retries", "_retry_delay", "_retry_until",
}  # fmt: skip


def _local(tmp_path: Path, source: str, *flags: Any) -> Any:
    deploy = write_deploy(tmp_path, source, tmp_path)
    return run_deploy("@local", deploy, "--no-host-lock", *flags)


def test_every_pyinfra_global_argument_is_known() -> None:
    assert PYINFRA_3_10 <= GLOBAL_ARG_NAMES


@pytest.mark.parametrize(
    "argument, why",
    [
        ("_get_pty=True", "without a terminal"),
        ("_su_password='pw'", "su reads a password from a terminal only"),
        ("_doas=True", "use _sudo"),
        ("_doas_user='x'", "use _sudo_user"),
        ("_dzdo=True", "use _sudo"),
        ("_dzdo_user='x'", "use _sudo_user"),
    ],
)
def test_refused_arguments_are_one_line_saying_why(tmp_path: Path, argument: str, why: str) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.shell(name="ok", commands=["touch @ROOT@/ran"])
        server.shell(commands=["true"], {argument})
    """,
        tmp_path,
    )
    out = run_cli("-y", "--no-host-lock", "@local", deploy)
    assert out.code == 2, out.describe()
    name = argument.split("=")[0]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"deploy.py:4: server.shell(): {name} is not supported: " in lines[0], out.describe()
    assert why in lines[0]
    assert "'pw'" not in out.stderr  # a password is never shown
    assert not (tmp_path / "ran").exists()  # refused before any host was touched
    assert_no_traceback(out)
    assert name in REFUSED


def test_refused_arguments_at_their_defaults_are_accepted(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="s", commands=["touch @ROOT@/ran"], _get_pty=False, _doas=False, _dzdo=False,
                     _su_password=None, _doas_user=None, _dzdo_user=None)
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "ran").exists()


def test_success_exit_codes_per_command(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="ok", commands=["exit 3", "echo after > @ROOT@/after"], _success_exit_codes=[0, 3])
        server.shell(name="zero fails", commands=["true"], _success_exit_codes=[2], _ignore_errors=True)
        server.shell(name="other", commands=["exit 4", "echo no > @ROOT@/no"], _success_exit_codes=[0, 3])
    """,
    )
    assert out.code == 1, out.describe()
    assert out.op("@local", "ok")["status"] == "changed"
    assert (tmp_path / "after").read_text() == "after\n"
    zero = out.op("@local", "zero fails")
    assert zero["status"] == "failed" and zero["error"] == "exit code 1", zero
    other = out.op("@local", "other")
    assert other["status"] == "failed" and other["error"] == "exit code 4", other
    assert not (tmp_path / "no").exists()


def test_shell_executable_and_stdin(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="bash", commands=['echo "${BASH_VERSION:+bash}" > @ROOT@/bash'], _shell_executable="bash")
        server.shell(name="sh", commands=['echo "${BASH_VERSION:+bash}" > @ROOT@/sh'])
        server.shell(name="stdin", commands=["cat > @ROOT@/one", "cat > @ROOT@/two"], _stdin=["a", "b\\n", "it's $X"])
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "bash").read_text() == "bash\n"
    assert (tmp_path / "sh").read_text() == "\n"  # the host's sh is dash here
    # every command reads all of it, each line ending in a newline (as pyinfra writes it)
    assert (tmp_path / "one").read_text() == (tmp_path / "two").read_text() == "a\nb\nit's $X\n"


def test_shell_executable_with_options_as_pyinfra_documents(tmp_path: Path) -> None:
    """pyinfra 3.10's docs run a login shell with ``_shell_executable="bash -l"``: the
    options reach the shell (each word quoted on its own)."""
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="login", commands=["shopt -q login_shell && echo login > @ROOT@/login"],
                     _shell_executable="bash -l")
        server.shell(name="plain", commands=["shopt -q login_shell || echo plain > @ROOT@/plain"],
                     _shell_executable="bash")
        server.shell(name="pipefail", commands=["false | true || echo failed > @ROOT@/pipefail"],
                     _shell_executable="bash -o pipefail")
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "login").read_text() == "login\n"
    assert (tmp_path / "plain").read_text() == "plain\n"
    assert (tmp_path / "pipefail").read_text() == "failed\n"


@pytest.mark.parametrize("value", ["sh; rm", "bash -c", "bash -lc", "bash -o", "bash -o 'x'", "bash $(id)", " "])
def test_bad_shell_executable_with_options_is_refused(tmp_path: Path, value: str) -> None:
    out = run_cli(
        "-y",
        "--no-host-lock",
        "@local",
        write_deploy(
            tmp_path,
            f"from oxinfra.operations import server\nserver.shell(commands=['touch {tmp_path}/ran'], _shell_executable={value!r})\n",
        ),
    )
    assert out.code == 2 and "_shell_executable must be a shell's name or path" in out.stderr, out.describe()
    assert not (tmp_path / "ran").exists()
    assert_no_traceback(out)


def test_bad_shell_executable_is_refused(tmp_path: Path) -> None:
    out = run_cli(
        "-y",
        "--no-host-lock",
        "@local",
        write_deploy(
            tmp_path,
            "from oxinfra.operations import server\nserver.shell(commands=['true'], _shell_executable='sh; rm')\n",
        ),
    )
    assert out.code == 2 and "_shell_executable must be a shell's name or path" in out.stderr, out.describe()


def test_continue_on_error_runs_every_command_and_keeps_the_first_failure(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="goes on", commands=["exit 5", "exit 6", "echo ran > @ROOT@/ran"],
                     _ignore_errors=True, _continue_on_error=True)
        server.shell(name="stops", commands=["false", "echo ran > @ROOT@/stops"], _ignore_errors=True)
    """,
    )
    assert out.code == 0, out.describe()
    assert out.op("@local", "goes on")["error"] == "exit code 5"
    assert (tmp_path / "ran").read_text() == "ran\n"
    assert not (tmp_path / "stops").exists()


def test_retry_until_runs_again_while_the_callback_says_so(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import server
        seen = []

        def more(output):
            seen.append(output["stdout_lines"])
            return output["stdout_lines"] != ["3"]

        server.shell(name="until", commands=["echo x >> @ROOT@/count; wc -l < @ROOT@/count"],
                     _retry_until=more, _retries=10, _retry_delay=0)
        server.shell(name="capped", commands=["echo x >> @ROOT@/capped"],
                     _retry_until=lambda output: True, _retries=2, _retry_delay=0)
        server.shell(name="after", commands=["echo after > @ROOT@/after"])
        # failures and true answers count together against _retries, as in pyinfra
        server.shell(name="flaky", commands=["echo x >> @ROOT@/flaky; [ $(wc -l < @ROOT@/flaky) -ge 2 ]"],
                     _retry_until=lambda output: True, _retries=3, _retry_delay=0)
        server.shell(name="gives up", commands=["echo x >> @ROOT@/gives-up; false"],
                     _retry_until=lambda output: True, _retries=1, _retry_delay=0, _ignore_errors=True)
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "flaky").read_text() == "x\n" * 4  # failed, then 2 true answers: 1 + 3 runs
    assert (tmp_path / "gives-up").read_text() == "x\n" * 2
    assert out.op("@local", "gives up")["status"] == "failed"
    assert (tmp_path / "count").read_text() == "x\nx\nx\n"
    assert (tmp_path / "capped").read_text() == "x\nx\nx\n"  # the first run and 2 retries
    assert (tmp_path / "after").read_text() == "after\n"
    statuses = out.statuses("@local")
    assert statuses == {
        "until": "changed",
        "capped": "changed",
        "after": "changed",
        "flaky": "changed",
        "gives up": "failed",
    }


@pytest.mark.skipif(not (IS_ROOT and HAS_USER and shutil.which("bash")), reason=f"needs root, bash and {USER}")
def test_su_login_shell_and_env(tmp_path: Path, target: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import server
        server.shell(name="login", commands=['echo "$(id -un) $(pwd) ${{BASH_VERSION:+bash}}" > @ROOT@/login'],
                     _su_user={USER!r}, _use_su_login=True, _su_shell="/bin/bash")
        server.shell(name="env", commands=['echo "$OX_KEEP" > @ROOT@/env'], _su_user={USER!r},
                     _preserve_su_env=True, _env={{"OX_KEEP": "kept"}})
        server.shell(name="plain", commands=['echo "$(id -un) ${{BASH_VERSION:+bash}}" > @ROOT@/plain'],
                     _su_user={USER!r})
    """,
        target,
    )
    out = run_deploy("@local", deploy, "--no-host-lock")
    assert out.code == 0, out.describe()
    home = pwd.getpwnam(USER).pw_dir
    assert (target / "login").read_text() == f"{USER} {home} bash\n"
    assert (target / "env").read_text() == "kept\n"
    assert (target / "plain").read_text() == f"{USER} \n"


def test_temp_dir_is_accepted_and_nothing_goes_there(tmp_path: Path) -> None:
    spare = tmp_path / "spare"
    spare.mkdir()
    (tmp_path / "data").write_text("data\n")
    out = _local(
        tmp_path,
        """
        from oxinfra.operations import files
        files.put(name="put", src="data", dest="@ROOT@/dest", _temp_dir="@ROOT@/spare")
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "dest").read_text() == "data\n"
    assert list(spare.iterdir()) == []


def test_run_once_runs_on_the_first_host_only(tmp_path: Path, target: Path, inventory: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import server
        server.shell(name="once", commands=["echo $$ > @ROOT@/once-" + host.name], _run_once=True)
        server.shell(name="each", commands=["true"])
    """,
        target,
    )
    out = run_deploy(inventory, deploy, "--shards", "1")
    assert out.code == 0, out.describe()
    hosts = list(out.summary["hosts"])
    ran = sorted(p.name for p in target.iterdir())
    assert ran == [f"once-{hosts[0]}"], ran
    for name in hosts[1:]:
        assert out.op(name, "once")["status"] == "skipped"
    dry = run_deploy(inventory, deploy, "--shards", "1", dry=True)
    assert [dry.op(h, "once")["status"] for h in hosts] == ["changed", "skipped", "skipped"]
    sharded = run_deploy(inventory, deploy, "--shards", "2")
    assert sharded.code == 2 and "_run_once needs every host in one process" in sharded.stdout, sharded.describe()


def test_config_names_reach_these_arguments(tmp_path: Path) -> None:
    out = _local(
        tmp_path,
        """
        from oxinfra import config
        from oxinfra.operations import server
        config.SHELL = "bash"
        server.shell(name="bash", commands=['echo "${BASH_VERSION:+bash}" > @ROOT@/bash'])
        config.RETRY = 1
        config.RETRY_DELAY = 0
        server.shell(name="retried", commands=["echo x >> @ROOT@/tries; exit 1"], _ignore_errors=True)
    """,
    )
    assert out.code == 0, out.describe()
    assert (tmp_path / "bash").read_text() == "bash\n"
    assert (tmp_path / "tries").read_text() == "x\nx\n"


def test_the_simulator_runs_these_scripts_like_a_real_sh(tmp_path: Path) -> None:
    """The same operations on a simulated host (``@sim``, benches and large-fleet tests)
    give what they give on @local above."""
    from oxinfra.testing import sim

    sim.reset(["args"])
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="codes", commands=["exit 3", "echo after > /tmp/codes"], _success_exit_codes=[0, 3])
        server.shell(name="stdin", commands=["cat > /tmp/stdin"], _stdin=["one", "two"])
        server.shell(name="coe", commands=["exit 5", "echo ran > /tmp/coe"], _ignore_errors=True, _continue_on_error=True)
    """,
    )
    out = run_deploy("@sim/args", deploy)
    assert out.code == 0, out.describe()
    assert out.op("@sim/args", "coe")["error"] == "exit code 5"
    fs = sim.machines()["args"].fs
    assert (fs["/tmp/codes"].data, fs["/tmp/stdin"].data, fs["/tmp/coe"].data) == ("after\n", "one\ntwo\n", "ran\n")


def _most_at_once(target: Path, prefix: str) -> int:
    """How many of the hosts' [start, end] intervals (files ``prefix-HOST``) overlap at most."""
    points = []
    for path in target.glob(f"{prefix}-*"):
        start, end = (int(x) for x in path.read_text().split())
        points += [(start, 1), (end, -1)]
    most = now = 0
    for _, step in sorted(points):
        now += step
        most = max(most, now)
    return most


@pytest.mark.parametrize(
    "preamble, argument, most",
    [("", "_serial=True", 1), ("", "_parallel=2", 2), ("config.PARALLEL = 1", "_ignore_errors=False", 1)],
    ids=["serial", "parallel", "config.PARALLEL in deploy code"],
)
def test_serial_and_parallel_limit_how_many_hosts_run_it_at_once(
    tmp_path: Path, target: Path, inventory: Path, preamble: str, argument: str, most: int
) -> None:
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import config, host
        from oxinfra.operations import server
        server.shell(name="before", commands=["true"])
        {preamble}
        server.shell(
            name="limited",
            commands=["s=$(date +%s%N); sleep 0.4; echo $s $(date +%s%N) > @ROOT@/t-" + host.name],
            {argument},
        )
        server.shell(name="after", commands=["true"])
    """,
        target,
    )
    out = run_deploy(inventory, deploy, "--shards", "1")
    assert out.code == 0, out.describe()
    assert len(list(target.glob("t-*"))) == 3
    assert _most_at_once(target, "t") <= most
    for name in out.summary["hosts"]:
        assert out.statuses(name) == {"before": "changed", "limited": "changed", "after": "changed"}
    sharded = run_deploy(inventory, deploy, "--shards", "2")
    assert sharded.code == 2 and "count hosts in one process" in sharded.stdout, sharded.describe()
    if argument == "_serial=True":  # the same operation without the limit: hosts do run it at once
        for path in target.glob("t-*"):
            path.unlink()
        deploy.write_text(deploy.read_text().replace(argument, "_serial=False"))
        out = run_deploy(inventory, deploy, "--shards", "1")
        assert out.code == 0, out.describe()
        assert _most_at_once(target, "t") >= 2
