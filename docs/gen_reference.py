"""Write the reference pages (docs/reference/) from the code: every operation and fact with its
signature and docstring, and the global arguments with what each accepts; and the options of
the ``oxinfra`` command into docs/cli.md (between its BEGIN/END markers), from click's command.

    python docs/gen_reference.py            # rewrite the pages
    python docs/gen_reference.py --check    # exit 1 if a page is not what the code says

tests/test_reference.py runs the check, so the pages never drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

OUT = Path(__file__).resolve().parent / "reference"
HEADER = "<!-- Written by docs/gen_reference.py from the code: edit the docstrings, not this page. -->\n\n"


def _docstring(obj: Any) -> str:
    """The docstring as Markdown: ``Example::`` blocks become Python code blocks, ``+ arg:``
    lines stay a list, ``literal`` stays code."""
    doc = inspect.getdoc(obj) or ""
    lines = doc.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-2].rstrip()
            if head:
                out.append(re.sub(r"``([^`]+)``", r"`\1`", head) + ":")
            block: list[str] = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
                block.append(lines[i])
                i += 1
            code = textwrap.dedent("\n".join(block)).strip("\n")
            out += ["", "```python", code, "```", ""]
            continue
        out.append(re.sub(r"``([^`]+)``", r"`\1`", line))
        i += 1
    return "\n".join(out).strip() + "\n"


def _signature(func: Callable[..., Any]) -> str:
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    for param in sig.parameters.values():
        if param.name == "self":
            continue
        text = param.name if param.kind is not param.VAR_POSITIONAL else "*" + param.name
        if param.kind is param.VAR_KEYWORD:
            text = "**" + param.name
        if param.default is not param.empty:
            text += "=" + repr(param.default)
        parts.append(text)
    return "(" + ", ".join(parts) + ")"


def operations() -> dict[str, Callable[..., Any]]:
    from oxinfra.testing.plan import discover_operations

    return dict(sorted(discover_operations().items()))


def facts() -> dict[str, type]:
    import oxinfra.facts
    from oxinfra.api import FactBase

    found: dict[str, type] = {}
    prefix = oxinfra.facts.__name__ + "."
    for info in pkgutil.walk_packages(oxinfra.facts.__path__, prefix):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, FactBase)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[value.name] = value
    return dict(sorted(found.items()))


def _by_family(names: list[str]) -> dict[str, list[str]]:
    families: dict[str, list[str]] = {}
    for name in names:
        families.setdefault(name.split(".", 1)[0], []).append(name)
    return families


def operations_page() -> str:
    ops = operations()
    families = _by_family(list(ops))
    out = [HEADER, "# Operations\n\n"]
    out.append(
        "Every operation oxinfra has, by family (`from oxinfra.operations import files`), with its "
        "arguments and an example. Every operation also takes the global arguments "
        "([arguments.md](arguments.md)) and `name=`. What an operation must do to be one: "
        "[../writing-operations.md](../writing-operations.md).\n\n"
    )
    out.append(" · ".join(f"[{family}](#{family})" for family in families) + "\n\n")
    for family, names in families.items():
        out.append(f"## {family}\n\n")
        for name in names:
            func = ops[name]
            out.append(f"### `{name}{_signature(getattr(func, '__wrapped__', func))}`\n\n")
            out.append(_docstring(func) + "\n")
    return "".join(out)


def facts_page() -> str:
    found = facts()
    families = _by_family(list(found))
    out = [HEADER, "# Facts\n\n"]
    out.append(
        "Every fact oxinfra reads, by family (`from oxinfra.facts.server import Users`), with its "
        'arguments: `host.get_fact(Users)`. Which exit statuses mean "absent" (the fact\'s default) '
        "is listed where there are any; every other failure fails the fact with its stderr.\n\n"
    )
    out.append(" · ".join(f"[{family}](#{family})" for family in families) + "\n\n")
    for family, names in families.items():
        out.append(f"## {family}\n\n")
        for name in names:
            cls = found[name]
            out.append(f"### `{name}{_signature(cls.command)}`\n\n")
            out.append(_docstring(cls))
            absent = sorted(getattr(cls, "absent_status", ()) or ())
            if absent:
                out.append(f"\nAbsent (the default) on exit status {', '.join(map(str, absent))}.\n")
            out.append("\n")
    return "".join(out)


def arguments_page() -> str:
    from oxinfra.api import arguments

    out = [HEADER, "# Global arguments\n\n"]
    out.append(
        "Every operation takes these keyword arguments (pyinfra 3's names); `host.get_fact` takes "
        "the privilege ones. In a deploy, `config.SUDO = True` and the like set their defaults, "
        "`@deploy(...)` and `host.arguments(...)` set them for what they wrap.\n\n"
        "| argument | accepts | default |\n| --- | --- | --- |\n"
    )
    refused = getattr(arguments, "REFUSED", {})
    for name, (_, expected, default) in arguments._SPEC.items():
        if name in refused:
            continue
        out.append(f"| `{name}` | {expected} | `{default!r}` |\n")
    if refused:
        out.append("\nRefused (accepted only at their default value), and why:\n\n")
        for name, why in refused.items():
            out.append(f"- `{name}`: {why}\n")
    return "".join(out)


def cli_block() -> str:
    """The usage line, arguments and options of the ``oxinfra`` command, from click's own
    command object: what ``oxinfra --help`` says, as Markdown."""
    import click

    from oxinfra.cli import main as command

    ctx = command.make_context("oxinfra", [], resilient_parsing=True)  # with its context_settings
    out = ["```\n", f"oxinfra {' '.join(command.collect_usage_pieces(ctx))}\n", "```\n\n"]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    out.append("Arguments: " + ", ".join(f"`{p.human_readable_name}`" for p in arguments) + ".\n\n")
    for param in command.get_params(ctx):  # with click's own --help
        if not isinstance(param, click.Option):
            continue
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        names, text = record
        notes = []
        if param.multiple:
            notes.append("repeatable")
        if param.count:
            notes.append("counted: `-vv`, `-vvv`")
        if param.envvar and param.envvar not in text:
            notes.append(f"also from `{param.envvar}`")
        note = f" ({'; '.join(notes)})" if notes else ""
        # A Markdown list item: "<" would open an HTML tag.
        text = text.replace("<", "\\<")
        out.append(f"- `{names}`{note}: {text}\n")
    return "".join(out)


PAGES = {"operations.md": operations_page, "facts.md": facts_page, "arguments.md": arguments_page}

#: Blocks of hand-written pages that are written from the code: (page, block name, writer).
#: The page keeps everything outside ``<!-- BEGIN NAME ... -->`` ... ``<!-- END NAME -->``.
BLOCKS = [(Path(__file__).resolve().parent / "cli.md", "cli-options", cli_block)]


def _with_block(text: str, name: str, block: str, path: Path) -> str:
    begin = re.search(rf"^<!-- BEGIN {re.escape(name)}\b.*-->\n", text, re.M)
    end = re.search(rf"^<!-- END {re.escape(name)} -->$", text, re.M)
    if begin is None or end is None or end.start() < begin.end():
        raise SystemExit(f"{path}: no <!-- BEGIN {name} ... --> ... <!-- END {name} --> block to write")
    return text[: begin.end()] + "\n" + block + "\n" + text[end.start() :]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, make in PAGES.items():
        path = OUT / name
        text = make()
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text)
    for path, name, make_block in BLOCKS:
        text = path.read_text()
        updated = _with_block(text, name, make_block(), path)
        if check:
            if updated != text:
                stale.append(str(path))
        elif updated != text:
            path.write_text(updated)
    if stale:
        print(f"not what the code says: {', '.join(stale)}: run python docs/gen_reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
