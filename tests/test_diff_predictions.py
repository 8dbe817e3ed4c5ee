"""``--diff`` predicts what ``files.line``, ``files.replace`` and ``files.block`` leave in a
file (``oxinfra.operations.util.files``): checked against the real tools running the
operations' own commands (GNU sed, grep, awk, the shell) on generated files. A prediction
must equal what the tool writes, or say it cannot tell; never differ."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oxinfra.operations.files import _anchor, escape_sed_replacement
from oxinfra.operations.files.block import _PROGRAMS
from oxinfra.operations.util.files import appended, block_edited, escape_sed, lines_edited, literal_sed, sed_edited

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Lines made of characters sed and grep read as syntax too.
LINE = st.text(alphabet="ab= x.*^$[]/\\&é\r", max_size=8)
CONTENT = st.tuples(st.lists(LINE, max_size=6), st.booleans()).map(
    lambda t: ("\n".join(t[0]) + ("\n" if t[1] and t[0] else "")).encode()
)
LITERAL = st.text(alphabet="ab= x/é", min_size=1, max_size=3)


def _run(args: list[str], path: Path, stdin: bytes = b"") -> bytes:
    proc = subprocess.run([*args, str(path)], input=stdin, capture_output=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


def _grep(path: Path, pattern: str) -> list[str]:
    out = _run(["grep", "-a", "-e", pattern, "--"], path)
    return out.decode().split("\n")[:-1] if out else []


@SETTINGS
@given(
    content=CONTENT,
    literal=LITERAL,
    start=st.booleans(),
    lead=st.booleans(),
    trail=st.booleans(),
    end=st.booleans(),
    replacement=st.text(alphabet="XY/ ", max_size=3),
    flags=st.sampled_from(["", "g"]),
)
def test_replace_predictions_are_what_sed_writes(
    tmp_path: Path,
    content: bytes,
    literal: str,
    start: bool,
    lead: bool,
    trail: bool,
    end: bool,
    replacement: str,
    flags: str,
) -> None:
    text = ("^" if start else "") + (".*" if lead else "") + literal + (".*" if trail else "") + ("$" if end else "")
    path = tmp_path / "f"
    path.write_bytes(content)
    edit = literal_sed(text, replacement, flags)
    assert edit is not None, text
    got = sed_edited(content, edit, _grep(path, text))
    sed = _run(["sed", "-e", f"s/{escape_sed(text)}/{escape_sed(replacement, pattern=False)}/{flags}", "--"], path)
    assert got == sed, (text, content)


def test_replace_expressions_that_are_not_literal_are_not_predicted() -> None:
    for text, replacement, flags in [
        ("M[O]DE", "x", ""),
        ("a\\.b", "x", ""),
        ("a*", "x", ""),
        ("a", "&&", ""),
        ("a", "\\1", ""),
        ("a", "b", "I"),
        ("a", "b", "2"),
        ("a.b", "c", ""),
    ]:
        assert literal_sed(text, replacement, flags) is None, text


@SETTINGS
@given(content=CONTENT, pattern=LITERAL, replacement=st.one_of(st.none(), st.text(alphabet="XY &\\/", max_size=3)))
def test_line_predictions_are_what_sed_writes(
    tmp_path: Path, content: bytes, pattern: str, replacement: str | None
) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    match = _anchor(pattern)
    found = _grep(path, match)
    if not found:
        return
    got = lines_edited(content, found, replacement)
    if replacement is None:
        sed = _run(["sed", "-e", f"/{escape_sed(match)}/d", "--"], path)
    else:
        repl = escape_sed(escape_sed_replacement(replacement), pattern=False)
        sed = _run(["sed", "-e", f"s/{escape_sed(match)}/{repl}/", "--"], path)
    assert got == sed, (match, content)


@SETTINGS
@given(content=CONTENT, line=st.text(alphabet="ab= x$", max_size=4))
def test_an_appended_line_is_what_the_shell_appends(tmp_path: Path, content: bytes, line: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    subprocess.run(
        ["sh", "-c", '[ ! -s "$1" ] || [ -z "$(tail -c 1 "$1")" ] || echo >> "$1"; printf "%s\\n" "$2" >> "$1"', "sh"]
        + [str(path), line],
        check=True,
    )
    assert appended(content, line) == path.read_bytes()


MARKED = st.lists(st.sampled_from(["a", "b x", "# BEGIN M", "# END M", "", "ab"]), max_size=7)


@SETTINGS
@given(
    records=MARKED,
    newline=st.booleans(),
    program=st.sampled_from(sorted(_PROGRAMS)),
    literal=st.sampled_from(["b", "x", "zz"]),
    lines=st.lists(st.sampled_from(["in", "", "b"]), min_size=1, max_size=3),
)
def test_block_predictions_are_what_awk_writes(
    tmp_path: Path, records: list[str], newline: bool, program: str, literal: str, lines: list[str]
) -> None:
    content = ("\n".join(records) + ("\n" if newline and records else "")).encode()
    path = tmp_path / "f"
    path.write_bytes(content)
    start, end = "# BEGIN M", "# END M"
    feed = "\n".join([start, end, literal, "\n".join(lines)]) + "\n"
    awk = _run(["awk", _PROGRAMS[program]], path, feed.encode())
    got = block_edited(content, program, start, end, literal, lines)
    assert got == awk, (program, content)
