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

Commands are put together by small combinators, so no operation writes shell syntax
around a value by hand (a test fails on an f-string in ``oxinfra/operations`` that
interpolates anything but a quoted value)::

    >>> and_then(command("mkdir", "-p", "--", "/srv"), write_to(command("printf", "%s", "x y"), "/srv/f"))
    "mkdir -p -- /srv && printf %s 'x y' > /srv/f"
    >>> if_then(file_test("-f", "/etc/x"), command("rm", "-f", "--", "/etc/x"))
    'if [ -f /etc/x ]; then rm -f -- /etc/x; fi'

Arguments named ``cmd``/``cmds`` (and ``condition``, ``then``, ``otherwise``) are shell code
(made by these functions); every other argument is a value and is quoted. A value the
shell should expand ``$VARIABLES`` in is marked :class:`Interpolated`::

    >>> command("printf", "%s", Interpolated("home=$HOME"))
    'printf %s "home=$HOME"'
"""

from __future__ import annotations

import re

__all__ = [
    "SPECIAL_BUILTINS",
    "quote",
    "path_operand",
    "quote_interpolated",
    "command",
    "program_word",
    "RESERVED_WORDS",
    "invoke",
    "QuotingError",
    "Interpolated",
    "write_to",
    "append_to",
    "read_from",
    "and_then",
    "or_else",
    "pipe",
    "subshell",
    "group",
    "file_test",
    "output_test",
    "if_then",
    "with_umask",
    "copy_owner",
    "in_directory",
]

_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+\Z")


class QuotingError(ValueError):
    """A value cannot be represented in a shell command (it contains a NUL byte)."""


class Interpolated(str):
    """A value whose ``$VARIABLES`` the host's shell expands: :func:`quote` (and so
    :func:`command` and every combinator) writes it with :func:`quote_interpolated`.

    >>> quote(Interpolated("$HOME/a b"))
    '"$HOME/a b"'
    """

    __slots__ = ()


def quote(value: object) -> str:
    """Return ``value`` as one shell word that the shell reads back literally (an
    :class:`Interpolated` value: with its ``$VARIABLES`` expanded).

    >>> quote("/srv/app"), quote("a b"), quote(644)
    ('/srv/app', "'a b'", '644')
    """
    if value.__class__ is Interpolated:
        return quote_interpolated(value)
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        raise QuotingError(f"a shell argument cannot contain a NUL byte: {text!r}")
    if text and _SAFE.match(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


#: Words a shell reads as syntax where a command's name goes: POSIX's reserved words and
#: bash's (``[[``, ``function``...). A program named by a value is never left one of them.
RESERVED_WORDS = frozenset(
    ["!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until", "while"]
    + ["[[", "]]", "function", "select", "time", "coproc"]
)


def program_word(name: object) -> str:
    """A program named by a value (``python="python3"``), as a command's first word: quoted
    like any value, and in quotes even where :func:`quote` needs none when the shell would
    read the bare word as syntax (``fi``) or an assignment (``A=b``).

    >>> program_word("python3"), program_word("fi"), program_word("A=b")
    ('python3', "'fi'", "'A=b'")
    """
    word = quote(name)
    if word == name and (word in RESERVED_WORDS or "=" in word):
        return "'" + word + "'"
    return word


def command(program: str, *args: object) -> str:
    """Join a fixed program word with quoted arguments into one command line.

    ``program`` is written as is (it is code, never data); every argument is quoted.

    >>> command("chown", "app:app", "--", "/srv/a b")
    "chown app:app -- '/srv/a b'"
    """
    return " ".join([program, *(quote(a) for a in args)])


def path_operand(path: str) -> str:
    """A path as a tool's operand, never read as an option or as standard input: a relative
    path that starts with ``-`` gets ``./`` in front. ``--`` stops options only; ``touch``,
    ``grep``, ``rpm`` and the like still take a lone ``-`` for standard input or output, and
    ``cd`` and ``su`` take it after ``--`` too. Other paths are returned as they are.

    >>> path_operand("-"), path_operand("-x/y"), path_operand("/srv/-"), path_operand("a")
    ('./-', './-x/y', '/srv/-', 'a')
    """
    return "./" + path if isinstance(path, str) and path.startswith("-") else path


def invoke(path: str, *args: object) -> str:
    """Run the program at the absolute ``path`` -- a value, such as ``/etc/init.d/`` and a
    service's name -- with quoted arguments. Only an absolute path: a bare word could be read
    as an assignment, a reserved word or an option.

    >>> invoke("/etc/init.d/my app", "start")
    "'/etc/init.d/my app' start"
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"invoke() runs a program by its absolute path, not {path!r}")
    return " ".join([quote(path), *(quote(a) for a in args)])


#: The only expansions an :class:`Interpolated` value may hold: ``$NAME`` and ``${NAME}``.
_VARIABLE = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")


def quote_interpolated(value: str) -> str:
    """Double-quote ``value`` so the shell expands ``$NAME`` and ``${NAME}`` in it and nothing
    else: reading a variable is all it may do.

    Backslashes, double quotes and backticks are escaped, and so is every other ``$`` (``$(``,
    ``$((``, ``$1``, ``$?``, ``$$``, a lone ``$``): those are taken literally. A ``${`` that is
    not ``${NAME}`` is refused (:class:`QuotingError`): its operators assign (``${X=v}``,
    ``${X:=v}``), end the shell that expands them (``${X?e}``, and with it the host's
    persistent shell), may run commands in their word (``${X:-$(cmd)}``), and an unterminated
    ``${X`` leaves the shell waiting for the rest; the user meant an expansion, so it is not
    silently taken literally either. Used where an argument asks for interpolation
    (``interpolate_variables=True``).

    >>> quote_interpolated("$HOME/${USER}: $(id) costs 5$")
    '"$HOME/${USER}: \\\\$(id) costs 5\\\\$"'
    """
    if "\x00" in value:
        raise QuotingError(f"a shell argument cannot contain a NUL byte: {value!r}")
    out = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "$":
            m = _VARIABLE.match(value, i)
            if m is not None:
                out.append(m.group())
                i = m.end()
                continue
            if value.startswith("${", i):
                raise QuotingError(
                    f"only $NAME and ${{NAME}} are expanded in an interpolated value, not {value[i : i + 24]!r}: "
                    "${...} with an operator or unterminated is refused (it may assign, exit the shell or run a command)"
                )
            out.append("\\$")
        elif ch in '\\"`':
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    return '"' + "".join(out) + '"'


#: POSIX special builtins: a failed redirection of one makes a non-interactive shell exit
#: (and with it the host's persistent shell), so they are never redirected; assignments
#: before one stay in the shell.
SPECIAL_BUILTINS = frozenset(
    {
        ":",
        "break",
        "continue",
        ".",
        "eval",
        "exec",
        "exit",
        "export",
        "readonly",
        "return",
        "set",
        "shift",
        "times",
        "trap",
        "unset",
    }
)


def _redirect(cmd: str, op: str, path: object) -> str:
    first = cmd.split(None, 1)[0] if cmd.strip() else ""
    if first in SPECIAL_BUILTINS:
        raise ValueError(f"never redirect the special builtin {first!r}: a failed redirection exits the shell")
    return f"{cmd} {op} {quote(path)}"


def write_to(cmd: str, path: object) -> str:
    """``cmd > path``: ``path`` is truncated or created (``true`` makes an empty file).

    >>> write_to("true", "/srv/a b")
    "true > '/srv/a b'"
    """
    return _redirect(cmd, ">", path)


def append_to(cmd: str, path: object) -> str:
    """``cmd >> path``.

    >>> append_to("echo", "/srv/env")
    'echo >> /srv/env'
    """
    return _redirect(cmd, ">>", path)


def read_from(cmd: str, path: object) -> str:
    """``cmd < path``.

    >>> read_from(command("tail", "-c", "1"), "/srv/env")
    'tail -c 1 < /srv/env'
    """
    return _redirect(cmd, "<", path)


def and_then(*cmds: str) -> str:
    """Each command runs only if the one before it succeeded.

    >>> and_then("true", "false")
    'true && false'
    """
    return " && ".join(cmds)


def or_else(*cmds: str) -> str:
    """Each command runs only if the one before it failed.

    >>> or_else(file_test("-d", "/srv"), command("mkdir", "--", "/srv"))
    '[ -d /srv ] || mkdir -- /srv'
    """
    return " || ".join(cmds)


def pipe(*cmds: str) -> str:
    """The output of each command is the input of the next.

    >>> pipe(command("printf", "%s", "a b"), command("wc", "-c"))
    "printf %s 'a b' | wc -c"
    """
    return " | ".join(cmds)


def subshell(*cmds: str) -> str:
    """``(a && b)``: its own process, so ``umask``, ``cd``, ``set`` or ``exit`` inside stay there.

    >>> subshell(command("cd", "--", "/srv"), "make")
    '(cd -- /srv && make)'
    """
    return f"({and_then(*cmds)})"


def group(*cmds: str) -> str:
    """``{ a && b; }``: one command for ``&&``/``||`` and redirections, in the same shell.

    >>> group("true", "false")
    '{ true && false; }'
    """
    return f"{{ {and_then(*cmds)}; }}"


_TEST_FLAGS = frozenset({"-e", "-f", "-d", "-L", "-h", "-s", "-r", "-w", "-x", "-S", "-p", "-b", "-c", "-z", "-n"})


def file_test(flag: str, value: object) -> str:
    """``[ FLAG value ]`` for a unary test such as ``-f``; ``!`` before the flag negates it
    (``file_test("!-f", p)``).

    >>> file_test("!-s", "/srv/a b")
    "[ ! -s '/srv/a b' ]"
    """
    negate = flag.startswith("!")
    flag = flag.lstrip("!")
    if flag not in _TEST_FLAGS:
        raise ValueError(f"not a unary test flag: {flag!r}")
    return f"[ {'! ' if negate else ''}{flag} {quote(value)} ]"


def output_test(flag: str, cmd: str) -> str:
    """``[ -z "$(cmd)" ]`` (``-z``: the command prints nothing, or only newlines; ``-n``: it
    prints something else). Trailing newlines of the output are dropped, as by every shell.

    >>> output_test("-z", read_from(command("tail", "-c", "1"), "/srv/env"))
    '[ -z "$(tail -c 1 < /srv/env)" ]'
    """
    if flag not in ("-z", "-n"):
        raise ValueError(f"not a string test flag: {flag!r} (use -z or -n)")
    return f'[ {flag} "$({cmd})" ]'


def if_then(condition: str, then: str, otherwise: str | None = None) -> str:
    """``if condition; then ...; [else ...;] fi`` (all three are shell code).

    >>> if_then(file_test("-L", "/srv/x"), command("rm", "-f", "--", "/srv/x"), "true")
    'if [ -L /srv/x ]; then rm -f -- /srv/x; else true; fi'
    """
    tail = f" else {otherwise};" if otherwise is not None else ""
    return f"if {condition}; then {then};{tail} fi"


def with_umask(umask: str, *cmds: str) -> str:
    """``(umask U && ...)``: files the commands create get the mode the umask leaves.

    >>> with_umask("137", write_to("true", "/srv/f"))
    '(umask 137 && true > /srv/f)'
    """
    if not (len(umask) in (3, 4) and all(c in "01234567" for c in umask)):
        raise ValueError(f"not an octal umask: {umask!r}")
    return subshell(f"umask {umask}", *cmds)


def copy_owner(reference: object, target: object, user: object = None, group: object = None) -> str:
    """Give ``target`` the owner and group of ``reference`` (by number, read with POSIX
    ``ls -n`` as it runs: a uid without an account name is kept too), except where
    ``user``/``group`` name them; in a subshell (it sets its positional parameters). Fails
    (``chown``'s error) where the owner cannot be given, e.g. by an unprivileged login.

    >>> print(copy_owner("/etc/app.conf", "/etc/.tmp", group="app"))
    (IFS=' ' && __ox_o=$(ls -nLd -- /etc/app.conf) && set -f && set -- $__ox_o && chown -- "$3":app /etc/.tmp)
    """
    owner = quote(user) if user else '"$3"'
    owner += ":" + (quote(group) if group else '"$4"')
    listed = "__ox_o=$(" + command("ls", "-nLd", "--", reference) + ")"
    return subshell("IFS=' '", listed, "set -f", "set -- $__ox_o", f"chown -- {owner} {quote(target)}")


def in_directory(directory: str, cmd: str) -> str:
    """``cmd`` run inside ``directory`` (a subshell that ``cd -P``s into it) once that is
    proven to be the directory of that name under its parent, not one a link there leads
    to: ``pwd -P`` in it is its parent's ``pwd -P`` and its name. Else it fails, saying so.
    The commands then name what is in it by relative names: renaming or replacing the
    directory meanwhile changes nothing they touch.

    >>> print(in_directory("/home/u/.ssh", "true"))
    (if cd -P -- /home/u/.ssh && __ox_p=$(cd -P -- /home/u && pwd -P) && [ "$(pwd -P)" = "${__ox_p%/}"/.ssh ]; then true; else { printf '%s\\n' 'oxinfra: /home/u/.ssh is not a directory of its own (a link?): not written into' >&2 && exit 1; }; fi)
    """
    stripped = directory.rstrip("/") or "/"
    up, name = stripped.rsplit("/", 1) if "/" in stripped else (".", stripped)
    proof = and_then(
        command("cd", "-P", "--", stripped),
        f"__ox_p=$({command('cd', '-P', '--', up or '/')} && pwd -P)",
        f'[ "$(pwd -P)" = "${{__ox_p%/}}"/{quote(name)} ]',
    )
    message = f"oxinfra: {directory} is not a directory of its own (a link?): not written into"
    refused = group(f"{command('printf', '%s' + chr(92) + 'n', message)} >&2", "exit 1")
    return subshell(if_then(proof, cmd, refused))
