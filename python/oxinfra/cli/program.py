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
    from oxinfra.cli import main

    try:
        main()
    except SystemExit as exc:
        code = exc.code
    else:  # click in standalone mode always exits; this is not reached
        code = 0
    _quick_exit(code)


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
    if run_handlers is None:  # not CPython: the usual exit
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
