"""The forms of the ``oxinfra`` command and the help of each.

``oxinfra INVENTORY TARGETS...`` is one click command: its second word chooses the form --
deploy files, ``MODULE.OP`` (one operation), ``exec``, ``fact`` or ``debug-inventory`` --
and every option works with every form, before or after the words (``oxinfra INV fact
server.Os --json``). So the forms are not click subcommands; :class:`OxinfraCommand` reads
the words before click does (:func:`scan`, which knows which options take a value) to

* print the help of the form when ``-h``/``--help`` comes with it (``oxinfra INV exec
  --help``, ``oxinfra INV files.line --help``: that operation's arguments and docstring;
  ``--help`` after ``exec --`` belongs to the command), and
* find ``--chdir`` before click applies the settings files' defaults
  (:mod:`oxinfra.cli.settings`), which are read from that directory.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass, field
from typing import Any

import click

__all__ = ["FORMS", "Finite", "OxinfraCommand", "Scan", "scan", "form_help", "SETTINGS_ERROR", "SETTINGS_LISTS"]

#: ``ctx.meta`` key of an error in the settings files, reported by the command.
SETTINGS_ERROR = "oxinfra.settings_error"
#: ``ctx.meta`` key prefix of the settings files' ``data`` and ``group_data``.
SETTINGS_LISTS = "oxinfra.settings."


@dataclass(frozen=True)
class Form:
    usage: str
    text: str
    options: tuple[str, ...]


_TARGETING = ("limit", "exclude", "retry_failed", "parallel", "serial", "data", "group_data", "chdir")
_SSH = ("ssh_user", "ssh_port", "ssh_key", "ssh_key_password", "ssh_password", "ssh_password_prompt", "ssh_config")
_PRIVILEGE = ("sudo", "sudo_user", "su_user", "sudo_password", "ask_sudo_password")

FORMS: dict[str, Form] = {
    "exec": Form(
        "INVENTORY exec [--] COMMAND...",
        "Run COMMAND on every host, without asking, and print what each printed. One word is a "
        "shell command line run as written (exec -- 'ls | wc -l'); several are a program and its "
        "arguments, each passed as one argument (exec -- echo 'a  b'). Options may come before "
        "INVENTORY or between exec and --; everything after -- is the command's, --help included.",
        ("dry", *_TARGETING, *_PRIVILEGE, *_SSH, "verbose", "as_json", "host_timeout", "round_trip_timeout"),
    ),
    "fact": Form(
        "INVENTORY fact MODULE.Fact [key=value...] [MODULE.Fact [key=value...]]...",
        'Read facts on every host and print each one\'s value as {"<host>": value}; key=value '
        "words are arguments of the fact before them (fact files.File path=/etc). With --json, one "
        "object {FACT: {HOST: value}} on stdout. Exit code 1 when a fact failed on some host, 4 when "
        "a host was unreachable.",
        ("as_json", *_TARGETING, *_PRIVILEGE, *_SSH, "host_timeout", "round_trip_timeout"),
    ),
    "debug-inventory": Form(
        "INVENTORY debug-inventory",
        "Print the hosts of INVENTORY (after --limit and --exclude), their groups and their merged "
        "data (--data and the --ssh-* options included); values of secret-looking keys and Secret "
        "values show as ***. Connects to nothing.",
        ("as_json", "limit", "exclude", "data", "group_data", "chdir", "ssh_user", "ssh_port", "ssh_key"),
    ),
}

#: What the help of one operation (``oxinfra INV files.line --help``) lists.
_OPERATION_OPTIONS = ("dry", "yes", *_TARGETING, *_PRIVILEGE, "verbose", "as_json")


@dataclass
class Scan:
    """The command line as :func:`scan` reads it, before click parses it."""

    words: list[str] = field(default_factory=list)  # INVENTORY and TARGETS, before any --
    after_dashes: list[str] = field(default_factory=list)
    values: dict[str, list[str]] = field(default_factory=dict)  # option name -> values given
    help: bool = False  # -h/--help before any --


def _takes_value(command: click.Command) -> dict[str, str | None]:
    """Option string -> its parameter's name if it takes a value, None for flags."""
    out: dict[str, str | None] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            takes = not (param.is_flag or param.count)
            for opt in (*param.opts, *param.secondary_opts):
                out[opt] = param.name if takes else None
    return out


def scan(command: click.Command, args: list[str]) -> Scan:
    options = _takes_value(command)
    found = Scan()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            found.after_dashes = list(args[i:])
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name == "--help":
                found.help = True
            elif options.get(name):
                if not eq:
                    value = args[i] if i < len(args) else ""
                    i += 1
                found.values.setdefault(str(options[name]), []).append(value)
        elif arg.startswith("-") and len(arg) > 1:
            for pos, letter in enumerate(arg[1:], 1):
                target = options.get("-" + letter)
                if letter == "h" and "-h" not in options:
                    found.help = True
                if target:  # a short option with a value: the rest of the word, or the next
                    value = arg[pos + 1 :]
                    if not value:
                        value = args[i] if i < len(args) else ""
                        i += 1
                    found.values.setdefault(target, []).append(value)
                    break
        else:
            found.words.append(arg)
    return found


def _form_of(words: list[str]) -> str | None:
    """The form the words name, for help: ``exec``, ``fact``, ``debug-inventory`` or a
    ``MODULE.OP`` as the second word (or the first, with no inventory before it)."""
    from oxinfra.cli.operation import is_operation_word

    for word in words[1:2] or words[:1]:
        if word in FORMS or is_operation_word(word):
            return word
    return None


def _option_records(command: click.Command, ctx: click.Context, names: tuple[str, ...]) -> list[tuple[str, str]]:
    by_name = {p.name: p for p in command.params if isinstance(p, click.Option)}
    records = []
    for name in names:
        param = by_name.get(name)
        record = param.get_help_record(ctx) if param is not None else None
        if record is not None:
            records.append(record)
    return records


def form_help(command: click.Command, ctx: click.Context, word: str) -> str:
    """The help of one form (``exec``, ``fact``, ``debug-inventory``) or one operation."""
    formatter = ctx.make_formatter()
    if word in FORMS:
        form = FORMS[word]
        formatter.write_usage(ctx.command_path, f"[OPTIONS] {form.usage}")
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(form.text)
        options = form.options
    else:
        usage, text = _operation_text(word)
        formatter.write_usage(ctx.command_path, f"[OPTIONS] INVENTORY {usage}")
        formatter.write_paragraph()
        with formatter.indentation():  # the docstring as written (\b: click does not rewrap it)
            formatter.write_text("\n\n".join("\b\n" + part for part in text.split("\n\n")))
        options = _OPERATION_OPTIONS
    with formatter.section("Options (the form's main ones; every option of oxinfra --help applies)"):
        formatter.write_dl(_option_records(command, ctx, options))
    return formatter.getvalue().rstrip("\n")


def _operation_text(word: str) -> tuple[str, str]:
    from oxinfra.cli.operation import resolve_operation

    _, op = resolve_operation(word)
    signature = inspect.signature(op)
    takes = []
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD:
            takes.append(f"[{param.name}=VALUE...]")
        elif param.kind is param.VAR_POSITIONAL:
            takes.append(f"[{param.name}...]")
        elif param.default is param.empty:
            takes.append(f"{param.name}=VALUE")
        else:
            takes.append(f"[{param.name}={param.default!r}]")
    usage = f"{word} {' '.join(takes)}"
    text = (
        (inspect.getdoc(op) or "")
        + "\n\nValues read as pyinfra reads them: true/false, a number, JSON, else the text as\n"
        "written; global arguments too (_sudo=true, _ignore_errors=true, name=...)."
    )
    return usage, text


class OxinfraCommand(click.Command):
    """The ``oxinfra`` command: click's, plus the forms' own help and the settings files'
    defaults read from ``--chdir``'s directory."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not ctx.resilient_parsing:  # shell completion parses resiliently: no help, no exit
            found = scan(self, args)
            word = _form_of(found.words) if found.help else None
            if word is not None:
                from oxinfra.exceptions import OxinfraError

                try:
                    text = form_help(self, ctx, word)
                except OxinfraError as exc:
                    click.echo(f"oxinfra: error: {exc}", err=True)
                    ctx.exit(2)
                click.echo(text, color=ctx.color)
                ctx.exit(0)
            self._settings(ctx, found)
        return super().parse_args(ctx, args)

    def _settings(self, ctx: click.Context, found: Scan) -> None:
        """The settings files' defaults (:mod:`oxinfra.cli.settings`), from ``--chdir``'s
        directory; an error in them is kept for the command to report (one line, with
        ``--json`` as an event), and no default is taken from them."""
        from oxinfra.cli.settings import SettingsError, read_settings

        directory = (found.values.get("chdir") or ["."])[-1] or "."
        if not os.path.isdir(directory):
            return  # the command reports --chdir's error
        try:
            defaults = read_settings(self, ctx, directory)
        except SettingsError as exc:
            ctx.meta[SETTINGS_ERROR] = str(exc)
            return
        # lists add up (the file's first, the command line's win): kept apart from the defaults
        for name in ("data", "group_data"):
            ctx.meta[SETTINGS_LISTS + name] = tuple(defaults.pop(name, ()))
        if defaults:
            ctx.default_map = {**defaults, **(ctx.default_map or {})}


class Finite(click.FloatRange):
    """A ``click.FloatRange`` that also refuses ``nan`` and ``inf`` (every comparison with
    ``nan`` is false, so a range lets it through: a timeout that never fires, a
    ``--fail-percent`` that never stops anything)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number
