""":func:`oxinfra.api.run_async` in a worker process: the parent's side.

The run goes to one worker process (``oxinfra._engine.isolate_worker``) when everything it
needs can be sent there: the inventory (a path or spec, host entries, an ``Inventory``), the
deploy (file paths; with ``isolation="process"`` also functions of an importable module, sent
by reference), the run's settings. The caller's event loop then only reads the worker's
messages, each small and handled in one step:

- the worker sends its typed events in batches (at most :data:`EVENTS_PER_MESSAGE`);
- the result is sent host by host in chunks (at most about :data:`OPS_PER_MESSAGE`
  operations each) and rebuilt as the same frozen dataclasses (:mod:`oxinfra.api.results`);
- the loop is handed back after every message (``await asyncio.sleep(0)``): reading from a
  buffer that already holds many messages does not suspend by itself;
- the garbage collector keeps to young collections meanwhile
  (:func:`oxinfra._collect.short_collections`, as for the worker thread): the full
  collection the new objects would trigger scans the caller's whole process.

Messages are length-prefixed pickles, over a pipe of their own (the worker's stdout and
stderr stay the caller's: a deploy's ``print`` shows where it shows in-process). The job goes
over the worker's stdin, never in its arguments or environment (it may hold a sudo password);
after the job, one byte on that stdin interrupts the run (``I``: as SIGINT, ``T``: as
SIGTERM) and its end (EOF: the parent went away) interrupts it too.

Errors raised by the run in the worker (a bad inventory, a deploy error) come back pickled and
are raised as themselves: same type, same message. Secrets registered in the worker (found in
operations' arguments) are registered here too, as a sharded run's are.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
import types
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

from oxinfra._collect import short_collections
from oxinfra._engine.control import RunControl
from oxinfra._secrets import Secret, register_secrets
from oxinfra.api.results import Event, HostResult, RunResult
from oxinfra.exceptions import DeployError, InventoryError, OxinfraError

__all__ = [
    "Unavailable",
    "ProcessRun",
    "job_for",
    "pack",
    "HEADER",
    "EVENTS_PER_MESSAGE",
    "OPS_PER_MESSAGE",
]

HEADER = struct.Struct("!I")
#: At most this many events in one message from the worker.
EVENTS_PER_MESSAGE = 128
#: A chunk of the result holds hosts until it has about this many operations.
OPS_PER_MESSAGE = 400
#: Seconds a worker may take to exit once its run ended (or after a second interrupt) before it
#: is killed.
EXIT_GRACE = 10.0

# The worker: the oxinfra this process runs, whatever the caller's sys.path manipulations.
_BOOT = "import sys; sys.path.insert(0, sys.argv[2]); from oxinfra._engine.isolate_worker import main; main()"


class Unavailable(Exception):
    """The run cannot go to a worker process (why: ``str()``); nothing has been started."""


def pack(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def _by_reference(func: Callable[..., object]) -> str | None:
    """Why ``func`` cannot be sent to a worker process by reference (None: it can): it must be
    a module-level function of a module the worker can import."""
    if not isinstance(func, types.FunctionType):
        return f"{func!r} is not a plain function"
    module, qualname = func.__module__, func.__qualname__
    if module == "__main__" or module is None:
        return f"{qualname}() is defined in __main__, which a worker process does not import"
    if "<" in qualname:  # <lambda>, <locals>
        return f"{qualname} is not defined at module level"
    found: Any = sys.modules.get(module)
    if found is None or getattr(found, "__spec__", None) is None:
        return f"{qualname}() is in {module}, which is not an importable module"
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not func:
        return f"{module}.{qualname} is not this function"
    return None


def job_for(
    inventory: Any,
    deploy: Any,
    functions: Sequence[Callable[..., object]],
    settings: Mapping[str, Any],
    control: RunControl | None,
    isolation: str,
) -> tuple[bytes, bytes]:
    """The worker's setup and job, pickled; raises :class:`Unavailable` when the run cannot
    go to a worker process, or (``isolation="process"``, where that was asked for) the error
    that says why."""
    asked = isolation == "process"

    def refuse(reason: str, error: type[OxinfraError] = DeployError) -> Exception:
        if asked:
            return error(f"run_async(isolation='process'): {reason}; use isolation='thread'")
        return Unavailable(reason)

    if not sys.executable:
        raise refuse("no Python interpreter to start (sys.executable is empty)", OxinfraError)
    for func in functions:
        if not asked:
            raise Unavailable("a deploy given as a function runs in this process")
        why = _by_reference(func)
        if why is not None:
            raise refuse(f"a deploy function is sent to the worker by reference, and {why}")
    job = {
        "inventory": inventory,
        "deploy": deploy,
        # The worker's own RunControl (it takes its signals itself: handle_signals there).
        "control": {
            "fail_percent": control.fail_percent,
            "host_timeout": control.host_timeout,
            "round_trip_timeout": control.round_trip_timeout,
            "lock_timeout": control.lock_timeout,
            "diff": control.diff,
        }
        if control is not None
        else {},
        **settings,
    }
    try:
        data = pack(job)
    except Exception as exc:
        check = getattr(inventory, "check_picklable", None)
        if asked and check is not None:
            try:
                check()  # names the host, the key and where it was set
            except InventoryError as named:
                raise refuse(str(named).split("; sharded runs")[0], InventoryError) from None
        raise refuse(f"the run's inputs cannot be sent to a worker process ({type(exc).__name__}: {exc})") from None
    setup = pack({"path": list(sys.path)})
    return setup, data


class ProcessRun:
    """One run in one worker process. :meth:`pump` starts it and reads it to its end (it
    returns the result, raises the run's error, or raises :class:`Unavailable` when the
    worker could not take the job: nothing was run); :meth:`interrupt` asks the run to stop
    as SIGINT would."""

    def __init__(self, setup: bytes, job: bytes, push: Callable[[Event], None] | None) -> None:
        self._setup, self._job, self._push = setup, job, push
        self.proc: asyncio.subprocess.Process | None = None
        self._asked: int | None = None
        self._sent = False  # the job went: an interrupt may follow it
        self._started = False

    # -- steering ---------------------------------------------------------------------------

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """Interrupt the run (once: later calls do nothing)."""
        if self._asked is not None:
            return
        self._asked = signum
        self._write(b"T" if signum == signal.SIGTERM else b"I")

    def _write(self, data: bytes) -> None:
        proc = self.proc
        if proc is None or not self._sent:  # sent after the job (see pump)
            return
        stdin = proc.stdin
        if stdin is None or stdin.is_closing():
            return
        try:
            stdin.write(data)
        except (ConnectionError, RuntimeError):  # it has ended
            pass

    # -- the run ----------------------------------------------------------------------------

    async def pump(self) -> RunResult:
        loop = asyncio.get_running_loop()
        ended = False
        read_fd, write_fd = os.pipe()
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        try:
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    _BOOT,
                    str(write_fd),
                    root,
                    stdin=asyncio.subprocess.PIPE,
                    pass_fds=(write_fd,),
                    # Its own session: a terminal's Ctrl-C reaches the caller only, whose
                    # cancellation (or handle_signals) decides.
                    start_new_session=True,
                )
            except OSError as exc:
                raise Unavailable(f"cannot start {sys.executable}: {exc.strerror}") from None
            finally:
                os.close(write_fd)
            reader = asyncio.StreamReader(limit=1 << 26)
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
            )
            read_fd = -1
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(self._setup + self._job)
                self._sent, self._job = True, b""
                if self._asked is not None:  # interrupted before the job went
                    self.proc.stdin.write(b"T" if self._asked == signal.SIGTERM else b"I")
                await self.proc.stdin.drain()
                # Young collections only while the result and events are made here (as on
                # the worker thread): a full one would scan every object of the caller's
                # process -- tens of milliseconds at 2,000 hosts -- in the middle of a step.
                with short_collections():
                    return await self._read(reader)
            finally:
                transport.close()
        except (ConnectionError, asyncio.IncompleteReadError):
            ended = True
        finally:
            if read_fd >= 0:
                os.close(read_fd)
            await self._reap()
        assert ended
        raise self._ended()

    async def _read(self, reader: asyncio.StreamReader) -> RunResult:
        hosts: dict[str, HostResult] = {}
        while True:
            header = await reader.readexactly(HEADER.size)
            message = pickle.loads(await reader.readexactly(HEADER.unpack(header)[0]))
            kind = message["type"]
            if message.get("secrets"):  # the worker's, found in operations' arguments
                register_secrets([Secret(text) for text in message["secrets"]])
            if kind == "events":
                if self._push is not None:
                    for event in message["events"]:
                        self._push(event)
            elif kind == "hosts":
                for name, status, ops, error, category, round_trips, seconds, timings in message["hosts"]:
                    hosts[name] = HostResult(
                        name=name,
                        status=status,
                        ops=ops,
                        error=error,
                        error_category=category,
                        round_trips=round_trips,
                        seconds=seconds,
                        timings=MappingProxyType(timings),
                    )
            elif kind == "done":
                return RunResult(
                    hosts=MappingProxyType(hosts),
                    order=message["order"],
                    dry=message["dry"],
                    interrupted=message["interrupted"],
                    stopped=message["stopped"],
                    timings=MappingProxyType(message["timings"]),
                )
            elif kind == "ready":
                self._started = True
            elif kind == "unavailable":
                raise Unavailable(f"the worker process could not take the run: {message['reason']}")
            elif kind == "error":
                raise _error(message)
            # The next message may already be buffered: reading it would not suspend.
            await asyncio.sleep(0)

    def _ended(self) -> BaseException:
        """The worker's messages ended before its result."""
        proc = self.proc
        status = proc.returncode if proc is not None else None
        if not self._started:
            return Unavailable(f"the worker process ended before it started the run (exit status {status})")
        error = OxinfraError(
            f"the run's worker process ended unexpectedly (exit status {status}); its hosts may be "
            "part-way: run it again, or use isolation='thread' to see why"
        )
        error.exit_code = 70  # internal error
        return error

    async def _reap(self) -> None:
        """Wait for the worker to exit (it does once its run ended); kill it if it does not."""
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # EOF: a worker still running interrupts its run
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), EXIT_GRACE)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        except asyncio.CancelledError:
            # The caller's loop is going away (its tasks are cancelled): the worker has its
            # EOF and ends its run on its own; it is not killed mid-way.
            raise


def _error(message: Mapping[str, Any]) -> BaseException:
    """The run's error, raised in the worker, as itself where it can be."""
    blob = message.get("exception")
    if blob is not None:
        try:
            exc = pickle.loads(blob)
        except Exception:
            exc = None
        if isinstance(exc, BaseException):
            if message.get("trace") and hasattr(exc, "add_note"):  # Python 3.11+
                exc.add_note(message["trace"])
            return exc
    error = OxinfraError(f"{message['kind']}: {message['message']}")
    error.exit_code = message.get("exit_code", 70)
    return error
