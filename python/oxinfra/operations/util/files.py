"""Small helpers shared by operations: modes, ownership, local paths, sed scripts."""

from __future__ import annotations

import os
import hashlib
import posixpath
import re
import time
from typing import Any

from oxinfra.api import change_note, content_change, current_deploy_dir, wants_diff
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.files import DIFF_LIMIT, DiffContent
from oxinfra.quoting import (
    Interpolated,
    QuotingError,
    and_then,
    command,
    or_else,
    path_operand,
    quote,
    quote_interpolated,
    subshell,
)
from oxinfra.quoting import group as group_of

__all__ = [
    "covering_umask",
    "temp_beside",
    "backup_to",
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
    "diff_facts",
    "edited",
    "appended",
    "lines_edited",
    "literal_sed",
    "sed_edited",
    "block_edited",
    "note_owner_mode",
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


def covering_umask(mode: int) -> str:
    """The umask (octal text) under which a file the shell creates (with 666) gets no
    permission ``mode`` lacks: exactly ``mode`` when it has no execute or special bits, else
    ``mode`` without them (``chmod`` adds them once the contents are in). The engine makes
    an upload's the same way (``render_upload``)."""
    return format(0o777 & ~int(str(mode), 8), "03o")


def creation_umask(mode: int | None) -> str | None:
    """The umask (octal text) under which a file created by the shell (with 666) gets exactly
    ``mode``, or None when it cannot: no mode asked for, or one with execute or special bits
    (those need ``chmod``). Creating under a umask costs no process; chmod costs one."""
    if mode is None or int(str(mode), 8) & ~0o666:
        return None
    return covering_umask(mode)


def temp_beside(path: str, what: str, directory: str | None = None) -> str:
    """The name of a temporary file for writing or replacing ``path``: ``.NAME.oxinfra-WHAT``
    in ``directory`` (default: ``path``'s own), or ``.HASH.oxinfra-WHAT`` (the name's SHA-1,
    16 hex digits) where that would be over NAME_MAX; as an operand (``./`` before a
    leading ``-``)."""
    name = posixpath.basename(path.rstrip("/"))
    tmp = "." + name + ".oxinfra-" + what
    if len(tmp.encode("utf-8", "surrogateescape")) > NAME_MAX:
        tmp = "." + hashlib.sha1(name.encode("utf-8", "surrogateescape")).hexdigest()[:16] + ".oxinfra-" + what
    return path_operand(posixpath.join(directory if directory else posixpath.dirname(path) or ".", tmp))


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
    even builds paths over PATH_MAX a component at a time, which later tools cannot name).
    A path that is not a string is refused too: a call is checked against the operation's
    annotations when it is recorded, but a composed part (``op._inner``) is not."""
    if not isinstance(path, str):
        raise OperationValueError(f"{argument} must be a string, not {repr(path)[:80]}")
    if len(path) <= NAME_MAX and path.isascii() and "\x00" not in path:
        return  # one byte a character: no name and no path can be too long
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
    with dots are real, so a dot is left to chown.)

    A number is refused too (``user="5"``): the File fact reads the owner's name, which
    never equals an id, so the operation would run ``chown`` again on every run. Give the
    name (``getent passwd 5`` on the host says it)."""
    for argument, kind, value in (("user", "user", user), ("group", "group", group)):
        if isinstance(value, str) and value.isascii() and value.isdigit():
            raise OperationValueError(
                f"{argument} {value!r} is a numeric id: give the {kind}'s name (a file's owner is compared "
                "by name, so an id would be set again on every run)"
            )
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


def backup_to(verb: tuple[str, ...], path: str, base: str | None = None) -> str:
    """``verb`` (``("cp", "-p")``, ``("mv", "-T")``) of ``path`` to ``BASE.YYYYmmddHHMMSS``
    (``base``: ``path`` itself), or, when that name is taken, to the first free of
    ``.1``, ``.2``... after it: two operations backing up a file in the same second each keep
    their copy (the second overwrote the first's: the original). In a subshell: it counts in
    variables."""
    name = (base or path).rstrip("/") + "." + time.strftime("%Y%m%d%H%M%S")
    return subshell(
        f"__ox_k={quote(name)}",
        "__ox_i=0",
        f'while [ -e "$__ox_k" ] || [ -L "$__ox_k" ]; do __ox_i=$((__ox_i + 1)); __ox_k={quote(name)}.$__ox_i; done',
        command(*verb, "--", path) + ' "$__ox_k"',
    )


def backup_or_remove(path: str, backup: bool, backup_dir: str | None) -> str:
    if not backup:
        return command("rm", "-rf", "--", path)
    base = path.rstrip("/")
    if backup_dir:
        base = posixpath.join(backup_dir, posixpath.basename(base))
    return backup_to(("mv", "-T"), path, base)


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
        return and_then(backup_to(("cp", "-p"), path), edit)
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


# ---------------------------------------------------------------- --diff: what a file will hold
# Each helper gives the exact content an operation's commands leave, computed from the content
# before, or a reason (a ``str``) when it cannot tell exactly: --diff then says so instead of
# showing a diff that might be wrong.


def diff_facts(path: str) -> list[tuple[type, dict[str, Any]]]:
    """The fact ``--diff`` reads about ``path`` (``files.DiffContent``), to add to the
    operation's own batch of facts; nothing when the run shows no diffs (no fact, no cost)."""
    return [(DiffContent, {"path": path})] if wants_diff() else []


def edited(path: str, before: Any, after: bytes | str | None, why: str = "shell variables") -> None:
    """Say (:func:`oxinfra.api.content_change`) what an edit leaves in ``path``: ``after``,
    the content, or a ``str`` saying why it is not known, or None (``why`` says why)."""
    if after is None or isinstance(after, str):
        content_change(path, before, None, after if isinstance(after, str) else why)
    else:
        content_change(path, before, after)


def _records(before: Any) -> list[str] | str:
    """The lines of a text file (no newlines), as sed, grep and awk read them; or why not:
    content not known, larger than ``files.DiffContent`` reads, not UTF-8 text or with NUL
    bytes."""
    if not isinstance(before, bytes):
        return "content before not known"
    if len(before) > DIFF_LIMIT:
        return "large file"
    if b"\x00" in before:
        return "binary file"
    try:
        text = before.decode("utf-8")
    except UnicodeDecodeError:
        return "binary file"
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def appended(before: Any, text: str) -> bytes | str:
    """``files.line``'s append: a newline first unless the file is empty or ends in one."""
    lines = _records(before)
    if isinstance(lines, str):
        return lines
    assert isinstance(before, bytes)
    sep = b"\n" if before and not before.endswith(b"\n") else b""
    return before + sep + text.encode("utf-8", "surrogateescape") + b"\n"


def lines_edited(before: Any, found: list[str], replacement: str | None) -> bytes | str:
    """``files.line``'s sed over whole lines: every line grep found (``found``, the lines of
    ``FindInFile``) replaced by ``replacement``, or removed when it is None. A line matches
    the pattern when it is the same text as one grep found; that every such line is one grep
    found, in order, is checked (else the reason)."""
    lines = _records(before)
    if isinstance(lines, str):
        return lines
    assert isinstance(before, bytes)
    wanted = set(found)
    if [line for line in lines if line in wanted] != list(found):
        return "the lines grep found are not the file's"
    out: list[str] = []
    for line in lines:
        if line not in wanted:
            out.append(line)
        elif replacement is not None:
            out.append(replacement)
    # sed keeps a last line without its newline as it is; the lines before it have theirs
    last_gone = replacement is None and bool(lines) and lines[-1] in wanted
    return _joined(out, before.endswith(b"\n") or last_gone)


def _joined(lines: list[str], newline_at_end: bool) -> bytes:
    text = "\n".join(lines)
    if lines and newline_at_end:
        text += "\n"
    return text.encode("utf-8")


_BRE_SPECIAL = frozenset(".[]*^$\\")


def literal_sed(text: str, replacement: str, flags: str) -> Any:
    """``s/text/replacement/flags`` as a function of one line, for the expressions whose
    effect is certain without a regular-expression engine: ``text`` a literal, optionally
    anchored (``^``, ``$``) and with ``.*`` before or after it; a ``replacement`` with no
    ``&``, backslash or newline; flags none or ``g``. None for any other expression."""
    if flags not in ("", "g") or any(c in replacement for c in "&\\\n") or "\n" in text:
        return None
    core = text
    start = core.startswith("^")
    core = core[1:] if start else core
    lead = core.startswith(".*")
    core = core[2:] if lead else core
    end = core.endswith("$") and not core.endswith("\\$")
    core = core[:-1] if end else core
    trail = core.endswith(".*") and not core.endswith("\\.*")
    core = core[:-2] if trail else core
    if not core or any(c in _BRE_SPECIAL for c in core):
        return None
    every = flags == "g" and not (start or lead or end or trail)

    def edit(line: str) -> str | None:
        """The line edited, or None when the expression does not match it."""
        if every:
            return line.replace(core, replacement) if core in line else None
        if lead:
            at = line.rfind(core)  # .* is greedy: up to the last occurrence
            if at < 0 or (end and not trail and not line.endswith(core)):
                return None
            left, right = 0, len(line) if (trail or end) else at + len(core)
        else:
            if end and not trail:
                at = len(line) - len(core) if line.endswith(core) else -1
            else:
                at = line.find(core)
            if at < 0 or (start and at != 0) or (start and end and not trail and line != core):
                return None
            left, right = at, len(line) if trail else at + len(core)
        return line[:left] + replacement + line[right:]

    return edit


def sed_edited(before: Any, edit: Any, found: list[str] | None) -> bytes | str:
    """The content after ``edit`` (see :func:`literal_sed`) ran over each line; checked
    against the lines grep found (``found``: the lines the expression matches)."""
    lines = _records(before)
    if isinstance(lines, str):
        return lines
    assert isinstance(before, bytes)
    out, matched = [], []
    for line in lines:
        new = edit(line)
        if new is None:
            out.append(line)
        else:
            matched.append(line)
            out.append(new)
    if found is not None and matched != list(found):
        return "the lines grep found are not the ones the expression matches here"
    return _joined(out, before.endswith(b"\n"))


def block_edited(before: Any, program: str, start: str, end: str, literal: str | None, lines: list[str]) -> bytes | str:
    """``files.block``'s awk ``program`` (replace, remove, before, after, append, prepend)
    over the content before; ``literal``: the text the ``line`` expression matches literally
    (None when it is a regular expression, which is not predicted for before/after)."""
    records = _records(before)
    if isinstance(records, str):
        return records
    if program in ("before", "after") and literal is None:
        return "awk regular expression"
    block = [start, *lines, end]
    out: list[str] = []
    inside = done = False
    for record in records:
        if program == "replace":
            if not inside and start in record:
                out += [record, *lines]
                inside = True
            elif inside and end in record:
                out.append(record)
                inside = False
            elif not inside:
                out.append(record)
        elif program == "remove":
            if not inside and start in record:
                inside = True
            elif inside:
                inside = end not in record
            else:
                out.append(record)
        elif program == "before" and not done and literal is not None and literal in record:
            out += [*block, record]
            done = True
        elif program == "after" and not done and literal is not None and literal in record:
            out += [record, *block]
            done = True
        else:
            out.append(record)
    if program == "prepend":
        out = block + out
    elif program == "append" or (program in ("before", "after") and not done):
        out += block
    return "".join(line + "\n" for line in out).encode("utf-8")


def note_owner_mode(path: str, info: dict[str, Any], mode: int | None, user: str | None, group: str | None) -> None:
    """Say (``--diff``, :func:`oxinfra.api.change_note`) what owner and mode commands change:
    ``mode 644 -> 600``, ``owner a -> b``, ``group a -> b``."""
    old = info.get("mode")
    if mode is not None and old != mode:
        change_note(path, f"mode {old:03d} -> {mode:03d}" if isinstance(old, int) else f"mode {old} -> {mode:03d}")
    if user and info.get("user") != user:
        change_note(path, f"owner {info.get('user')} -> {user}")
    if group and info.get("group") != group:
        change_note(path, f"group {info.get('group')} -> {group}")
