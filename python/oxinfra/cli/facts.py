"""``oxinfra INVENTORY fact MODULE.Fact [key=value...] [MODULE.Fact ...] [--json]``.

As pyinfra prints them: for each fact, ``--> Fact data for: NAME`` (on stderr) and
``{"<host>": value}`` as indented JSON (on stdout); with ``--json``, one object
``{"NAME": {"<host>": value}}`` on stdout. Datetimes are ISO 8601, sets sorted lists, bytes
text. A host whose fact failed (or that could not be reached) gets ``null`` and one line on
stderr naming it and why; the exit code is then 1 (a fact failed), 4 (unreachable, none
failed) or 70 (output that could not be parsed), as for a run.
"""

from __future__ import annotations

import importlib
import json
from datetime import date, datetime, time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import click

from oxinfra.cli.operation import cli_value
from oxinfra.cli.outcome import FAILED, INTERNAL, OK, UNREACHABLE
from oxinfra.exceptions import DeployError

if TYPE_CHECKING:
    from oxinfra.api.facts import FactClass

__all__ = ["parse_facts", "print_facts", "facts_exit_code", "encode"]


def _fact_class(name: str) -> FactClass:
    from oxinfra.api.facts import FactBase, ShortFactBase

    module, dot, cls_name = name.rpartition(".")
    if not dot or not module or not cls_name:
        raise DeployError(f"fact {name!r}: write MODULE.Fact, such as server.Os or files.File")
    for prefix in ("oxinfra.facts.", ""):
        try:
            found = importlib.import_module(prefix + module)
        except ImportError:
            continue
        cls = getattr(found, cls_name, None)
        if isinstance(cls, type) and issubclass(cls, (FactBase, ShortFactBase)):
            return cls
        raise DeployError(f"fact {name!r}: {found.__name__} has no fact {cls_name!r}")
    raise DeployError(f"fact {name!r}: no fact module {module!r} (oxinfra.facts.{module}, or a module on the path)")


def parse_facts(words: list[str]) -> list[Any]:
    """``["server.Os", "files.File", "path=/etc"]`` -> the facts to read, each with its
    arguments (``key=value`` words belong to the fact before them)."""
    from oxinfra._engine.facts import FactAsk

    if not words:
        raise DeployError("fact needs a fact name: oxinfra INVENTORY fact server.Os [files.File path=/etc ...]")
    asks: list[tuple[FactClass, dict[str, Any]]] = []
    for word in words:
        key, sep, raw = word.partition("=")
        if sep and key.isidentifier():
            if not asks:
                raise DeployError(f"{word!r}: an argument comes after the fact it is for (files.File path=/etc)")
            asks[-1][1][key] = cli_value(raw)
        else:
            asks.append((_fact_class(word), {}))
    out = []
    for cls, kwargs in asks:
        ask = FactAsk(cls, kwargs)
        names = ask.base().arg_names()  # a short fact's are those of the fact it reads
        unknown = sorted(set(kwargs) - set(names))
        if unknown:
            known = ", ".join(names) or "none"
            raise DeployError(f"fact {cls.name}: no argument {', '.join(unknown)} (its arguments: {known})")
        out.append(ask)
    return out


def encode(value: Any) -> Any:
    """JSON for what facts hold, as pyinfra encodes it."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot show a {type(value).__name__} as JSON")


def print_facts(asks: list[Any], answers: dict[str, Any], as_json: bool, redactor: Any = None) -> None:
    def masked(text: str) -> str:
        return redactor.text(text) if redactor is not None and hasattr(redactor, "text") else text

    by_fact = {ask.key: {name: answer.values.get(ask.key) for name, answer in answers.items()} for ask in asks}
    if as_json:
        click.echo(masked(json.dumps(by_fact, default=encode)))
    else:
        for key, values in by_fact.items():
            click.echo(err=True)
            click.echo(f"--> Fact data for: {click.style(key, bold=True)}", err=True)
            click.echo(masked(json.dumps(values, indent=4, default=encode)))
    for answer in answers.values():
        if answer.status != "success":
            error = answer.error or ""
            error = error[len(answer.name) + 2 :] if error.startswith(f"{answer.name}: ") else error
            click.echo(masked(f"oxinfra: [{answer.name}] {answer.status}: {error}"), err=True)


def facts_exit_code(answers: dict[str, Any]) -> int:
    statuses = {a.status for a in answers.values()}
    if "error" in statuses:
        return INTERNAL
    if "failed" in statuses:
        return FAILED
    if "unreachable" in statuses:
        return UNREACHABLE
    return OK
