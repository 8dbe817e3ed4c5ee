"""Operations build shell text only through :mod:`oxinfra.quoting`: an AST walk over every
module of ``oxinfra/operations`` (the helpers in ``operations/util`` included).

An f-string there fails this test unless one of these holds (the whole allow-list):

1. every value it interpolates is a call of a quoting function -- ``quote``,
   ``quote_interpolated``, ``command`` or a combinator of ``oxinfra.quoting`` (so the text
   around them is the only hand-written part);
2. it is itself a value being quoted: a direct argument of ``quote``, ``quote_interpolated``,
   ``Interpolated``, ``invoke``, of ``command`` (not its program word), or the value argument of
   ``write_to``/``append_to``/``read_from``/``file_test``;
3. it is a message: inside the arguments of ``noop(...)``/``host.noop(...)``, of a call of a
   name ending in ``Error`` or ``Exception`` (an exception constructor), or of a ``raise``;
4. it is predicted file content, or what ``--diff`` shows: inside the arguments of
   ``predict_content(...)``, ``content_change(...)`` or ``change_note(...)`` (shown, never
   run).

Anything else -- an f-string kept in a variable and put into a command later, shell syntax
written around a value by hand -- is a failure naming file and line. ``str.format`` and
``%`` on a string literal are failures everywhere in these modules (messages use f-strings),
and so is ``+`` with a literal holding shell syntax (``&&``, ``||``, ``;``, ``|``, ``>``,
``<``, ``$(``, a backtick): values may be put together with ``+``, commands may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import oxinfra.quoting

OPERATIONS = Path(oxinfra.quoting.__file__).parent / "operations"
MODULES = sorted(OPERATIONS.rglob("*.py"))

QUOTING = frozenset(oxinfra.quoting.__all__) - {"QuotingError", "Interpolated"}
#: Calls whose arguments (all, or all but the first for ``command``) are quoted values.
QUOTED_ARGS = {"quote": 0, "quote_interpolated": 0, "Interpolated": 0, "command": 1, "invoke": 0}
#: Combinators with one value argument (its position): the rest is shell code.
VALUE_ARG = {"write_to": 1, "append_to": 1, "read_from": 1, "file_test": 1}
MESSAGE_CALLS = frozenset({"noop"})
SHELL_SYNTAX = ("&&", "||", ";", "|", ">", "<", "$(", "`")
CONTENT_CALLS = frozenset({"predict_content", "content_change", "change_note"})


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _interpolates_only_quoted(node: ast.JoinedStr) -> bool:
    for part in node.values:
        if isinstance(part, ast.FormattedValue):
            if not (isinstance(part.value, ast.Call) and _name(part.value) in QUOTING):
                return False
    return True


def _is_quoted_argument(node: ast.AST, parent: ast.AST) -> bool:
    if not isinstance(parent, ast.Call):
        return False
    name = _name(parent)
    if name in QUOTED_ARGS:
        first = QUOTED_ARGS[name]
        return any(arg is node for arg in parent.args[first:]) or any(k.value is node for k in parent.keywords)
    if name in VALUE_ARG:
        position = VALUE_ARG[name]
        return len(parent.args) > position and parent.args[position] is node
    return False


def _in_message_or_content(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    walk = parents.get(node)
    while walk is not None and not isinstance(walk, ast.stmt):
        if isinstance(walk, ast.Call):
            name = _name(walk)
            if name in MESSAGE_CALLS or name in CONTENT_CALLS or name.endswith(("Error", "Exception")):
                return True
        walk = parents.get(walk)
    return isinstance(walk, ast.Raise)


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Each f-string (and ``.format``/``%`` on a literal) of ``source`` the allow-list does not cover."""
    tree = ast.parse(source, filename)
    parents: dict[ast.AST, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[child] = parent
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parent = parents.get(node)
            if isinstance(parent, ast.FormattedValue) and parent.format_spec is node:
                continue  # the ":03d" of a value: part of that value
            if (
                _interpolates_only_quoted(node)
                or _is_quoted_argument(node, parent)
                or _in_message_or_content(node, parents)
            ):
                continue
            found.append(f"{filename}:{node.lineno}: f-string {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)
        ):
            found.append(f"{filename}:{node.lineno}: str.format on a literal")
        elif (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str)
        ):
            found.append(f"{filename}:{node.lineno}: %-formatting of a literal")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and not _in_message_or_content(node, parents):
            for side in (node.left, node.right):
                if (
                    isinstance(side, ast.Constant)
                    and isinstance(side.value, str)
                    and any(token in side.value for token in SHELL_SYNTAX)
                ):
                    found.append(f"{filename}:{node.lineno}: shell syntax put together with +: {side.value!r}")
    return found


@pytest.mark.parametrize("module", MODULES, ids=[str(m.relative_to(OPERATIONS)) for m in MODULES])
def test_operations_interpolate_only_quoted_values(module: Path) -> None:
    assert violations(module.read_text(), str(module.relative_to(OPERATIONS.parent))) == []


def test_every_operation_module_is_walked() -> None:
    names = {str(m.relative_to(OPERATIONS)) for m in MODULES}
    assert {
        "files/__init__.py",
        "files/download.py",
        "server/__init__.py",
        "util/files.py",
        "util/packaging.py",
        "util/service.py",
    } <= names


@pytest.mark.parametrize(
    "source",
    [
        'yield f"rm -rf {path}"',  # a value unquoted
        'yield f"true > {quote(path)} && {extra}"',  # one quoted, one not
        'cmd = f"{quote(a)}:{b}"',  # not all interpolations quoted
        'spec = f"{user}:{group}"\nyield command("chown", spec)',  # a value kept for later
        'yield command(f"{tool}", "x")',  # the program word is code
        'yield write_to(f"cat {src}", dest)',  # shell code argument
        'yield "rm -rf {}".format(path)',
        'yield "rm -rf %s" % path',
        'log(f"{path} done")',  # not a noop
        'yield command("mkdir", path) + " && " + command("ls")',  # && by hand
        'yield "cat " + quote(path) + " > /dev/null"',  # a redirection by hand
    ],
)
def test_the_walk_catches(source: str) -> None:
    body = "".join(f"    {line}\n" for line in source.split("\n"))
    assert violations(f"def op(path, extra, a, b, user, group, tool, src, dest):\n{body}")


@pytest.mark.parametrize(
    "source",
    [
        'yield f"true > {quote(path)}"',
        'yield write_to(command("printf", "%s", x), path)',
        'yield command("chmod", f"{mode:03d}", "--", path)',
        'yield command("sed", "-i", "-e", Interpolated(f"s/{a}/{b}/"), "--", path)',
        'yield file_test("-e", f"{path}.bak")',
        'host.noop(f"{path} exists")',
        'noop(f"{path} exists")',
        'raise OperationError(f"{path} is {kind}")',
        """raise TemplateError(f"{src}{'' if line is None else f':{line}'}: bad") from None""",
        'err = OperationValueError(f"bad {mode!r}")',
        'predict_content(path, f"{line}\\n".encode())',
        'yield "plain text, no interpolation"',
        'pattern = "^.*" + pattern + ".*$"',  # a value put together
        'raise OperationError("a && b: " + path)',  # a message
    ],
)
def test_the_walk_allows(source: str) -> None:
    body = "".join(f"    {line}\n" for line in source.split("\n"))
    assert violations(f"def op():\n{body}") == []
