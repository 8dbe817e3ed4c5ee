"""Shell completion (click's): enable it with one line in the shell's start-up file::

    eval "$(_OXINFRA_COMPLETE=bash_source oxinfra)"      # ~/.bashrc
    eval "$(_OXINFRA_COMPLETE=zsh_source oxinfra)"       # ~/.zshrc
    _OXINFRA_COMPLETE=fish_source oxinfra | source       # ~/.config/fish/completions/oxinfra.fish

What completes: options and their file or directory values; INVENTORY as a file (and
``@local``); the first target as a file (a deploy), a form (``exec``, ``fact``,
``debug-inventory``) or, once a module's first letters are typed, ``MODULE.OP`` (``fi`` ->
``files.line``...: only the modules whose names match are imported); after ``fact``,
``MODULE.Fact`` the same way; after ``MODULE.OP``, its parameters as ``name=``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from click.shell_completion import CompletionItem

__all__ = ["complete_inventory", "complete_targets", "HELP"]

#: How to enable completion, as ``oxinfra --help`` says it.
HELP = (
    'Shell completion: add eval "$(_OXINFRA_COMPLETE=bash_source oxinfra)" to ~/.bashrc '
    "(zsh_source in ~/.zshrc; fish: _OXINFRA_COMPLETE=fish_source oxinfra | source)."
)

_FORMS = ("exec", "fact", "debug-inventory")


def _modules(package: str) -> list[str]:
    try:
        found = importlib.import_module(package)
    except ImportError:
        return []
    return sorted(m.name for m in pkgutil.iter_modules(getattr(found, "__path__", [])) if not m.name.startswith("_"))


def _dotted(package: str, incomplete: str, wanted: Any) -> list[str]:
    """``MODULE.NAME`` for every NAME of the package's modules that start like ``incomplete``
    and for which ``wanted(value)`` holds; nothing before a first letter is typed."""
    if not incomplete:
        return []
    head, dot, _ = incomplete.partition(".")
    names = []
    for module in _modules(package):
        if not (module == head if dot else module.startswith(head)):
            continue
        try:
            found = importlib.import_module(f"{package}.{module}")
        except Exception:  # a module that does not import completes nothing
            continue
        for name, value in sorted(vars(found).items()):
            full = f"{module}.{name}"
            if not name.startswith("_") and full.startswith(incomplete) and wanted(value):
                names.append(full)
    return names


def _is_operation(value: Any) -> bool:
    try:
        return getattr(value, "_oxinfra_operation", False) is True
    except Exception:
        return False


def _is_fact(value: Any) -> bool:
    from oxinfra.api.facts import FactBase, ShortFactBase

    return (
        isinstance(value, type)
        and issubclass(value, (FactBase, ShortFactBase))
        and value.__module__ != "oxinfra.api.facts"
    )


def _file(incomplete: str) -> CompletionItem:
    return CompletionItem(incomplete, type="file")


def complete_inventory(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    return _with_files(incomplete, ["@local"] if incomplete and "@local".startswith(incomplete) else [])


def _paths(incomplete: str) -> list[str]:
    """Files and directories starting like ``incomplete`` (directories with a ``/``)."""
    import glob
    import os

    return sorted(p + "/" if os.path.isdir(p) else p for p in glob.glob(glob.escape(incomplete) + "*"))


def _with_files(incomplete: str, plain: list[str]) -> list[CompletionItem]:
    """A file completion and ``plain`` words. bash completes files only when nothing else
    matched (click's script), so for bash the matching paths are listed among the words."""
    import os

    if plain and os.environ.get("_OXINFRA_COMPLETE", "").startswith("bash"):
        plain = [*plain, *_paths(incomplete)]
    return [_file(incomplete), *(CompletionItem(p) for p in plain)]


def complete_targets(ctx: Any, param: Any, incomplete: str) -> list[CompletionItem]:
    before = list(ctx.params.get("targets") or ())
    if not before:
        plain = [f for f in _FORMS if f.startswith(incomplete)]
        plain += _dotted("oxinfra.operations", incomplete, _is_operation)
        return _with_files(incomplete, plain)
    first = before[0]
    if first == "exec":
        return []
    if first == "fact":
        return [CompletionItem(f) for f in _dotted("oxinfra.facts", incomplete, _is_fact)]
    if first == "debug-inventory":
        return []
    from oxinfra.cli.operation import is_operation_word, resolve_operation

    if is_operation_word(first):
        try:
            _, op = resolve_operation(first)
        except Exception:
            return []
        given = {word.partition("=")[0] for word in before[1:]}
        names = [
            f"{p.name}="
            for p in inspect.signature(op).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in given
        ]
        return [CompletionItem(n) for n in names if n.startswith(incomplete)]
    return [_file(incomplete)]
