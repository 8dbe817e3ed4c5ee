"""The text commands: ``grep`` (POSIX regular expressions as Python ones, cached line
matchers), ``cat``, ``base64``, ``tail``, ``sed``."""

from __future__ import annotations

import base64
import binascii
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from oxinfra.testing.sim.fs import _ENC, _ERRORS, FsError, Node, _now
from oxinfra.testing.sim.options import _operands

if TYPE_CHECKING:
    from oxinfra.testing.sim.interp import Interpreter


_BRE_SPECIAL = frozenset(".[]*^$\\")
_ERE_SPECIAL = frozenset(".[]*^$\\+?(){}|")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "punct": r"!-/:-@\[-`{-~",
    "xdigit": "0-9A-Fa-f",
    "print": r" -~",
    "graph": r"!-~",
    "cntrl": r"\x00-\x1f\x7f",
}


def posix_regex(pattern: str, extended: bool) -> str:
    """A POSIX basic (or extended) regular expression as a Python one (GNU's usual
    extensions: ``\\+ \\? \\|`` in BRE, ``\\w \\s \\b \\< \\>``)."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if not extended and nxt == "{":
                m = re.match(r"\\\{([0-9]+)(,[0-9]*)?\\\}", pattern[i:])
                if m is None:  # GNU grep: status 2, never a literal "{"
                    raise re.error("Unmatched \\{" if "\\}" not in pattern[i:] else "Invalid content of \\{\\}")
                out.append(m.group().replace("\\", ""))
                i += m.end()
                continue
            if not extended and nxt in "(){}|+?":
                out.append(nxt)
            elif nxt.isdigit() or nxt in "wWsSbB":
                out.append("\\" + nxt)
            elif nxt in "<>":
                out.append(r"\b")
            else:
                out.append(re.escape(nxt))
            i += 2
            continue
        if c == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                if pattern.startswith("[:", j):
                    k = pattern.find(":]", j + 2)
                    j = k + 2 if k >= 0 else j + 1
                else:
                    j += 1
            if j >= n:  # GNU grep: status 2, never a literal "["
                raise re.error("Unmatched [, [^, [:, [., or [=")
            inner = pattern[i + 1 : j]
            negate = inner.startswith("^")
            if negate:
                inner = inner[1:]
            body = []
            k = 0
            while k < len(inner):
                if inner.startswith("[:", k):
                    end = inner.find(":]", k + 2)
                    body.append(_POSIX_CLASSES.get(inner[k + 2 : end], ""))
                    k = end + 2
                    continue
                ch = inner[k]
                body.append("\\" + ch if ch in "\\[]^" else ch)
                k += 1
            out.append("[" + ("^" if negate else "") + "".join(body) + "]")
            i = j + 1
            continue
        if not extended and c in "(){}|+?":
            out.append("\\" + c)
        elif c == "*" and (not out or out[-1] in ("^", "(", "|")):
            out.append(r"\*")
        elif c == "^" and out and out[-1] not in ("(", "|"):
            out.append(r"\^")
        elif c == "$" and i + 1 < n and not pattern.startswith(("|", ")") if extended else ("\\|", "\\)"), i + 1):
            out.append(r"\$")
        else:
            out.append(c)
        i += 1
    return "".join(out)


@lru_cache(maxsize=1024)
def line_matcher(
    pattern: str, extended: bool = False, fixed: bool = False, ignore_case: bool = False
) -> Callable[[str], bool]:
    """A predicate on one line (without its newline) that says whether grep's pattern
    matches it. Literal patterns, anchored or wrapped in ``^.*``/``.*$``, need no regex."""
    if fixed and not ignore_case:
        return lambda line: pattern in line
    special = _ERE_SPECIAL if extended else _BRE_SPECIAL
    core, start, end = pattern, False, False
    if core.startswith("^.*"):
        core = core[3:]
    elif core.startswith("^"):
        core, start = core[1:], True
    if core.endswith(".*$") and not core.endswith("\\.*$"):
        core = core[:-3]
    elif core.endswith("$") and not core.endswith("\\$"):
        core, end = core[:-1], True
    if not ignore_case and not any(ch in special for ch in core):
        if start and end:
            return lambda line: line == core
        if start:
            return lambda line: line.startswith(core)
        if end:
            return lambda line: line.endswith(core)
        return lambda line: core in line
    regex = re.escape(pattern) if fixed else posix_regex(pattern, extended)
    compiled = re.compile(regex, re.IGNORECASE if ignore_case else 0)
    return lambda line: compiled.search(line) is not None


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _grep(sh: Interpreter, argv: list[str]) -> int:
    flags, values, rest = _operands(argv, with_value="e")
    patterns: list[str] = []
    # -e may repeat: collect them all from argv
    args = argv[1:]
    for k, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "-e" and k + 1 < len(args):
            patterns.append(args[k + 1])
        elif arg.startswith("-e") and len(arg) > 2:
            patterns.append(arg[2:])
    if not patterns:
        if not rest:
            sh.complain("grep: no pattern")
            return 2
        patterns = [rest.pop(0)]
    extended, fixed, ignore = "E" in flags, "F" in flags, "i" in flags
    try:
        matchers = [line_matcher(p, extended, fixed, ignore) for q in patterns for p in q.split("\n")]
    except re.error as exc:  # GNU grep: "Unmatched ( or \(" and the like, status 2
        sh.complain(f"grep: {exc}")
        return 2
    invert, quiet = "v" in flags, "q" in flags
    sources: list[tuple[str, str | None]] = []
    status_error = False
    if not rest:
        sources.append(("(standard input)", sh.stdin))
    for path in rest:
        try:
            sources.append((path, sh.host.read(path, sh.cwd)))
        except FsError as exc:
            if "s" not in flags:
                sh.complain(f"grep: {path}: {exc}")
            status_error = True
    found = False
    out: list[str] = []
    prefix = len(rest) > 1 and "h" not in flags
    for name, text in sources:
        if text and "\x00" in text and "a" not in flags:  # binary: GNU grep (3.5+) says so on stderr only
            if any(m(line) for m in matchers for line in _lines(text)) != invert:
                found = True
                sh.complain(f"grep: {name}: binary file matches")
            continue
        for line in _lines(text or ""):
            hit = any(m(line) for m in matchers) if len(matchers) > 1 else matchers[0](line)
            if hit != invert:
                found = True
                if quiet:
                    return 0
                out.append(f"{name}:{line}\n" if prefix else line + "\n")
    sh.say("".join(out))
    if status_error and not (found and quiet):
        return 2
    return 0 if found else 1


def _cat(sh: Interpreter, argv: list[str]) -> int:
    _, _, paths = _operands(argv)
    if not paths:
        sh.say(sh.stdin)
        return 0
    status = 0
    for path in paths:
        try:
            sh.say(sh.host.read(path, sh.cwd))
        except FsError as exc:
            sh.complain(f"cat: {path}: {exc}")
            status = 1
    return status


def _base64(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    data = sh.host.read(paths[0], sh.cwd) if paths else sh.stdin
    raw = data.encode(_ENC, _ERRORS)
    if "d" in flags:
        try:
            decoded = base64.b64decode(b"".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            sh.complain("base64: invalid input")
            return 1
        sh.say(decoded.decode(_ENC, _ERRORS))
    else:
        sh.say(base64.encodebytes(raw).decode("ascii"))
    return 0


def _tail(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="cn")
    text = sh.host.read(paths[0], sh.cwd) if paths else sh.stdin
    if "c" in values:
        count = int(values["c"].lstrip("+-") or "0")
        raw = text.encode(_ENC, _ERRORS)
        sh.say(raw[-count:].decode(_ENC, _ERRORS) if count else "")
        return 0
    count = int(values.get("n", "10").lstrip("+-") or "0")
    lines = text.splitlines(keepends=True)
    sh.say("".join(lines[-count:]) if count else "")
    return 0


def _sed_split(script: str) -> list[str]:
    """``s/a/b/g`` -> ["s", "a", "b", "g"]; ``/re/d`` -> ["", "re", "d"]; another delimiter
    as sed takes it: ``sXaXbX`` and ``\\XreXd``."""
    fields: list[str] = []
    cur: list[str] = []
    delim, i = "/", 0
    if script[:1] == "s" and len(script) > 1:
        delim, i = script[1], 2
        fields.append("s")
    elif script[:1] == "\\" and len(script) > 1:
        delim, i = script[1], 2
        fields.append("")
    while i < len(script):
        c = script[i]
        if c == "\\" and i + 1 < len(script):
            nxt = script[i + 1]
            cur.append("\n" if nxt == "n" else nxt if nxt == delim else c + nxt)
            i += 2
            continue
        if c == delim:
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    fields.append("".join(cur))
    return fields


@lru_cache(maxsize=256)
def _sed_program(script: str, extended: bool) -> Callable[[list[str]], list[str]] | None:
    fields = _sed_split(script)
    if len(fields) == 4 and fields[0] == "s":
        _, pattern, replacement, sed_flags = fields
        count = 0 if "g" in sed_flags else 1
        regex = re.compile(posix_regex(pattern, extended), re.IGNORECASE if set(sed_flags) & {"i", "I"} else 0)

        def expand(m: re.Match[str]) -> str:
            out = []
            k = 0
            while k < len(replacement):
                c = replacement[k]
                if c == "\\" and k + 1 < len(replacement):
                    nxt = replacement[k + 1]
                    out.append(m.group(int(nxt)) or "" if nxt.isdigit() else "\n" if nxt == "n" else nxt)
                    k += 2
                elif c == "&":
                    out.append(m.group())
                    k += 1
                else:
                    out.append(c)
                    k += 1
            return "".join(out)

        return lambda lines: [regex.sub(expand, line, count=count) for line in lines]
    if len(fields) == 3 and fields[0] == "" and fields[2] == "d":
        match = line_matcher(fields[1], extended)
        return lambda lines: [line for line in lines if not match(line)]
    return None


def _sed(sh: Interpreter, argv: list[str]) -> int:
    flags, values, rest = _operands(argv, with_value="e")
    script = values.get("e")
    if script is None and rest:
        script = rest.pop(0)
    program = _sed_program(script or "", bool(flags & {"E", "r"}))
    if program is None:
        sh.complain(f"sed: the simulator knows only s/RE/REPL/FLAGS and /RE/d, not {script!r}")
        return 1
    if "i" not in flags:
        text = sh.stdin
        lines = program(text.split("\n"))
        sh.say("\n".join(lines))
        return 0
    status = 0
    for path in rest:
        try:
            text = sh.host.read(path, sh.cwd)
        except FsError as exc:
            sh.complain(f"sed: can't read {path}: {exc}")
            status = 2
            continue
        ends = text.endswith("\n")
        lines = program(_lines(text))
        new = "\n".join(lines) + ("\n" if ends and lines else "")
        canonical, node = sh.host.resolve(path, False, sh.cwd)
        if node is not None and node.kind == "l":  # as GNU sed: a new file in the link's place
            _, real = sh.host.resolve(path, True, sh.cwd)
            assert real is not None  # read() found it
            sh.host.add(canonical, Node("f", real.mode, real.user, real.group, _now(), data=new))
            continue
        sh.host.write(path, new, False, sh.user, sh.cwd)
    return status
