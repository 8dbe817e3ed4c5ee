"""Shell patterns as the simulator matches them: the WORD of ``${NAME%WORD}``, ``%%``, ``#``
and ``##`` made a regular expression, as dash reads it (quotes, backslashes, ``$NAME``,
``*``, ``?`` and bracket expressions with ``[:class:]``)."""

from __future__ import annotations

import re
from typing import Callable

__all__ = ["glob_regex"]

_WORD_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*|[0-9?#]))")


_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v",
    "blank": " \\t",
    "xdigit": "0-9A-Fa-f",
    "cntrl": "\\x00-\\x1f\\x7f",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "print": "\\x20-\\x7e",
    "graph": "\\x21-\\x7e",
}


def _chars(word: str, variable: Callable[[str], str] | None, quoting: bool = True) -> list[tuple[str, bool]]:
    """WORD expanded: each character with whether it is literal (quoted, escaped, or from a
    quoted ``$NAME``). In the value of an unquoted ``$NAME`` a backslash still escapes."""
    out: list[tuple[str, bool]] = []
    i, n, dq = 0, len(word), False
    while i < n:
        c = word[i]
        if quoting and c == '"':
            dq = not dq
            i += 1
        elif quoting and c == "'" and not dq:
            j = word.find("'", i + 1)
            j = n if j < 0 else j
            out.extend((ch, True) for ch in word[i + 1 : j])
            i = j + 1
        elif c == "\\" and i + 1 < n and not (dq and word[i + 1] not in '$`"\\'):
            out.append((word[i + 1], True))
            i += 2
        elif c == "$" and variable is not None and (m := _WORD_VAR.match(word, i)) is not None:
            value = variable(m.group(1) or m.group(2))
            out.extend([(ch, True) for ch in value] if dq else _chars(value, None, quoting=False))
            i = m.end()
        else:
            out.append((c, dq))
            i += 1
    return out


def _bracket(chars: list[tuple[str, bool]], i: int) -> tuple[str, int] | None:
    """The regular expression of the bracket expression at ``chars[i]`` (an unquoted ``[``) and
    the index after it, or None when it does not close."""
    j, n = i + 1, len(chars)
    negate = j < n and not chars[j][1] and chars[j][0] in "!^"
    j += negate
    body: list[str] = []
    first = True
    while j < n:
        c, literal = chars[j]
        if c == "]" and not literal and not first:
            return "[" + ("^" if negate else "") + "".join(body) + "]", j + 1
        first = False
        if c == "[" and not literal and j + 1 < n and chars[j + 1] == (":", False):
            tail = "".join(ch for ch, _ in chars[j + 2 :])
            name, sep, _ = tail.partition(":]")
            if sep and name in _CLASSES:
                body.append(_CLASSES[name])
                j += 2 + len(name) + 2
                continue
        if c == "-" and not literal and body and j + 1 < n and chars[j + 1][0] != "]":
            body.append("-")
        else:
            body.append(re.escape(c) if c in "\\]^-[" else c)
        j += 1
    return None


def glob_regex(word: str, variable: Callable[[str], str] | None = None) -> str:
    """A regular expression for the pattern WORD of a ``${NAME%WORD}``: quoted characters (in
    ``'...'``, ``"..."``, after a backslash) are literal; unquoted ``*``, ``?`` and ``[...]``
    (with ``[:class:]``) match; ``$NAME`` expands (``variable``), its value a pattern where
    unquoted."""
    chars = _chars(word, variable)
    out: list[str] = []
    i = 0
    while i < len(chars):
        c, literal = chars[i]
        if literal or c not in "*?[":
            out.append(re.escape(c))
        elif c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif (found := _bracket(chars, i)) is not None:
            out.append(found[0])
            i = found[1]
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)
