"""``files.line`` and ``files.replace``: edit lines of a file in place (``sed``), or append one.

Both read the lines they would change in one batch with the file's link target (an edit goes
where a link leads, as an append does); patterns are basic regular expressions (grep and sed
read the same ones), checked by the fact before anything changes.
"""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import (
    OperationGenerator,
    content_change,
    ensure_directory,
    get_facts,
    host,
    operation,
    predict_content,
    touches,
)
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.files import FindInFile, LinkTarget
from oxinfra.operations.util.files import (
    appended,
    backup_to,
    check_interpolated,
    check_path,
    diff_facts,
    edited,
    lines_edited,
    literal_sed,
    parent_dir,
    sed_delete,
    sed_edited,
    sed_flags,
    sed_replace,
)
from oxinfra.quoting import Interpolated, append_to, command, file_test, or_else, output_test, read_from

__all__ = ["line", "replace", "line_facts", "escape_bre", "escape_sed_replacement"]


def line_facts(
    path: str,
    match: str,
    interpolate_variables: bool = False,
    replace: str = "",
    present: bool = True,
    ignore_case: bool = False,
) -> list[tuple[type, dict[str, Any]]]:
    """The facts ``files.line`` reads for the anchored pattern ``match`` (see :func:`put_facts`);
    with ``replace`` (and ``present``, no ``interpolate_variables``) whether the file holds the
    replacement as a line already (nothing matching, the replacement was appended before).
    ``ignore_case``: sed's ``i``/``I`` flag: the pattern matches either case here too."""
    facts: list[tuple[type, dict[str, Any]]] = [_find(path, match, interpolate_variables, ignore_case)]
    if _reads_replacement(replace, present, interpolate_variables):
        facts.append((FindInFile, {"path": path, "pattern": "^" + escape_bre(replace) + "$"}))
    return [*facts, (LinkTarget, {"path": path}), *diff_facts(path)]


def _find(path: str, pattern: str, interpolate_variables: bool, ignore_case: bool) -> tuple[type, dict[str, Any]]:
    """The FindInFile lookup of the lines ``pattern`` matches (``ignore_case``: sed's
    ``i``/``I`` flag; the argument is left out otherwise, so the fact's key stays as it was)."""
    look: dict[str, Any] = {"path": path, "pattern": pattern, "interpolate_variables": interpolate_variables}
    if ignore_case:
        look["ignore_case"] = True
    return FindInFile, look


def _append_line(path: str, text: str) -> list[str]:
    """Append the line ``text`` to ``path`` (made if missing): a newline first unless the
    file is empty, missing or already ends in one."""
    return [
        or_else(
            file_test("!-s", path),
            output_test("-z", read_from(command("tail", "-c", "1"), path)),
            append_to("echo", path),
        ),
        append_to(command("printf", "%s\\n", text), path),
    ]


def _reads_replacement(replace: str, present: bool, interpolate_variables: bool) -> bool:
    """Whether :func:`line_facts` reads if the file holds ``replace`` as a line (a variable
    in it is known only on the host: not looked for)."""
    return bool(replace) and present and not interpolate_variables


def _anchor(pattern: str) -> str:
    if not pattern.startswith("^"):
        pattern = "^.*" + pattern
    body = pattern[:-1]
    if not pattern.endswith("$") or (len(body) - len(body.rstrip("\\"))) % 2:  # a final \$ is literal
        pattern = pattern + ".*$"
    return pattern


@operation(shell_safe=True, quiet=True)
def line(
    path: str,
    line: str,
    present: bool = True,
    replace: str = "",
    flags: list[str] | None = None,
    backup: bool = False,
    interpolate_variables: bool = False,
    escape_regex_characters: bool = False,
    ensure_newline: bool = False,
) -> OperationGenerator:
    """Ensure a line is in a file (appended if missing), replaced, or removed.

    ``line`` is a regular expression matched against whole lines (``^.*`` and ``.*$`` are
    added unless it is anchored). When it matches nothing and ``present`` is true, the
    line (or ``replace`` when given) is appended; the file is created if missing.

    + path: the file
    + line: the line, as a pattern
    + present: whether a matching line should exist
    + replace: text to put in place of matching lines
    + flags: extra sed flags for the replacement (``g``, ``i``/``I``, ``m``/``M``, a number;
      see :func:`replace`)
    + backup: keep a copy of the file before changing it
    + interpolate_variables: let the shell expand ``$NAME`` and ``${NAME}`` in line and
      replace (nothing else: another ``$`` is literal, ``${NAME...}`` with an operator such
      as ``:-``, ``=`` or ``?`` is refused); the line is looked for and written expanded. A variable's value is read as regular-expression
      syntax in the pattern. With a variable in ``replace``, lines found cannot be compared
      with it before the run, so the replacement runs (and reports a change) every time.
    + escape_regex_characters: match ``line`` literally
    + ensure_newline: accepted for compatibility; a newline is always ensured before appending

    Example::

        files.line(name="Env", path="/srv/app/env", line="MODE=production")
    """
    pattern = escape_bre(line) if escape_regex_characters else line
    match = _anchor(pattern)
    flags_text = sed_flags(flags)  # checked before any host is touched
    check_path(path)
    for name, value in (("line", line), ("replace", replace)):
        if isinstance(value, str) and "\n" in value:
            raise OperationValueError(f"files.line: {name}= is one line (no newline): {value!r}")
    if interpolate_variables:
        check_interpolated("line", line)
        check_interpolated("replace", replace)
    # with replace=, a file where nothing matches may hold the replacement already (the line
    # appended by an earlier run): read in the same batch, not appended again
    ignore_case = any(c in flags_text for c in "iI")
    found, *rest = get_facts(host, line_facts(path, match, interpolate_variables, replace, present, ignore_case))
    replaced = rest.pop(0) if _reads_replacement(replace, present, interpolate_variables) else None
    real, *shown = rest
    before = shown[0] if shown else None
    # Written as it is looked for: expanded by the host's shell when interpolating (else a
    # line found as "X=/root" is written "X=$HOME" and appended again on every run).
    text = Interpolated(replace or line) if interpolate_variables else replace or line
    touches(path, ancestors=True)
    if real:  # appended (>>) where a link leads: that file changes, and is declared
        touches(real)
    # sed -i writes a new file at the name it is given: given a link, the link would become
    # that file and the file it leads to keep the old text; edits go where appends go
    target = real or path
    if not present:
        if found:
            edited(path, before, None if interpolate_variables else lines_edited(before, found, None))
            yield sed_delete(target, match, interpolate_variables, backup)
        else:
            host.noop(f"no line matching {line!r} in {path}")
        return
    if found is None:
        if not interpolate_variables:
            predict_content(path, f"{replace or line}\n".encode())
            content_change(path, before, f"{replace or line}\n".encode())
        else:
            content_change(path, before, None, "shell variables")
        yield from ensure_directory(parent_dir(path))
        # appended, not written over: should the file be there after all (a path no fact
        # could tell was the same file), nothing in it is lost
        yield from _append_line(path, text)
        return
    if not found and replaced:
        host.noop(f"no line matching {line!r} in {path}, and {replace!r} is in it")
        return
    if not found:
        edited(path, before, None if interpolate_variables else appended(before, replace or line))
        if backup:  # the file is there (nothing in it matched): a copy before it grows
            yield backup_to(("cp", "-p"), path)
        yield from _append_line(path, text)
        return
    if replace and any(existing != replace for existing in found):
        exact = not interpolate_variables and flags_text in ("", "g")
        why = "shell variables" if interpolate_variables else "sed flags"
        edited(path, before, lines_edited(before, found, replace) if exact else None, why)
        yield sed_replace(target, match, escape_sed_replacement(replace), flags_text, interpolate_variables, backup)
        return
    host.noop(f"line {line!r} already in {path}")


def escape_bre(text: str) -> str:
    """``text`` as a POSIX basic regular expression (grep and sed) that matches it literally.

    Only ``.[]*^$\\`` are special in a BRE; escaping anything else (as ``re.escape`` does)
    can turn it INTO an operator in GNU BRE: ``\\(`` ``\\)`` ``\\{`` ``\\+`` ``\\?`` ``\\|``.
    """
    return re.sub(r"([.\[\]*^$\\])", r"\\\1", text)


def escape_sed_replacement(text: str) -> str:
    """A literal replacement line for sed: backslashes and ``&`` lose their meaning."""
    return text.replace("\\", "\\\\").replace("&", "\\&")


@operation(shell_safe=True, quiet=True)
def replace(
    path: str,
    text: str | None = None,
    replace: str | None = None,
    flags: list[str] | None = None,
    backup: bool = False,
    interpolate_variables: bool = False,
    match: str | None = None,
) -> OperationGenerator:
    """Replace text matching a pattern in a file (``sed s/text/replace/flags``).

    As in pyinfra, ``text`` is a sed basic regular expression and ``replace`` a sed
    replacement; a ``/`` in either needs no escaping. Where oxinfra differs:

    * a backslash and the character after it are kept together, so an escaped slash
      (``r"http:\\/\\/old"``) means a slash, and no value can end the expression early
      and turn the rest into sed commands;
      a ``/`` inside a bracket expression is still escaped, so ``[/]`` also matches a
      backslash under GNU sed;
    * ``text`` may not end with a lone backslash (an error before anything runs);
    * ``flags`` may only be ``g``, ``i``/``I``, ``m``/``M`` and one match number; others
      (``e`` runs a command, ``w`` writes a file, ``p`` duplicates lines under ``sed -i``)
      are an error before anything runs;
    * a newline in either value is written ``\\n`` (GNU sed's newline).

    + path: the file
    + text: the regular expression to find
    + replace: what to put in its place (sed syntax: ``&`` is the match, ``\\1`` a group)
    + flags: sed flags such as ``["g"]`` or ``["g", "I"]``
    + backup: keep a copy of the file before changing it
    + interpolate_variables: let the shell expand ``$NAME`` and ``${NAME}`` (only those, as
      in :func:`line`)

    Example::

        files.replace(name="Env", path="/srv/app/env", text="MODE=staging", replace="MODE=production")
    """
    if text is None:
        text = match
    if text is None or replace is None:
        raise OperationValueError("files.replace needs text= and replace=")
    check_path(path)
    if interpolate_variables:
        check_interpolated("text", text)
        check_interpolated("replace", replace)
    # Made (and so checked: flags, a lone final backslash) before any host is touched.
    sed = sed_replace(path, text, replace, flags, interpolate_variables, backup)
    ignore_case = any(c in sed_flags(flags) for c in "iI")  # sed matches either case: so does the check
    found, *shown = get_facts(host, [_find(path, text, interpolate_variables, ignore_case), *diff_facts(path)])
    touches(path)
    if found is None:
        host.noop(f"{path} does not exist")
        return
    if not found:
        host.noop(f"{text!r} not found in {path}")
        return
    if shown:
        edit = None if interpolate_variables else literal_sed(text, replace, sed_flags(flags))
        why = "shell variables" if interpolate_variables else "sed expression"
        edited(path, shown[0], None if edit is None else sed_edited(shown[0], edit, found), why)
    yield sed
