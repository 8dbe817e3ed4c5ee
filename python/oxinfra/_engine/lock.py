"""One run at a time per host: a lock on the host, held by the persistent shell.

The lock is taken at the head of the host's first script, so it costs no round trip: before
any fact is read or anything is changed, the shell opens ``/tmp/oxinfra-<host name>.lock``
on file descriptor 9 and ``flock``\\ s it, waiting up to ``--lock-timeout`` seconds (30 by
default) for another run that holds it. A lock held through a file descriptor lives exactly
as long as the shell: it goes when the shell goes -- at the end of the run, when the
connection is lost or aborted, when the controller dies and the shell reads the end of its
input -- so a dead run never blocks the next one for longer than the command it was
running. Operations run with descriptor 9 closed (``9<&-``, see
:func:`oxinfra._engine.script.render_commands`): a daemon an operation starts does not hold
the lock after the run.

The lock is per host *name*: runs reaching one machine under two names are not serialized
(the loopback test fleet, whose hosts are all one machine, relies on this). It is a file in
``/tmp`` shared by every login user (created mode 644): runs as different users serialize too.

Without ``flock(1)``, or with one that has no ``-w`` or ``-E`` (busybox), ``mkdir`` of
``<lock>.d`` is the lock and the shell's pid, in ``<lock>.d/pid``, says who holds it; the
shell removes it when it exits, and a waiter removes a lock whose holder no longer runs
(checked with ``kill -0`` and ``ps -p``). Two waiters breaking the same stale lock at the
same moment are told apart by the pid they saw; three or more at once may not be.

Dry runs take no lock (they change nothing), nor does the connection of a deploy file that
reads facts while it is evaluated; ``@sim`` hosts have nothing to lock.

If the lock cannot be taken the shell reports why in the status of the script's first
section and exits: nothing else of that script runs. The host then fails, naming the lock.
"""

from __future__ import annotations

import hashlib
import re

from oxinfra.exceptions import OxinfraError
from oxinfra.quoting import quote

__all__ = ["HostLockError", "lock_path", "lock_script", "check_lock", "BUSY", "UNUSABLE", "FAILED"]

#: Statuses the lock leaves in the first section (0: taken).
BUSY = 75
UNUSABLE = 76
FAILED = 77


class HostLockError(OxinfraError):
    """The host's lock could not be taken: the host fails (no operation runs)."""


def lock_path(host_name: str) -> str:
    """``/tmp/oxinfra-<name>.lock``, the name made a safe file name (and kept short)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", host_name)
    if len(safe) > 200:
        safe = safe[:150] + "-" + hashlib.sha1(host_name.encode()).hexdigest()[:16]
    return f"/tmp/oxinfra-{safe}.lock"


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def lock_script(path: str, timeout: float) -> str:
    """Shell text that takes the lock at ``path`` (waiting up to ``timeout`` seconds) and
    leaves ``$__ox_k``: 0 when taken, else :data:`BUSY`, :data:`UNUSABLE` or :data:`FAILED`
    (having printed why on stdout). It runs in the persistent shell itself: nothing in it
    may end the shell but the open of descriptor 9, which is checked just before."""
    wait = _seconds(timeout)
    whole = str(int(-(-float(timeout) // 1)))  # whole seconds for the mkdir loop
    flock = f"flock -E {BUSY} -n 9" if float(timeout) == 0 else f"flock -E {BUSY} -w {wait} 9"
    return (
        f"__ox_L={quote(path)}\n"
        "__ox_k=0\n"
        # The fallback: mkdir of <lock>.d, the holder's pid inside.
        "__ox_lkd() {\n"
        '__ox_D="$__ox_L.d"; __ox_w=0\n'
        'while ! mkdir "$__ox_D" 2>/dev/null; do\n'
        '__ox_p=; read -r __ox_p 2>/dev/null < "$__ox_D/pid"\n'
        'if [ -n "$__ox_p" ] && ! kill -0 "$__ox_p" 2>/dev/null && '
        '{ ps -p "$__ox_p" >/dev/null 2>&1; [ $? -eq 1 ]; }; then\n'
        'if mv "$__ox_D" "$__ox_D.$$" 2>/dev/null; then\n'
        '__ox_q=; read -r __ox_q 2>/dev/null < "$__ox_D.$$/pid"\n'
        'if [ "$__ox_q" = "$__ox_p" ]; then rm -rf "$__ox_D.$$" 2>/dev/null; else mv "$__ox_D.$$" "$__ox_D" 2>/dev/null; fi\n'
        "fi\n"
        "continue\n"
        "fi\n"
        f'[ "$__ox_w" -ge {whole} ] && {{ __ox_k={BUSY}; return; }}\n'
        "sleep 1; __ox_w=$((__ox_w + 1))\n"
        "done\n"
        'echo $$ > "$__ox_D/pid" && trap \'rm -rf "$__ox_D"\' EXIT || { rmdir "$__ox_D"; '
        f'__ox_k={FAILED}; echo "cannot write $__ox_D/pid"; }}\n'
        "}\n"
        "if command -v flock >/dev/null 2>&1; then\n"
        '[ -e "$__ox_L" ] || (umask 022 && true >> "$__ox_L") 2>/dev/null\n'
        'if [ -f "$__ox_L" ] && [ -r "$__ox_L" ]; then\n'
        'exec 9<"$__ox_L"\n'
        # -E: a timeout exits BUSY; any other failure (a flock without -E or -w: busybox,
        # util-linux before 2.26) falls back to the mkdir lock. No command substitution: one
        # process (flock) per host and run, not two.
        f"if {flock} </dev/null 2>/dev/null; then :; else\n"
        f'__ox_k=$?; [ "$__ox_k" = {BUSY} ] || {{ __ox_k=0; __ox_lkd; }}\n'
        "fi\n"
        f"else __ox_k={UNUSABLE}; fi\n"
        "else __ox_lkd; fi\n"
    )


def check_lock(status: int | None, output: bytes, path: str, timeout: float, host: str) -> None:
    """Raise :class:`HostLockError` unless the first section's ``status`` says the lock was taken."""
    if status == 0:
        return
    if status == BUSY:
        raise HostLockError(
            f"{host}: another run holds this host's lock {path} (or {path}.d); waited "
            f"{_seconds(timeout)} s (--lock-timeout)"
        )
    if status == UNUSABLE:
        raise HostLockError(
            f"{host}: cannot open the host lock {path} (not a readable regular file: another "
            "user's, with mode 600?): fix or remove it, or run with --no-host-lock"
        )
    why = output.decode("utf-8", "replace").strip().splitlines()
    raise HostLockError(f"{host}: cannot take the host lock {path}: {why[-1] if why else f'status {status}'}")
