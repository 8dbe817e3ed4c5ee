"""Crontab entries: ``crontab.crontab`` (also ``server.crontab``, as in pyinfra)."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation, touches
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.crontab import NAME_PREFIX, Crontab, CrontabFile, attached_comments
from oxinfra.operations.util.accounts import check_name
from oxinfra.quoting import command, pipe

__all__ = ["crontab"]

_SPECIAL = ("@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
#: A time field: numbers, names (``mon``, ``jan``), ``*``, ``/``, ``-`` and ``,``.
_FIELD = re.compile(r"[A-Za-z0-9*/,-]+\Z")


def _field(value: Any, what: str) -> str:
    if value is None:
        return "*"
    text = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    if isinstance(value, bool) or not _FIELD.match(text):
        raise OperationValueError(
            f"crontab.crontab: {what} {value!r} is not a cron time field (numbers, names, * / - and ,)"
        )
    return text


def _number(text: str) -> int | str:
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else text


@operation(shell_safe=True)
def crontab(
    command: str,
    present: bool = True,
    user: str | None = None,
    cron_name: str | None = None,
    minute: list[str | int] | str | int | None = None,
    hour: list[str | int] | str | int | None = None,
    month: list[str | int] | str | int | None = None,
    day_of_week: list[str | int] | str | int | None = None,
    day_of_month: list[str | int] | str | int | None = None,
    special_time: str | None = None,
    interpolate_variables: bool = False,
) -> OperationGenerator:
    """Add, change or remove a crontab entry.

    The entry is found by its name (``cron_name``: a ``# pyinfra-name=NAME`` comment line
    above it, as pyinfra writes it) or else by its command. A new entry is appended (after
    a blank line when the crontab has entries); a changed one is rewritten in place; with
    ``present=False`` every matching entry goes, with the ``# pyinfra-name=`` comments right
    above it. Only a name comment right above an entry names it (comment lines between them
    are fine, a blank line is not): one with a blank line or nothing after it names nothing.
    The whole new crontab is installed with ``crontab -`` from the shell's ``printf`` (no
    temporary file); the other lines stay as they are, byte for byte (also bytes that are
    not UTF-8; environment lines such as ``MY-VAR=1``).

    + command: the command to run
    + present: whether the entry should exist
    + user: whose crontab (default: the login user's; another user's needs ``_sudo=True``)
    + cron_name: a name for the entry, so that its command may change
    + minute / hour / month / day_of_week / day_of_month: when (a number, a string such as
      ``*/5`` or ``1-5``, or a list); ``*`` when not given
    + special_time: ``@reboot``, ``@daily``, ... instead of the five fields
    + interpolate_variables: not supported (the command is written as given; cron itself
      expands nothing but ``%``): an error when true

    Example::

        crontab.crontab(name="Backup", command="/usr/local/bin/backup", cron_name="backup",
                        hour=2, minute=30, _sudo=True)
    """
    op = "crontab.crontab"
    if not isinstance(command, str) or not command.strip() or "\n" in command or "\r" in command:
        raise OperationValueError(f"{op}: command {command!r} must be one line of text")
    # crontab.Crontab reads lines stripped of surrounding whitespace: compare (and write)
    # the command and name the same way, or a padded one would be added again every run.
    command = command.strip()
    if interpolate_variables:
        raise OperationValueError(
            f"{op}: interpolate_variables is not supported: write the crontab line as it should be"
        )
    if user is not None:
        check_name(user, "user", op)
    if cron_name is not None and (
        not isinstance(cron_name, str) or not cron_name.strip() or "\n" in cron_name or "\r" in cron_name
    ):
        raise OperationValueError(f"{op}: cron_name {cron_name!r} must be one line of text")
    if cron_name is not None:
        cron_name = cron_name.strip()
    if special_time is not None:
        if special_time not in _SPECIAL:
            raise OperationValueError(f"{op}: special_time {special_time!r} must be one of {', '.join(_SPECIAL)}")
        line = special_time + " " + command
        want: dict[str, Any] = {"special_time": special_time}
    else:
        fields = [
            _field(minute, "minute"),
            _field(hour, "hour"),
            _field(day_of_month, "day_of_month"),
            _field(month, "month"),
            _field(day_of_week, "day_of_week"),
        ]
        line = " ".join(fields) + " " + command
        want = dict(zip(("minute", "hour", "day_of_month", "month", "day_of_week"), map(_number, fields)))

    (current,) = get_facts(host, [(Crontab, {"user": user})])
    if isinstance(current, list):  # the fact's JSON form (a fixture's value)
        current = CrontabFile.from_json(current)
    touches("/var/spool/cron", subtree=True)  # where cron keeps crontabs (Debian: crontabs/USER)
    found = current.indexes_of(command=None if cron_name else command, name=cron_name)
    lines = list(current.lines)
    name_line = NAME_PREFIX + cron_name if cron_name else None
    whose = "the crontab of " + user if user else "the crontab"
    if not found:
        if not present:
            host.noop(f"{whose} has no entry {cron_name or command!r}")
            return
        if current:
            lines.append("")
        lines += [name_line, line] if name_line else [line]
    elif not present:
        # every matching entry, with the name comments right above it (left behind, one would
        # name the next entry below it)
        drop: set[int] = set()
        for index in found:
            at = current.line_of[index]
            above = len(attached_comments(current.commands[index]))
            drop.add(at)
            drop.update(k for k in range(at - above, at) if lines[k].strip().startswith(NAME_PREFIX))
        lines = [text for i, text in enumerate(lines) if i not in drop]
    else:
        item = current.commands[found[0]]
        at = current.line_of[found[0]]
        named = name_line is not None and name_line in attached_comments(item)
        same = (
            item.get("command") == command
            and item.get("special_time") == want.get("special_time")
            and all(item.get(k) == v for k, v in want.items())
            and (name_line is None or named)
        )
        if same:
            host.noop(f"{whose} has the entry {cron_name or command!r}")
            return
        lines[at : at + 1] = [name_line, line] if name_line and not named else [line]
    install = command_install(user)
    yield pipe(command_printf(lines), install)


def command_printf(lines: list[str]) -> str:
    """The crontab's text from the shell's ``printf`` builtin (no process holds it)."""
    return command("printf", "%s\\n", *lines) if lines else command("printf", "")


def command_install(user: str | None) -> str:
    return command("crontab", *(["-u", user] if user else []), "-")
