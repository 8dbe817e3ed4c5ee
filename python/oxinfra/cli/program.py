"""The ``oxinfra`` program (the console script and ``python -m oxinfra``): the CLI, then a
quick exit.

A run leaves every host's operations, plans and results alive until the end; an interpreter
that exits the usual way tears them down one object at a time (about 0.1 s after a
200-host run on a 2-core machine, measured between the exit handlers and the parent
seeing the process end, longer for larger fleets). The program flushes its output, runs the
exit handlers (``atexit``, ``weakref.finalize``: temporary files, worker pools) and ends the
process without that teardown. Only the program does this: code that calls the CLI in
process (click's test runner, an application) keeps the usual ``SystemExit``.
"""

from __future__ import annotations

import atexit
import os
import sys

__all__ = ["program"]


def program() -> None:
    _fill_standard_descriptors()
    from oxinfra.cli import main

    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:  # click in standalone mode always exits; this is not reached
        code = 0
    _quick_exit(code)


def _fill_standard_descriptors() -> None:
    """Point a standard descriptor the program was started without (``oxinfra ... >&-``,
    ``2>&-``) at /dev/null, so that no file or socket opened later (a report, a connection)
    gets descriptor 1 or 2 and receives what is meant for a terminal. Python's own
    ``sys.stdout``/``sys.stderr`` stay as Python made them (None, or a stream whose writes
    fail): the console writes nothing there (oxinfra/cli/console.py)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                return
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _quick_exit(code: object) -> None:
    """What ``sys.exit(code)`` then the interpreter's end would do, minus the teardown."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    # Not CPython, or a profiler is on (``python -m cProfile -o OUT -m oxinfra``: it writes
    # OUT after the program returns): the usual exit.
    if run_handlers is None or sys.getprofile() is not None:
        sys.exit(status)
    # As the interpreter's end: first wait for the threads that are not daemons (a deploy's
    # own, a ThreadPoolExecutor's: threading._register_atexit), then the exit handlers.
    threading = sys.modules.get("threading")
    if threading is not None:
        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            shutdown()
    run_handlers()
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed (oxinfra --version >&-)
            continue
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: as the interpreter does, status 120
            status = status or 120
    os._exit(status)
