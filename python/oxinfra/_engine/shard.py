"""Sharded runs: the hosts spread over worker processes, one event loop each.

The parent starts ``shards`` workers (``python -m oxinfra._engine.shard``) and gives each a
contiguous slice of the inventory. A run then goes:

1. every worker compiles the deploy files and evaluates its hosts, and sends back the
   distinct per-host operation sequences it found;
2. the parent orders all of them at once (a conflict between hosts of different workers is
   the same error as in one process) and tells every worker to go — or to stop, in which
   case no host has been touched;
3. workers run their hosts and stream events; the parent hands them to ``on_event`` as they
   come and merges the results in inventory order.

Messages are length-prefixed pickles over the workers' stdin/stdout. Host data must be
picklable: a value that is not is an error naming the host and the key.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
from types import SimpleNamespace
from typing import Any, BinaryIO

from oxinfra._engine.control import RunControl
from oxinfra._secrets import Secret, register_secrets, registered_secrets
from oxinfra._engine.evaluate import import_path
from oxinfra._engine.hostrun import RunResult
from oxinfra._engine.masking import mask_host_errors, masked_sink, run_redactor
from oxinfra._engine.pipeline import (
    deploy_payload,
    distinct_sequences,
    execute,
    load_deploy_files,
    order_sequences,
    prepare,
    run_once,
)
from oxinfra._engine.report import Timings
from oxinfra.api.context import scope
from oxinfra.exceptions import DeployError, OxinfraError
from oxinfra.inventory import Inventory
from oxinfra.inventory.host import Host, HostData, connector_of

__all__ = ["run_sharded"]

_HEADER = struct.Struct("!I")


def _pack(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _stdin(proc: asyncio.subprocess.Process) -> asyncio.StreamWriter:
    """A worker's stdin (a pipe: the worker is started with one)."""
    if proc.stdin is None:
        raise RuntimeError("a worker process was started without a stdin pipe")
    return proc.stdin


def _stdout(proc: asyncio.subprocess.Process) -> asyncio.StreamReader:
    """A worker's stdout (a pipe: the worker is started with one)."""
    if proc.stdout is None:
        raise RuntimeError("a worker process was started without a stdout pipe")
    return proc.stdout


async def _read(stream: asyncio.StreamReader) -> Any:
    header = await stream.readexactly(_HEADER.size)
    message = pickle.loads(await stream.readexactly(_HEADER.unpack(header)[0]))
    if isinstance(message, dict) and message.get("secrets"):  # a worker's, found in operations' arguments
        register_secrets([Secret(text) for text in message.pop("secrets")])
    return message


def _host_payload(host: Host) -> tuple[str, tuple[Any, ...], list[str]]:
    """A host as a worker gets it: its data as its chain of layers, which hosts of the same
    groups share (pickled once per message), so workers reuse evaluation as one process
    does (see oxinfra._engine.reuse)."""
    layers = getattr(host.data, "_layers", None)
    return host.name, layers if layers is not None else (host.data.dict(),), list(host.groups)


def _host_from_payload(name: str, layers: tuple[Any, ...], groups: list[str]) -> Host:
    host = Host(name, None, groups)
    host.data = HostData(name, layers=layers)
    host.connector, host.target = connector_of(name, host.data)
    return host


async def run_sharded(
    inventory: Inventory,
    deploy_files: list[str],
    *,
    shards: int,
    dry: bool = False,
    parallel: int | None = None,
    on_event: Any = None,
    exec_command: str | None = None,
    global_args: dict[str, Any] | None = None,
    control: RunControl | None = None,
) -> RunResult:
    control = control or RunControl()
    check = getattr(inventory, "check_picklable", None)
    if check is not None:
        check()  # names the host, the key and where it was set
    hosts = inventory.hosts
    shards = max(1, min(shards, len(hosts)))
    size = -(-len(hosts) // shards)
    slices = [hosts[i : i + size] for i in range(0, len(hosts), size)]
    payloads = [[_host_payload(h) for h in part] for part in slices]
    timings = Timings()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    workers: list[asyncio.subprocess.Process] = []

    def forward(signum: int) -> None:
        for proc in workers:
            if proc.returncode is None:
                try:
                    proc.send_signal(signum)
                except ProcessLookupError:
                    pass

    control.on_interrupt.append(forward)
    try:
        with timings.phase("compile"):
            for part in payloads:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "oxinfra._engine.shard",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env=env,
                    limit=1 << 24,
                    # Its own session: a terminal's Ctrl-C reaches the parent only, which
                    # passes it on once (a second signal makes a worker exit at once).
                    start_new_session=True,
                )
                _stdin(proc).write(
                    _pack(
                        {
                            "hosts": part,
                            "deploy_files": [deploy_payload(p) for p in deploy_files],
                            "exec_command": exec_command,
                            "dry": dry,
                            "cwd": os.getcwd(),
                            "parallel": max(1, parallel // len(payloads)) if parallel else None,
                            "connect_limit": max(1, 200 // len(payloads)),
                            "events": on_event is not None,
                            "control": control.settings(),
                            # over the worker's stdin (a pipe): never an argument or the environment
                            "global_args": global_args or {},
                            # the run's secrets: what the worker reports is masked with them
                            "secrets": control.redactor.values() if control.redactor is not None else [],
                        }
                    )
                )
                await _stdin(proc).drain()
                workers.append(proc)
        with timings.phase("evaluate"):
            answers = [await _read(_stdout(proc)) for proc in workers]
        for answer in answers:
            if answer["type"] == "error":
                error = (
                    OxinfraError(answer["message"]) if answer["kind"] != "deploy" else DeployError(answer["message"])
                )
                error.exit_code = answer["exit_code"]
                raise error
        with timings.phase("order"):
            sequences: list[Any] = []
            labels: dict[Any, str] = {}
            for answer in answers:
                sequences.extend(s for s in answer["sequences"] if s not in sequences)
                labels.update(answer["labels"])
            order = order_sequences(sequences, labels)
        if on_event is not None:
            on_event({"event": "plan", "hosts": len(hosts), "operations": order, "dry": dry})
        go = "go" if control.interrupted is None else "stop"
        for proc in workers:
            _stdin(proc).write(_pack(go))
            await _stdin(proc).drain()
        if go == "stop":  # interrupted before any host started
            from oxinfra._engine.pipeline import not_started

            done = {h.name: not_started(h, None, f"interrupted ({control.interrupted})", on_event) for h in hosts}
            return RunResult(done, order, dry, timings, control)
        results: dict[str, Any] = {}

        async def follow(proc: asyncio.subprocess.Process) -> None:
            while True:
                message = await _read(_stdout(proc))
                if message["type"] == "event":
                    event = message["event"]
                    plan = event.pop("_plan", None)
                    if plan is not None:  # what the renderer reads of a plan
                        commands, stdout = plan
                        event["_plan"] = SimpleNamespace(
                            commands=commands, op=SimpleNamespace(meta=SimpleNamespace(stdout=stdout))
                        )
                    if on_event is not None:
                        on_event(event)
                elif message["type"] == "done":
                    results.update(message["results"])
                    timings["hosts"] = max(timings.get("hosts", 0.0), message["hosts_seconds"])
                    return
                elif message["type"] == "error":
                    error = OxinfraError(message["message"])
                    error.exit_code = message.get("exit_code", 70)
                    raise error

        await asyncio.gather(*(follow(proc) for proc in workers))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        error = OxinfraError(
            f"a worker process ended unexpectedly ({type(exc).__name__}); run with --shards 1 to see why"
        )
        error.exit_code = 70  # internal error
        raise error from None
    finally:
        for proc in workers:
            if proc.returncode is None:
                try:
                    _stdin(proc).write(_pack("stop"))
                    _stdin(proc).close()
                except (ConnectionError, RuntimeError):
                    pass
        for proc in workers:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
    return RunResult({h.name: results[h.name] for h in hosts}, order, dry, timings, control)


class _Slice:
    """The part of the inventory a worker runs (the runner reads only ``hosts``)."""

    def __init__(self, hosts: list[Host]) -> None:
        self.hosts = hosts


_sent_secrets = 0


def _send(out: BinaryIO, message: Any) -> None:
    """Send ``message`` to the parent, with the texts of secrets found in operations'
    arguments since the last message (the parent masks them in what it prints)."""
    global _sent_secrets
    new = registered_secrets(_sent_secrets)
    if new and isinstance(message, dict):
        message = {**message, "secrets": new}
        _sent_secrets += len(new)
    out.write(_pack(message))
    out.flush()


def _plan_payload(plan: Any) -> tuple[list[str], str]:
    commands = [c if isinstance(c, str) else repr(c) for c in plan.commands]
    return commands, plan.op.meta.stdout


async def _worker(job: dict[str, Any], read_go: Any, out: BinaryIO) -> None:
    os.chdir(job["cwd"])
    inventory: Any = _Slice([_host_from_payload(*payload) for payload in job["hosts"]])

    def on_event(event: dict[str, Any]) -> None:
        plan = event.pop("_plan", None)
        if plan is not None:
            event["_plan"] = _plan_payload(plan)
        _send(out, {"type": "event", "event": event})

    timings = Timings()
    control = RunControl(**job.get("control", {}))  # the parent reports interrupts, not each worker
    redactor = control.redactor = run_redactor(None, job.get("global_args"), job.get("secrets", ()))
    sink = masked_sink(on_event, redactor) if job.get("events", True) else None  # nobody listens: send none
    remove_handlers = control.install(asyncio.get_running_loop())
    try:
        files = load_deploy_files(job["deploy_files"], job["exec_command"])
        with import_path(files), scope(diff=control.diff):
            prepared = await prepare(
                inventory, files, sink, timings, job["connect_limit"], job["parallel"], control, job.get("global_args")
            )
            try:
                once = run_once(prepared.evaluated, inventory.hosts)
                if once:
                    raise DeployError(
                        f"{once}: _run_once needs every host in one process (this run is sharded): run with --shards 1"
                    )
                limited = next(
                    (
                        op.label
                        for ops in prepared.evaluated.values()
                        for op in ops or ()
                        if op.globals.serial or op.globals.parallel
                    ),
                    None,
                )
                if limited:
                    raise DeployError(
                        f"{limited}: _serial/_parallel count hosts in one process (this run is sharded): run with --shards 1"
                    )
                sequences, labels = distinct_sequences(prepared.evaluated)
                _send(out, {"type": "order", "sequences": sequences, "labels": labels})
                if read_go() != "go":  # the parent found an error (or was interrupted): touch nothing
                    return
                results = await execute(prepared, job["dry"], job["parallel"], sink, timings, control)
            finally:
                prepared.release()
    except OxinfraError as exc:
        kind = "deploy" if isinstance(exc, DeployError) else "other"
        message = redactor.text(str(exc)) if redactor else str(exc)
        _send(out, {"type": "error", "kind": kind, "message": message, "exit_code": exc.exit_code})
        return
    finally:
        remove_handlers()
    mask_host_errors(results, redactor)
    _send(out, {"type": "done", "results": results, "hosts_seconds": timings.get("hosts", 0.0)})


def _read_message(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    return pickle.loads(stream.read(_HEADER.unpack(header)[0]))


def main() -> None:
    """A worker: one job from stdin, messages to stdout (nothing else may be printed there)."""
    stdin = sys.stdin.buffer
    out = sys.stdout.buffer
    sys.stdout = sys.stderr

    def read_go() -> Any:
        try:
            return _read_message(stdin)
        except EOFError:
            return "stop"

    try:
        asyncio.run(_worker(_read_message(stdin), read_go, out))
    except Exception as exc:  # a bug, not a deploy error: report it as one line
        _send(
            out,
            {
                "type": "error",
                "kind": "other",
                "message": f"worker failed: {type(exc).__name__}: {exc}",
                "exit_code": 70,
            },
        )


if __name__ == "__main__":
    main()
