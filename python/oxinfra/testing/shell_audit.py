"""Static checks of the shell text an operation plans, read with the simulator's parser
(:mod:`oxinfra.testing.sim.parse`, a POSIX parser of the dialect oxinfra writes).

* :func:`shell_safety_violations`: what a ``shell_safe`` operation may not do, because its
  commands run in the host's own persistent shell: change that shell (``cd``, ``umask``,
  ``set``, variables, traps, functions) or leave it (``exit``, ``exec``, a failed
  redirection of a special builtin, which makes a POSIX shell exit). Anything inside a
  subshell ``( )`` or a command substitution ``$( )`` runs in its own process and is fine.
* :func:`structure_differences`: how the commands planned with one value differ, word for
  word, from those planned with a plain stand-in: a value must stay data -- the same words,
  operators and expansions -- and never become an option of the program it is given to.

    >>> shell_safety_violations("mkdir -p -- /srv && (umask 077 && true > /srv/f)")
    []
    >>> shell_safety_violations("cd /srv && : > f")
    ["'cd' changes the host's shell", "redirection of the special builtin ':' (a failure exits the shell)"]
"""

from __future__ import annotations

from typing import Any, Iterable

from oxinfra.testing.sim.parse import Parser, ShellSyntaxError
from oxinfra.quoting import SPECIAL_BUILTINS

__all__ = ["SPECIAL_BUILTINS", "SHELL_STATE", "shell_safety_violations", "structure_differences", "parse"]


#: Commands that change or leave the shell they run in (special builtins but ``:`` and
#: ``times``, and the regular builtins that set its directory, mask, variables, options or
#: aliases, or read into variables).
SHELL_STATE = (SPECIAL_BUILTINS - {":", "times"}) | frozenset(
    {
        "cd",
        "umask",
        "source",
        "alias",
        "unalias",
        "read",
        "getopts",
        "hash",
        "ulimit",
        "local",
        "typeset",
        "declare",
        "builtin",
        "enable",
        "shopt",
        "pushd",
        "popd",
        "wait",
        "fg",
        "bg",
        "disown",
    }
)


def parse(text: str) -> list[Any]:
    """The parsed text (raises :class:`ShellSyntaxError`)."""
    return Parser(text).parse()


def _literal(word: Any) -> str | None:
    """A word's text when it has no expansion, else None."""
    return word if isinstance(word, str) else None


def _text(word: Any) -> str:
    """A word's literal parts joined (expansions left out)."""
    if isinstance(word, str):
        return word
    return "".join(part for part in word if isinstance(part, str))


# --------------------------------------------------------------------------------------------
# What runs in the host's shell
# --------------------------------------------------------------------------------------------


def shell_safety_violations(text: str) -> list[str]:
    """What in ``text`` (commands of a ``shell_safe`` operation) would change or end the
    shell it runs in; empty when nothing does. Text that does not parse is a violation."""
    try:
        body = parse(text)
    except ShellSyntaxError as exc:
        return [f"does not parse: {exc}"]
    out: list[str] = []
    for node in body:
        _walk(node, out)
    return out


def _walk(node: Any, out: list[str]) -> None:
    tag = node[0]
    if tag == "cmd":
        _check_command(node, out)
    elif tag == "andor":
        _walk(node[1], out)
        for _, pipeline in node[2]:
            _walk(pipeline, out)
    elif tag == "pipe":
        # A command of a pipeline of several may run in the shell itself (ksh, bash with
        # lastpipe, zsh): judged as if it did.
        for command in node[2]:
            _walk(command, out)
    elif tag == "brace":
        for child in node[1]:
            _walk(child, out)
        _check_redirect_words(node[2], out)
    elif tag == "if":
        for cond, body in node[1]:
            for child in (*cond, *body):
                _walk(child, out)
        for child in node[2] or ():
            _walk(child, out)
        _check_redirect_words(node[3], out)
    elif tag == "while":
        start = len(out)
        for child in (*node[1], *node[2]):
            _walk(child, out)
        # `break`/`continue` inside a loop of the command's own end that loop, nothing else
        out[start:] = [m for m in out[start:] if m not in _LOOP_EXITS]
        _check_redirect_words(node[3], out)
    elif tag == "for":
        if not node[1].startswith("__ox_"):  # __ox_ names are the engine's own (as for assignments)
            out.append(f"'for {node[1]}' sets a variable of the host's shell")
        for child in node[3]:
            _walk(child, out)
    elif tag == "func":
        out.append(f"defines the function {node[1]!r} in the host's shell")
    elif tag == "sub":
        _check_redirect_words(node[2], out)  # the body runs in its own process
    else:  # pragma: no cover - the parser makes no other node
        out.append(f"unknown node {tag!r}")


_LOOP_EXITS = ("'break' changes the host's shell", "'continue' changes the host's shell")


def _check_command(node: Any, out: list[str]) -> None:
    _, assigns, words, redirs = node
    for word in words:
        _check_word(word, out)
    for _, value in assigns:
        _check_word(value, out)
    _check_redirect_words(redirs, out)
    # Names starting __ox_ are the engine's own (its scripts keep their state in them).
    assigns = [(name, value) for name, value in assigns if not name.startswith("__ox_")]
    if not words:
        if assigns:
            out.append(f"assigns {', '.join(name for name, _ in assigns)} in the host's shell")
        return
    program = _literal(words[0])
    if program is None:
        out.append(f"runs a command whose name is an expansion: {_text(words[0])!r}")
        return
    name = program
    if name == "command" and len(words) > 1 and _literal(words[1]) not in (None, "-v", "-V", "-p"):
        name = _literal(words[1]) or name  # `command cd x` is still cd
    if name in SHELL_STATE:
        out.append(f"{name!r} changes the host's shell")
    if program in SPECIAL_BUILTINS:
        if redirs:
            out.append(f"redirection of the special builtin {program!r} (a failure exits the shell)")
        if assigns:
            out.append(f"assignments before the special builtin {program!r} stay in the host's shell")


def _check_redirect_words(redirs: Iterable[Any], out: list[str]) -> None:
    for redir in redirs:
        if redir[0] != "<<":
            _check_word(redir[2], out)


def _check_word(word: Any, out: list[str]) -> None:
    """Expansions that assign (``${X=v}``, ``$((x = 1))``) change the shell; command
    substitutions run in their own process."""
    if isinstance(word, str):
        return
    for part in word:
        if isinstance(part, tuple):
            # an operator follows the name: ``$?`` (the special parameter) is a plain read
            if part[0] == "v" and any(op in part[1][1:] for op in ("=", "?")):
                out.append(f"the expansion ${{{part[1]}}} may assign or exit")
            elif part[0] == "a" and "=" in part[1].replace("==", "").replace("!=", "").replace("<=", "").replace(
                ">=", ""
            ):
                out.append(f"the arithmetic $(({part[1]})) assigns")


# --------------------------------------------------------------------------------------------
# A value stays data
# --------------------------------------------------------------------------------------------

#: Programs whose operands after the first (printf: the format) or all operands ([, test)
#: are never read as options.
_NO_OPTIONS_AFTER = {"printf": 2, "[": 1, "test": 1}
#: Options that take the next word as their argument (grep/sed ``-e PATTERN``, stat ``-c``).
_OPTION_ARGUMENT = frozenset({"-e", "-c"})


def structure_differences(text: str, plain: str, markers: Iterable[str], may_run: bool = False) -> list[str]:
    """How ``text`` differs in shell structure from ``plain``, the same command planned with
    a stand-in value. Words of ``plain`` that hold one of ``markers`` (the stand-in, or its
    path components) are data: the word of ``text`` in that place may hold anything, but
    must be one word with the same expansions, and must not be taken as an option (start
    with ``-`` before a ``--``, unless the program reads no options there). Every other word,
    operator, redirection and expansion must be the same. ``may_run``: the value names a
    program the command runs by design (an ``/etc/init.d`` script): it may be the command
    word, still one quoted word whose fixed part is the plain one's."""
    markers = tuple(m for m in markers if m)
    try:
        got = parse(text)
    except ShellSyntaxError as exc:
        return [f"does not parse: {exc}: {text!r}"]
    want = parse(plain)
    out: list[str] = []
    _compare_body(got, want, markers, out)
    if may_run:
        out = [o for o in out if not o.startswith("a value is run as a command: ")]
    return out


def _compare_body(got: list[Any], want: list[Any], markers: tuple[str, ...], out: list[str]) -> None:
    if len(got) != len(want):
        out.append(f"{len(got)} commands where the plain value gives {len(want)}")
        return
    for g, w in zip(got, want):
        _compare_node(g, w, markers, out)


def _compare_node(got: Any, want: Any, markers: tuple[str, ...], out: list[str]) -> None:
    if got[0] != want[0]:
        out.append(f"a {got[0]!r} where the plain value gives a {want[0]!r}")
        return
    tag = got[0]
    if tag == "cmd":
        _compare_command(got, want, markers, out)
    elif tag == "andor":
        if [op for op, _ in got[2]] != [op for op, _ in want[2]]:
            out.append("different && / || operators")
            return
        _compare_node(got[1], want[1], markers, out)
        for (_, g), (_, w) in zip(got[2], want[2]):
            _compare_node(g, w, markers, out)
    elif tag == "pipe":
        if got[1] != want[1] or len(got[2]) != len(want[2]):
            out.append("a different pipeline")
            return
        for g, w in zip(got[2], want[2]):
            _compare_node(g, w, markers, out)
    elif tag in ("brace", "sub"):
        _compare_body(got[1], want[1], markers, out)
        _compare_redirs(got[2], want[2], markers, out)
    elif tag == "if":
        if len(got[1]) != len(want[1]) or (got[2] is None) != (want[2] is None):
            out.append("a different if")
            return
        for (gc, gb), (wc, wb) in zip(got[1], want[1]):
            _compare_body(gc, wc, markers, out)
            _compare_body(gb, wb, markers, out)
        if got[2] is not None:
            _compare_body(got[2], want[2], markers, out)
        _compare_redirs(got[3], want[3], markers, out)
    elif tag == "while":
        _compare_body(got[1], want[1], markers, out)
        _compare_body(got[2], want[2], markers, out)
        _compare_redirs(got[3], want[3], markers, out)
    elif got != want:  # for, func: no value belongs in them
        out.append(f"a different {tag!r}")


def _compare_command(got: Any, want: Any, markers: tuple[str, ...], out: list[str]) -> None:
    _, g_assigns, g_words, g_redirs = got
    _, w_assigns, w_words, w_redirs = want
    if [n for n, _ in g_assigns] != [n for n, _ in w_assigns]:
        out.append(f"assigns {[n for n, _ in g_assigns]} where the plain value assigns {[n for n, _ in w_assigns]}")
        return
    for (_, g), (_, w) in zip(g_assigns, w_assigns):
        _compare_word(g, w, markers, out)
    if len(g_words) != len(w_words):
        out.append(
            f"{len(g_words)} words where the plain value gives {len(w_words)}: "
            f"{[_text(w) for w in g_words]} / {[_text(w) for w in w_words]}"
        )
        return
    program = _literal(w_words[0]) if w_words else None
    after_dashes = False
    for position, (g, w) in enumerate(zip(g_words, w_words)):
        data = _compare_word(g, w, markers, out)
        if data and position == 0:
            out.append(f"a value is run as a command: {_text(g)!r}")
        elif data and _text(g).startswith("-") and not after_dashes:
            previous = _literal(w_words[position - 1])
            readable = _NO_OPTIONS_AFTER.get(program or "")
            if previous not in _OPTION_ARGUMENT and (readable is None or position < readable):
                out.append(f"the value {_text(g)!r} is read as an option of {program!r} (no '--' before it)")
        if _literal(w) == "--":
            after_dashes = True
    _compare_redirs(g_redirs, w_redirs, markers, out)


def _compare_redirs(got: list[Any], want: list[Any], markers: tuple[str, ...], out: list[str]) -> None:
    if [(r[0], r[1]) for r in got] != [(r[0], r[1]) for r in want]:
        out.append(
            f"redirections {[(r[0], r[1]) for r in got]} where the plain value gives {[(r[0], r[1]) for r in want]}"
        )
        return
    for g, w in zip(got, want):
        if g[0] == "<<":
            if g[2] != w[2]:
                out.append("a different here-document delimiter")
            continue  # the body is data
        _compare_word(g[2], w[2], markers, out)


def _compare_word(got: Any, want: Any, markers: tuple[str, ...], out: list[str]) -> bool:
    """Compare one word part by part; True when it is data (a literal part of the plain word
    holds a marker). Literal parts without a marker, variables and the bodies of command
    substitutions must be the same."""
    g_parts = (got,) if isinstance(got, str) else got
    w_parts = (want,) if isinstance(want, str) else want
    g_shape = ["lit" if isinstance(p, str) else p[0] for p in g_parts]
    w_shape = ["lit" if isinstance(p, str) else p[0] for p in w_parts]
    data = any(isinstance(p, str) and any(m in p for m in markers) for p in w_parts)
    if g_shape != w_shape:
        out.append(f"the word {_text(got)!r} has the parts {g_shape} where the plain value has {w_shape}")
        return data
    for g, w in zip(g_parts, w_parts):
        if isinstance(w, str):
            if g != w and not any(m in w for m in markers):
                out.append(f"the word {_text(got)!r} where the plain value gives {_text(want)!r}")
        elif w[0] == "c":
            _compare_body(g[1], w[1], markers, out)
        elif w[0] != "a" and g != w:
            out.append(f"the expansion {g!r} where the plain value gives {w!r}")
    return data
