"""The commands: shell builtins, information commands (``id``, ``uname``, ``stat``,
``readlink``, checksums), ``sh -c``/``sh -s``/``sudo``/``su``/``timeout``, and the command table
(:mod:`.files` holds the filesystem commands, :mod:`.text` the text ones)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Callable

from oxinfra.testing.sim.files import _chmod, _chown, _cp, _ln, _mkdir, _mv, _rm, _touch
from oxinfra.testing.sim.fs import _ENC, _ENOENT, _ERRORS, FsError, Node
from oxinfra.testing.sim.interp import _BUILTINS, Interpreter, _Break, _Continue, _Exit
from oxinfra.testing.sim.options import _operands
from oxinfra.testing.sim.parse import Parser, ShellSyntaxError
from oxinfra.testing.sim.text import _base64, _cat, _grep, _sed, _tail


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _true(sh: Interpreter, argv: list[str]) -> int:
    return 0


def _false(sh: Interpreter, argv: list[str]) -> int:
    return 1


def _exit(sh: Interpreter, argv: list[str]) -> int:
    value = argv[1] if len(argv) > 1 else str(sh.status)
    raise _Exit(int(value) & 255 if value.lstrip("-").isdigit() else 2)


def _eval(sh: Interpreter, argv: list[str]) -> int:
    """``eval WORDS``: the words, joined by spaces, parsed and run here; a syntax error
    exits the shell (a special built-in's error, in a non-interactive shell), status 2."""
    from oxinfra.testing.sim.parse import Parser, ShellSyntaxError

    try:
        body = Parser(" ".join(argv[1:])).parse()
    except ShellSyntaxError as exc:
        sh.complain(f"sh: eval: Syntax error: {exc}")
        raise _Exit(2) from None
    return sh.run_body(body)


def _break(sh: Interpreter, argv: list[str]) -> int:
    raise _Break()


def _continue(sh: Interpreter, argv: list[str]) -> int:
    raise _Continue()


def _export(sh: Interpreter, argv: list[str]) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            sh.vars[name] = value
    return 0


def _umask(sh: Interpreter, argv: list[str]) -> int:
    """``umask`` prints the mask, ``umask NNN`` sets it (octal only)."""
    if len(argv) == 1:
        sh.say(f"{sh.umask:04o}\n")
        return 0
    value = argv[1]
    if not value or any(c not in "01234567" for c in value) or int(value, 8) > 0o777:
        sh.complain(f"umask: Illegal mode: {value}")
        return 2
    sh.umask = int(value, 8)
    return 0


def _set(sh: Interpreter, argv: list[str]) -> int:
    """``set -C`` / ``set +C`` (noclobber), ``set -- ARG...`` (the positional parameters);
    other options change nothing here."""
    for k, arg in enumerate(argv[1:], 1):
        if arg == "--":
            sh.positional = argv[k + 1 :]
            break
        if arg[:1] in "-+" and "C" in arg[1:]:
            sh.noclobber = arg[0] == "-"
    return 0


def _shift(sh: Interpreter, argv: list[str]) -> int:
    """``shift [N]``: drop the first N positional parameters (a shell ends on too many)."""
    count = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else 1 if len(argv) == 1 else -1
    if not 0 <= count <= len(sh.positional):
        sh.complain("sh: shift: can't shift that many")
        raise _Exit(2)
    sh.positional = sh.positional[count:]
    return 0


def _cd(sh: Interpreter, argv: list[str]) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    path, node = sh.host.resolve(target, True, sh.cwd)
    if node is None or node.kind != "d":
        sh.complain(f"sh: cd: can't cd to {target}")
        return 2
    sh.cwd = path
    return 0


def _test(sh: Interpreter, argv: list[str]) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            sh.complain("[: missing ]")
            return 2
        args = args[:-1]
    try:
        return 0 if _evaluate_test(sh, args) else 1
    except ValueError as exc:
        sh.complain(f"test: {exc}")
        return 2


def _evaluate_test(sh: Interpreter, args: list[str]) -> bool:
    if not args:
        return False
    if args[0] == "!" and len(args) > 1:
        return not _evaluate_test(sh, args[1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 3 and args[1] in ("=", "!="):
        return (args[0] == args[2]) == (args[1] == "=")
    if len(args) == 2:
        op, operand = args
        if op == "-z":
            return operand == ""
        if op == "-n":
            return operand != ""
        host = sh.host
        try:
            _, node = host.resolve(operand, op not in ("-L", "-h"), sh.cwd)
        except FsError:
            return False
        if op in ("-e", "-a"):
            return node is not None
        if op == "-f":
            return node is not None and node.kind == "f"
        if op == "-d":
            return node is not None and node.kind == "d"
        if op in ("-L", "-h"):
            return node is not None and node.kind == "l"
        if op == "-s":
            return node is not None and node.size() > 0
        if op in ("-r", "-w", "-x"):
            return node is not None
        raise ValueError(f"{op}: unexpected operator")
    if len(args) == 3:
        left, op, right = args
        if op == "=":
            return left == right
        if op == "!=":
            return left != right
        if op in ("-eq", "-ne", "-lt", "-le", "-gt", "-ge"):
            try:
                a, b = int(left), int(right)
            except ValueError:
                raise ValueError("Illegal number") from None
            return {"-eq": a == b, "-ne": a != b, "-lt": a < b, "-le": a <= b, "-gt": a > b, "-ge": a >= b}[op]
    raise ValueError("unsupported expression")


def _echo(sh: Interpreter, argv: list[str]) -> int:
    sh.say(" ".join(argv[1:]) + "\n")
    return 0


_PRINTF_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "\\": "\\",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "r": "\r",
    "v": "\v",
    '"': '"',
    "'": "'",
}


@lru_cache(maxsize=256)
def _printf_format(fmt: str) -> tuple[tuple[str, str | None], ...]:
    """The format as (literal text, conversion or None) pairs."""
    pieces: list[tuple[str, str | None]] = []
    lit: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "\\" and i + 1 < len(fmt):
            nxt = fmt[i + 1]
            if nxt in _PRINTF_ESCAPES:
                lit.append(_PRINTF_ESCAPES[nxt])
                i += 2
                continue
            m = re.match(r"0[0-7]{0,3}", fmt[i + 1 :]) if nxt == "0" else None
            if m is not None:
                lit.append(chr(int(m.group(), 8)))
                i += 1 + len(m.group())
                continue
            lit.append(c)
            i += 1
        elif c == "%" and i + 1 < len(fmt):
            if fmt[i + 1] == "%":
                lit.append("%")
                i += 2
                continue
            m = re.match(r"%[-+ #0]*\d*(?:\.\d+)?([sbdiuxXoc])", fmt[i:])
            if m is None:
                lit.append(c)
                i += 1
                continue
            pieces.append(("".join(lit), m.group()))
            lit = []
            i += len(m.group())
        else:
            lit.append(c)
            i += 1
    pieces.append(("".join(lit), None))
    return tuple(pieces)


def _printf(sh: Interpreter, argv: list[str]) -> int:
    if len(argv) < 2:
        sh.complain("printf: usage: printf format [arg ...]")
        return 2
    pieces = _printf_format(argv[1])
    args = argv[2:]
    conversions = sum(1 for _, conv in pieces if conv)
    out: list[str] = []
    k = 0
    while True:
        for lit, conv in pieces:
            if lit:  # (no empty pieces: "%s" of one value then returns that very string, shared)
                out.append(lit)
            if conv is None:
                continue
            value = args[k] if k < len(args) else ""
            k += 1
            kind = conv[-1]
            if kind == "s":
                out.append(value)
            elif kind == "b":
                out.append("".join(text for text, _ in _printf_format(value.replace("%", "%%"))))
            elif kind == "c":
                out.append(value[:1])
            else:
                try:
                    number = int(value or "0")
                except ValueError:
                    number = 0
                out.append(conv.replace("i", "d").replace("u", "d") % number)
        if not conversions or k >= len(args):
            break
    sh.say("".join(out))
    return 0


def _command(sh: Interpreter, argv: list[str]) -> int:
    if len(argv) >= 3 and argv[1] == "-v":
        name = argv[2]
        if name in sh.funcs or name in _SHELL_BUILTINS:
            sh.say(name + "\n")
            return 0
        if name in _BUILTINS:
            sh.say(f"/usr/bin/{name}\n")
            return 0
        return 1
    return sh.call(argv[1:]) if len(argv) > 1 else 0


def _id(sh: Interpreter, argv: list[str]) -> int:
    flags, _, _ = _operands(argv)
    if "u" in flags or "g" in flags:
        if "n" in flags:
            sh.say(sh.user + "\n")
        else:
            sh.say(("0" if sh.user == "root" else "1000") + "\n")
        return 0
    uid = "0" if sh.user == "root" else "1000"
    sh.say(f"uid={uid}({sh.user}) gid={uid}({sh.user}) groups={uid}({sh.user})\n")
    return 0


def _uname(sh: Interpreter, argv: list[str]) -> int:
    flags, _, _ = _operands(argv)
    values = {"s": "Linux", "n": sh.host.name, "r": "6.1.0-oxinfra-sim", "m": "x86_64", "o": "GNU/Linux"}
    if "a" in flags:
        flags = set("snrmo")
    picked = [values[f] for f in "snrmo" if f in flags] or ["Linux"]
    sh.say(" ".join(picked) + "\n")
    return 0


_FILE_TYPES = {"d": "directory", "l": "symbolic link"}


def _stat_field(node: Node, path: str, spec: str) -> str:
    if spec == "n":
        return path
    if spec == "F":
        if node.kind == "f":
            return "regular file" if node.data else "regular empty file"
        return _FILE_TYPES[node.kind]
    if spec == "U":
        return node.user
    if spec == "G":
        return node.group
    if spec == "a":
        return f"{node.mode & 0o7777:o}"
    if spec == "s":
        return str(node.size())
    if spec == "X":
        return str(node.atime)
    if spec == "Y":
        return str(node.mtime)
    if spec == "Z":
        return str(node.ctime)
    if spec == "%":
        return "%"
    return "?"


@lru_cache(maxsize=64)
def _stat_format(fmt: str) -> tuple[str, ...]:
    """The format split into literal text (even positions) and field letters (odd)."""
    return tuple(re.split(r"%(.)", fmt))


def _stat(sh: Interpreter, argv: list[str]) -> int:
    flags, values, paths = _operands(argv, with_value="c")
    fmt = values.get("c")
    if fmt is None or "L" in flags or not paths:
        sh.complain("stat: only stat -c FORMAT [--] PATH... is simulated")
        return 1
    pieces = _stat_format(fmt)
    host = sh.host
    status = 0
    out = []
    for path in paths:
        try:
            _, node = host.resolve(path, False, sh.cwd)
        except FsError as exc:
            node, reason = None, str(exc)
        else:
            reason = _ENOENT
        if node is None:
            sh.complain(f"stat: cannot statx '{path}': {reason}")
            status = 1
            continue
        line = [pieces[k] if k % 2 == 0 else _stat_field(node, path, pieces[k]) for k in range(len(pieces))]
        out.append("".join(line) + "\n")
    sh.say("".join(out))
    return status


def _readlink(sh: Interpreter, argv: list[str]) -> int:
    flags, _, paths = _operands(argv)
    status = 0
    for path in paths:
        if "f" in flags:  # canonical: every link followed; all but the last component exist
            try:
                canonical, _ = sh.host.resolve(path, True, sh.cwd)
            except FsError:
                status = 1
                continue
            sh.say(canonical + ("" if "n" in flags else "\n"))
            continue
        try:
            _, node = sh.host.resolve(path, False, sh.cwd)
        except FsError:
            node = None
        if node is None or node.kind != "l":
            status = 1
            continue
        sh.say(node.target + ("" if "n" in flags else "\n"))
    return status


def _hasher(algorithm: str) -> Callable[[Interpreter, list[str]], int]:
    def run(sh: Interpreter, argv: list[str]) -> int:
        _, _, paths = _operands(argv)
        if not paths:
            digest = hashlib.new(algorithm, sh.stdin.encode(_ENC, _ERRORS)).hexdigest()
            sh.say(f"{digest}  -\n")
            return 0
        status = 0
        for path in paths:
            try:
                data = sh.host.read(path, sh.cwd)
            except FsError as exc:
                sh.complain(f"{argv[0]}: {path}: {exc}")
                status = 1
                continue
            sh.say(f"{hashlib.new(algorithm, data.encode(_ENC, _ERRORS)).hexdigest()}  {path}\n")
        return status

    return run


def _read(sh: Interpreter, argv: list[str]) -> int:
    """``read [-r] NAME``: one line of stdin into NAME (the rest stays for the next reader);
    status 1 at the end of stdin."""
    names = [a for a in argv[1:] if not a.startswith("-")] or ["REPLY"]
    line, newline, sh.stdin = sh.stdin.partition("\n")
    sh.vars[names[0]] = line
    for name in names[1:]:
        sh.vars[name] = ""
    return 0 if newline else 1


def _exec(sh: Interpreter, argv: list[str]) -> int:
    """``exec COMMAND...``: the command, and the shell ends with its status."""
    if len(argv) == 1:
        return 0
    raise _Exit(sh.call(argv[1:]))


def _sh(sh: Interpreter, argv: list[str]) -> int:
    """``sh -c TEXT [NAME ARGS...]`` (its commands read the caller's stdin), or ``sh`` /
    ``sh -s`` reading its script on stdin (its commands then read what the script left of
    stdin: nothing)."""
    if len(argv) >= 3 and argv[1] == "-c":
        text, positional, stdin = argv[2], argv[4:], sh.stdin
    elif len(argv) == 1 or argv[1] == "-s":
        text, positional, stdin = sh.stdin, argv[2:], ""
    else:
        return 0
    try:
        body = Parser(text).parse()
    except ShellSyntaxError as exc:
        sh.complain(f"sh: {exc}")
        return 2
    saved, saved_subs, saved_in = sh.positional, sh.subs, sh.stdin
    sh.positional, sh.subs, sh.stdin = positional, (), stdin
    try:
        return sh.subshell(body)
    finally:
        sh.positional, sh.subs, sh.stdin = saved, saved_subs, saved_in


def _as_user(sh: Interpreter, user: str, argv: list[str]) -> int:
    saved = sh.user
    sh.user = user
    try:
        return sh.call(argv) if argv else 0
    finally:
        sh.user = saved


def _sudo(sh: Interpreter, argv: list[str]) -> int:
    _, values, rest = _operands(argv, with_value="ugCp")
    return _as_user(sh, values.get("u", "root"), rest)


def _su(sh: Interpreter, argv: list[str]) -> int:
    user, command, args = "root", None, argv[1:]
    k = 0
    while k < len(args):
        if args[k] in ("-s", "-c", "-g", "-G") and k + 1 < len(args):
            if args[k] == "-c":
                command = args[k + 1]
            k += 2
            continue
        if not args[k].startswith("-"):
            user = args[k]
        k += 1
    return _as_user(sh, user, ["sh", "-c", command] if command is not None else ["sh"])


def _timeout(sh: Interpreter, argv: list[str]) -> int:
    _, _, rest = _operands(argv, with_value="sk")
    return sh.call(rest[1:]) if len(rest) > 1 else 0


_SHELL_BUILTINS = frozenset(
    (
        ":",
        "true",
        "false",
        "exit",
        "eval",
        "break",
        "continue",
        "export",
        "cd",
        "test",
        "[",
        "echo",
        "printf",
        "command",
        "read",
        "exec",
        "shift",
        "set",
    )
)

_BUILTINS.update(
    {
        ":": _true,
        "true": _true,
        "false": _false,
        "exit": _exit,
        "eval": _eval,
        "break": _break,
        "continue": _continue,
        "export": _export,
        "cd": _cd,
        "umask": _umask,
        "set": _set,
        "shift": _shift,
        "sleep": _true,
        "test": _test,
        "[": _test,
        "echo": _echo,
        "printf": _printf,
        "command": _command,
        "id": _id,
        "uname": _uname,
        "stat": _stat,
        "readlink": _readlink,
        "sha1sum": _hasher("sha1"),
        "sha256sum": _hasher("sha256"),
        "md5sum": _hasher("md5"),
        "grep": _grep,
        "mkdir": _mkdir,
        "chmod": _chmod,
        "chown": _chown,
        "chgrp": _chown,
        "touch": _touch,
        "ln": _ln,
        "rm": _rm,
        "mv": _mv,
        "cp": _cp,
        "cat": _cat,
        "base64": _base64,
        "tail": _tail,
        "sed": _sed,
        "sh": _sh,
        "sudo": _sudo,
        "su": _su,
        "timeout": _timeout,
        "read": _read,
        "exec": _exec,
    }
)
