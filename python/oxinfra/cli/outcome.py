"""The exit code of a run, from how its hosts ended.

=====  ======================================================================================
code   meaning
=====  ======================================================================================
0      every host succeeded (or there was nothing to do)
1      some host failed: an operation failed, the host lock could not be taken, or the
       deploy code read a fact that failed there
2      bad input or usage: a missing file, a deploy error, a bad option, an inventory or
       ``--limit`` error, an unusable ``--retry-failed`` state -- nothing ran on any host
4      some host was unreachable (connect or transport error, ``--host-timeout``,
       ``--round-trip-timeout``) and none failed
70     internal error: a host's output could not be parsed (host status ``error``) or
       oxinfra itself failed; the message says what
74     ``fact`` or ``debug-inventory`` could not write its result on stdout (a full disk, a
       file size limit: EX_IOERR)
130    interrupted (SIGINT or SIGTERM): no new work was sent, remote work was ended and the
       partial summary printed
141    stdout was closed while ``fact`` or ``debug-inventory`` printed (128 + SIGPIPE, as a
       shell reports a program a closed pipe ended)
=====  ======================================================================================

When several apply, the first of 130, 70, 1, 4 wins. A deploy or ``exec`` whose stdout is
closed (``oxinfra ... | head -1``) goes on quietly -- hosts are not left half-done because a
reader stopped reading -- and exits with its own code; so does one whose stdout cannot be
written (a full disk, ``ulimit -f``), after one line on stderr saying so.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OK",
    "FAILED",
    "USAGE",
    "UNREACHABLE",
    "INTERNAL",
    "OUTPUT_LOST",
    "INTERRUPTED",
    "CLOSED_PIPE",
    "exit_code",
    "HELP",
]

OK = 0
FAILED = 1
USAGE = 2
UNREACHABLE = 4
INTERNAL = 70
OUTPUT_LOST = 74
INTERRUPTED = 130
CLOSED_PIPE = 141

#: The exit codes as ``oxinfra --help`` lists them.
HELP = (
    "Exit codes: 0 every host succeeded; 1 some host failed; 2 bad input or usage (nothing ran); "
    "4 some host unreachable (or timed out) and none failed; 70 internal error (a host's output "
    "could not be parsed, or a bug); 74 facts or the inventory could not be written on stdout "
    "(a full disk); 130 interrupted (SIGINT/SIGTERM); 141 stdout closed while facts or the "
    "inventory were printed (a run whose stdout closes or cannot be written goes on quietly and "
    "exits with its own code). When several apply, the first of 130, 70, 1, 4 wins."
)


def exit_code(result: Any) -> int:
    """The exit code of a finished (or interrupted) run."""
    if getattr(result, "interrupted", False):
        return INTERRUPTED
    statuses = {host.status for host in result.hosts.values()}
    if "error" in statuses:
        return INTERNAL
    if "failed" in statuses:
        return FAILED
    if "unreachable" in statuses:
        return UNREACHABLE
    if statuses - {"success"}:  # stopped or not started with no cause left: report it as failed
        return FAILED
    return OK
