"""The one quoting helper: every value that reaches a shell goes through :func:`quote`.

Operations build commands from fixed text and quoted values only::

    >>> from oxinfra.quoting import quote, command
    >>> quote("it's $(here)")
    "'it'\\\\''s $(here)'"
    >>> command("mkdir", "-p", "--", "/tmp/a b")
    "mkdir -p -- '/tmp/a b'"

A value is single-quoted unless it consists only of characters that are never special
to a POSIX shell. Single quotes inside are written as ``'\\''``. NUL bytes cannot be
passed to a shell at all and are rejected.
"""

from __future__ import annotations

import re

__all__ = ["quote", "quote_interpolated", "command", "QuotingError"]

_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


class QuotingError(ValueError):
    """A value cannot be represented in a shell command (it contains a NUL byte)."""


def quote(value: object) -> str:
    """Return ``value`` as one shell word that the shell reads back literally."""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise QuotingError(f"a shell argument cannot contain a NUL byte: {text!r}")
    if text and _SAFE.match(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def command(program: str, *args: object) -> str:
    """Join a fixed program word with quoted arguments into one command line.

    ``program`` is written as is (it is code, never data); every argument is quoted.
    """
    return " ".join([program, *(quote(a) for a in args)])


def quote_interpolated(value: str) -> str:
    """Double-quote ``value`` so the shell expands ``$VARIABLES`` in it but nothing else.

    Backslashes, double quotes and backticks are escaped; ``$(...)`` is escaped too, so only
    plain variable references expand. Used where an argument asks for interpolation
    (``interpolate_variables=True``).
    """
    if "\x00" in value:
        raise QuotingError(f"a shell argument cannot contain a NUL byte: {value!r}")
    out = []
    for i, ch in enumerate(value):
        if ch in '\\"`':
            out.append("\\" + ch)
        elif ch == "$" and value[i + 1 : i + 2] == "(":
            out.append("\\$")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
