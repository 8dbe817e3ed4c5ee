"""Findings of a hostile review of the command and the library API, each a test written
before its fix: output that cannot be written, ``SystemExit`` from user code, numbers that
are not numbers, settings files that are not UTF-8, a password prompt without a terminal,
misleading messages, and the API's argument checks."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_helpers import Outcome, assert_no_traceback, cli_env, run_cli

SIM20 = 'web = ["@sim/h[1:20]"]\n'
SIM3 = 'web = ["@sim/h[1:3]"]\n'
#: Prints a lot under -vvv; the last host fails, so the state file proves it ran.
LOUD = """\
from oxinfra import host
from oxinfra.operations import server

server.shell(name="a", commands=["echo " + "x" * 300])
server.shell(name="b", commands=["echo " + "y" * 300])
if host.name == "@sim/h20":
    server.shell(name="last fails", commands=["exit 3"])
server.shell(name="c", commands=["echo " + "z" * 300])
"""


def _files(tmp_path: Path, **files: str) -> None:
    for name, text in files.items():
        (tmp_path / name.replace("__", ".")).write_text(text)


def _child(tmp_path: Path, *args: str, stdout: object, limit_file: int | None = None) -> Outcome:
    """``python -m oxinfra ARGS`` in ``tmp_path`` with stdout to ``stdout`` (an open file);
    ``limit_file``: a file size limit (``ulimit -f``), SIGXFSZ ignored, so a write past it
    fails with EFBIG."""

    def limit() -> None:
        if limit_file is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file, limit_file))

    proc = subprocess.run(
        [sys.executable, "-m", "oxinfra", *args],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        env={**cli_env(), "NO_COLOR": "1", "OXINFRA_STATE_FILE": str(tmp_path / "last-run.json")},
        timeout=120,
        preexec_fn=limit,
    )
    return Outcome(proc.returncode, "", proc.stderr.decode("utf-8", "replace"))


def _state(tmp_path: Path) -> dict[str, object]:
    return json.loads((tmp_path / "last-run.json").read_text())  # type: ignore[no-any-return]


# -- 1. stdout that cannot be written (disk full, file too large) ---------------------------


def test_a_file_size_limit_on_stdout_does_not_stop_the_fleet(tmp_path: Path) -> None:
    """Before: the first write past ``ulimit -f`` raised EFBIG out of the renderer: 1 of 20
    hosts ran, a traceback, exit 70, no summary, no state file."""
    _files(tmp_path, sim20__py=SIM20, loud__py=LOUD)
    with open(tmp_path / "log", "wb") as log:
        out = _child(tmp_path, "sim20.py", "loud.py", "-y", "-vvv", "--parallel", "1", stdout=log, limit_file=4096)
    assert_no_traceback(out)
    assert out.code == 1, out.describe()  # the run's own code: @sim/h20 failed
    state = _state(tmp_path)
    assert state["hosts"] == 20 and state["retry"] == ["@sim/h20"], state
    assert "File too large" in out.stderr and out.stderr.count("\n") <= 3, out.describe()


def test_a_full_disk_on_stdout_does_not_stop_the_run(tmp_path: Path) -> None:
    """Before: two chained tracebacks (the error handler wrote to stdout again), exit 1."""
    _files(
        tmp_path, sim3__py=SIM3, f2__py='from oxinfra.operations import server\nserver.shell(commands=["echo hi"])\n'
    )
    for flags in ((), ("--json",)):
        with open("/dev/full", "wb") as full:
            out = _child(tmp_path, "sim3.py", "f2.py", "-y", *flags, stdout=full)
        assert_no_traceback(out)
        assert out.code == 0, out.describe()
        assert "No space left on device" in out.stderr, out.describe()
        assert _state(tmp_path)["hosts"] == 3
        (tmp_path / "last-run.json").unlink()


def test_a_full_disk_while_facts_or_the_inventory_are_printed_exits_74(tmp_path: Path) -> None:
    """``fact`` and ``debug-inventory`` print their result: when it cannot be written, one
    line says so and the exit code is 74 (EX_IOERR), not a traceback and 70."""
    _files(tmp_path, sim3__py=SIM3)
    for form in (("fact", "server.Arch"), ("debug-inventory",), ("fact", "server.Arch", "--json")):
        with open("/dev/full", "wb") as full:
            out = _child(tmp_path, "sim3.py", *form, stdout=full)
        assert_no_traceback(out)
        assert out.code == 74, out.describe()
        assert out.stderr.count("oxinfra: error: stdout: cannot write (No space left on device)") == 1, out.describe()


# -- 2. SystemExit raised by user code ------------------------------------------------------

SAY = 'from oxinfra.operations import server\nserver.shell(commands=["echo hi"])\n'


def _exit_refused(out: Outcome, where: str, code: str = "0") -> None:
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    errors = [line for line in out.stderr.splitlines() if line.startswith("oxinfra: error:")]
    assert len(errors) == 1, out.describe()
    assert where in errors[0] and f"sys.exit({code})" in errors[0], out.describe()


@pytest.mark.parametrize("code", ["0", "3", "None", "'bye'"])
def test_sys_exit_in_a_deploy_is_a_deploy_error(tmp_path: Path, code: str) -> None:
    """Before: sys.exit(0) ended the run silently with exit 0 and nothing ran; sys.exit(3)
    exited 3."""
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY + f"import sys\n\nsys.exit({code})\n")
    out = run_cli("sim3.py", "deploy.py", "-y", cwd=tmp_path)
    _exit_refused(out, "deploy.py:5", code)
    assert "hi" not in out.stdout


def test_sys_exit_in_an_inventory_or_group_data_is_an_inventory_error(tmp_path: Path) -> None:
    _files(tmp_path, inv__py='import sys\nweb = ["@sim/a"]\nsys.exit(0)\n', deploy__py=SAY)
    _exit_refused(run_cli("inv.py", "deploy.py", "-y", cwd=tmp_path), "inv.py:3")
    (tmp_path / "group_data").mkdir()
    _files(tmp_path, inv__py='web = ["@sim/a"]\n')
    (tmp_path / "group_data" / "web.py").write_text("import sys\n\nsys.exit(5)\n")
    _exit_refused(run_cli("inv.py", "deploy.py", "-y", cwd=tmp_path), "web.py:3", "5")


def test_sys_exit_in_config_py_is_an_error(tmp_path: Path) -> None:
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY, config__py="import sys\nsys.exit(0)\n")
    _exit_refused(run_cli("sim3.py", "deploy.py", "-y", cwd=tmp_path), "config.py:2")


def test_sys_exit_in_a_dynamic_inventory_is_an_inventory_error(tmp_path: Path) -> None:
    _files(tmp_path, deploy__py=SAY, dyn__py="import sys\n\ndef hosts():\n    sys.exit(0)\n")
    _exit_refused(run_cli("dyn:hosts", "deploy.py", "-y", cwd=tmp_path), "dyn.py:4")
    _files(tmp_path, dyn2__py="import sys\nsys.exit(0)\n")
    _exit_refused(run_cli("dyn2:hosts", "deploy.py", "-y", cwd=tmp_path), "dyn2.py:2")


def test_sys_exit_in_a_deploy_run_by_the_library_raises_a_deploy_error(tmp_path: Path) -> None:
    """Before: run() raised SystemExit into the caller (an application would exit)."""
    from oxinfra.api import run
    from oxinfra.exceptions import DeployError

    deploy = tmp_path / "deploy.py"
    deploy.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(DeployError, match=r"deploy.py:2: sys.exit\(0\)"):
        run(["@sim/a"], deploy)

    def by_function() -> None:
        raise SystemExit(4)

    with pytest.raises(DeployError, match=r"sys.exit\(4\)"):
        run(["@sim/a"], by_function)


# -- 3. numbers that are not numbers -------------------------------------------------------


@pytest.mark.parametrize(
    "option, value",
    [
        ("--host-timeout", "nan"),
        ("--host-timeout", "inf"),
        ("--round-trip-timeout", "nan"),
        ("--lock-timeout", "nan"),
        ("--lock-timeout", "inf"),
        ("--fail-percent", "nan"),
    ],
)
def test_non_finite_numbers_are_refused_on_the_command_line(tmp_path: Path, option: str, value: str) -> None:
    """Before: --host-timeout nan and --lock-timeout nan were internal errors (exit 70),
    --fail-percent nan was accepted and never triggered; inf lock timeouts overflowed in
    the lock script."""
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY)
    out = run_cli("sim3.py", "deploy.py", "-y", option, value, cwd=tmp_path)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    assert option in out.stderr and "finite" in out.stderr, out.describe()
    assert "hi" not in out.stdout


@pytest.mark.parametrize("setting", ['fail_percent = "nan"', "fail_percent = nan", "host_timeout = inf"])
def test_non_finite_numbers_are_refused_in_oxinfra_toml(tmp_path: Path, setting: str) -> None:
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY, oxinfra__toml=setting + "\n")
    out = run_cli("sim3.py", "deploy.py", "-y", cwd=tmp_path)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    assert "oxinfra.toml" in out.stderr and setting.split()[0] in out.stderr, out.describe()


@pytest.mark.parametrize("setting", ["config.PARALLEL = float('inf')", "config.FAIL_PERCENT = float('nan')"])
def test_non_finite_numbers_are_refused_in_config_py(tmp_path: Path, setting: str) -> None:
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY, config__py=f"from oxinfra import config\n{setting}\n")
    out = run_cli("sim3.py", "deploy.py", "-y", cwd=tmp_path)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    assert "config.py" in out.stderr, out.describe()


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"host_timeout": -1}, "host_timeout"),
        ({"host_timeout": 0}, "host_timeout"),
        ({"host_timeout": float("nan")}, "host_timeout"),
        ({"round_trip_timeout": float("inf")}, "round_trip_timeout"),
        ({"round_trip_timeout": "5"}, "round_trip_timeout"),
        ({"lock_timeout": -0.5}, "lock_timeout"),
        ({"lock_timeout": float("nan")}, "lock_timeout"),
        ({"fail_percent": 500}, "fail_percent"),
        ({"fail_percent": float("nan")}, "fail_percent"),
        ({"fail_percent": True}, "fail_percent"),
        ({"handle_signals": "yes"}, "handle_signals"),
    ],
)
def test_run_control_refuses_bad_values(kwargs: dict[str, object], name: str) -> None:
    """Before: RunControl took them, and the run failed later (or never timed out)."""
    from oxinfra.api import RunControl
    from oxinfra.exceptions import OxinfraError

    with pytest.raises(OxinfraError, match=rf"RunControl\({name}="):
        RunControl(**kwargs)  # type: ignore[arg-type]


def test_run_control_takes_good_values() -> None:
    from oxinfra.api import RunControl

    control = RunControl(host_timeout=5, round_trip_timeout=0.5, lock_timeout=0, fail_percent=100)
    assert (control.host_timeout, control.lock_timeout, control.fail_percent) == (5, 0, 100)
    assert RunControl(lock_timeout=None).lock_timeout is None


# -- 4. settings files that are not UTF-8 ---------------------------------------------------


@pytest.mark.parametrize("name", ["oxinfra.toml", "pyproject.toml"])
def test_a_settings_file_that_is_not_utf8_is_one_line(tmp_path: Path, name: str) -> None:
    """Before: a UnicodeDecodeError traceback (settings.py, tomllib.load)."""
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY)
    (tmp_path / name).write_bytes(b"# caf\xe9\nparallel = 2\n[tool.oxinfra]\nparallel = 2\n")
    out = run_cli("sim3.py", "deploy.py", "-y", cwd=tmp_path)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and f"{name}: not UTF-8" in errors[0] and "line 1" in errors[0], out.describe()


def test_an_ansible_inventory_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    _files(tmp_path, deploy__py=SAY)
    (tmp_path / "hosts.ini").write_bytes(b"[web]\n@sim/a # caf\xe9\n")
    (tmp_path / "hosts.yml").write_bytes(b"web:\n  hosts:\n    '@sim/a': {note: caf\xe9}\n")
    for inventory in ("hosts.ini", "hosts.yml"):
        out = run_cli(inventory, "deploy.py", "-y", cwd=tmp_path)
        assert_no_traceback(out)
        assert out.code in (0, 2), out.describe()


# -- 5. a password prompt without a terminal ------------------------------------------------


@pytest.mark.parametrize(
    "option, envvar",
    [
        ("--ask-sudo-password", "OXINFRA_SUDO_PASSWORD"),
        ("--ssh-password-prompt", "OXINFRA_SSH_PASSWORD"),
        ("--ask-ssh-key-password", "OXINFRA_SSH_KEY_PASSWORD"),
    ],
)
def test_a_password_prompt_without_a_terminal_exits_2(tmp_path: Path, option: str, envvar: str) -> None:
    """Before: "Aborted!" and exit 1. Now, as the confirmation prompt: exit 2 and one line
    saying how to give the password instead. No controlling terminal (a new session), stdin
    /dev/null."""
    _files(tmp_path, sim3__py=SIM3, deploy__py=SAY)
    extra = ["--ssh-key", str(tmp_path / "deploy.py")] if option == "--ask-ssh-key-password" else []
    proc = subprocess.run(
        [sys.executable, "-m", "oxinfra", "sim3.py", "deploy.py", "-y", option, *extra],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
        start_new_session=True,
    )
    out = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert_no_traceback(out)
    assert out.code == 2, out.describe()
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "no terminal to ask for" in errors[0] and envvar in errors[0], out.describe()
    assert "hi" not in out.stdout


# -- 6. misleading messages -----------------------------------------------------------------


def test_a_directory_given_as_the_inventory_is_called_a_directory(tmp_path: Path) -> None:
    """Before: "inventory file not found: adir.py", for a directory that is there."""
    _files(tmp_path, deploy__py=SAY)
    (tmp_path / "adir.py").mkdir()
    out = run_cli("adir.py", "deploy.py", "-y", cwd=tmp_path)
    assert out.code == 2, out.describe()
    assert "adir.py is a directory" in out.stderr and "not found" not in out.stderr, out.describe()


def test_an_unknown_connector_lists_every_connector() -> None:
    """Before: "use @local, @ssh/HOST or @docker/CONTAINER" -- without @sim."""
    from oxinfra.connectors.registry import CONNECTORS
    from oxinfra.exceptions import InventoryError
    from oxinfra.inventory import Inventory

    with pytest.raises(InventoryError, match="unknown connector") as raised:
        Inventory.from_hosts(["@bogus/x"])
    for name in CONNECTORS:
        assert f"@{name}" in str(raised.value)
    assert "@sim/NAME" in str(raised.value)


# -- 7. the library API's arguments and a callback that raises ------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"limit": 5}, "limit"),
        ({"limit": [5]}, "limit"),
        ({"global_args": 5}, "global_args"),
        ({"control": 5}, "control"),
        ({"on_event": 5}, "on_event"),
    ],
)
def test_run_checks_its_arguments_types(tmp_path: Path, kwargs: dict[str, object], name: str) -> None:
    """Before: TypeError (limit=5, global_args=5) and AttributeError (control=5) from deep in
    the engine."""
    import asyncio

    from oxinfra.api import run, run_async
    from oxinfra.exceptions import OxinfraError

    deploy = tmp_path / "deploy.py"
    deploy.write_text(SAY)
    with pytest.raises(OxinfraError, match=rf"^{name}="):
        run(["@sim/a"], deploy, **kwargs)  # type: ignore[arg-type]
    for isolation in ("thread", "process"):
        with pytest.raises(OxinfraError, match=rf"^{name}="):
            asyncio.run(run_async(["@sim/a"], deploy, isolation=isolation, **kwargs))  # type: ignore[arg-type]


def _raising_callback(seen: list[object]) -> object:
    def on_event(event: object) -> None:
        seen.append(event)
        if type(event).__name__ == "OperationEvent":
            raise ValueError("the application's bug")

    return on_event


def test_a_raising_on_event_does_not_stop_the_run(tmp_path: Path) -> None:
    """Before: run() ended after 2 of 10 hosts with the callback's ValueError. Now every host
    runs to its end, every event still reaches the callback, and run() then raises
    EventCallbackError: the first exception as its cause, the result on it."""
    import asyncio

    from oxinfra.api import run, run_async
    from oxinfra.exceptions import EventCallbackError

    deploy = tmp_path / "deploy.py"
    deploy.write_text(SAY)
    hosts = [f"@sim/h{i}" for i in range(10)]
    seen: list[object] = []
    with pytest.raises(EventCallbackError, match=r"^on_event raised ValueError: the application's bug") as raised:
        run(hosts, deploy, on_event=_raising_callback(seen))  # type: ignore[arg-type]
    result = raised.value.result
    assert sorted(result.hosts) == sorted(hosts) and {h.status for h in result.hosts.values()} == {"success"}
    assert isinstance(raised.value.__cause__, ValueError) and raised.value.count == 10
    assert sum(type(e).__name__ == "OperationEvent" for e in seen) == 10
    for isolation in ("thread", "process"):
        seen = []
        with pytest.raises(EventCallbackError) as raised:
            asyncio.run(run_async(hosts, deploy, on_event=_raising_callback(seen), isolation=isolation))  # type: ignore[arg-type]
        assert len(raised.value.result.hosts) == 10 and raised.value.count == 10, isolation
