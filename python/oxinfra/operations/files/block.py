"""``files.block``: lines between two marker lines in a file, added, replaced or removed."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import (
    FileUpload,
    OperationGenerator,
    content_change,
    get_facts,
    host,
    noop,
    operation,
    predict_content,
    touches,
)
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import BLOCK_MARKER, Block, BlockMarkers, LinkTarget
from oxinfra.operations.util.files import backup_to, block_edited, check_path, diff_facts, edited, temp_beside
from oxinfra.quoting import and_then, command, group, or_else, pipe, subshell, write_to

__all__ = ["block"]

#: Every awk program reads its values from its standard input (``/dev/stdin``: busybox awk
#: reads no ``-``), never from its arguments: the begin marker, the end marker, the ``line``
#: regular expression (or an empty line), then the block's lines. Markers are found as in ``files.Block``: a line *containing* one.
_PROGRAMS = {
    # markers there: the lines between them replaced (in every block, as files.Block reads them all)
    "replace": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin"; getline R < "/dev/stdin"; '
    'while ((getline l < "/dev/stdin") > 0) b[++n] = l } '
    "s == 0 && index($0, S) { print; for (i = 1; i <= n; i++) print b[i]; s = 1; next } "
    "s == 1 && index($0, E) { print; s = 0; next } s == 0 { print }",
    # markers there: each block, markers included, left out
    "remove": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin" } '
    "s == 0 && index($0, S) { s = 1; next } s == 1 { if (index($0, E)) s = 0; next } { print }",
    # no markers: the block before the first line matching R (at the end if none does)
    "before": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin"; getline R < "/dev/stdin"; '
    'while ((getline l < "/dev/stdin") > 0) b[++n] = l } '
    "function block(  i) { print S; for (i = 1; i <= n; i++) print b[i]; print E } "
    "!d && $0 ~ R { block(); d = 1 } { print } END { if (!d) block() }",
    # no markers: the block after the first line matching R (at the end if none does)
    "after": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin"; getline R < "/dev/stdin"; '
    'while ((getline l < "/dev/stdin") > 0) b[++n] = l } '
    "function block(  i) { print S; for (i = 1; i <= n; i++) print b[i]; print E } "
    "{ print } !d && $0 ~ R { block(); d = 1 } END { if (!d) block() }",
    # no markers: the block at the end (awk ends an unended last line)
    "append": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin"; getline R < "/dev/stdin"; '
    'while ((getline l < "/dev/stdin") > 0) b[++n] = l } '
    "{ print } END { print S; for (i = 1; i <= n; i++) print b[i]; print E }",
    # no markers: the block first
    "prepend": 'BEGIN { getline S < "/dev/stdin"; getline E < "/dev/stdin"; getline R < "/dev/stdin"; '
    'while ((getline l < "/dev/stdin") > 0) b[++n] = l } '
    "function block(  i) { print S; for (i = 1; i <= n; i++) print b[i]; print E } "
    "NR == 1 { block() } { print } END { if (NR == 0) block() }",
}
#: What an extended regular expression reads as syntax.
_ERE_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _operand(path: str) -> str:
    """``path`` as an awk operand: a relative one gets ``./`` (awk reads ``NAME=VALUE`` as an
    assignment, and ``-x`` as an option)."""
    return path if path.startswith("/") else "./" + path


def _rewrite(path: str, target: str, state: dict[str, Any], program: str, values: list[str], backup: bool) -> list[str]:
    """awk ``program`` over ``target`` (the file ``path`` leads to; values on its stdin, from
    the shell's printf builtin) into a temporary file beside it, given the file's owner,
    group and mode, then renamed over it: the file is whole, old or new, whatever fails (a
    full disk included). Any failure removes the temporary file and leaves the file as it was."""
    tmp = temp_beside(target, "block")
    # the block's lines as one argument of the builtin: the same bytes, one word whatever they hold
    head, body = values[:3], values[3:]
    feed = command("printf", "%s\\n", *head, *(["\n".join(body)] if body else []))
    # created exclusively (a file or link someone put at the name is never written through:
    # the operation fails instead) and readable by nobody else until it has the file's mode
    awk = subshell(
        "umask 077", "set -C", write_to(pipe(feed, command("awk", _PROGRAMS[program], _operand(target))), tmp)
    )
    commands = []
    if backup:
        commands.append(backup_to(("cp", "-p"), path))
    replace = and_then(
        awk,
        command("chown", "--", f"{state['uid']}:{state['gid']}", tmp),
        command("chmod", "--", state["mode"], tmp),
        command("mv", "-f", "--", tmp, target),
    )
    commands.append(or_else(replace, group(command("rm", "-f", "--", tmp), "false")))
    return commands


@operation(shell_safe=True, quiet=True)
def block(
    path: str,
    content: str | list[str] | None = None,
    present: bool = True,
    line: str | None = None,
    backup: bool = False,
    escape_regex_characters: bool = False,
    try_prevent_shell_expansion: bool = False,
    before: bool = False,
    after: bool = False,
    marker: str | None = None,
    begin: str | None = None,
    end: str | None = None,
) -> OperationGenerator:
    """Make sure lines, between a begin and an end marker line, are (or are not) in a file.

    Where the markers are, the lines between them are replaced when they differ. Where they
    are not: the block goes before or after the first line matching ``line`` (at the end of
    the file when no line does), or, with no ``line``, at the start (``before`` and ``after``
    both True) or the end (both False); a missing file is created holding the block.
    ``present=False`` removes the block, markers included (``content`` and ``line`` are
    then not used). A file that is changed is written whole to a temporary file beside it,
    given the file's owner, group and mode, and renamed over it (through a link: the file
    it leads to): whatever fails, a full disk included, the file is whole, old or new (a new
    inode; ACLs and extended attributes are not carried over).

    Refused, nothing changed (``files.BlockMarkers`` tells): a begin marker with no end
    marker after it, more than one block with these markers, a path that is not a regular
    file; and, before any fact is read, content holding a marker line.

    The content, markers and ``line`` reach ``awk`` on its standard input (from the shell's
    ``printf`` builtin), never as arguments; the content is written as given, with no shell
    expansion. Markers are found in a line that contains them, as ``files.Block`` reads them
    (pyinfra reads them as awk regular expressions: the same for markers without regex
    characters).

    + path: the file
    + content: the block's lines, a string (split at newlines) or a list
    + present: whether the block should be in the file
    + line: an extended regular expression; the block goes before or after the first line
      it matches (only when the markers are not there yet)
    + backup: copy the file to ``PATH.YYYYMMDDHHMMSS`` before changing it
    + escape_regex_characters: match ``line`` literally
    + try_prevent_shell_expansion: accepted and ignored (pyinfra deprecates it; the content
      is never expanded)
    + before: put the block before ``line`` (or, with ``after`` too and no ``line``, first)
    + after: put the block after ``line``
    + marker: the marker lines, with ``{mark}`` (default ``# {mark} PYINFRA BLOCK``)
    + begin: ``{mark}`` of the begin marker (default ``BEGIN``)
    + end: ``{mark}`` of the end marker (default ``END``)

    Example::

        files.block(
            name="Mars in /etc/hosts",
            path="/etc/hosts",
            content="10.0.0.1 mars-one\\n10.0.0.2 mars-two",
            line="localhost",
            before=True,
        )
    """
    op = "files.block"
    if not isinstance(path, str) or not path or path.endswith("/"):
        raise OperationValueError(f"{op}: path= must be a file path, not {path!r}")
    check_path(path)
    for key, flag in (
        ("present", present),
        ("backup", backup),
        ("escape_regex_characters", escape_regex_characters),
        ("try_prevent_shell_expansion", try_prevent_shell_expansion),
        ("before", before),
        ("after", after),
    ):
        if not isinstance(flag, bool):
            raise OperationValueError(f"{op}: {key}= must be True or False, not {flag!r}")
    for key, value in (("marker", marker), ("begin", begin), ("end", end)):
        if value is not None and (not isinstance(value, str) or "\n" in value or "\r" in value):
            raise OperationValueError(f"{op}: {key}= must be a string on one line, not {value!r}")
    try:
        start_line = (marker or BLOCK_MARKER).format(mark=begin or "BEGIN")
        end_line = (marker or BLOCK_MARKER).format(mark=end or "END")
    except (KeyError, IndexError, ValueError) as exc:
        raise OperationValueError(f"{op}: marker= {marker!r} may hold no braces but {{mark}}: {exc}") from None
    if not start_line or not end_line or start_line == end_line:
        raise OperationValueError(
            f"{op}: the begin and end markers must differ and not be empty ({start_line!r}, {end_line!r})"
        )
    lines: list[str] = []
    if present:
        if not content:
            raise OperationValueError(f"{op}: content= must be given when present=True")
        if isinstance(content, str):
            lines = content.split("\n")
        elif isinstance(content, (list, tuple)) and all(isinstance(c, str) for c in content):
            lines = [part for item in content for part in item.split("\n")]
        else:
            raise OperationValueError(f"{op}: content= must be a string or a list of strings, not {content!r}")
        if line is not None:
            if not isinstance(line, str) or not line or "\n" in line:
                raise OperationValueError(f"{op}: line= must be a regular expression on one line, not {line!r}")
            if before == after:
                raise OperationValueError(f"{op}: with line=, give exactly one of before=True or after=True")
        elif before != after:
            raise OperationValueError(f"{op}: before= and after= without line= must be equal (both: at the start)")
        for text in lines:
            if start_line in text or end_line in text:
                raise OperationValueError(
                    f"{op}: content= holds a marker line ({text!r}): it would read as a block's "
                    f"begin or end ({start_line!r}, {end_line!r}); change the content or the markers"
                )
    regex = (_ERE_SPECIAL.sub(r"\\\1", line) if escape_regex_characters else line) if line else ""

    current, real, state, *shown = get_facts(
        host,
        [
            (Block, {"path": path, "marker": marker, "begin": begin, "end": end}),
            (LinkTarget, {"path": path}),
            (BlockMarkers, {"path": path, "marker": marker, "begin": begin, "end": end}),
            *diff_facts(path),
        ],
    )
    was = shown[0] if shown else None  # --diff: what the file holds
    target = real or path  # written through a link: the file it leads to is replaced
    touches(path)
    touches(temp_beside(target, "block"))
    if real:
        touches(real)

    if current is None or state is None:
        if not present:
            noop(f"{path} does not exist")
            return
        data = ("\n".join([start_line, *lines, end_line]) + "\n").encode("utf-8", "surrogateescape")
        predict_content(path, data)
        content_change(path, was, data)
        yield FileUpload(data, path)
        return
    if state is False:
        if not present:
            noop(f"{path} is not a file: it has no block")
            return
        raise OperationError(f"{op}: {path} exists and is not a regular file: nothing changed")
    if state["unterminated"]:
        raise OperationError(
            f"{op}: {path} has a begin marker {start_line!r} with no end marker {end_line!r} after it: "
            "fix the file by hand (nothing changed)"
        )
    if state["blocks"] > 1:
        raise OperationError(
            f"{op}: {path} has {state['blocks']} blocks between {start_line!r} and {end_line!r}: "
            "leave one by hand, or give each its own marker (nothing changed)"
        )

    if not present:
        if not state["blocks"]:
            noop(f"{path} has no block between {start_line!r} and {end_line!r}")
        else:
            if shown:
                edited(path, was, block_edited(was, "remove", start_line, end_line, None, []))
            yield from _rewrite(path, target, state, "remove", [start_line, end_line], backup)
        return

    if state["blocks"] and current == lines:
        noop(f"{path} holds the block")
        return
    values = [start_line, end_line, regex, *lines]
    if state["blocks"]:
        program = "replace"
    elif line:
        program = "before" if before else "after"
    else:
        program = "prepend" if before else "append"
    if shown:
        literal = line if line and (escape_regex_characters or not _ERE_SPECIAL.search(line)) else None
        edited(path, shown[0], block_edited(shown[0], program, start_line, end_line, literal, lines))
    yield from _rewrite(path, target, state, program, values, backup)
