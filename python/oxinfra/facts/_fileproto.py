"""What the file facts and the engine's batched file checks agree on: the ``stat`` format
they parse, the shell text that proves a path absent, and how much of a file ``--diff``
reads. A leaf: it imports nothing of oxinfra, so the engine (``_engine/script.py``,
``_engine/diff.py``) reads these without importing the facts (and, through them, the author
API)."""

from __future__ import annotations

__all__ = ["DIFF_LIMIT", "GUARD_STAT_FORMAT", "STAT_FORMAT", "absent_proof", "without_atime"]

#: What ``stat -c`` prints for a path: type, owner, group, mode, size, atime, mtime, ctime.
STAT_FORMAT = "%F|%U|%G|%a|%s|%X|%Y|%Z"

#: What a guard reads of a path again before an operation planned from it runs: the same
#: fields, the access time left out (``-``). A mere read moves the atime (relatime: the first
#: read after each change), so a ``sha1sum`` of the facts round or a ``cat`` in a shell
#: command would otherwise make every plan read from that path stale.
GUARD_STAT_FORMAT = "%F|%U|%G|%a|%s|-|%Y|%Z"


def without_atime(stdout: bytes) -> bytes:
    """``STAT_FORMAT`` output as ``GUARD_STAT_FORMAT`` prints it: the atime of its first line
    (the fourth field from the right: owner and group names come before it) replaced by
    ``-``; anything else (a link's target line, no output) as it is."""
    line, sep, rest = stdout.partition(b"\n")
    fields = line.rsplit(b"|", 3)
    if len(fields) != 4 or not fields[1].lstrip(b"-").isdigit():  # before 1970: negative
        return stdout
    head, _atime, mtime, ctime = fields
    return b"|".join((head, b"-", mtime, ctime)) + sep + rest


#: ``files.DiffContent`` reads at most this many bytes of a file (and one more, which tells
#: that there are more): ``--diff`` summarises a file larger than this instead of diffing it.
DIFF_LIMIT = 1 << 20


def absent_proof(var: str) -> str:
    """Shell text that succeeds only if it proves absent the path in ``$var``, a path that is
    neither ``-e`` nor ``-L``: its nearest existing ancestor (climbing by ``${var%/*}`` up to
    ``/``, or ``.`` for a relative path) is a directory we may search, so nothing is hidden
    there. Anything else -- an ancestor that is not a directory (ENOTDIR), a loop (ELOOP), one
    we may not search (EACCES) -- leaves "absent" unproven. Shell builtins only (no process);
    sets ``$var`` and ``__ox_b``."""
    v = f'"${var}"'
    return (
        f'while :; do __ox_b=${{{var}%/*}}; [ "$__ox_b" != {v} ] || __ox_b=.; [ -n "$__ox_b" ] || __ox_b=/; '
        f'[ "$__ox_b" != {v} ] || break; {var}=$__ox_b; ! [ -e {v} ] && ! [ -L {v} ] || break; done; '
        f"[ -d {v} ] && [ -x {v} ]"
    )
