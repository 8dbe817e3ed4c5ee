"""Where the CLI's text goes: colour or not, a live status line or not, and a reader that
went away.

- Colour only on a terminal, never when ``NO_COLOR`` is set (to anything but the empty
  string, https://no-color.org) or ``--no-color`` is given; no escape sequence at all when
  the stream is not a terminal (piped, redirected).
- A reader that goes away (``oxinfra ... | head -1``) ends the output, not the run: the first
  write that finds the pipe closed points stdout at /dev/null, nothing more is printed, the
  hosts finish what they were doing and the exit code is the run's own (a deploy is never
  left half-applied because its reader stopped reading). No traceback, no "Exception
  ignored" at exit. A stream the program started without (``>&-``, ``2>&-``) is the same:
  nothing is written to it, the run's exit code stands. So is a stdout that cannot be
  written (a full disk, ``ulimit -f``, an I/O error), with one line on stderr saying so;
  ``fact`` and ``debug-inventory``, whose output is their result, then exit 74
  (:func:`printing`). A stderr that cannot be written is written no more.
- One status line (:meth:`Console.status`) may stand at the bottom of a terminal: lines
  printed meanwhile go above it. It is redrawn by a thread a few times a second, so a run
  whose hosts are quiet still shows its clock move, and the event loop never waits for it.
- The confirmation prompt (:func:`ask_yes_no`) reads the terminal itself: a Ctrl-C always
  ends it at once, also when the signal came a moment before the read began or went to
  another thread (``input()``, which readline serves, then waited for good).
"""

from __future__ import annotations

import errno
import getpass
import os
import re
import select
import shutil
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

from oxinfra.exceptions import DeployError, OxinfraError

__all__ = ["Console", "OutputLost", "ask_password", "ask_yes_no", "color_wanted", "printing", "strip_ansi"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: Redraws of the status line per second at most.
REDRAW_HZ = 5
#: Lines to a pipe or a file are flushed at least this often (seconds).
FLUSH_SECONDS = 0.5
#: How often the prompt looks for a signal that did not interrupt its wait (seconds).
PROMPT_POLL_SECONDS = 0.1


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def color_wanted(stream: Any, no_color: bool = False) -> bool:
    """Colour on ``stream``: a terminal, no ``--no-color``, no (non-empty) ``NO_COLOR``,
    and not ``TERM=dumb``."""
    if no_color or os.environ.get("NO_COLOR", "") != "" or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def _closed_pipe(exc: BaseException) -> bool:
    # EBADF: a descriptor the program started without (``2>&-``) that Python kept a stream for
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.EINVAL, errno.EBADF)
    )


def _write_failed(exc: BaseException) -> str:
    """What a failed write of stdout says on stderr (a closed pipe says nothing)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"oxinfra: stdout: cannot write ({reason}): no more output is shown; the run goes on\n"


class OutputLost(OxinfraError):
    """``fact`` or ``debug-inventory`` could not write its result on stdout (a full disk, a
    file size limit): exit 74 (EX_IOERR)."""

    exit_code = 74  # oxinfra.cli.outcome.OUTPUT_LOST


@contextmanager
def printing() -> Iterator[None]:
    """Around what prints a result on stdout (``fact``, ``debug-inventory``): a closed pipe
    stays BrokenPipeError (exit 141); any other failed write is :class:`OutputLost`, with
    stdout pointed at /dev/null so that nothing buffered fails again at exit."""
    try:
        yield
    except OSError as exc:
        if _closed_pipe(exc):
            raise BrokenPipeError(*exc.args) from None
        silence_stdout()
        reason = exc.strerror or str(exc)
        raise OutputLost(f"stdout: cannot write ({reason}): the output is incomplete") from None


def _fileno(stream: Any) -> int:
    try:
        return int(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return -1


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null: what is still buffered for it, or written later,
    goes nowhere instead of raising BrokenPipeError (at exit too)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


class Console:
    """stdout and stderr of the CLI, as the module docs say."""

    def __init__(self, no_color: bool = False, live: bool = True) -> None:
        self.out_color = color_wanted(sys.stdout, no_color)
        self.err_color = color_wanted(sys.stderr, no_color)
        self.tty = _isatty(sys.stdout)
        #: A status line may be drawn (a terminal that understands erasing a line).
        self.live = live and self.tty and os.environ.get("TERM") != "dumb"
        # stdout's reader went away, or the program started without a stdout (``>&-``)
        self.closed = sys.stdout is None
        #: stderr could not be written (``2>/dev/full``): nothing more is written there
        self.err_closed = sys.stderr is None
        self._lock = threading.RLock()
        self._status: Callable[[], str] | None = None
        self._shown = False  # a status line is on the screen
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._flushed = time.monotonic()

    # -- writing -------------------------------------------------------------------------

    def style(self, text: str, err: bool = False, **styles: Any) -> str:
        return click.style(text, **styles) if (self.err_color if err else self.out_color) else text

    def _write(self, stream: Any, text: str, flush: bool = True) -> None:
        if stream is None or (
            self.err_closed and stream is sys.stderr
        ):  # the program started with that descriptor closed: nowhere to write
            return
        try:
            stream.write(text)
            if flush:
                stream.flush()
        except (OSError, ValueError) as exc:
            # a closed pipe, a full disk, a file size limit, an I/O error: the output stops,
            # never the run (a fleet is not left half-applied because a log could not grow)
            if stream is sys.stderr or _fileno(stream) == 2:
                self.err_closed = True
                return
            if not (stream is sys.stdout or _fileno(stream) == 1):
                raise
            self.closed = True
            self._status = None
            silence_stdout()
            if not _closed_pipe(exc) and not self.err_closed:
                self._write(sys.stderr, _write_failed(exc))

    def line(self, text: str = "", err: bool = False) -> None:
        """One line (or several) on stdout (``err``: stderr), above the status line."""
        if err:
            with self._lock:
                self._clear()
                if not self.closed:  # what stdout holds first, in order where both go to one file
                    self._write(sys.stdout, "", flush=True)
                self._write(sys.stderr, text + "\n")
                self._draw()
            return
        if self.closed:
            return
        with self._lock:
            self._clear()
            now = time.monotonic()
            # a terminal sees each line at once; a pipe or a file gets them in blocks, at
            # least every FLUSH_SECONDS (a log being followed still moves)
            flush = self.tty or now - self._flushed >= FLUSH_SECONDS
            if flush:
                self._flushed = now
            self._write(sys.stdout, text + "\n", flush)
            self._draw()

    def write_raw(self, stream: Any, text: str) -> None:
        """``text`` as it is, on an already open (buffered) stream: the JSON events."""
        if self.closed:
            return
        self._write(stream, text, flush=False)

    def flush(self, stream: Any = None) -> None:
        """Flush stdout (or ``stream``); a reader that went away is no error."""
        if self.closed:
            return
        with self._lock:
            self._write(stream if stream is not None else sys.stdout, "", flush=True)

    # -- the status line -----------------------------------------------------------------

    def status(self, render: Callable[[], str] | None) -> None:
        """Show ``render()`` as the status line, redrawn until ``status(None)``."""
        if not self.live or self.closed:
            return
        with self._lock:
            if render is None:
                self._clear()
                self._status = None
                self._stop.set()
                thread, self._thread = self._thread, None
            else:
                self._status = render
                self._draw()
                thread = None
                if self._thread is None:
                    self._stop = threading.Event()
                    self._thread = threading.Thread(target=self._redraw, args=(self._stop,), daemon=True)
                    self._thread.start()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)

    def _redraw(self, stop: threading.Event) -> None:
        while not stop.wait(1 / REDRAW_HZ):
            with self._lock:
                if self._status is None:
                    return
                self._clear()
                self._draw()

    def _clear(self) -> None:
        if self._shown:
            self._shown = False
            self._write(sys.stdout, "\r\x1b[2K")

    def _draw(self) -> None:
        render = self._status
        if render is None or self.closed:
            return
        try:
            text = render()
        except Exception:  # a status line must never end a run
            return
        width = _width()
        if len(strip_ansi(text)) > width - 1:  # one screen line, or the erase misses a part
            text = strip_ansi(text)[: width - 2] + "…"
        self._write(sys.stdout, text)
        self._shown = True


_WIDTH: list[tuple[float, int]] = []


def _width() -> int:
    """The terminal's width, read at most once a second."""
    now = time.monotonic()
    if _WIDTH and now - _WIDTH[0][0] < 1:
        return _WIDTH[0][1]
    width = shutil.get_terminal_size((80, 24)).columns  # COLUMNS, else the terminal's
    _WIDTH[:] = [(now, width if width >= 20 else 80)]
    return _WIDTH[0][1]


def ask_yes_no(question: str) -> bool:
    """``question [y/N]: `` on stdout, the answer read from stdin (a terminal, in its usual
    line mode): ``y``/``yes`` is True, ``n``/``no`` or an empty line False, anything else
    asks again. Raises EOFError for Ctrl-D (no answer) and KeyboardInterrupt for Ctrl-C,
    also as the bytes a terminal left in raw mode sends for them.

    The wait is a ``select`` with a short timeout, never a blocking read: a SIGINT whose
    handler ran while this thread was not in a system call (just before the wait began, or
    in another thread) only sets Python's flag, which the next return to Python code turns
    into KeyboardInterrupt."""
    fd = sys.stdin.fileno()
    out = sys.stdout if sys.stdout is not None else sys.stderr  # started with ``>&-``
    while True:
        out.write(f"{question} [y/N]: ")
        out.flush()
        while not select.select([fd], [], [], PROMPT_POLL_SECONDS)[0]:
            pass
        data = os.read(fd, 4096)
        if b"\x03" in data:  # a terminal left raw sends Ctrl-C as a byte, not as SIGINT
            raise KeyboardInterrupt
        if not data or b"\x04" in data:  # Ctrl-D at the start of a line (or as a raw byte)
            raise EOFError
        if not data.endswith(b"\n"):  # Ctrl-D after some text: that text is the answer
            out.write("\n")
        answer = data.decode("utf-8", "replace").strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        out.write("Error: invalid input\n")


def _terminal() -> bool:
    """Whether a hidden prompt can be asked: stdin is a terminal, or the process has one
    (``/dev/tty``, where :func:`getpass.getpass` asks when stdin is redirected)."""
    if _isatty(sys.stdin):
        return True
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def ask_password(what: str, option: str, instead: str) -> str:
    """A password asked for by ``option`` (``--ask-sudo-password``): a hidden prompt on the
    terminal; without one, the first line of stdin (``echo "$PW" | oxinfra ...``). No
    terminal and nothing on stdin (``</dev/null``, a CI job) is a DeployError saying how to
    give it (``instead``), exit 2 -- as the confirmation prompt without a terminal; so is
    Ctrl-D at the prompt. Ctrl-C is KeyboardInterrupt (exit 130). "" for an empty answer."""
    if _terminal():
        try:
            return getpass.getpass(f"{what}: ", stream=sys.stderr)
        except EOFError:
            raise DeployError(f"no {what} given ({option}): nothing changed") from None
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line:
        raise DeployError(f"no terminal to ask for the {what} ({option}): give it with {instead} instead")
    return line.rstrip("\r\n")
