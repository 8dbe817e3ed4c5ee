"""oxinfra embedded in Python (oxinfra.api.run / run_async, issue 11 "Embedding"): typed
signatures, inventories from Python objects, deploys as functions, run() inside a running
loop, run_async on a worker thread with the caller's loop running beside it, typed results
and events (the same as --json). Against @sim, @local and loopback sshd hosts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from oxinfra.api import DeployError, Inventory, InventoryError, run, run_async
from oxinfra.api.results import (
    EVENT_SCHEMA_VERSION,
    HostDoneEvent,
    OperationEvent,
    OperationResult,
    PlanEvent,
    RunResult,
    event_from_json,
)
from oxinfra.operations import files, server
from oxinfra.testing import sim

from e2e_helpers import run_async_ticking

REPO = Path(__file__).resolve().parents[1]


def hello() -> None:
    server.shell(name="hello", commands=["echo hello-out; echo hello-err >&2"])
    files.directory(name="dir", path="/srv/embed")


def failing() -> None:
    server.shell(name="ok", commands=["true"])
    server.shell(name="boom", commands=["echo before-exit; exit 3"])
    server.shell(name="after", commands=["true"])


def secret() -> None:
    server.shell(name="secret", commands=["echo s3cret-value"], _sensitive=True)


# -- inventories and deploys ------------------------------------------------------------------


def test_inventory_from_python_objects_groups_and_data() -> None:
    inventory = Inventory.from_hosts(
        ["@sim/e1", ("@sim/e2", {"role": "edge"})],
        groups={"web": ["@sim/w[1:2]"], "db": (["@sim/e1"], {"port": 5432})},
        data={"env": "prod"},
    )
    assert [h.name for h in inventory.hosts] == ["@sim/e1", "@sim/e2", "@sim/w1", "@sim/w2"]
    assert inventory.groups["web"] == ["@sim/w1", "@sim/w2"] and inventory.groups["db"] == ["@sim/e1"]
    e1, e2 = inventory.get_host("@sim/e1"), inventory.get_host("@sim/e2")
    assert e1 is not None and e2 is not None
    assert (e1.data.env, e1.data.port, e2.data.role) == ("prod", 5432, "edge")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hosts": "web1"}, r'write \["web1"\], not a string'),
        ({"hosts": [1]}, "entry 1 is not a host"),
        ({"groups": {"a b": ["x"]}}, "must be a Python identifier"),
        ({"groups": {"web": "x"}}, "write a list of entries"),
        ({}, "no hosts"),
    ],
)
def test_inventory_from_hosts_bad_input_is_one_line(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InventoryError, match=message) as info:
        Inventory.from_hosts(**kwargs)
    assert "\n" not in str(info.value)


def test_run_takes_every_inventory_form_and_a_function_deploy(tmp_path: Path) -> None:
    inventory_file = tmp_path / "inventory.py"
    inventory_file.write_text('hosts = ["@sim/f-path"]\n')
    forms: list[Any] = [
        Inventory.from_hosts(["@sim/f-inv"]),
        ["@sim/f-list"],
        {"web": ["@sim/f-dict"]},
        str(inventory_file),
        inventory_file,
        "@sim/f-spec",
    ]
    for form in forms:
        sim.reset()
        result = run(form, hello)
        assert result.success, result
        (host,) = result.hosts.values()
        assert [(op.op, op.status) for op in host.ops] == [("hello", "changed"), ("dir", "changed")]
        assert sim.machine(host.name.split("/", 1)[1]).fs["/srv/embed"].kind == "d"


def test_deploy_files_and_functions_run_in_order(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text("from oxinfra.operations import server\nserver.shell(name='from-file', commands=['true'])\n")
    result = run(["@sim/order"], [hello, deploy, str(deploy)])
    ops = [op.op for op in result.hosts["@sim/order"].ops]
    assert ops == ["hello", "dir", "from-file", "from-file"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"deploy": ()}, DeployError, "nothing to run"),
        ({"deploy": 3}, DeployError, "a file path or a function, not int"),
        ({"deploy": hello, "shards": 2}, DeployError, "use shards=1"),
        ({"deploy": hello, "parallel": 0}, DeployError, "parallel= takes a whole number"),
        ({"deploy": hello, "dry": "yes"}, DeployError, "dry= takes True or False"),
        ({"deploy": hello, "exec_command": "true"}, DeployError, "not both"),
        ({"deploy": "missing.py"}, DeployError, "deploy file not found"),
    ],
)
def test_bad_arguments_raise_before_any_host_is_touched(kwargs: dict[str, Any], error: type, message: str) -> None:
    sim.reset(["untouched"])
    with pytest.raises(error, match=message):
        run(["@sim/untouched"], **kwargs)
    assert "untouched" not in sim.machines()


def test_a_misspelt_keyword_is_run_s_own_error() -> None:
    with pytest.raises(TypeError, match="run\\(\\) got an unexpected keyword argument 'dyr'"):
        run(["@sim/x"], hello, dyr=True)  # type: ignore[call-arg]


def test_bad_inventory_type_is_one_line() -> None:
    with pytest.raises(InventoryError, match="not int"):
        run(3, hello)  # type: ignore[arg-type]


def test_exec_command_and_limit() -> None:
    result = run(["@sim/l1", "@sim/l2"], exec_command="echo exec-out", limit="@sim/l2")
    assert list(result.hosts) == ["@sim/l2"]
    (op,) = result.hosts["@sim/l2"].ops
    assert op.stdout == "exec-out\n" and op.commands == ("echo exec-out",)


# -- typed results -------------------------------------------------------------------------------


def test_results_are_frozen_typed_and_carry_commands_and_output() -> None:
    result = run(["@local"], [hello_local])
    assert isinstance(result, RunResult) and result.success
    host = result.hosts["@local"]
    assert host.status == "success" and host.error is None and host.round_trips >= 1
    op = host.ops[0]
    assert isinstance(op, OperationResult)
    assert op.status == "changed" and op.changed
    assert op.commands == ("echo hello-out; echo hello-err >&2",)
    assert (op.stdout, op.stderr) == ("hello-out\n", "hello-err\n")  # a successful command's output
    assert op.finished_at is not None and 0 <= op.finished_at <= host.seconds + 1
    assert "hello-out" in repr(host) and repr(result).startswith("RunResult(dry=False, hosts=1 (1 success)")
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.status = "failed"  # type: ignore[misc]
    assert host.counts() == {"changed": 1, "unchanged": 0, "failed": 0, "skipped": 0, "not_run": 0}


def hello_local() -> None:
    server.shell(name="hello", commands=["echo hello-out; echo hello-err >&2"])


def test_failure_statuses_are_identifiers_with_an_error_category() -> None:
    result = run(["@local"], failing)
    host = result.hosts["@local"]
    assert host.status == "failed" and not result.success and result.failed_hosts == ("@local",)
    assert [(op.op, op.status) for op in host.ops] == [("ok", "changed"), ("boom", "failed"), ("after", "not_run")]
    boom = host.ops[1]
    assert boom.error_category == "command" and "exit code 3" in (boom.error or "")
    assert boom.stdout == "before-exit\n"
    assert host.ops[2]["status"] == "not run"  # the record view of older versions, as --json spells it


def test_sensitive_operations_are_masked_in_results_and_events() -> None:
    events: list[Any] = []
    result = run(["@local"], secret, on_event=events.append)
    (op,) = result.hosts["@local"].ops
    assert op.commands == ("***",) and op.stdout == "***"
    assert "s3cret" not in repr(result.hosts) + repr(events)


def test_unreachable_host_has_a_connect_category() -> None:
    result = run([("127.0.0.1", {"ssh_port": 1, "ssh_connect_timeout": 2})], hello)
    host = result.hosts["127.0.0.1"]
    assert host.status == "unreachable" and host.error_category == "connect", host


# -- events --------------------------------------------------------------------------------------


def test_events_are_typed_and_the_same_as_the_cli_json(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import server\n"
        "server.shell(name='one', commands=['echo one'])\n"
        "server.shell(name='two', commands=['exit 4'])\n"
        "server.shell(name='three', commands=['true'])\n"
    )
    typed: list[Any] = []
    result = run(["@sim/ev1", "@sim/ev2"], deploy, on_event=typed.append)
    assert not result.success
    kinds = [e.kind for e in typed]
    assert kinds[0] == "plan" and isinstance(typed[0], PlanEvent) and typed[0].hosts == 2
    ops = [e for e in typed if isinstance(e, OperationEvent)]
    assert {(e.host, e.op, e.status) for e in ops} >= {("@sim/ev1", "three", "not_run"), ("@sim/ev2", "two", "failed")}
    done = [e for e in typed if isinstance(e, HostDoneEvent)]
    assert {e.host: (e.status, e.not_run) for e in done} == {"@sim/ev1": ("failed", 1), "@sim/ev2": ("failed", 1)}
    # The CLI's --json lines for the same run are these events, field for field.
    proc = subprocess.run(
        [sys.executable, "-m", "oxinfra", "--json", "-y", "@sim/ev1,@sim/ev2", str(deploy)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    cli = [line for line in lines if line["event"] not in ("summary",)]
    assert [line["event"] for line in cli] == kinds
    for line in cli:
        event = event_from_json(line)
        assert event is not None
        assert event.to_json() == {k: v for k, v in line.items() if not k.endswith(("_b64", "_dropped"))}
    assert event_from_json({"event": "from-the-future", "x": 1}) is None
    assert EVENT_SCHEMA_VERSION == 1


# -- loops and threads ---------------------------------------------------------------------------


def test_run_inside_a_running_loop_runs_on_a_worker_thread() -> None:
    async def application() -> RunResult:
        return run(["@sim/in-loop"], hello)

    result = asyncio.run(application())
    assert result.success and [op.op for op in result.hosts["@sim/in-loop"].ops] == ["hello", "dir"]


def test_run_async_leaves_the_callers_loop_running_and_calls_back_on_it() -> None:
    """An asyncio application with a ticker: the ticker goes on while the run goes; events
    come on the application's thread, in order, every one before run_async returns."""
    names = [f"@sim/tick{i:04d}" for i in range(1000)]  # a run long enough for several ticks

    result, during, events, threads = asyncio.run(run_async_ticking(Inventory.from_hosts(names), hello))
    assert result.success and len(result.hosts) == 1000
    # Its first tick came before `started`: any tick in the window is the loop running
    # mid-run (how often depends on the machine's load: benches/embed.py measures stalls).
    assert len(during) >= 1, "the caller's loop did not run while the deploy ran"
    assert threads == {threading.get_ident()}
    done = [e for e in events if isinstance(e, HostDoneEvent)]
    assert len(done) == 1000 and events[0].kind == "plan"
    per_host = [e.op for e in events if isinstance(e, OperationEvent) and e.host == names[7]]
    assert per_host == ["hello", "dir"]


def test_cancelling_run_async_interrupts_the_run() -> None:
    def slow() -> None:
        server.shell(name="slow", commands=["sleep 30"])

    async def application() -> float:
        task = asyncio.create_task(run_async(["@local"], slow))
        await asyncio.sleep(1.5)
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - started

    assert asyncio.run(application()) < 15  # not the 30 s the command would take


def test_run_async_on_loopback_sshd_hosts(sshd_fleet: Any) -> None:
    data = sshd_fleet.ssh_data()
    inventory = Inventory.from_hosts([(h, data) for h in sshd_fleet.hosts], groups={"web": sshd_fleet.hosts[:1]})

    def deploy() -> None:
        from oxinfra import host

        server.shell(name="who", commands=["echo $((40 + 2))"])
        if "web" in host.groups:
            server.shell(name="web only", commands=["true"])

    result = asyncio.run(run_async(inventory, deploy))
    assert result.success, result.hosts
    for name, h in result.hosts.items():
        assert h.ops[0].stdout == "42\n"
        assert [op.op for op in h.ops] == (["who", "web only"] if name == sshd_fleet.hosts[0] else ["who"])
