"""What the file facts and the engine's batched file checks agree on: the ``stat`` format
they parse, the shell text that proves a path absent, and how much of a file ``--diff``
reads. A leaf: it imports nothing of oxinfra, so the engine (``_engine/script.py``,
``_engine/diff.py``) reads these without importing the facts (and, through them, the author
API)."""

from __future__ import annotations

__all__ = ["DIFF_LIMIT", "STAT_FORMAT", "absent_proof"]

#: What ``stat -c`` prints for a path: type, owner, group, mode, size, atime, mtime, ctime.
STAT_FORMAT = "%F|%U|%G|%a|%s|%X|%Y|%Z"

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
