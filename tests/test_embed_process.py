"""run_async in a worker process (oxinfra._engine.isolate, issue 11 "Embedding": the caller's
loop is not held by the run): events complete and in order, results equal to the worker
thread's, errors raised as themselves, cancellation and signals, secrets, the fallback to the
worker thread, no process left behind. Against @sim and @local hosts, in real processes."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from oxinfra._secrets import registered_secrets
from oxinfra.api import (
    DeployError,
    Inventory,
    InventoryError,
    OxinfraError,
    RunControl,
    load_inventory,
    run_async,
)
from oxinfra.api.results import HostDoneEvent, OperationEvent, PlanEvent, RunResult
from oxinfra.operations import server
from oxinfra.testing import sim

from e2e_helpers import run_async_ticking

NO_LOCK = RunControl(lock_timeout=None)  # @local runs of several tests at once: no host lock

DEPLOY = """\
from oxinfra import host
from oxinfra.operations import files, server

files.directory(name="app dir", path="/srv/app")
files.put(name="config", src=__file__, dest="/srv/app/deploy.py")
if host.data.get("broken"):
    server.shell(name="breaks", commands=["echo broken-out; exit 3"])
server.shell(name="hello", commands=["echo hello-" + host.name])
"""


def _write(directory: Path, text: str, name: str = "deploy.py") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _children() -> dict[int, str]:
    """This process's live children: pid -> command line."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and state != "Z":
            found[int(entry)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def _workers() -> list[int]:
    return [pid for pid, cmd in _children().items() if "isolate_worker" in cmd]


def _running(marker: str) -> list[int]:
    """Live processes whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if marker.encode() in Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" "):
                    if Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                        found.append(int(entry))
            except OSError:
                pass
    return found


async def _until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {check}")


def _kill(marker: str) -> None:
    for pid in _running(marker):  # what a failed test left (the test's own commands only)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _sleep() -> str:
    """A sleep's duration no other test uses (its processes are found by it)."""
    return f"{40 + uuid.uuid4().int % 50}.{uuid.uuid4().int % 10**6:06d}"


def _same_but_time(event: Any) -> Any:
    return dataclasses.replace(event, seconds=0) if isinstance(event, HostDoneEvent) else event


# -- results and events ---------------------------------------------------------------------------


def test_results_and_events_equal_the_worker_threads(tmp_path: Path) -> None:
    deploy = _write(tmp_path, DEPLOY)
    names = [f"@sim/proc{i:03d}" for i in range(60)]
    inventory = Inventory.from_hosts([(n, {"broken": True}) if n.endswith("7") else n for n in names])
    runs: dict[str, tuple[RunResult, list[Any]]] = {}
    for isolation in ("process", "thread"):
        sim.reset(names)
        events: list[Any] = []
        result = asyncio.run(run_async(inventory, deploy, isolation=isolation, on_event=events.append))  # type: ignore[arg-type]
        runs[isolation] = (result, events)
        # The process run touched the worker's simulated machines, not this process's.
        assert (names[0][5:] in sim.machines()) == (isolation == "thread")
    (result, events), (in_thread, thread_events) = runs["process"], runs["thread"]
    assert result == in_thread  # every host, operation, status, command, output and error
    assert list(result.hosts) == names and result.order == in_thread.order
    broken = result.hosts["@sim/proc007"]
    assert broken.status == "failed" and broken.ops[2].error_category == "command"
    assert broken.ops[2].stdout == "broken-out\n" and broken.ops[3].status == "not_run"
    assert result.hosts["@sim/proc001"].ops[2].stdout == "hello-@sim/proc001\n"
    assert result.hosts["@sim/proc001"].timings and result.timings  # not compared, but there
    # Events: all of them, each host's in the order they happened, on the caller's thread.
    assert isinstance(events[0], PlanEvent) and events[0] == thread_events[0]
    assert sorted(map(repr, map(_same_but_time, events))) == sorted(map(repr, map(_same_but_time, thread_events)))
    for name in names:
        mine = [_same_but_time(e) for e in events if getattr(e, "host", None) == name]
        theirs = [_same_but_time(e) for e in thread_events if getattr(e, "host", None) == name]
        assert mine == theirs and mine[0].kind == "connected" and isinstance(mine[-1], HostDoneEvent)
    assert sum(isinstance(e, HostDoneEvent) for e in events) == len(names)


def test_auto_goes_to_a_process_for_files_and_data_inventories(tmp_path: Path) -> None:
    deploy = _write(tmp_path, DEPLOY)
    inventory_file = _write(tmp_path, 'hosts = ["@sim/auto-file"]\n', "inventory.py")
    for inventory, name in (
        (str(inventory_file), "auto-file"),
        (load_inventory(str(inventory_file)), "auto-file"),
        (["@sim/auto-list"], "auto-list"),
        ({"web": ["@sim/auto-dict"]}, "auto-dict"),
        ("@sim/auto-spec", "auto-spec"),
    ):
        sim.reset()
        result = asyncio.run(run_async(inventory, deploy))
        assert result.success and list(result.hosts) == [f"@sim/{name}"]
        assert sim.machines() == {}, inventory  # ran in the worker process


def test_local_host_commands_outputs_and_exec_command(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex[:8]
    deploy = _write(
        tmp_path,
        "from oxinfra.operations import files, server\n"
        f"files.directory(name='dir', path={str(tmp_path / 'made')!r})\n"
        f"server.shell(name='out', commands=['echo out-{marker}; echo err-{marker} >&2'])\n",
    )
    results = []
    for isolation in ("process", "thread"):
        shutil.rmtree(tmp_path / "made", ignore_errors=True)
        results.append(asyncio.run(run_async(["@local"], deploy, control=NO_LOCK, isolation=isolation)))  # type: ignore[arg-type]
    assert results[0] == results[1]
    ops = results[0].hosts["@local"].ops
    assert ops[1].commands == (f"echo out-{marker}; echo err-{marker} >&2",)
    assert (ops[1].stdout, ops[1].stderr) == (f"out-{marker}\n", f"err-{marker}\n")
    assert (tmp_path / "made").is_dir()
    execd = asyncio.run(run_async(["@local"], exec_command=f"echo exec-{marker}", control=NO_LOCK))
    assert execd.hosts["@local"].ops[0].stdout == f"exec-{marker}\n"


def test_a_deploys_print_goes_to_the_callers_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    deploy = _write(tmp_path, "print('printed-by-the-deploy')\n")
    asyncio.run(run_async(["@sim/printer"], deploy, isolation="process"))
    assert "printed-by-the-deploy" in capfd.readouterr().out


def test_secrets_are_masked_as_in_the_worker_thread(tmp_path: Path) -> None:
    deploy = _write(
        tmp_path,
        "from oxinfra.api import Secret\n"
        "from oxinfra.operations import server\n"
        "server.shell(name='sensitive', commands=['echo s3cret-sensitive-out'], _sensitive=True)\n"
        "server.shell(name='secret arg', commands=[Secret('echo s3cret-argument-embedproc')])\n",
    )
    runs = []
    for isolation in ("process", "thread"):
        events: list[Any] = []
        result = asyncio.run(
            run_async(["@local"], deploy, control=NO_LOCK, on_event=events.append, isolation=isolation)  # type: ignore[arg-type]
        )
        sensitive, argument = result.hosts["@local"].ops
        assert sensitive.commands == ("***",) and sensitive.stdout == "***"
        # masked as text, not only in its repr (a Secret's str() is the real value)
        assert argument.commands == ("***",) and type(argument.commands[0]) is str
        assert "s3cret-sensitive" not in repr(result.hosts) + repr(events)
        runs.append(result)
        # The worker's secrets are this process's too (what it prints masks them).
        assert "echo s3cret-argument-embedproc" in registered_secrets()
    assert runs[0] == runs[1]


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inventory, deploy_text, kwargs",
    [
        (["@sim/err"], None, {"deploy": "missing-deploy.py"}),
        (["@sim/err"], "from oxinfra.operations import server\nserver.shell(commands=['true']\n", {}),
        (["@sim/err"], "x = 1\nraise RuntimeError('deploy code failed')\n", {}),
        (["@sim/err"], "from oxinfra.operations import files\nfiles.directory(pth='/x')\n", {}),
        ("/nonexistent/embedproc/inventory.py", "", {}),
        (["@sim/err"], "", {"limit": "nothing-matches"}),
        (["@sim/err"], "", {"parallel": 0}),
    ],
)
def test_errors_are_raised_as_in_the_worker_thread(
    tmp_path: Path, inventory: Any, deploy_text: str | None, kwargs: dict[str, Any]
) -> None:
    if deploy_text is not None:
        kwargs = {"deploy": _write(tmp_path, deploy_text), **kwargs}
    raised = []
    for isolation in ("process", "thread"):
        sim.reset()
        with pytest.raises(OxinfraError) as info:
            asyncio.run(run_async(inventory, isolation=isolation, **kwargs))
        raised.append(info.value)
        assert "\n" not in str(info.value)
        assert sim.machines() == {}
    assert type(raised[0]) is type(raised[1]) and str(raised[0]) == str(raised[1])
    assert raised[0].exit_code == raised[1].exit_code


def test_a_worker_that_dies_is_an_internal_error(tmp_path: Path) -> None:
    marker = _sleep()
    deploy = _write(tmp_path, f"from oxinfra.operations import server\nserver.shell(commands=['sleep {marker}'])\n")

    async def application() -> None:
        task = asyncio.create_task(run_async(["@local"], deploy, control=NO_LOCK))
        (worker,) = await _until(_workers)
        await _until(lambda: _running(f"sleep {marker}"))
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(OxinfraError, match="worker process ended unexpectedly") as info:
            await task
        assert info.value.exit_code == 70

    try:
        asyncio.run(application())
    finally:
        _kill(f"sleep {marker}")
    assert _workers() == []


# -- cancellation and signals ---------------------------------------------------------------------


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_cancelling_ends_the_run_and_its_process(tmp_path: Path, isolation: str) -> None:
    marker = _sleep()
    deploy = _write(
        tmp_path,
        "from oxinfra.operations import server\n"
        f"server.shell(name='slow', commands=['sleep {marker}'])\n"
        "server.shell(name='never', commands=['true'])\n",
    )
    events: list[Any] = []

    async def application() -> float:
        task = asyncio.create_task(
            run_async(["@local"], deploy, control=NO_LOCK, on_event=events.append, isolation=isolation)  # type: ignore[arg-type]
        )
        if isolation == "process":
            await _until(_workers)
        await _until(lambda: _running(f"sleep {marker}"))
        started = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.perf_counter() - started

    try:
        assert asyncio.run(application()) < 20  # not the command's 40+ s
        assert _running(f"sleep {marker}") == []  # ended on the host
        assert _workers() == []  # and no worker process left
    finally:
        _kill(f"sleep {marker}")
    assert [e.kind for e in events if e.kind in ("interrupted", "host_done")] == ["interrupted", "host_done"]
    assert events[-1].status == "interrupted"


def test_a_second_cancellation_stops_waiting_and_the_run_still_ends(tmp_path: Path) -> None:
    marker = _sleep()
    deploy = _write(tmp_path, f"from oxinfra.operations import server\nserver.shell(commands=['sleep {marker}'])\n")

    async def application() -> None:
        task = asyncio.create_task(run_async(["@local"], deploy, control=NO_LOCK))
        await _until(lambda: _running(f"sleep {marker}"))
        task.cancel()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The interrupted run ends on its own, its process reaped by this loop.
        await _until(lambda: not _workers() and not _running(f"sleep {marker}"), 20)

    try:
        asyncio.run(application())
    finally:
        _kill(f"sleep {marker}")
    assert _workers() == []


def test_a_caller_that_dies_leaves_no_worker_and_no_command(tmp_path: Path) -> None:
    """The caller's process is killed (SIGKILL: nothing of it runs): its worker sees its stdin
    end, interrupts the run -- the command is ended on the host -- and exits."""
    marker = _sleep()
    deploy = _write(tmp_path, f"from oxinfra.operations import server\nserver.shell(commands=['sleep {marker}'])\n")
    caller = subprocess.Popen(
        [sys.executable, "-c", CALLER, str(deploy)], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )

    def worker() -> list[int]:
        return [pid for pid in _running("isolate_worker") if _parent(pid) == caller.pid]

    async def watch() -> None:
        (pid,) = await _until(worker)
        await _until(lambda: _running(f"sleep {marker}"))
        caller.kill()
        caller.wait()
        await _until(lambda: not _running(f"sleep {marker}") and not _alive(pid), 20)

    try:
        asyncio.run(watch())
    finally:
        caller.kill()
        caller.wait()
        _kill(f"sleep {marker}")


CALLER = """
import asyncio, sys
from oxinfra.api import RunControl, run_async
asyncio.run(run_async(["@local"], sys.argv[1], control=RunControl(lock_timeout=None)))
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return None


def test_cancelling_before_the_worker_started_touches_nothing(tmp_path: Path) -> None:
    deploy = _write(tmp_path, DEPLOY)

    async def application() -> None:
        task = asyncio.create_task(run_async(["@local"], deploy, control=NO_LOCK))
        await asyncio.sleep(0)  # the worker is being started: the job is not sent yet
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(application())
    assert _workers() == []


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals: main thread")
def test_handle_signals_passes_sigint_to_the_worker(tmp_path: Path) -> None:
    marker = _sleep()
    deploy = _write(tmp_path, f"from oxinfra.operations import server\nserver.shell(commands=['sleep {marker}'])\n")
    control = RunControl(handle_signals=True, lock_timeout=None)

    async def application() -> RunResult:
        task = asyncio.create_task(run_async(["@local"], deploy, control=control))
        await _until(_workers)
        await _until(lambda: _running(f"sleep {marker}"))
        os.kill(os.getpid(), signal.SIGINT)  # taken by run_async's handler on this loop
        return await task

    try:
        result = asyncio.run(application())
    finally:
        _kill(f"sleep {marker}")
    assert result.interrupted == "SIGINT"
    host = result.hosts["@local"]
    assert host.status == "interrupted" and host.error_category == "interrupted"
    assert _workers() == [] and _running(f"sleep {marker}") == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers removed


# -- where the run cannot go to a process -------------------------------------------------------

CALLED_IN: list[int] = []


def module_level_deploy() -> None:
    CALLED_IN.append(os.getpid())
    server.shell(name="by reference", commands=["echo from-a-function"])


def test_a_function_deploy_runs_in_this_process_unless_asked() -> None:
    CALLED_IN.clear()
    sim.reset()
    result = asyncio.run(run_async(["@sim/fn-auto"], module_level_deploy))
    assert result.success and CALLED_IN == [os.getpid()] and "fn-auto" in sim.machines()  # the worker thread
    CALLED_IN.clear()
    sim.reset()
    isolated = asyncio.run(run_async(["@sim/fn-auto"], module_level_deploy, isolation="process"))
    assert CALLED_IN == [] and sim.machines() == {}  # called in the worker process (imported there)
    assert isolated == result and isolated.hosts["@sim/fn-auto"].ops[0].stdout == "from-a-function\n"


def test_functions_that_cannot_be_sent_by_reference_are_refused_when_a_process_is_asked() -> None:
    def local() -> None:
        server.shell(commands=["true"])

    for deploy, why in ((local, "not defined at module level"), (lambda: None, "not defined at module level")):
        sim.reset()
        with pytest.raises(DeployError, match=f"{why}.*use isolation='thread'"):
            asyncio.run(run_async(["@sim/fn-refused"], deploy, isolation="process"))
        assert sim.machines() == {}
        assert asyncio.run(run_async(["@sim/fn-refused"], local)).success  # auto: the thread


def test_inventory_data_that_cannot_be_pickled_stays_in_this_process(tmp_path: Path) -> None:
    deploy = _write(tmp_path, "from oxinfra.operations import server\nserver.shell(commands=['true'])\n")
    inventory = Inventory.from_hosts([("@sim/unpicklable", {"lock": threading.Lock()})])
    sim.reset()
    assert asyncio.run(run_async(inventory, deploy)).success
    assert "unpicklable" in sim.machines()  # the worker thread ran it
    with pytest.raises(InventoryError, match="data 'lock' of host '@sim/unpicklable' cannot be pickled"):
        asyncio.run(run_async(inventory, deploy, isolation="process"))


def test_data_the_worker_cannot_unpickle_falls_back_before_anything_runs(tmp_path: Path) -> None:
    """A class that exists only in this process pickles here but not in the worker: the
    worker says so before running anything, and the run goes to the worker thread."""
    only_here = types.ModuleType("embedproc_only_in_this_process")
    exec("class Value:\n    def __eq__(self, other): return isinstance(other, Value)\n", only_here.__dict__)
    only_here.Value.__module__ = only_here.__name__
    sys.modules[only_here.__name__] = only_here
    try:
        deploy = _write(tmp_path, "from oxinfra.operations import server\nserver.shell(commands=['true'])\n")
        inventory = Inventory.from_hosts([("@sim/only-here", {"value": only_here.Value()})])
        sim.reset()
        assert asyncio.run(run_async(inventory, deploy)).success
        assert "only-here" in sim.machines()
        with pytest.raises(DeployError, match="could not take the run: .*embedproc_only_in_this_process"):
            asyncio.run(run_async(inventory, deploy, isolation="process"))
        assert _workers() == []
    finally:
        del sys.modules[only_here.__name__]


def test_isolation_takes_three_values() -> None:
    with pytest.raises(DeployError, match="isolation= takes 'auto', 'process' or 'thread', not 'proc'"):
        asyncio.run(run_async(["@sim/x"], "deploy.py", isolation="proc"))  # type: ignore[arg-type]


def test_inventories_pickle_with_their_groups_data_and_limit(tmp_path: Path) -> None:
    (tmp_path / "group_data").mkdir()
    (tmp_path / "group_data" / "web.py").write_text("port = 8080\n")
    inventory_file = _write(tmp_path, 'web = ["@sim/w[1:3]"]\ndb = [("@sim/d1", {"pw": "x"})]\n', "inventory.py")
    for inventory in (
        load_inventory(str(inventory_file)),
        Inventory.from_hosts(["@sim/a"], groups={"g": (["@sim/b"], {"k": 1})}, data={"env": "p"}, overrides={"o": 2}),
    ):
        for view in (inventory, inventory.limit([inventory.hosts[-1].name])):
            copy = pickle.loads(pickle.dumps(view))
            assert [h.name for h in copy.hosts] == [h.name for h in view.hosts]
            assert copy.groups == view.groups
            assert [h.data.dict() for h in copy.hosts] == [h.data.dict() for h in view.hosts]
            assert [h.name for h in copy.everything().hosts] == [h.name for h in inventory.hosts]
        first = inventory.hosts[0].name
        assert [h.name for h in pickle.loads(pickle.dumps(inventory)).limit([first]).hosts] == [first]
    loaded = pickle.loads(pickle.dumps(load_inventory(str(inventory_file))))
    w1 = loaded.get_host("@sim/w1")
    assert w1 is not None and w1.data.port == 8080 and [h.name for h in loaded.limit(["db"]).hosts] == ["@sim/d1"]


# -- the caller's loop ----------------------------------------------------------------------------


def test_the_callers_loop_keeps_ticking_while_a_process_runs_the_deploy(tmp_path: Path) -> None:
    """A loose check (benches/embed.py measures the stalls): the loop runs many times during
    the run, and events come on its thread, in order, every one before run_async returns."""
    deploy = _write(tmp_path, DEPLOY)
    names = [f"@sim/tick{i:04d}" for i in range(400)]

    sim.reset()
    result, during, events, threads = asyncio.run(run_async_ticking(Inventory.from_hosts(names), deploy))
    assert result.success and len(result.hosts) == 400 and sim.machines() == {}
    assert len(during) >= 20, f"the caller's loop ran {len(during)} times during the run"
    assert threads == {threading.get_ident()}
    assert sum(isinstance(e, HostDoneEvent) for e in events) == 400 and events[0].kind == "plan"
    per_host = [e.op for e in events if isinstance(e, OperationEvent) and e.host == names[7]]
    assert per_host == ["app dir", "config", "hello"]
