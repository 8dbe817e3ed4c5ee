"""Audit: the commands of every ``shell_safe`` operation leave the host's shell as they found it.

An operation declared ``@operation(shell_safe=True)`` has its commands run in the host's own
shell, with no subshell around them (``oxinfra._engine.script.render_commands``). So outside
a subshell ``( ... )`` (or ``$( ... )``) its commands must not:

- change the shell: ``cd``, ``exit``, ``export``, ``set``, ``umask``, ``unset``, ``trap``,
  ``exec``, ``shift``, ``readonly``, ``.``/``source``, ``eval``, ``return`` (and the like:
  ``break``, ``continue``, ``read``, ``alias``, ``ulimit``, ...), define a function, run a
  ``for`` loop (its variable stays set), or assign a variable (``X=1``, ``X=1 cmd``,
  ``${X=1}``, ``$((X=1))``);
- redirect a special builtin (``: > f``): a failed redirection of one makes a POSIX shell exit.

The audit finds every ``@operation`` of every module of ``oxinfra.operations`` and checks
the commands each of its fixtures (``tests/operations/<module>.<op>/*.json``) plans, as the
engine renders them (uploads through ``render_upload``), parsed by the simulator's parser.
A command name that is not a plain word cannot be checked and is reported too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from oxinfra._engine.script import render_upload
from oxinfra.api import FileUpload
from oxinfra.testing.plan import discover_operations, plan_operation
from oxinfra.testing.sim.parse import Parser

FIXTURES = Path(__file__).parent / "operations"
NONCE = "0123456789abcdef0123456789abcdef"

# POSIX special builtins: a redirection error on one exits a non-interactive shell, and
# assignments before one stay set.
SPECIAL = frozenset(
    {
        "break",
        ":",
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
# Commands that change the shell they run in.
FORBIDDEN = frozenset(
    {
        "cd",
        "exit",
        "export",
        "set",
        "umask",
        "unset",
        "trap",
        "exec",
        "shift",
        "readonly",
        ".",
        "source",
        "eval",
        "return",
        "break",
        "continue",
        "read",
        "getopts",
        "alias",
        "unalias",
        "ulimit",
        "hash",
        "local",
        "typeset",
        "declare",
        "pushd",
        "popd",
        "wait",
        "fg",
        "bg",
        "jobs",
        "builtin",
        "enable",
        "shopt",
    }
)


def is_shell_safe(op: Callable[..., Any]) -> bool:
    return bool(getattr(getattr(op, "__wrapped__", op), "_oxinfra_shell_safe", False))


# -- the checker ------------------------------------------------------------


def _word_problems(word: Any) -> Iterator[str]:
    """Assignments hidden in a word's expansions (``${X=1}``, ``$((X=1))``); ``$( )`` is a subshell."""
    if isinstance(word, str):
        return
    for part in word:
        if isinstance(part, tuple) and part[0] == "v":
            name = part[1]
            head = name.split(":", 1)[0] if ":" in name else name.split("=", 1)[0]
            if ":=" in name or ("=" in name and "=" not in head and not any(c in head for c in "#%+-?")):
                yield f"assignment in an expansion ${{{name}}}"
        elif isinstance(part, tuple) and part[0] == "a":
            text = part[1].replace("==", "").replace("!=", "").replace("<=", "").replace(">=", "")
            if "=" in text or "++" in text or "--" in text:
                yield f"assignment in arithmetic $(({part[1]}))"


def _redir_problems(redirs: list[Any]) -> Iterator[str]:
    for redir in redirs:
        yield from _word_problems(redir[2])


def shell_problems(text: str) -> list[str]:
    """What in ``text`` would change the shell it runs in, outside a subshell."""
    problems: list[str] = []
    for node in Parser(text).parse():
        problems.extend(_node_problems(node))
    return problems


def _body_problems(body: list[Any]) -> Iterator[str]:
    for node in body:
        yield from _node_problems(node)


def _node_problems(node: Any) -> Iterator[str]:
    tag = node[0]
    if tag == "sub":
        return  # a subshell: whatever it does stays in it
    if tag == "cmd":
        _, assigns, words, redirs = node
        for name, value in assigns:
            yield f"variable assignment {name}="
            yield from _word_problems(value)
        for word in words:
            yield from _word_problems(word)
        yield from _redir_problems(redirs)
        if not words:
            return
        name = words[0]
        args = words[1:]
        while name == "command" and args and isinstance(args[0], str) and not args[0].startswith("-"):
            name, args = args[0], args[1:]  # `command cd` still changes directory
        if not isinstance(name, str):
            yield "a command name that is not a plain word (cannot be checked)"
            return
        if name in FORBIDDEN:
            yield f"{name} changes the shell"
        if name in SPECIAL and redirs:
            yield f"redirection of the special builtin {name} (a failed one exits the shell)"
    elif tag == "andor":
        yield from _node_problems(node[1])
        for _, pipeline in node[2]:
            yield from _node_problems(pipeline)
    elif tag == "pipe":
        for command in node[2]:  # a shell may run any part of a pipeline in itself
            yield from _node_problems(command)
    elif tag == "brace":
        yield from _body_problems(node[1])
        yield from _redir_problems(node[2])
    elif tag == "if":
        for cond, body in node[1]:
            yield from _body_problems(cond)
            yield from _body_problems(body)
        if node[2] is not None:
            yield from _body_problems(node[2])
        yield from _redir_problems(node[3])
    elif tag == "while":
        yield from _body_problems(node[1])
        yield from _body_problems(node[2])
        yield from _redir_problems(node[3])
    elif tag == "for":
        yield f"for loop: its variable {node[1]} stays set"
        for word in node[2] or ():
            yield from _word_problems(word)
        yield from _body_problems(node[3])
        yield from _redir_problems(node[4])
    elif tag == "func":
        yield f"defines the function {node[1]}"
    else:  # pragma: no cover - a node this audit does not know
        yield f"unknown shell construct {tag}"


# -- the checker's own tests ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "cd /x",
        "exit 3",
        "export A=1",
        "set -e",
        "umask 077",
        "unset A",
        "trap 'rm f' EXIT",
        "exec 3>f",
        "exec sh",
        "shift",
        "readonly A",
        ". ./lib.sh",
        "source lib.sh",
        "eval 'x=1'",
        "return 1",
        "X=1",
        "X=1 Y=2",
        "X=1 true",
        ": > f",
        ": >> f",
        "true 2>/dev/null; : < missing",
        "exit",
        "command cd /x",
        "set -C > /dev/null",
        "break",
        "read line < f",
        "f() { true; }",
        "for i in a b; do true; done",
        "echo ${X=1}",
        "echo ${X:=1}",
        "echo $((X=1))",
        "$cmd arg",
        "mkdir -p -- /a && cd /a",
        "true || exit 1",
        "{ umask 022\n}",
        "if true; then cd /; fi",
        "while false; do :; done; cd /",
        "printf x | read y",
        'echo "$(true)" && X=1',
    ],
)
def test_checker_catches(text: str) -> None:
    assert shell_problems(text), text


@pytest.mark.parametrize(
    "text",
    [
        "(cd /x)",
        "(exit 3)",
        "(export A=1)",
        "(set -e)",
        "(umask 077 && set -C && printf %s x > f)",
        "(unset A)",
        "(trap 'rm f' EXIT)",
        "(exec 3>f)",
        "(shift)",
        "(readonly A)",
        "(. ./lib.sh)",
        "(eval 'x=1')",
        "(return 1)",
        "(X=1)",
        "(: > f)",
        "(for i in a; do true; done)",
        "(f() { true; })",
        'echo "$(cd /x && X=1 && pwd)"',
        "(true; (cd /a); exit 1) || { rm -f x; false; }",
        "mkdir -p -- /a",
        "printf %s x > f",
        "chmod 644 -- /a && chown u:g -- /a",
        "test -e /a || :",
        "echo ${X:-1} ${X#p} ${X%s} $((1 + 2))",
        "grep -e x -- /dev/null; [ $? -eq 1 ] || (exit 2)",
        "if test -d /a; then rm -rf -- /a; fi",
        "{ printf %s x > /tmp/.f && mv -f /tmp/.f /f || { rm -f /tmp/.f; false; }\n}",
    ],
)
def test_checker_allows(text: str) -> None:
    assert shell_problems(text) == [], text


# -- the audit --------------------------------------------------------------

OPERATIONS = discover_operations()
SAFE = sorted(name for name, op in OPERATIONS.items() if is_shell_safe(op))
CASES = [
    case
    for name in SAFE
    for case in sorted((FIXTURES / name).glob("*.json"))
    if "error" not in json.loads(case.read_text())
]  # an error case plans no commands


def rendered(command: Any) -> str:
    """One planned command as the engine puts it in a shell_safe operation's script."""
    text = render_upload(command, NONCE) if isinstance(command, FileUpload) else command
    assert isinstance(text, str), f"a shell_safe operation yielded {command!r}"
    return f"{{ {text}\n}}"


def _planned(case: Path) -> list[Any]:
    spec = json.loads(case.read_text())
    facts = [(f["fact"], f["args"], f["value"]) for f in spec.get("facts", [])]
    return plan_operation(OPERATIONS[case.parent.name], spec["args"], facts, local_dir=str(case.parent)).commands


def test_every_shell_safe_operation_is_audited() -> None:
    assert "files.put" in SAFE and "server.shell" in OPERATIONS and "server.shell" not in SAFE
    audited = {case.parent.name for case in CASES if _planned(case)}
    missing = sorted(set(SAFE) - audited)
    assert not missing, f"shell_safe operations with no fixture that yields commands: {missing}"


@pytest.mark.parametrize("umask", [None, "133", "077"])
@pytest.mark.parametrize("data", [b"", b"text\n", b"it's $(x) `y` \\ ; exit 1\n", b"\x00binary\xff\n"])
def test_every_form_of_upload_leaves_the_shell_alone(data: bytes, umask: str | None) -> None:
    """An upload is rendered one of four ways (text or base64, under a umask or not): none
    touches the shell outside a subshell, whatever the content."""
    assert shell_problems(rendered(FileUpload(data, "/srv/a dir/f;x", umask))) == []


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.stem}" for c in CASES])
def test_shell_safe_commands_leave_the_shell_alone(case: Path) -> None:
    found = {text: problems for text in map(rendered, _planned(case)) if (problems := shell_problems(text))}
    assert not found, f"{case.parent.name} is shell_safe but its commands change the shell: {found}"
