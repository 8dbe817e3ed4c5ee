"""Running deploys from Python: :func:`run` and :func:`run_async`.

::

    from oxinfra.api import Inventory, run, run_async
    from oxinfra.operations import files

    def deploy() -> None:
        files.directory(path="/srv/app")

    result = run(Inventory.from_hosts(["@local"]), deploy, dry=True)
    # in an asyncio application:
    result = await run_async(["web1", "web2"], "deploy.py", on_event=print)

- ``inventory``: an :class:`~oxinfra.inventory.Inventory`; a path or spec as the CLI takes
  it (``"inventory.py"``, ``"web1,web2"``, ``"@local"``, ``module:function``); a list of
  host entries (``"name"`` or ``("name", {data})``); or a dict of groups
  (``{"web": ["web1"], "db": (["db1"], {"port": 5432})}``), as
  :meth:`Inventory.from_hosts` takes them.
- ``deploy``: a deploy file's path, a function taking no arguments that calls operations
  (run once per host, as a file is), or a list of them (run in order).
- The result is a :class:`~oxinfra.api.results.RunResult` (frozen dataclasses, ``Literal``
  statuses); ``on_event`` gets typed events (:mod:`oxinfra.api.results`) as hosts report.

**Processes and threads.** :func:`run_async` never runs the engine on the caller's event
loop. With ``isolation="auto"`` (the default) the run goes to one worker process when it
can (:mod:`oxinfra._engine.isolate`): the inventory as a path or spec, host entries or an
``Inventory`` whose data pickles, deploys as files. The caller's loop then only reads
small messages from a pipe (events in batches, the result in chunks, each a step of a few
milliseconds) and rebuilds the same typed results: the run shares neither the interpreter
nor its lock with the caller. Otherwise -- a deploy given as a function, data that cannot
be pickled -- the run goes on an event loop of its own in a worker thread (it shares the
interpreter: the caller's loop waits for it to hand the lock over, every few
milliseconds). ``isolation="process"`` asks for the process (a module-level function is
then sent by reference and imported there; what cannot go raises), ``"thread"`` for the
thread. Either way ``on_event`` is called on the caller's loop, in order, in batches, and
cancelling the awaiting task interrupts the run (as SIGINT does: nothing more is sent,
running work is ended on the hosts) and waits for it to end. benches/embed.py measures the
caller's worst stall both ways (docs/embedding.md).

:func:`run` called where no event loop runs, runs in the calling thread. Called from a
thread whose event loop is running (a notebook, a callback of an asyncio application), it
runs the work on its own loop in a worker thread and blocks the calling thread -- so that
loop too -- until it ends: in async code, ``await run_async(...)`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections import deque
from concurrent.futures import Future
import logging
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence, Union

from oxinfra._collect import short_collections
from oxinfra._engine.isolate import ProcessRun, Unavailable, job_for
from oxinfra.api.results import Event, RunResult, convert, event_from_json
from oxinfra.api.typed import GlobalArguments
from oxinfra.exceptions import DeployError, EventCallbackError, InventoryError

if TYPE_CHECKING:
    from oxinfra._engine.control import RunControl
    from oxinfra.inventory import Inventory
    from oxinfra.inventory.model import HostEntry

__all__ = ["run", "run_async", "InventoryArg", "DeployArg", "Isolation"]

logger = logging.getLogger("oxinfra")

#: What ``inventory=`` takes (see the module docs).
InventoryArg = Union[
    "Inventory",
    str,
    "os.PathLike[str]",
    Sequence["HostEntry"],
    Mapping[str, Any],
]
#: One deploy: a file path or a function taking no arguments.
DeployArg = Union[str, "os.PathLike[str]", Callable[[], object]]
#: At most this many events are handed to ``on_event`` per turn of the caller's loop.
EVENTS_PER_TURN = 256


def _inventory(value: Any, limit: Sequence[str] | None) -> Any:
    from oxinfra.inventory import Inventory, load_inventory

    if isinstance(value, Inventory):
        inventory = value
    elif isinstance(value, (str, os.PathLike)):
        inventory = load_inventory(os.fspath(value))
    elif isinstance(value, Mapping):
        inventory = Inventory.from_hosts(groups=value)
    elif isinstance(value, (list, tuple)):
        inventory = Inventory.from_hosts(value)
    else:
        raise InventoryError(
            f"inventory= takes an Inventory, a path or spec, a list of hosts or a dict of groups, "
            f"not {type(value).__name__}"
        )
    if limit is not None:
        if isinstance(limit, str):
            limit = [limit]
        inventory = inventory.limit(limit)
    return inventory


def _deploy_items(value: Any, exec_command: str | None, shards: int) -> list[Any]:
    """The deploys, checked: file paths (``str``) and functions."""
    if exec_command is not None:
        if not isinstance(exec_command, str) or not exec_command.strip():
            raise DeployError("exec_command= takes the shell command to run, as a non-empty string")
        if value:
            raise DeployError("give deploy= or exec_command=, not both")
        return []
    single = isinstance(value, (str, os.PathLike)) or callable(value) or not isinstance(value, (list, tuple))
    items = [value] if single and value is not None else list(value or ())
    if not items:
        raise DeployError("nothing to run: give deploy= (a file path or a function) or exec_command=")
    out: list[Any] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            out.append(os.fspath(item))
        elif callable(item):
            if shards > 1:
                raise DeployError("a deploy given as a function runs in this process: use shards=1, or a deploy file")
            out.append(item)
        else:
            raise DeployError(f"a deploy is a file path or a function, not {type(item).__name__}")
    return out


def _deploys(value: Any, exec_command: str | None, shards: int) -> list[Any]:
    from oxinfra._engine.evaluate import DeployFile

    items = _deploy_items(value, exec_command, shards)
    return [item if isinstance(item, str) else DeployFile.from_callable(item) for item in items]


def _check(dry: Any, parallel: Any, shards: Any) -> None:
    if not isinstance(dry, bool):
        raise DeployError(f"dry= takes True or False, not {dry!r}")
    for name, value in (("parallel", parallel), ("shards", shards)):
        if value is None and name == "parallel":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DeployError(f"{name}= takes a whole number of 1 or more, not {value!r}")


def _check_types(on_event: Any, global_args: Any, control: Any, limit: Any) -> None:
    """The arguments of :func:`run` / :func:`run_async` whose type the engine relies on,
    checked before anything starts: a DeployError naming the argument."""
    from oxinfra._engine.control import RunControl

    if on_event is not None and not callable(on_event):
        raise DeployError(f"on_event= takes a function of one event, or None, not {on_event!r}")
    if global_args is not None and not isinstance(global_args, Mapping):
        raise DeployError(f"global_args= takes a dict of global arguments ({{'_sudo': True}}), not {global_args!r}")
    if control is not None and not isinstance(control, RunControl):
        raise DeployError(f"control= takes a RunControl(...), or None, not {control!r}")
    if limit is not None:
        items = [limit] if isinstance(limit, str) else limit
        if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
            raise DeployError(f"limit= takes a host pattern or a list of them (as --limit), not {limit!r}")


class _Guarded:
    """``on_event``, whose exceptions do not stop the run: the first is kept, the others
    counted, and :meth:`check` raises :class:`~oxinfra.exceptions.EventCallbackError` once
    the run has ended (docs/embedding.md)."""

    def __init__(self, on_event: Callable[[Event], object]) -> None:
        self.on_event = on_event
        self.error: BaseException | None = None
        self.count = 0

    def __call__(self, event: Event) -> None:
        try:
            self.on_event(event)
        except (Exception, SystemExit) as exc:  # the application's bug: never the run's end
            self.count += 1
            if self.error is None:
                self.error = exc

    def check(self, result: RunResult) -> RunResult:
        error = self.error
        if error is None:
            return result
        raised = EventCallbackError(
            f"on_event raised {type(error).__name__}: {error} ({self.count} of its calls raised; "
            "the run went on to its end: its result is this error's result)"
        )
        raised.result, raised.count = result, self.count
        raise raised from error


async def _engine(
    inventory: Any,
    deploy: Any,
    dry: bool,
    parallel: int | None,
    sink: Callable[[dict[str, Any]], None] | None,
    exec_command: str | None,
    shards: int,
    global_args: Mapping[str, Any] | None,
    control: RunControl | None,
    limit: Sequence[str] | None,
    *,
    ready: Callable[[RunControl], None] | None = None,
) -> RunResult:
    """The run, on the loop of the thread that runs it (inputs checked here: a bad one
    raises before any host is touched)."""
    from oxinfra._engine.control import RunControl
    from oxinfra._engine.run import run_async as engine_run

    _check(dry, parallel, shards)
    control = control or RunControl()
    control.keep_details = True
    control.cooperative = threading.current_thread() is not threading.main_thread()
    if ready is not None:
        ready(control)
    files = _deploys(deploy, exec_command, shards)
    # On a worker thread, the collector stays in short collections until the engine's
    # objects are gone (see oxinfra._collect.short_collections): a full collection over
    # them would hold the application's loop too.
    with short_collections() if control.cooperative else contextlib.nullcontext():
        result = await engine_run(
            _inventory(inventory, limit),
            files,
            dry=dry,
            parallel=parallel,
            on_event=sink,
            exec_command=exec_command,
            shards=shards,
            global_args=dict(global_args) if global_args is not None else None,
            control=control,
        )
        typed = convert(result)
        del result
        return typed


def _typed_sink(on_event: Callable[[Event], object] | None) -> Callable[[dict[str, Any]], None] | None:
    if on_event is None:
        return None

    def sink(event: dict[str, Any]) -> None:
        typed = event_from_json(event)
        if typed is not None:
            on_event(typed)

    return sink


def run(
    inventory: InventoryArg,
    deploy: DeployArg | Sequence[DeployArg] = (),
    *,
    dry: bool = False,
    parallel: int | None = None,
    on_event: Callable[[Event], object] | None = None,
    exec_command: str | None = None,
    shards: int = 1,
    global_args: GlobalArguments | None = None,
    control: RunControl | None = None,
    limit: Sequence[str] | str | None = None,
) -> RunResult:
    """Run ``deploy`` (or one shell command, ``exec_command``) on ``inventory`` and return
    the typed result. Errors in the inputs or the deploy code raise (a one-line
    :class:`~oxinfra.exceptions.OxinfraError`) before any host is touched; errors on hosts
    are in the result.

    ``dry``: plan only, change nothing. ``parallel``: at most this many hosts at once.
    ``on_event``: called with each typed event as it happens. ``shards`` > 1: spread the
    hosts over that many worker processes (the operations' commands are then not in the
    result). ``global_args``: defaults of every operation's global arguments
    (``{"_sudo": True}``). ``control``: timeouts, ``fail_percent``, signal handling
    (:class:`~oxinfra.api.RunControl`). ``limit``: only these hosts (patterns as ``--limit``).

    In a thread whose event loop is running, this runs on a worker thread and blocks that
    loop until the run ends: ``await run_async(...)`` there instead (see the module docs)."""
    _check_types(on_event, global_args, control, limit)
    guarded = _Guarded(on_event) if on_event is not None else None
    sink = _typed_sink(guarded)
    args = (inventory, deploy, dry, parallel, sink, exec_command, shards, global_args, control, limit)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        result = asyncio.run(_engine(*args))
    else:
        done: Future[RunResult] = Future()
        thread = threading.Thread(target=_run_in_thread, args=(done, args), name="oxinfra-run", daemon=True)
        thread.start()
        result = done.result()
    return guarded.check(result) if guarded is not None else result


def _run_in_thread(done: Future[RunResult], args: tuple[Any, ...], ready: Any = None) -> None:
    try:
        result = asyncio.run(_engine(*args, ready=ready))
    except BaseException as exc:  # handed to the caller, raised there
        done.set_exception(exc)
    else:
        done.set_result(result)


class _Delivery:
    """Events handed to ``on_event`` on the caller's loop, in order, at most
    :data:`EVENTS_PER_TURN` per turn of the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_event: Callable[[Event], object]) -> None:
        self.loop, self.on_event = loop, on_event
        self.events: deque[Event] = deque()
        self.flushing = False
        self.delivered = asyncio.Event()

    def _deliver(self) -> None:
        self.flushing = False
        for _ in range(min(len(self.events), EVENTS_PER_TURN)):
            self.on_event(self.events.popleft())
        if self.events:
            self.flushing = True
            self.loop.call_soon(self._deliver)
        else:
            self.delivered.set()

    def push(self, event: Event) -> None:
        """On the caller's loop (events read from a worker process)."""
        self.events.append(event)
        if not self.flushing:
            self.flushing = True
            self.delivered.clear()
            self.loop.call_soon(self._deliver)

    def sink(self, event: dict[str, Any]) -> None:
        """On the worker thread (the engine's event dicts)."""
        typed = event_from_json(event)
        if typed is None:
            return
        self.events.append(typed)
        if not self.flushing:
            self.flushing = True
            self.delivered.clear()
            self.loop.call_soon_threadsafe(self._deliver)

    async def wait(self) -> None:
        """Until every event came to ``on_event``."""
        if self.events or self.flushing:
            await self.delivered.wait()


#: Where :func:`run_async` runs the run: ``"process"``, one worker process; ``"thread"``, a
#: worker thread of this process; ``"auto"``, the process when the run can go there, else
#: the thread (see the module docs).
Isolation = Literal["auto", "process", "thread"]
_ISOLATIONS = ("auto", "process", "thread")
#: Worker processes' pumps nobody awaits any more (a second cancellation), kept until done.
_ENDING: set[asyncio.Task[Any]] = set()


async def run_async(
    inventory: InventoryArg,
    deploy: DeployArg | Sequence[DeployArg] = (),
    *,
    dry: bool = False,
    parallel: int | None = None,
    on_event: Callable[[Event], object] | None = None,
    exec_command: str | None = None,
    shards: int = 1,
    global_args: GlobalArguments | None = None,
    control: RunControl | None = None,
    limit: Sequence[str] | str | None = None,
    isolation: Isolation = "auto",
) -> RunResult:
    """:func:`run`, awaited, without holding the caller's loop: the run goes to a worker
    process, or to its own event loop in a worker thread (``isolation``; see the module
    docs); ``on_event`` is called on the caller's loop, in order. Cancelling the awaiting
    task interrupts the run (as SIGINT) and raises ``CancelledError`` once it has ended. With
    ``control=RunControl(handle_signals=True)``, SIGINT/SIGTERM received by the caller's loop
    interrupt it."""
    if isolation not in _ISOLATIONS:
        raise DeployError(f"isolation= takes 'auto', 'process' or 'thread', not {isolation!r}")
    _check_types(on_event, global_args, control, limit)
    loop = asyncio.get_running_loop()
    guarded = _Guarded(on_event) if on_event is not None else None
    delivery = _Delivery(loop, guarded) if guarded is not None else None
    target: dict[str, Any] = {}  # what a signal interrupts: the process run, or the thread's state
    handlers: list[signal.Signals] = []
    if control is not None and control.handle_signals:
        # The worker cannot take the caller's signals: the caller's loop takes them and
        # passes them on.
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, _forward, target, sig)
                handlers.append(sig)
            except (ValueError, RuntimeError, NotImplementedError):
                pass
    try:
        if isolation != "thread":
            process = _process_run(
                inventory, deploy, dry, parallel, delivery, exec_command, shards, global_args, control, limit, isolation
            )
            if process is not None:
                target["process"] = process
                try:
                    result = await _in_process(process)
                except Unavailable as why:
                    if isolation == "process":
                        raise DeployError(f"run_async(isolation='process'): {why}; use isolation='thread'") from None
                    logger.debug("run_async: in a worker thread (%s)", why)
                else:
                    if delivery is not None:
                        await delivery.wait()
                    return guarded.check(result) if guarded is not None else result
                del target["process"]
        result = await _in_thread(
            inventory, deploy, dry, parallel, delivery, exec_command, shards, global_args, control, limit, target
        )
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)
    if delivery is not None:
        await delivery.wait()
    return guarded.check(result) if guarded is not None else result


def _process_run(
    inventory: Any,
    deploy: Any,
    dry: Any,
    parallel: Any,
    delivery: _Delivery | None,
    exec_command: Any,
    shards: Any,
    global_args: Any,
    control: RunControl | None,
    limit: Any,
    isolation: str,
) -> ProcessRun | None:
    """The run in a worker process, or None where it cannot go there (``"auto"``). Bad
    arguments raise here, as the worker thread would raise them."""
    _check(dry, parallel, shards)
    functions = [item for item in _deploy_items(deploy, exec_command, shards) if not isinstance(item, str)]
    settings = {
        "dry": dry,
        "parallel": parallel,
        "events": delivery is not None,
        "exec_command": exec_command,
        "shards": shards,
        "global_args": dict(global_args) if global_args is not None else None,
        "limit": limit,
    }
    try:
        setup, job = job_for(inventory, deploy, functions, settings, control, isolation)
    except Unavailable as why:
        logger.debug("run_async: in a worker thread (%s)", why)
        return None
    return ProcessRun(setup, job, delivery.push if delivery is not None else None)


async def _in_process(process: ProcessRun) -> RunResult:
    pump = asyncio.ensure_future(process.pump())
    try:
        return await asyncio.shield(pump)
    except asyncio.CancelledError:
        process.interrupt(signal.SIGINT)
        try:
            await asyncio.shield(pump)
        except asyncio.CancelledError:
            if not pump.done():
                # Cancelled again while the run ends: stop waiting (as the worker thread's
                # caller does); the interrupted run ends on its own and the pump, kept here
                # until then, reaps its process.
                _ENDING.add(pump)
                pump.add_done_callback(_ended)
        except BaseException:
            pass
        raise


def _ended(task: asyncio.Task[Any]) -> None:
    _ENDING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: the end of a run nobody waits for is not an error to log


async def _in_thread(
    inventory: Any,
    deploy: Any,
    dry: Any,
    parallel: Any,
    delivery: _Delivery | None,
    exec_command: Any,
    shards: Any,
    global_args: Any,
    control: RunControl | None,
    limit: Any,
    state: dict[str, Any],
) -> RunResult:
    """The run on its own loop in a worker thread (``state`` gets its loop and control, for
    :func:`_forward`)."""

    def ready(run_control: RunControl) -> None:
        state["loop"] = asyncio.get_running_loop()
        state["control"] = run_control

    worker_control = control
    if control is not None and control.handle_signals:
        from oxinfra._engine.control import RunControl as _RunControl

        # The worker's loop cannot take signals (not the main thread): run_async's handlers
        # pass them on.
        worker_control = _RunControl(
            fail_percent=control.fail_percent,
            host_timeout=control.host_timeout,
            round_trip_timeout=control.round_trip_timeout,
            lock_timeout=control.lock_timeout,
            diff=control.diff,
        )
    args = (
        inventory,
        deploy,
        dry,
        parallel,
        delivery.sink if delivery is not None else None,
        exec_command,
        shards,
        global_args,
        worker_control,
        limit,
    )
    done: Future[RunResult] = Future()
    thread = threading.Thread(target=_run_in_thread, args=(done, args, ready), name="oxinfra-run", daemon=True)
    thread.start()
    waiting = asyncio.wrap_future(done)
    try:
        return await asyncio.shield(waiting)
    except asyncio.CancelledError:
        _interrupt(state, signal.SIGINT)
        try:
            await waiting
        except BaseException:
            pass
        raise


def _forward(target: dict[str, Any], signum: int) -> None:
    """A signal the caller's loop took (``handle_signals``): interrupt the run."""
    process = target.get("process")
    if process is not None:
        process.interrupt(signum)
    else:
        _interrupt(target, signum)


def _interrupt(state: dict[str, Any], signum: int) -> None:
    """Interrupt the run on the worker's loop (once; a second signal is the engine's to
    handle: it exits)."""
    worker_loop, run_control = state.get("loop"), state.get("control")
    if worker_loop is None or run_control is None:
        return
    if state.get("asked"):
        return
    state["asked"] = True
    try:
        worker_loop.call_soon_threadsafe(run_control.interrupt, signum)
    except RuntimeError:  # its loop has ended
        pass
