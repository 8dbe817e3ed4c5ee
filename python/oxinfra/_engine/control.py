"""Run control: the limits every host keeps to, when a run stops starting hosts, and what an
interrupt does. One :class:`RunControl` per run (per worker process in a sharded run).

- ``host_timeout``: a whole-host deadline, from when the host starts connecting (after it
  got a handshake slot) to its end. A host past it ends ``unreachable``: "host timeout
  after N s at <operation>".
- ``round_trip_timeout``: how long one script may go without its answer (a host that stalls
  after connecting: a command that never ends, a shell that stopped reading). A host past it
  ends ``unreachable``: "no answer within N s at <operation>".
- ``fail_percent``: once more than this percentage of the run's hosts ended ``failed``,
  ``unreachable`` or ``error``, no new host starts (the rest are ``not started``); a host
  already running finishes the script it is running (never cut in the middle) and sends no
  further script (``stopped``, the operations after it ``not run``).
- an interrupt (SIGINT, SIGTERM; :meth:`interrupt`): no new host starts, no host sends
  another script, every host's running script is ended on the host (the connector kills
  the shell's process group, :meth:`oxinfra.connectors.base.Connection.abort`) and the
  host ends ``interrupted`` at the operation it was at (``not started`` when nothing had
  been sent to it). A second signal exits at once (status 130).
- ``lock_timeout``: how long a run waits for another run's lock on a host
  (:mod:`oxinfra._engine.lock`).
- ``start_timeout``: how long a host's shell may take to answer the first script it is sent
  (its first marker; the lock wait comes on top). A shell that never answers -- a login
  script (``~/.bashrc``, ``~/.profile``) that reads its input or waits, a ``ForceCommand`` --
  ends the host ``unreachable`` instead of holding the run forever; later scripts have only
  ``round_trip_timeout`` (none by default: a long command is not a fault).
- ``diff``: show what operations change in files (``--diff``): operations that write files
  also read what the files hold, in the batch of facts they read anyway, and each
  operation's record and event carry the change as a unified diff (:mod:`oxinfra._engine.diff`).

A host that ended for any of these had its connection aborted, not closed: see
:meth:`oxinfra.connectors.base.Connection.abort`.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time
from typing import Any, Callable

from oxinfra.exceptions import ConnectError, DeployError, OxinfraError

__all__ = [
    "RunControl",
    "TimedOut",
    "Interrupted",
    "Stopped",
    "DEFAULT_LOCK_TIMEOUT",
    "DEFAULT_START_TIMEOUT",
    "BAD_STATUSES",
    "uncancel",
]

#: Seconds a run waits for another run's lock on a host, unless ``--lock-timeout`` says.
DEFAULT_LOCK_TIMEOUT = 30.0
#: Seconds a shell may take to answer its first script (see ``start_timeout``).
DEFAULT_START_TIMEOUT = 60.0
#: Host statuses that count against ``fail_percent``.
BAD_STATUSES = frozenset({"failed", "unreachable", "error"})


class TimedOut(ConnectError):
    """A host went past ``host_timeout`` or ``round_trip_timeout``: it ends unreachable."""


class Interrupted(ConnectError):
    """The run was interrupted while this host waited for an answer (``partial``: what it
    printed before)."""


class Stopped(OxinfraError):
    """The run stopped starting work (``--fail-percent``, an interrupt) before this host sent
    its next script."""


def uncancel() -> None:
    """A host task that turned its cancellation (an interrupt) into its own outcome goes on
    as not cancelled (Python 3.11+ counts cancellations)."""
    task = asyncio.current_task()
    undo = getattr(task, "uncancel", None)
    if undo is not None:
        undo()


def _number(name: str, value: object, what: str, valid: Callable[[float], bool]) -> None:
    """``RunControl(name=value)``'s value checked: None, or a finite number that is
    ``valid``; else DeployError (exit 2) naming the argument."""
    if value is None:
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and valid(value)):  # type: ignore[arg-type]
        raise DeployError(f"RunControl({name}={value!r}): takes None or {what}")


class RunControl:
    def __init__(
        self,
        *,
        fail_percent: float | None = None,
        host_timeout: float | None = None,
        round_trip_timeout: float | None = None,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
        start_timeout: float | None = DEFAULT_START_TIMEOUT,
        handle_signals: bool = False,
        keep_details: bool = False,
        diff: bool = False,
    ) -> None:
        _number("fail_percent", fail_percent, "a percentage from 0 to 100", lambda v: 0 <= v <= 100)
        timeouts = (("host_timeout", host_timeout), ("round_trip_timeout", round_trip_timeout))
        for name, value in (*timeouts, ("start_timeout", start_timeout)):
            _number(name, value, "a number of seconds above 0", lambda v: v > 0)
        _number("lock_timeout", lock_timeout, "a number of seconds, 0 or more", lambda v: v >= 0)
        for name, flag in (("handle_signals", handle_signals), ("keep_details", keep_details), ("diff", diff)):
            if not isinstance(flag, bool):
                raise DeployError(f"RunControl({name}={flag!r}): takes True or False")
        self.fail_percent = fail_percent
        self.host_timeout = host_timeout
        self.round_trip_timeout = round_trip_timeout
        #: None: take no host lock (``--no-host-lock``).
        self.lock_timeout = lock_timeout
        #: None: no limit on the first answer.
        self.start_timeout = start_timeout
        #: Install SIGINT/SIGTERM handlers while the run goes (the CLI does; a library caller
        #: keeps its own handlers unless it asks).
        self.handle_signals = handle_signals
        #: Keep each operation's commands (as shown: masked when sensitive), the output of
        #: outcomes that did not fail and when each was known, on the host's result (the
        #: library's typed results, :mod:`oxinfra.api.results`; the CLI does not need them).
        self.keep_details = keep_details
        #: ``--diff`` (see the module docs).
        self.diff = diff
        #: The run shares its process with an application's event loop (the library's
        #: ``run_async`` runs it on a worker thread): keep every pause of the interpreter
        #: short (:func:`oxinfra._collect.short_collections` instead of fewer, longer
        #: collections that hold every thread for tens of milliseconds at 1,000 hosts).
        self.cooperative = False
        self.hosts = 0
        self.bad = 0
        #: Why no new host starts (None: hosts start).
        self.stopping: str | None = None
        self.interrupted: str | None = None  # the signal's name
        self.running: set[asyncio.Task[Any]] = set()
        #: What the run does on an interrupt besides cancelling its hosts (a sharded run
        #: passes the signal on to its workers).
        self.on_interrupt: list[Callable[[int], None]] = []
        self.sink: Callable[[dict[str, Any]], None] | None = None
        #: The run's :class:`~oxinfra._secrets.Redactor` (set when the run starts:
        #: :func:`oxinfra._engine.masking.run_redactor`): what every record, event, result and
        #: error of the run is masked with.
        self.redactor: Any = None

    def settings(self) -> dict[str, Any]:
        """What a worker process needs to build its own control (no fail_percent: a sharded run
        with one is not started, see :func:`oxinfra._engine.run.run_async`)."""
        return {
            "host_timeout": self.host_timeout,
            "round_trip_timeout": self.round_trip_timeout,
            "lock_timeout": self.lock_timeout,
            "start_timeout": self.start_timeout,
            "handle_signals": True,
            "diff": self.diff,
        }

    # -- starting hosts --------------------------------------------------------------------

    @property
    def may_start(self) -> bool:
        return self.stopping is None and self.interrupted is None

    def host_ended(self, status: str) -> None:
        """Count a host's end; past ``fail_percent``, stop starting hosts (and say so once)."""
        if status not in BAD_STATUSES:
            return
        self.bad += 1
        limit = self.fail_percent
        if limit is None or self.stopping is not None or not self.hosts:
            return
        if self.bad * 100 > limit * self.hosts:
            self.stopping = (
                f"{self.bad} of {self.hosts} hosts failed or were unreachable, more than "
                f"--fail-percent {limit:g}: no new host starts, running hosts stop after "
                "their current script"
            )
            self._emit({"event": "stopping", "reason": self.stopping, "failed": self.bad, "hosts": self.hosts})

    # -- deadlines -------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """The host deadline for a host starting now (monotonic clock), or None."""
        return time.monotonic() + self.host_timeout if self.host_timeout is not None else None

    def round_trip_budget(self, deadline: float | None, extra: float = 0.0) -> float | None:
        """How long the next round trip may take: the round-trip timeout (plus ``extra``: a
        lock wait), or what is left of the host's deadline, whichever is shorter (None: no
        limit)."""
        budget = None if self.round_trip_timeout is None else self.round_trip_timeout + extra
        if deadline is not None:
            left = max(0.0, deadline - time.monotonic())
            budget = left if budget is None else min(budget, left)
        return budget

    def timed_out(self, deadline: float | None, exc: BaseException) -> TimedOut:
        """The error of a host whose wait ran out (``exc``: the transport's timeout)."""
        if deadline is not None and time.monotonic() >= deadline - 0.05:
            return TimedOut(f"host timeout after {self.host_timeout:g} s")
        return TimedOut(f"no answer within {self.round_trip_timeout:g} s (--round-trip-timeout)")

    async def first_answer(
        self,
        shell: Any,
        script: bytes,
        done: bytes,
        nonce: str,
        start: float | None,
        budget: float | None,
        out: Any,
        err: Any,
    ) -> tuple[bytes, bytes]:
        """One round trip (``shell.run`` until ``done``); with ``start`` (a host's first:
        ``start_timeout`` and the lock wait) the shell must print its first marker of
        ``nonce`` within that many seconds."""
        if start is None:
            answer: tuple[bytes, bytes] = await shell.run(script, done, budget, out, err)
            return answer
        watch = FirstMarker(out, nonce)
        run = asyncio.ensure_future(shell.run(script, done, budget, watch, err))
        seen = asyncio.ensure_future(watch.seen.wait())
        try:
            await asyncio.wait({run, seen}, timeout=start, return_when=asyncio.FIRST_COMPLETED)
        finally:
            seen.cancel()
        if not run.done() and not watch.seen.is_set():
            run.cancel()
            try:
                await run
            except (asyncio.CancelledError, Exception):
                pass
            error = TimedOut(
                f"the remote shell did not start the first script within {start:g} s (a login script such as "
                "~/.bashrc or ~/.profile that reads its input or waits, or a ForceCommand?)"
            )
            error.partial = out.value()
            error.reader = out
            raise error
        output: tuple[bytes, bytes] = await run
        return output

    async def within(self, deadline: float | None, awaitable: Any) -> Any:
        """Await ``awaitable`` within what is left of the host's deadline."""
        if deadline is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError as exc:
            raise self.timed_out(deadline, exc) from None

    # -- interrupts ------------------------------------------------------------------------

    def interrupt(self, signum: int = signal.SIGINT) -> None:
        """Stop the run: no new host, no new script; running scripts are ended on their hosts."""
        name = signal.Signals(signum).name
        if self.interrupted is not None:  # a second signal: do not wait for anything
            self._emit({"event": "interrupted", "signal": name, "again": True})
            os._exit(130)
        self.interrupted = name
        self._emit({"event": "interrupted", "signal": name, "running": len(self.running)})
        for task in list(self.running):
            task.cancel()
        for forward in self.on_interrupt:
            forward(signum)

    def install(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """SIGINT and SIGTERM handlers for the run (when asked); returns what removes them."""
        if not self.handle_signals:
            return lambda: None
        installed = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.interrupt, signum)
                installed.append(signum)
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                pass

        def remove() -> None:
            for signum in installed:
                loop.remove_signal_handler(signum)

        return remove

    def _emit(self, event: dict[str, Any]) -> None:
        if self.sink is not None:
            self.sink(event)


class FirstMarker:
    """A stream of a round trip (``CappedStream``, ``Collect``) passed on, watched for the
    first marker of the run's ``nonce``: ``seen`` is set once the shell printed one."""

    def __init__(self, sink: Any, nonce: str) -> None:
        self.sink = sink
        self.prefix = f"\n@@OX-{nonce}:".encode()
        self.tail = b""
        self.seen = asyncio.Event()

    def feed(self, chunk: bytes) -> bool:
        if not self.seen.is_set():
            data = self.tail + chunk
            if self.prefix in data:
                self.seen.set()
            self.tail = data[-len(self.prefix) :]
        done: bool = self.sink.feed(chunk)
        return done

    def value(self) -> bytes:
        value: bytes = self.sink.value()
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)
