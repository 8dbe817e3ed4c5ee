"""Small helpers shared by operations: modes, ownership, local paths, sed scripts."""

from __future__ import annotations

import os
import posixpath
import re
import time
from typing import Any

from oxinfra.api import current_deploy_dir
from oxinfra.exceptions import OperationValueError
from oxinfra.quoting import Interpolated, QuotingError, and_then, command, or_else, quote_interpolated
from oxinfra.quoting import group as group_of

__all__ = [
    "parse_mode",
    "creation_umask",
    "mode_commands",
    "owner_commands",
    "local_path",
    "parent_dir",
    "sed_replace",
    "sed_delete",
    "backup_or_remove",
    "escape_sed",
    "sed_flags",
    "check_interpolated",
    "check_owner",
    "check_path",
    "PATH_MAX",
    "NAME_MAX",
]

#: Linux's limits (``<linux/limits.h>``): a path a system call takes is under PATH_MAX bytes
#: (its NUL included), and no component is longer than NAME_MAX bytes.
PATH_MAX = 4096
NAME_MAX = 255


def parse_mode(mode: Any) -> int | None:
    """``644``, ``"644"``, ``"0644"`` → 644 (octal digits read as decimal, as facts report)."""
    if mode is None:
        return None
    text = str(mode).strip()
    # [0-7] only: str.isdigit() also accepts digits such as "²" that int() refuses.
    if isinstance(mode, bool) or not re.fullmatch(r"[0-7]+", text) or len(text.lstrip("0")) > 4:
        raise OperationValueError(f"mode must be octal digits such as 644 or '0755', not {mode!r}")
    return int(text.lstrip("0") or "0")


def creation_umask(mode: int | None) -> str | None:
    """The umask (octal text) under which a file created by the shell (with 666) gets exactly
    ``mode``, or None when it cannot: no mode asked for, or one with execute or special bits
    (those need ``chmod``). Creating under a umask costs no process; chmod costs one."""
    if mode is None:
        return None
    bits = int(str(mode), 8)
    if bits & ~0o666:
        return None
    return format(0o777 & ~bits, "03o")


def mode_commands(path: str, mode: int | None, current: dict[str, Any] | None, recursive: bool = False) -> list[str]:
    if mode is None or (current is not None and current.get("mode") == mode):
        return []
    flags = ["-R"] if recursive else []
    return [command("chmod", *flags, f"{mode:03d}", "--", path)]


def owner_commands(
    path: str,
    user: str | None,
    group: str | None,
    current: dict[str, Any] | None,
    recursive: bool = False,
    link: bool = False,
    undo: str | None = None,
) -> list[str]:
    """``chown``/``chgrp`` of ``path`` where ``current`` (a File fact's value, None for a new
    path) differs. ``undo``: a command run when it fails (then the status is still a failure),
    such as removing what the operation just created."""
    want_user = user if user and (current is None or current.get("user") != user) else None
    want_group = group if group and (current is None or current.get("group") != group) else None
    if not want_user and not want_group:
        return []
    flags = (["-R"] if recursive else []) + (["-h"] if link else [])
    # "--" before the owner too: a name that starts with "-" is a name, not an option.
    if want_user and group:
        cmd = command("chown", *flags, "--", f"{user}:{group}", path)
    elif want_user:
        cmd = command("chown", *flags, "--", user, path)
    else:
        cmd = command("chgrp", *flags, "--", group, path)
    return [or_else(cmd, group_of(undo, "false")) if undo else cmd]


def check_path(path: Any, argument: str = "path") -> None:
    """Refuse, before any host is touched, a path no system call takes whole: one holding a
    NUL byte, ``PATH_MAX`` bytes or more, or with a component over ``NAME_MAX`` bytes (UTF-8). Such a path fails on
    the host as "File name too long" at some step, after others may have run (``mkdir -p``
    even builds paths over PATH_MAX a component at a time, which later tools cannot name)."""
    if not isinstance(path, str):
        return
    if "\x00" in path:
        raise OperationValueError(f"{argument} {path!r} holds a NUL byte: no path can")
    size = len(path.encode("utf-8", "surrogateescape"))
    if size >= PATH_MAX:
        raise OperationValueError(
            f"{argument} is {size} bytes long: a path must be under {PATH_MAX} bytes (PATH_MAX); "
            f"{path[:40]!r}...{path[-20:]!r}"
        )
    for part in path.split("/"):
        length = len(part.encode("utf-8", "surrogateescape"))
        if length > NAME_MAX:
            raise OperationValueError(
                f"{argument} has a {length}-byte name: a file name is at most {NAME_MAX} bytes (NAME_MAX); "
                f"{part[:40]!r}..."
            )


def check_owner(user: Any, group: Any) -> None:
    """Refuse, before any host is touched, an owner or group that chown would read as syntax:
    ``user="app:root"`` would set the group too (``chown app:root``), ``group="a:b"`` names
    no group. A name is a value, never a spec; ``user`` and ``group`` are separate arguments.
    (GNU chown also splits ``a.b`` at the dot, but only when no user ``a.b`` exists: names
    with dots are real, so a dot is left to chown.)"""
    for argument, kind, value in (("user", "user", user), ("group", "group", group)):
        if value is not None and ":" in str(value):
            raise OperationValueError(
                f"{argument} must be a {kind} name, not {value!r}: a ':' is chown's user:group syntax; "
                "pass the group as group="
            )


def check_interpolated(argument: str, value: str | None) -> None:
    """Refuse, before any host is touched, a value the host's shell may not expand: only
    ``$NAME`` and ``${NAME}`` expand (see :func:`oxinfra.quoting.quote_interpolated`)."""
    if value is None:
        return
    try:
        quote_interpolated(value)
    except QuotingError as exc:
        raise OperationValueError(f"{argument}={value!r} with interpolate_variables=True: {exc}") from None


def local_path(src: str, add_deploy_dir: bool = True) -> str:
    """A local file named relative to the deploy file's directory (then the working dir)."""
    if os.path.isabs(src) or not add_deploy_dir:
        return src
    base = current_deploy_dir()
    if base:
        candidate = os.path.join(base, src)
        if os.path.exists(candidate) or not os.path.exists(src):
            return candidate
    return src


def parent_dir(path: str) -> str:
    return posixpath.dirname(path.rstrip("/")) or "/"


def backup_or_remove(path: str, backup: bool, backup_dir: str | None) -> str:
    if not backup:
        return command("rm", "-rf", "--", path)
    stamp = time.strftime("%Y%m%d%H%M%S")
    base = path.rstrip("/")
    if backup_dir:
        base = posixpath.join(backup_dir, posixpath.basename(base))
    return command("mv", "--", path, f"{base}.{stamp}")


def escape_sed(text: str, pattern: bool = True, delimiter: str = "/") -> str:
    """``text`` as the pattern (or, with ``pattern=False``, the replacement) of an ``s``
    command or ``/re/`` address, such that sed cannot read past its end.

    The text is read as sed reads it: a backslash and the character after it are one unit
    and kept as they are (``\\/`` stays ``\\/``, ``\\\\`` stays ``\\\\``, so a user's
    pre-escaped slash still works); a lone delimiter becomes ``\\/``; a newline becomes
    ``\\n`` (a backslash-newline pair too). sed ends the part only at an unescaped delimiter
    or newline, and the result has neither, so the rest of the script stays the rest of the
    script: nothing in ``text`` can become a sed command (``e`` runs one, ``w`` writes a file).
    A lone backslash at the end would escape the delimiter that follows: an error in a
    pattern, a literal backslash in a replacement.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 == n:
                if pattern:
                    raise OperationValueError(
                        f"the pattern {text!r} ends with a lone backslash: escape it as \\\\ to match one"
                    )
                out.append("\\\\")
                break
            nxt = text[i + 1]
            out.append("\\n" if nxt == "\n" else "\\" + nxt)
            i += 2
            continue
        out.append("\\" + ch if ch == delimiter else "\\n" if ch == "\n" else ch)
        i += 1
    return "".join(out)


#: The ``s`` flags an operation may pass: ``g``, ``i``/``I`` (ignore case), ``m``/``M``
#: (multi-line mode) and a match number. Never ``e`` (runs the pattern space as a command),
#: ``w``/``W`` (write a file), ``r``/``R``, and not ``p``: under ``sed -i`` it prints matched
#: lines into the file itself, duplicating them.
_SED_FLAG_LETTERS = frozenset("gIiMm")


def sed_flags(flags: Any) -> str:
    """The ``s`` command flags of an operation's ``flags`` (a list of strings, or one string),
    checked against the allow-list above."""
    if flags is None:
        return ""
    parts = [flags] if isinstance(flags, str) else list(flags)
    if not all(isinstance(f, str) for f in parts):
        raise OperationValueError(f"flags must be strings such as ['g', 'I'], not {flags!r}")
    text = "".join(parts)
    letters = re.sub(r"[0-9]+", "", text)
    numbers = re.findall(r"[0-9]+", text)
    if (
        any(c not in _SED_FLAG_LETTERS for c in letters)
        or len(set(letters)) != len(letters)
        or len(numbers) > 1
        or (numbers and int(numbers[0]) == 0)
    ):
        raise OperationValueError(
            f"sed flags {flags!r} are not allowed: use g, i or I, m or M, and one match number (1 or more)"
        )
    return text


#: The delimiter of expressions whose ``$VARIABLES`` the host's shell expands: their values
#: are not seen here, and paths (``$HOME``) hold ``/``. sed takes any character as the
#: delimiter of ``s`` and of a ``\\cREc`` address; a value holding this control character
#: could still end the expression, but only the host's own environment sets these values.
_INTERPOLATED_DELIMITER = "\x01"


def _backed_up(edit: str, path: str, backup: bool) -> str:
    """The ``sed -i`` command ``edit``, after a dated copy of the file with ``backup``."""
    if backup:
        return and_then(command("cp", "-p", "--", path, f"{path}.{time.strftime('%Y%m%d%H%M%S')}"), edit)
    return edit


def sed_replace(
    path: str, pattern: str, replacement: str, flags: Any = None, interpolate: bool = False, backup: bool = False
) -> str:
    """``sed -i`` substituting ``replacement`` (sed syntax: ``&``, ``\\1``) for ``pattern`` (a
    basic regular expression); see :func:`escape_sed` and :func:`sed_flags`. With
    ``interpolate`` the script is :class:`Interpolated` (the host's shell expands it)."""
    flags_text = sed_flags(flags)
    if interpolate:
        d = _INTERPOLATED_DELIMITER
        edit = command(
            "sed",
            "-i",
            "-e",
            Interpolated(
                f"s{d}{escape_sed(pattern, delimiter=d)}{d}{escape_sed(replacement, pattern=False, delimiter=d)}{d}{flags_text}"
            ),
            "--",
            path,
        )
    else:
        edit = command(
            "sed",
            "-i",
            "-e",
            f"s/{escape_sed(pattern)}/{escape_sed(replacement, pattern=False)}/{flags_text}",
            "--",
            path,
        )
    return _backed_up(edit, path, backup)


def sed_delete(path: str, pattern: str, interpolate: bool = False, backup: bool = False) -> str:
    """``sed -i`` deleting the lines that match ``pattern``."""
    if interpolate:
        d = _INTERPOLATED_DELIMITER
        edit = command("sed", "-i", "-e", Interpolated(f"\\{d}{escape_sed(pattern, delimiter=d)}{d}d"), "--", path)
    else:
        edit = command("sed", "-i", "-e", f"/{escape_sed(pattern)}/d", "--", path)
    return _backed_up(edit, path, backup)
