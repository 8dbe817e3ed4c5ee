"""``--diff``: what an operation changes in files, as text (a unified diff per file).

Operations say, while planned, what a file holds before and after their commands
(:func:`oxinfra.api.effects.content_change`; the content before is ``files.DiffContent``,
read in the operation's own batch of facts, or what an earlier operation of the plan
writes). This module turns that into the text an operation's record and event carry in
``diff``: per file, a unified diff (``--- a/PATH`` / ``+++ b/PATH``, 3 lines of context;
``--- /dev/null`` for a new file) or one line starting ``# PATH: `` when the content is not
shown as a diff:

- ``# PATH: new file`` before the diff of a new file (``new file (empty)``: no diff);
- binary content (not UTF-8, or a NUL byte): ``binary file, 1,234 -> 2,345 bytes, sha256
  1a2b3c4d5e6f -> ...``;
- more than :data:`oxinfra.facts.files.DIFF_LIMIT` bytes either side: ``large file, ...:
  not diffed``;
- ``content change not predicted: sed expression`` (the operation cannot tell the content
  after exactly), ``content before not known: ...``;
- ``content not shown (_sensitive)`` / ``(its arguments hold a secret)``: an operation run
  with ``_sensitive=True``, or given a :class:`~oxinfra.api.Secret` (or a value under a
  secret-looking key) among its arguments, shows no content, no size and no checksum;
- in a hunk that writes a line holding one of the run's secrets (a template rendering
  ``host.data.db_password``), the lines it replaces are shown as ``-[a line replaced by one
  holding a secret: not shown]``: masking hides the new secret, not the old one;
- ``mode 644 -> 600``: an operation that changes only a file's mode or owner.

Text is masked where it is shown like every other text (the secrets' texts are ``***``:
:class:`oxinfra._secrets.Redactor`); a secret the deploy transformed (a template that
base64-encodes it) is not recognised there: such operations should be ``_sensitive``.
"""

from __future__ import annotations

import difflib
import hashlib
from functools import lru_cache
from typing import Any

from oxinfra._secrets import secret_values
from oxinfra.api.effects import NOTE
from oxinfra.facts._fileproto import DIFF_LIMIT

__all__ = ["render_diffs", "hidden_reason", "CONTEXT_LINES"]

#: Lines of context around each change.
CONTEXT_LINES = 3


def hidden_reason(op: Any) -> str | None:
    """Why ``op``'s file contents must not be shown (None: they may be, masked)."""
    if op.globals.sensitive:
        return "_sensitive"
    if secret_values([op.args, op.kwargs], set()):
        return "its arguments hold a secret"
    return None


def render_diffs(
    entries: list[tuple[str, Any, bytes | None, str | None]], hidden: str | None, redactor: Any = None
) -> str:
    """The ``diff`` text of an operation's entries (see the module docs); "" when none
    changes anything that can be shown. With the run's ``redactor``: in a hunk where a line
    written holds a secret, the lines it replaces are not shown either (masking hides the
    new secret, not the old one it replaces: a rotated password, read from the host)."""
    text = "".join(_one(path, before, after, note, hidden) for path, before, after, note in entries)
    if redactor and "\n-" in text:
        text = _hide_replaced(text, redactor)
    return text


#: What a removed line of a hunk that writes a secret is shown as.
REPLACED = "-[a line replaced by one holding a secret: not shown]\n"


def _hide_replaced(text: str, redactor: Any) -> str:
    """``text`` with the removed lines of every hunk that adds a line holding a secret
    shown as :data:`REPLACED`."""
    out: list[str] = []
    hunk: list[str] = []

    def flush() -> None:
        if any(line.startswith("+") and redactor.text(line) != line for line in hunk):
            hunk[:] = [REPLACED if line.startswith("-") else line for line in hunk]
        out.extend(hunk)
        hunk.clear()

    for line in text.splitlines(keepends=True):
        if line.startswith(("@@", "--- ", "+++ ", "# ")):
            flush()
            out.append(line)
        else:
            hunk.append(line)
    flush()
    return "".join(out)


def _shown_path(path: str) -> str:
    """A path as a diff header names it: control characters (a newline would start a forged
    line) written as escapes, in double quotes as git writes such names."""
    if any(ord(c) < 32 or ord(c) == 127 for c in path) or path.startswith('"'):
        escaped = path.encode("unicode_escape", "backslashreplace").decode("ascii").replace('"', '\\"')
        return f'"{escaped}"'
    return path


def _size(data: bytes) -> str:
    if len(data) > DIFF_LIMIT:
        return f"more than {DIFF_LIMIT:,}"
    return f"{len(data):,}"


def _text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _one(path: str, before: Any, after: bytes | None, note: str | None, hidden: str | None) -> str:
    name = _shown_path(path)
    head = f"# {name}: "
    if before is NOTE:
        return head + note + "\n" if note else ""
    new = before is None
    if hidden is not None:
        if new:
            return head + f"new file, content not shown ({hidden})\n"
        return head + f"content changed, not shown ({hidden})\n"
    if not new and not isinstance(before, bytes):
        return head + f"content before not known ({before}): not diffed\n"
    if after is None:
        if not new and len(before) > DIFF_LIMIT:
            return head + f"large file, more than {DIFF_LIMIT:,} bytes: not diffed\n"
        return head + ("new file, " if new else "") + f"content change not predicted: {note or 'unknown'}\n"
    if before == after:
        return ""
    old = b"" if new else before
    if len(old) > DIFF_LIMIT or len(after) > DIFF_LIMIT:
        # the content before is read up to the limit; the content after is known whole
        sizes = f"{len(after):,} bytes" if new else f"{_size(old)} -> {len(after):,} bytes"
        return head + ("new " if new else "") + f"large file, {sizes}: not diffed\n"
    if new and not after:
        return head + "new file (empty)\n"
    return _diff(name, None if new else old, after)


@lru_cache(maxsize=64)
def _diff(name: str, old: bytes | None, new: bytes) -> str:
    """The diff of one file (cached: hosts of a fleet make the same change)."""
    head = f"# {name}: "
    a, b = _text(old or b""), _text(new)
    if a is None or b is None:
        digest = hashlib.sha256(new).hexdigest()[:12]
        if old is None:
            return head + f"new binary file, {len(new):,} bytes, sha256 {digest}\n"
        was = hashlib.sha256(old).hexdigest()[:12]
        return head + f"binary file, {len(old):,} -> {len(new):,} bytes, sha256 {was} -> {digest}\n"
    source = "/dev/null" if old is None else "a" + name if name.startswith("/") else "a/" + name
    target = "b" + name if name.startswith("/") else "b/" + name
    lines = difflib.unified_diff(_lines(a), _lines(b), source, target, n=CONTEXT_LINES)
    out = [head + "new file\n"] if old is None else []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    """Lines with their newline (the last one may have none); only ``\\n`` ends a line."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
