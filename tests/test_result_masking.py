"""A secret's text is ``***`` in what a run gives back, not only in what the CLI prints: the
library's results (``oxinfra.api.run`` / ``run_async``, in a worker thread, a worker process
and sharded), the typed events ``on_event`` gets, the errors raised to the caller, and the CLI's
``--json``, ``--diff``, ``--report`` and state file. The command sent to the host keeps the real
value (what the host did with it proves it). Secrets: host data under secret-looking keys,
``Secret`` values (in data and in operations' arguments), the run's sudo password. Against
@local, @sim and loopback sshd hosts."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import invoke
from oxinfra.api import DeployError, RunControl, run, run_async
from oxinfra.api.results import Event, HostFailedEvent, OperationEvent
from oxinfra.testing import sim

DATA_PW = "Data-pass-1111"  # under a secret-looking key
WRAPPED = "Wrapped-3333"  # a Secret in host data
NESTED = "Nested-tok-2222"  # under a secret-looking key, nested
ARG = "Arg-secret-6666"  # a Secret made by the deploy and given to an operation
SECRETS = (DATA_PW, WRAPPED, NESTED, ARG)

INVENTORY = """
    from oxinfra.api import Secret

    hosts = (@HOSTS@, {
        "db_password": "Data-pass-1111",
        "service": {"name": "app", "auth": {"token": "Nested-tok-2222"}},
        "wrapped": Secret("Wrapped-3333"),
        @EXTRA@
    })
"""

# Every way an operation's outcome can carry a secret's text.
DEPLOY = """
    from oxinfra import host
    from oxinfra.api import OperationError, Secret, operation
    from oxinfra.facts.server import Hostname
    from oxinfra.operations import files, server

    ROOT = "@ROOT@"
    pw = host.data.db_password

    @operation()
    def says(text):
        host.noop(f"nothing to do for {text}")
        return
        yield

    @operation()
    def refuses(text):
        host.get_fact(Hostname)  # planned on the host (discovery has no facts)
        raise OperationError(f"cannot use {text}")
        yield

    server.shell(name="uses data", commands=[f"echo {pw} {host.data.wrapped} {host.data.service['auth']['token']}"])
    server.shell(name="proof", commands=[f"echo {pw} > {ROOT}/proof.txt"])
    server.shell(name="argument", commands=['echo "$TOKEN"'], _env={"TOKEN": Secret("Arg-secret-6666")})
    server.shell(name="whole", commands=[Secret("echo Arg-secret-6666")])
    says(name="noop with data", text=pw)
    server.shell(name="bytes", commands=[f"printf '\\\\377 {pw}\\\\n'"])
    files.template(name="config", src="@TEMPLATE@", dest=f"{ROOT}/app.conf")
    refuses(name="refuses", text=host.data.wrapped, _ignore_errors=True)
    server.shell(name="fails", commands=[f"echo out-{pw}; echo err-{host.data.wrapped} >&2; exit 3"],
                 _ignore_errors=True)
    server.shell(name=f"named {pw}", commands=["true"])
    server.shell(name="env fails", commands=['echo "$SECRET_VALUE" >&2; exit 1'], _env={"SECRET_VALUE": pw})
"""


def _files(tmp_path: Path, hosts: list[str], extra: str = "") -> tuple[Path, Path, Path]:
    root = tmp_path / "root"
    root.mkdir()
    template = tmp_path / "app.conf.j2"
    template.write_text("user=app\npassword={{ host.data.db_password }}\n")
    inventory = tmp_path / "inventory.py"
    inventory.write_text(textwrap.dedent(INVENTORY).replace("@HOSTS@", repr(hosts)).replace("@EXTRA@", extra))
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(DEPLOY).replace("@ROOT@", str(root)).replace("@TEMPLATE@", str(template)).lstrip()
    )
    return inventory, deploy, root


def _texts(value: Any) -> list[str]:
    """Every string in ``value`` as its plain text (a ``Secret``'s real text, not its repr):
    dataclasses (results, events), mappings, sequences."""
    if isinstance(value, str):
        return [str.__str__(value)]
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [t for f in dataclasses.fields(value) for t in _texts(getattr(value, f.name))]
    if hasattr(value, "items"):
        return [t for k, v in value.items() for t in _texts(k) + _texts(v)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [t for v in value for t in _texts(v)]
    return []


def _assert_no_secret(*values: Any) -> None:
    for value in values:
        for text in _texts(value):
            for secret in SECRETS:
                assert secret not in text, (secret, text)


def _check_local_result(result: Any, events: list[Event], root: Path) -> None:
    _assert_no_secret(result.hosts, events, [e.to_json() for e in events])
    ops = {op.op: op for op in result.hosts["@local"].ops}
    assert ops["uses data"].commands == ("echo *** *** ***",)
    assert ops["uses data"].stdout == "*** *** ***\n"
    assert ops["argument"].commands == ('echo "$TOKEN"',) and ops["argument"].stdout == "***\n"
    assert ops["whole"].commands == ("***",) and type(ops["whole"].commands[0]) is str
    assert ops["noop with data"].noop == "nothing to do for ***"
    assert ops["bytes"].stdout == "\ufffd ***\n"
    assert ops["config"].diff is not None and "+password=***" in ops["config"].diff, ops["config"].diff
    assert ops["refuses"].status == "failed" and ops["refuses"].error == "cannot use ***"
    assert (ops["fails"].stdout, ops["fails"].stderr) == ("out-***\n", "err-***\n")
    assert "named ***" in ops and ops["named ***"].status == "changed"
    env = ops["env fails"]
    assert env.status == "failed" and env.stderr == "***\n" and env.error == "exit code 1"
    assert any("SECRET_VALUE" in c for c in env.commands)
    host = result.hosts["@local"]
    assert host.status == "failed"
    # The host got the real values: only what is shown is masked.
    assert (root / "proof.txt").read_text() == DATA_PW + "\n"
    assert (root / "app.conf").read_text() == f"user=app\npassword={DATA_PW}\n"
    by_op = {e.op: e for e in events if isinstance(e, OperationEvent)}
    assert by_op["env fails"].stderr == "***\n" and by_op["fails"].stdout == "out-***\n"
    assert by_op["config"].diff == ops["config"].diff


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_run_async_results_and_events_are_masked(tmp_path: Path, isolation: str) -> None:
    inventory, deploy, root = _files(tmp_path, ["@local"])
    events: list[Event] = []
    result = asyncio.run(
        run_async(
            inventory,
            deploy,
            on_event=events.append,
            isolation=isolation,  # type: ignore[arg-type]
            control=RunControl(lock_timeout=None, diff=True),
        )
    )
    _check_local_result(result, events, root)


def test_run_results_and_events_are_masked(tmp_path: Path) -> None:
    inventory, deploy, root = _files(tmp_path, ["@local"])
    events: list[Event] = []
    result = run(inventory, deploy, on_event=events.append, control=RunControl(lock_timeout=None, diff=True))
    _check_local_result(result, events, root)


def test_a_dry_run_is_masked(tmp_path: Path) -> None:
    inventory, deploy, root = _files(tmp_path, ["@local"])
    events: list[Event] = []
    result = run(inventory, deploy, dry=True, on_event=events.append, control=RunControl(lock_timeout=None, diff=True))
    _assert_no_secret(result.hosts, events)
    ops = {op.op: op for op in result.hosts["@local"].ops}
    assert ops["uses data"].commands == ("echo *** *** ***",)
    assert ops["config"].diff is not None and "+password=***" in ops["config"].diff
    assert not list(root.iterdir())


def test_the_run_sudo_password_is_masked(tmp_path: Path) -> None:
    """A run default ``_sudo_password`` (``--sudo-password``) whose text a command prints."""
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import server\nserver.shell(name='prints', commands=['echo Run-sudo-pw-7777'])\n"
    )
    events: list[Event] = []
    result = run(
        ["@local"],
        deploy,
        on_event=events.append,
        global_args={"_sudo_password": "Run-sudo-pw-7777"},
        control=RunControl(lock_timeout=None),
    )
    (op,) = result.hosts["@local"].ops
    assert op.commands == ("echo ***",) and op.stdout == "***\n"
    assert "Run-sudo-pw-7777" not in "".join(_texts(result.hosts) + _texts(events))


def test_sharded_results_and_events_are_masked(tmp_path: Path) -> None:
    sim.reset()
    try:
        inventory, deploy, _ = _files(tmp_path, ["@sim/m1", "@sim/m2", "@sim/m3"])
        text = deploy.read_text()
        # the simulator runs no printf/hostname/templates: the shell-only part of the deploy
        deploy.write_text(
            "\n".join(line for line in text.splitlines() if not any(w in line for w in ("bytes", "config", "proof")))
        )
        events: list[Event] = []
        result = run(inventory, deploy, shards=2, on_event=events.append)
    finally:
        sim.reset()
    _assert_no_secret(result.hosts, events)
    assert len(result.hosts) == 3
    for host in result.hosts.values():
        ops = {op.op: op for op in host.ops}
        assert ops["uses data"].stdout == "*** *** ***\n"
        assert (ops["fails"].stdout, ops["fails"].stderr) == ("out-***\n", "err-***\n")
        assert ops["refuses"].error == "cannot use ***" and ops["env fails"].stderr == "***\n"
        assert ops["argument"].stdout == "***\n" and "named ***" in ops


def test_loopback_sshd_results_are_masked(tmp_path: Path, sshd_fleet: Any) -> None:
    data = {**sshd_fleet.ssh_data(), "db_password": DATA_PW}
    host = sshd_fleet.hosts[0]

    def deploy() -> None:
        from oxinfra import host as current
        from oxinfra.operations import server

        pw = current.data.db_password
        server.shell(name="prints", commands=[f"echo {pw}; echo {pw} >&2; exit 4"])

    events: list[Event] = []
    result = run([(host, data)], deploy, on_event=events.append)
    (op,) = result.hosts[host].ops
    assert op.status == "failed" and op.commands == ("echo ***; echo *** >&2; exit 4",)
    assert (op.stdout, op.stderr) == ("***\n", "***\n")
    _assert_no_secret(result.hosts, events)


# -- errors ------------------------------------------------------------------------------------


def test_a_failing_fact_read_by_deploy_code_is_masked(tmp_path: Path) -> None:
    inventory, _, _ = _files(tmp_path, ["@local"])
    deploy = tmp_path / "reads.py"
    deploy.write_text(
        "from oxinfra import host\nfrom oxinfra.facts.server import Command\n"
        "host.get_fact(Command, command=f'echo {host.data.db_password} >&2; exit 3')\n"
    )
    for isolation in ("thread", "process"):
        events: list[Event] = []
        result = asyncio.run(
            run_async(
                inventory, deploy, on_event=events.append, isolation=isolation, control=RunControl(lock_timeout=None)
            )  # type: ignore[arg-type]
        )
        host = result.hosts["@local"]
        assert host.status == "failed" and host.error is not None and "***" in host.error, host
        failed = [e for e in events if isinstance(e, HostFailedEvent)]
        assert failed and "***" in failed[0].error
        _assert_no_secret(result.hosts, events)


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_errors_raised_to_the_caller_are_masked(tmp_path: Path, isolation: str) -> None:
    inventory, _, _ = _files(tmp_path, ["@local"])
    deploy = tmp_path / "raises.py"
    deploy.write_text("from oxinfra import host\nraise ValueError('bad ' + host.data.db_password)\n")
    with pytest.raises(DeployError) as info:
        asyncio.run(run_async(inventory, deploy, isolation=isolation))  # type: ignore[arg-type]
    assert "ValueError: bad ***" in str(info.value)
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value.__context__) + repr(info.value.__cause__)
    assert DATA_PW not in shown, shown


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_json_output_bytes_diff_and_state_file_are_masked(tmp_path: Path) -> None:
    inventory, deploy, root = _files(tmp_path, ["@local"])
    state = tmp_path / "state.json"
    report = tmp_path / "report.json"
    out = invoke("-y", "--diff", "--no-host-lock", "--state-file", state, "--report", report, inventory, deploy)
    assert out.code == 1, out.describe()
    _assert_no_secret(out.stdout, out.stderr, report.read_text(), state.read_text())
    by_op = {e["op"]: e for e in out.events if e["event"] == "operation"}
    raw = base64.b64decode(by_op["bytes"]["stdout_b64"])
    assert raw == b"\xff ***\n", raw  # the exact bytes, masked
    assert "+password=***" in by_op["config"]["diff"]
    assert by_op["env fails"]["stderr"] == "***\n"
    assert (root / "app.conf").read_text() == f"user=app\npassword={DATA_PW}\n"


@pytest.mark.parametrize("flags", [["-vvv", "--diff"], ["--dry", "-vv", "--diff"]])
def test_cli_human_output_is_masked(tmp_path: Path, flags: list[str]) -> None:
    inventory, deploy, _ = _files(tmp_path, ["@local"])
    yes = [] if "--dry" in flags else ["-y"]
    out = invoke(*yes, *flags, "--no-host-lock", inventory, deploy, json_events=False)
    assert out.code in (0, 1), out.describe()
    _assert_no_secret(out.stdout, out.stderr)
    assert "$ echo *** *** ***" in out.stdout and "+password=***" in out.stdout


def test_cli_state_file_masks_a_secret_in_the_command_line(tmp_path: Path) -> None:
    inventory, _, _ = _files(tmp_path, ["@local"])
    state = tmp_path / "state.json"
    out = invoke("--no-host-lock", "--state-file", state, inventory, "exec", "--", f"echo {DATA_PW}; exit 3")
    assert out.code == 1, out.describe()
    recorded = json.loads(state.read_text())
    assert recorded["targets"] == ["exec", "echo ***; exit 3"], recorded
    _assert_no_secret(out.stdout, out.stderr, state.read_text())


def test_the_retry_until_warning_is_masked(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A ``_retry_until`` callback that raises is logged (as pyinfra does): masked too."""
    inventory, _, _ = _files(tmp_path, ["@local"])
    deploy = tmp_path / "retry.py"
    deploy.write_text(
        "from oxinfra import host\nfrom oxinfra.operations import server\n"
        "def check(output):\n    raise ValueError('rejects ' + host.data.db_password)\n"
        "server.shell(name='retried', commands=['true'], _retry_until=check, _retries=1, _retry_delay=0)\n"
    )
    with caplog.at_level("WARNING", logger="oxinfra"):
        result = run(inventory, deploy, control=RunControl(lock_timeout=None))
    assert result.success, result.hosts
    logged = [r.getMessage() for r in caplog.records if "_retry_until" in r.getMessage()]
    assert logged and "ValueError: rejects ***" in logged[0], logged
    _assert_no_secret(logged)


def test_a_sensitive_operation_named_with_a_secret_shows_no_secret(tmp_path: Path) -> None:
    inventory, _, _ = _files(tmp_path, ["@local"])
    deploy = tmp_path / "named.py"
    deploy.write_text(
        "from oxinfra import host\nfrom oxinfra.operations import server\n"
        "server.shell(name=f'set {host.data.db_password}', commands=['echo hi; exit 2'], _sensitive=True)\n"
    )
    events: list[Event] = []
    result = run(inventory, deploy, on_event=events.append, control=RunControl(lock_timeout=None))
    (op,) = result.hosts["@local"].ops
    assert (op.op, op.status, op.error, op.commands, op.stdout) == ("set ***", "failed", "exit code 2", ("***",), "***")
    _assert_no_secret(result.hosts, events)
