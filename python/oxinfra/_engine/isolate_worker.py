"""The worker process of :func:`oxinfra.api.run_async` (see :mod:`oxinfra._engine.isolate`).

Started as ``python -c <boot> FD ROOT``: it reads its setup (the caller's ``sys.path``) and the
job from stdin, runs the run exactly as the worker thread would (:func:`oxinfra._engine.embed.
_engine`: the same checks, the same engine, the same typed results), and writes its messages
to FD: ``ready`` once the job is loaded, ``events`` in batches as the run goes, then either
``error`` or the result as ``hosts`` chunks and ``done``. Reading stdin goes on during the
run: a byte interrupts the run (``I`` as SIGINT, ``T`` as SIGTERM), and so does its end (the
caller went away). SIGINT/SIGTERM sent to this process interrupt it as the CLI's do (a second
one exits at once).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
import traceback
from typing import Any, BinaryIO

from oxinfra._engine.isolate import EVENTS_PER_MESSAGE, HEADER, OPS_PER_MESSAGE, pack
from oxinfra._secrets import registered_secrets
from oxinfra.api.results import Event, RunResult, event_from_json
from oxinfra.exceptions import OxinfraError

__all__ = ["main"]


class _Channel:
    """The messages to the parent. A parent that went away (a broken pipe) ends the sending,
    not the run: the run is interrupted (stdin's end says so too) and ends its hosts."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.closed = False
        self._secrets = 0

    def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        new = registered_secrets(self._secrets)
        if new:  # the parent registers them too (what it shows masks them)
            message = {**message, "secrets": new}
            self._secrets += len(new)
        try:
            self.out.write(pack(message))
            self.out.flush()
        except OSError:  # BrokenPipeError: nobody reads
            self.closed = True


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd``, unbuffered (what follows the job stays in the pipe for the
    run's stdin reader)."""
    parts, left = [], size
    while left:
        part = os.read(fd, left)
        if not part:
            raise EOFError("the parent closed the pipe before the job was sent")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_message(fd: int) -> Any:
    return pickle.loads(_read_exactly(fd, HEADER.unpack(_read_exactly(fd, HEADER.size))[0]))


async def _work(job: dict[str, Any], channel: _Channel) -> None:
    from oxinfra._engine.control import RunControl
    from oxinfra._engine.embed import _engine

    loop = asyncio.get_running_loop()
    control = RunControl(handle_signals=True, **job["control"])
    asked: list[int] = []

    def on_stdin() -> None:
        try:
            data = os.read(0, 64)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
        if asked:  # once: a second interrupt would exit at once (the parent sends a signal for that)
            return
        asked.append(signal.SIGTERM if data[:1] == b"T" else signal.SIGINT)
        control.interrupt(asked[0])

    loop.add_reader(0, on_stdin)
    batch: list[Event] = []

    def flush() -> None:
        if batch:
            channel.send({"type": "events", "events": list(batch)})
            batch.clear()
        if channel.closed and not asked:  # the parent is gone: stop the run
            asked.append(signal.SIGINT)
            control.interrupt(signal.SIGINT)

    def sink(event: dict[str, Any]) -> None:
        typed = event_from_json(event)
        if typed is None:
            return
        batch.append(typed)
        if len(batch) == 1:
            loop.call_soon(flush)  # the events of this turn of the loop, together
        elif len(batch) >= EVENTS_PER_MESSAGE:
            flush()

    try:
        result = await _engine(
            job["inventory"],
            job["deploy"],
            job["dry"],
            job["parallel"],
            sink if job["events"] else None,
            job["exec_command"],
            job["shards"],
            job["global_args"],
            control,
            job["limit"],
        )
    except BaseException as exc:  # raised in the parent, as the worker thread's would be
        flush()
        channel.send(_error(exc, control.redactor))
        return
    finally:
        loop.remove_reader(0)
    flush()
    _send_result(result, channel)


def _error(exc: BaseException, redactor: Any = None) -> dict[str, Any]:
    """The run's error as the parent raises it: the exception itself, pickled, where it can be
    (a bug, not an oxinfra error, brings its traceback along as a note). The run masked the
    secrets in it (:func:`oxinfra._engine.masking.mask_exception`); ``redactor`` (the run's)
    masks them in the texts made of it here."""
    blob: bytes | None = None
    try:
        data = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)  # an exception whose __init__ takes other arguments does not come back
        blob = data
    except Exception:
        pass
    trace = None
    if not isinstance(exc, OxinfraError):
        trace = "in the run's worker process:\n" + "".join(traceback.format_exception(exc)).rstrip()
    message = str(exc)
    if redactor:
        message = redactor.text(message)
        trace = redactor.text(trace) if trace is not None else None
    return {
        "type": "error",
        "exception": blob,
        "kind": type(exc).__name__,
        "message": message,
        "exit_code": getattr(exc, "exit_code", 70),
        "trace": trace,
    }


def _send_result(result: RunResult, channel: _Channel) -> None:
    """The typed result, in chunks the parent can take one per turn of its loop."""
    chunk: list[tuple[Any, ...]] = []
    size = 0
    for host in result.hosts.values():
        chunk.append(
            (
                host.name,
                host.status,
                host.ops,
                host.error,
                host.error_category,
                host.round_trips,
                host.seconds,
                dict(host.timings),
            )
        )
        size += len(host.ops) + 1
        if size >= OPS_PER_MESSAGE:
            channel.send({"type": "hosts", "hosts": chunk})
            chunk, size = [], 0
    if chunk:
        channel.send({"type": "hosts", "hosts": chunk})
    channel.send(
        {
            "type": "done",
            "order": result.order,
            "dry": result.dry,
            "interrupted": result.interrupted,
            "stopped": result.stopped,
            "timings": dict(result.timings),
        }
    )


def main() -> None:
    fd = int(sys.argv[1])
    os.set_inheritable(fd, False)  # not for the commands and workers this run starts
    channel = _Channel(os.fdopen(fd, "wb"))
    try:
        setup = _read_message(0)
        sys.path[:] = setup["path"] + [p for p in sys.path[:1] if p not in setup["path"]]  # [0]: this oxinfra
        job = _read_message(0)  # may import modules: a deploy function's, an inventory data class's
    except Exception as exc:
        channel.send({"type": "unavailable", "reason": f"{type(exc).__name__}: {exc}"})
        return
    channel.send({"type": "ready"})
    asyncio.run(_work(job, channel))
    # The parent waits for this process to exit before it returns the result: skip freeing
    # the run's objects one by one (as multiprocessing's children do).
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)
