"""The steps of a run, shared by both drivers (in-process, :mod:`oxinfra._engine.run`;
sharded, :mod:`oxinfra._engine.shard`): :func:`prepare` (evaluate every host's deploy),
order (:func:`order_sequences`), :func:`execute` (for every host independently, plan and
execute: :class:`oxinfra._engine.hostrun.HostRun`). No host waits for another."""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

from oxinfra import _core
from oxinfra._collect import fewer_collections, gc_paused, short_collections
from oxinfra._engine.control import Interrupted, RunControl, TimedOut, uncancel
from oxinfra._engine.evaluate import DeployFile, OpCall, evaluate
from oxinfra._engine.hostrun import EventSink, HostResult, HostRun, _cancelled, _emit
from oxinfra._engine.report import Timings
from oxinfra._engine.reuse import RunMemo
from oxinfra.api.context import current_run_memo, scope
from oxinfra.api.facts import FactFailed, FactMissing, FactRequest
from oxinfra.connectors.base import ConnectSettings
from oxinfra.connectors.registry import CONNECTORS, connect
from oxinfra.exceptions import ConnectError, DeployError, OutputParseError, OxinfraError
from oxinfra.inventory import Inventory

__all__ = [
    "prepare",
    "execute",
    "not_started",
    "Prepared",
    "load_deploy_files",
    "deploy_payload",
    "check_defaults",
    "distinct_sequences",
    "order_sequences",
    "order_operations",
    "run_once",
]


def _descriptors_needed(hosts: list[Any], parallel: int | None) -> int:
    """About how many descriptors the hosts running at once hold: a socket for SSH, three
    pipes for a local or docker shell, none for simulated hosts."""
    held = {name: connector.descriptors for name, connector in CONNECTORS.items()}
    per_host = sorted([held[h.connector] for h in hosts], reverse=True)
    return sum(per_host[: parallel or len(per_host)])


def raise_fd_limit(hosts: int) -> None:
    """One connection is about one file descriptor: raise the soft limit to the hard limit
    when the run may need more than it allows, and say so clearly when it cannot."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = hosts + 64
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else min(hard, max(needed, soft))
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
        if target != resource.RLIM_INFINITY and target < needed:
            raise OxinfraError(
                f"this run needs about {needed} open files but the limit is {target}: "
                f"raise it (ulimit -n {needed}) or run with --parallel {max(1, target - 64)}"
            )


def _evaluate_all(
    inventory: Inventory, files: list[DeployFile], defaults: dict[str, Any] | None = None
) -> dict[str, list[OpCall] | None]:
    def no_facts(host: Any, request: FactRequest) -> Any:
        raise FactMissing(request)

    evaluated: dict[str, list[OpCall] | None] = {}  # None: needs facts (evaluated later)
    # Deploy code that read nothing of the host but its data, and whose every call is shared,
    # gives the same calls on every host with the same data (the same chain of layers, which
    # hosts of the same groups and entries share): those hosts copy the calls instead of
    # running the deploy files again. See oxinfra._engine.reuse.
    same_data: dict[int, tuple[Any, list[OpCall]]] = {}
    reuse = current_run_memo() is not None
    for host in inventory.hosts:
        layers = getattr(host.data, "_layers", None)
        if reuse and layers is not None:
            found = same_data.get(id(layers))
            if found is not None and found[0] is layers:
                name = host.name
                evaluated[name] = [op.for_host(name) for op in found[1]]
                continue
        reads = [False, False]
        try:
            with scope(reads=reads):
                ops = evaluate(host, files, no_facts, defaults)
                evaluated[host.name] = ops
        except FactMissing:
            evaluated[host.name] = None
            continue
        if reuse and layers is not None and not reads[1] and all(op.shared is not None for op in ops):
            same_data[id(layers)] = (layers, ops)
    return evaluated


async def _evaluate_with_facts(
    host: Any,
    files: list[DeployFile],
    settings: ConnectSettings,
    control: RunControl,
    defaults: dict[str, Any] | None = None,
) -> list[OpCall]:
    """Evaluate a deploy that reads facts itself: gather what it asks for, evaluate again
    (within the host's timeouts: its deadline starts again when it connects to run)."""
    run = HostRun(host, [], True, None, control=control)
    async with settings.connect_slots:
        run.deadline = control.deadline()
        conn = await control.within(run.deadline, connect(host, settings))
    aborted = False
    try:
        run.shell = await control.within(run.deadline, conn.open_shell())
        for _ in range(100):

            def known(h: Any, request: FactRequest) -> Any:
                entry = run.planner.facts.get(request.key)
                if entry is None:
                    raise FactMissing(request)
                return entry.read()

            try:
                return evaluate(host, files, known, defaults)
            except FactMissing as exc:
                await run.gather(list(exc.requests))
        raise DeployError(f"{host.name}: the deploy keeps asking for new facts")
    except (ConnectError, asyncio.CancelledError):
        aborted = True
        await conn.abort()  # a timeout, an interrupt, a lost connection: end what the host runs
        raise
    finally:
        if not aborted:
            await conn.close()


def distinct_sequences(evaluated: dict[str, list[OpCall] | None]) -> tuple[list[tuple[Any, ...]], dict[Any, str]]:
    """Every distinct per-host sequence of call-site keys, and each key's label. Fleets run
    few distinct sequences, so this is what ordering (and sharded runs) work on."""
    seen: dict[tuple[Any, ...], None] = {}
    labels: dict[Any, str] = {}
    for ops in evaluated.values():
        if ops is None:
            continue
        seq = tuple(op.key for op in ops)
        if seq not in seen:
            seen[seq] = None
            for op in ops:
                labels.setdefault(op.key, op.label)
    return list(seen), labels


def order_sequences(sequences: list[tuple[Any, ...]], labels: dict[Any, str]) -> list[str]:
    """One global order (as labels) that every sequence respects; a conflict is an error
    naming both source lines."""
    ids: dict[Any, int] = {}
    names: list[str] = []
    numbered = []
    for seq in sequences:
        row = []
        for key in seq:
            k = ids.get(key)
            if k is None:
                k = ids[key] = len(names)
                names.append(labels[key])
            row.append(k)
        numbered.append(row)
    order = _core.order_operations(numbered, names)  # OrderCycleError, a DeployError
    return [names[k] for k in order]


def order_operations(evaluated: dict[str, list[OpCall] | None]) -> list[str]:
    """One global order of operations (by call-site key) that every host's order respects."""
    return order_sequences(*distinct_sequences(evaluated))


def check_defaults(defaults: dict[str, Any] | None) -> dict[str, Any]:
    """The run's global arguments (``--sudo``, ``--sudo-password``, ...: under every operation's
    own), checked once: an unknown name or a bad value is an ArgumentError."""
    if not defaults:
        return {}
    from oxinfra.api.arguments import split_global_args
    from oxinfra.exceptions import ArgumentError

    plain = [key for key in defaults if not key.startswith("_")]
    if plain:
        raise ArgumentError(f"run defaults take global arguments (_sudo, ...), not {', '.join(sorted(plain))}")
    split_global_args(dict(defaults), {}, "run defaults")
    checked = dict(defaults)
    if checked.get("_sudo") is False and checked.get("_sudo_user") is not None:
        checked["_sudo_user"] = None  # beside _sudo=False it is ignored, as on a call
    return checked


def load_deploy_files(deploy_files: list[Any], exec_command: str | None = None) -> list[DeployFile]:
    """Deploy files by path (read and compiled here), or already :class:`DeployFile`
    (e.g. :meth:`DeployFile.from_callable`), or ``{"name", "source", "directory"}`` (one
    made from text, as a sharded run sends it: see :func:`deploy_payload`)."""
    if exec_command is not None:
        source = f"from oxinfra.operations import server\nserver.shell(name='exec', commands=[{exec_command!r}])\n"
        return [DeployFile.from_source("<exec>", source, os.getcwd())]
    out = []
    for d in deploy_files:
        if isinstance(d, dict):  # a deploy made from text, sent to a shard worker
            out.append(DeployFile.from_source(d["name"], d["source"], d["directory"]))
        else:
            out.append(d if isinstance(d, DeployFile) else DeployFile(os.fspath(d)))
    return out


def deploy_payload(deploy: Any) -> Any:
    """A deploy as a sharded run sends it to its workers: a file by absolute path, one made
    from text (:meth:`DeployFile.from_source`) as its text."""
    if isinstance(deploy, DeployFile):
        if deploy.source is not None:
            return {"name": deploy.path, "source": deploy.source, "directory": deploy.directory}
        return deploy.path
    return os.path.abspath(deploy)


class Prepared:
    """Hosts evaluated and ready to run (``evaluated[name]`` is None for a host that could
    not be evaluated; its result is already in ``results``)."""

    def __init__(self, inventory: Inventory, settings: ConnectSettings) -> None:
        self.inventory = inventory
        self.settings = settings
        self.evaluated: dict[str, list[OpCall] | None] = {}
        self.results: dict[str, HostResult] = {}
        self.memo = RunMemo()
        self.frozen = False
        #: What deploy code sees as ``oxinfra.inventory`` (the whole inventory, see runtime.py).
        self.seen_inventory: Any = inventory

    def keep(self) -> None:
        """Leave every object alive now (the evaluated calls of all hosts, which live until
        the run ends) out of garbage collections until :meth:`release` (``gc.freeze``;
        nothing is done if the process froze objects itself)."""
        if not self.frozen and gc.get_freeze_count() == 0:
            gc.freeze()
            self.frozen = True

    def release(self) -> None:
        if self.frozen:
            gc.unfreeze()
            self.frozen = False


async def prepare(
    inventory: Inventory,
    files: list[DeployFile],
    on_event: EventSink | None,
    timings: Timings,
    connect_limit: int | None = None,
    parallel: int | None = None,
    control: RunControl | None = None,
    defaults: dict[str, Any] | None = None,
) -> Prepared:
    """Evaluate every host's deploy. Only hosts whose deploy code reads a fact itself connect
    now (at most ``parallel`` at once, as later): each is evaluated again on its own
    connection until it asks for nothing new, and the connection is closed -- holding it
    until every other host is evaluated would hold more hosts than ``parallel`` allows.
    ``defaults``: the run's global arguments (see :func:`check_defaults`)."""
    raise_fd_limit(_descriptors_needed(inventory.hosts, parallel))
    prepared = Prepared(inventory, ConnectSettings(connect_limit))
    limit = asyncio.Semaphore(parallel or max(1, len(inventory.hosts)))
    # Calls equal on many hosts are discovered once (the run's memo, in context while evaluating).
    everything = getattr(inventory, "everything", None)
    prepared.seen_inventory = everything() if everything is not None else inventory
    with timings.phase("evaluate"), scope(run_memo=prepared.memo, inventory=prepared.seen_inventory):
        evaluated = prepared.evaluated

        run_control = control or RunControl()

        async def with_facts(host: Any) -> None:
            task = asyncio.current_task()
            try:
                async with limit:
                    if run_control.interrupted is not None:
                        raise asyncio.CancelledError
                    if task is not None:
                        run_control.running.add(task)
                    evaluated[host.name] = await _evaluate_with_facts(
                        host, files, prepared.settings, run_control, defaults
                    )
            except asyncio.CancelledError:
                if run_control.interrupted is None:
                    raise
                uncancel()  # it only read facts: nothing was done there
                prepared.results[host.name] = not_started(
                    host, None, f"interrupted ({run_control.interrupted})", on_event
                )
            except Interrupted as exc:
                prepared.results[host.name] = not_started(host, None, str(exc), on_event)
            except ConnectError as exc:
                result = HostResult(host.name)
                error = f"{host.name}: {exc} while evaluating its deploy" if isinstance(exc, TimedOut) else str(exc)
                result.status, result.error = "unreachable", error
                prepared.results[host.name] = result
                _emit(on_event, {"event": "unreachable", "host": host.name, "error": error})
            except FactFailed as exc:  # a fact the deploy read failed on this host: it alone fails
                result = HostResult(host.name)
                result.status, result.error = "failed", f"{host.name}: {exc}"
                prepared.results[host.name] = result
                _emit(on_event, {"event": "host_failed", "host": host.name, "error": result.error})
            except OutputParseError as exc:  # what this host printed is malformed: it fails alone
                _host_error(host, str(exc))
            except DeployError:
                raise  # the deploy code is wrong: nothing runs anywhere (as for deploys that read no facts)
            except OxinfraError as exc:
                _host_error(host, str(exc))
            except BaseException as exc:  # a bug with this host must not end the run for the others
                if isinstance(exc, KeyboardInterrupt) or _cancelled(exc):
                    raise
                _host_error(host, f"{host.name}: internal error: {type(exc).__name__}: {exc}")
            finally:
                if task is not None:
                    run_control.running.discard(task)

        def _host_error(host: Any, error: str) -> None:
            result = HostResult(host.name)
            result.status, result.error = "error", error
            prepared.results[host.name] = result
            _emit(on_event, {"event": "host_done", "host": host.name, **result.summary()})

        try:
            with gc_paused():
                evaluated.update(_evaluate_all(inventory, files, defaults))
                prepared.keep()  # before collections resume: they would scan all of it once more
            await asyncio.gather(*(with_facts(h) for h in inventory.hosts if evaluated[h.name] is None))
            run_once(evaluated, inventory.hosts)
            prepared.memo.calls.clear()  # only calls being made look these up; the calls keep theirs
        except BaseException:
            prepared.release()
            raise
    return prepared


def run_once(evaluated: dict[str, list[OpCall] | None], hosts: list[Any]) -> str | None:
    """``_run_once``: an operation call (by call site) runs on the first host in inventory
    order that makes it; the same call on later hosts is skipped. Returns the label of one
    such call (None when there is none)."""
    seen: set[Any] = set()
    found = None
    for host in hosts:
        for op in evaluated.get(host.name) or ():
            if op.globals.run_once:
                found = op.label
                if op.key in seen:
                    op.once_skip = True
                else:
                    seen.add(op.key)
    return found


def not_started(host: Any, ops: list[OpCall] | None, why: str, on_event: EventSink | None) -> HostResult:
    """The result of a host the run did not start (``--fail-percent``, an interrupt)."""
    result = HostResult(host.name)
    result.status, result.error = "not started", f"{host.name}: not started ({why})"
    for op in ops or []:
        result.ops.append({"op": op.name, "key": op.label, "index": op.index, "status": "not run"})
    _emit(on_event, {"event": "host_done", "host": host.name, **result.summary()})
    return result


async def execute(
    prepared: Prepared,
    dry: bool,
    parallel: int | None,
    on_event: EventSink | None,
    timings: Timings,
    control: RunControl | None = None,
) -> dict[str, HostResult]:
    """Plan and execute every evaluated host, each on its own, at most ``parallel`` at once
    (and as ``control`` says: see :mod:`oxinfra._engine.control`)."""
    control = control or RunControl()
    hosts = prepared.inventory.hosts
    results = prepared.results
    limit = asyncio.Semaphore(parallel or max(1, len(hosts)))
    control.hosts = len(hosts)
    for result in list(results.values()):  # hosts that ended while they were evaluated
        control.host_ended(result.status)

    async def one(host: Any) -> None:
        async with limit:
            ops = prepared.evaluated[host.name] or []
            if not control.may_start:
                why = f"interrupted ({control.interrupted})" if control.interrupted else "--fail-percent"
                results[host.name] = not_started(host, ops, why, on_event)
            else:
                result = await HostRun(host, ops, dry, on_event, prepared.memo, control).run(prepared.settings)
                results[host.name] = result
                control.host_ended(result.status)
            prepared.evaluated[host.name] = None  # a finished host keeps only its result
            host._facts = None

    try:
        collections = short_collections() if control.cooperative else fewer_collections()
        with timings.phase("hosts"), collections, scope(inventory=prepared.seen_inventory):
            await asyncio.gather(*(one(h) for h in hosts if h.name not in results))
    finally:
        prepared.release()
    return {h.name: results[h.name] for h in hosts}
