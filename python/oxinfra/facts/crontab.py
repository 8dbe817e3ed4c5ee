"""Facts about crontabs: ``crontab.Crontab`` (also ``server.Crontab``, as in pyinfra)."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase, FactFailed
from oxinfra.exceptions import FactError
from oxinfra.quoting import command, if_then

__all__ = ["Crontab", "CrontabFile", "NAME_PREFIX", "attached_comments"]

#: The comment that names an entry (``cron_name``), as pyinfra writes it.
NAME_PREFIX = "# pyinfra-name="
#: An environment line, as cron reads one: a name (quoted, or any word without blanks and
#: ``=``: Debian's crontab takes ``MY-VAR=1``), blanks, ``=``. Five times and a command never
#: match: their first word is followed by a blank and the second time, not ``=``.
_ENV = re.compile(r"""^\s*(?:"[^"]*"|'[^']*'|[^\s=]+)\s*=""")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}\$?\Z")
_STATUS = "@@OX-CRONTAB-STATUS:"


def _number(text: str) -> int | str:
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else text


class CrontabFile:
    """A crontab's entries, shaped as pyinfra's ``CrontabFile``: ``to_json()`` is the list
    of entries (``{"command", "minute", "hour", "day_of_month", "month", "day_of_week",
    "comments"}``, ``{"command", "special_time", "comments"}`` or ``{"env", "comments"}``);
    ``items()`` maps each command (or env line) to its entry; ``get(command or name)``.
    An entry's ``comments`` are the comment and blank lines since the entry before it; only
    the comments right above it (no blank line between) name it (:func:`attached_comments`;
    pyinfra counts any of them, so a name comment left without its entry named the next one).

    ``lines`` are the crontab's lines as read, and ``line_of[i]`` the line of entry ``i``:
    what ``crontab.crontab`` edits."""

    def __init__(self, commands: list[dict[str, Any]] | None = None, lines: list[str] | None = None) -> None:
        self.commands: list[dict[str, Any]] = list(commands or [])
        self.lines: list[str] = list(lines or [])
        self.line_of: list[int] = []

    def __len__(self) -> int:
        return len(self.commands)

    def __bool__(self) -> bool:
        return bool(self.commands)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CrontabFile) and (self.commands, self.lines) == (other.commands, other.lines)

    def items(self) -> dict[str, dict[str, Any]]:
        return {item.get("command") or item["env"]: item for item in self.commands}

    def indexes_of(self, command: str | None = None, name: str | None = None) -> list[int]:
        """The indexes of the entries named ``name`` (a ``# pyinfra-name=NAME`` comment among
        the comments right above the entry: :func:`attached_comments`) or running ``command``."""
        found = []
        for i, item in enumerate(self.commands):
            if "command" not in item:
                continue
            if command is not None and item["command"] == command:
                found.append(i)
            elif name is not None and NAME_PREFIX + name in attached_comments(item):
                found.append(i)
        return found

    def index_of(self, command: str | None = None, name: str | None = None) -> int | None:
        """The index of the first entry named ``name`` or running ``command`` (see
        :meth:`indexes_of`)."""
        found = self.indexes_of(command, name)
        return found[0] if found else None

    def get_command(self, command: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        i = self.index_of(command, name)
        return None if i is None else self.commands[i]

    def get_env(self, env: str) -> dict[str, Any] | None:
        return next((item for item in self.commands if item.get("env") == env), None)

    def get(self, item: str) -> dict[str, Any] | None:
        return self.get_command(command=item, name=item) or self.get_env(item)

    def __getitem__(self, item: str) -> dict[str, Any] | None:
        return self.get(item)

    def to_json(self) -> list[dict[str, Any]]:
        return self.commands

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> "CrontabFile":
        """The crontab whose entries are ``items`` (the JSON form), each written after its
        comments: what a value given as JSON (a fixture's) stands for."""
        crons = cls()
        for item in items:
            crons.lines += list(item.get("comments", []))
            if "env" in item:
                text = item["env"]
            elif "special_time" in item:
                text = f"{item['special_time']} {item['command']}"
            else:
                times = (item[k] for k in ("minute", "hour", "day_of_month", "month", "day_of_week"))
                text = " ".join(str(t) for t in times) + " " + item["command"]
            crons.line_of.append(len(crons.lines))
            crons.lines.append(text)
            crons.commands.append(item)
        return crons

    def __repr__(self) -> str:
        return f"CrontabFile({self.commands!r})"


def attached_comments(item: dict[str, Any]) -> list[str]:
    """The comment lines right above an entry, with no blank line between them and it: the
    ones that may name it. A ``# pyinfra-name=`` comment with a blank line (or nothing)
    after it names nothing (an entry removed by hand or by an older run left it)."""
    comments: list[str] = item.get("comments", [])
    for k in range(len(comments) - 1, -1, -1):
        if not comments[k]:
            return comments[k + 1 :]
    return comments


def parse_crontab(lines: list[str]) -> CrontabFile:
    """Entries of crontab ``lines``; comment and blank lines go with the entry after them.

    ``lines`` may hold bytes that are not UTF-8 as surrogate escapes (``surrogateescape``):
    they stay so in ``CrontabFile.lines`` (what ``crontab.crontab`` writes back, byte for
    byte), and the entries show them as U+FFFD."""
    crons = CrontabFile(lines=lines)
    comments: list[str] = []
    for number, raw in enumerate(lines):
        line = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
        if not line or line.startswith("#"):
            comments.append(line)
            continue
        if line.startswith("@"):
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise FactFailed(0, f"crontab line {number + 1}: {parts[0]} names no command")
            item: dict[str, Any] = {"command": parts[1], "special_time": parts[0], "comments": comments}
        elif _ENV.match(line):
            item = {"env": line, "comments": comments}
        else:
            fields = line.split(None, 5)
            if len(fields) != 6:
                raise FactFailed(0, f"crontab line {number + 1}: not five times and a command: {line[:60]!r}")
            minute, hour, day_of_month, month, day_of_week, cmd = fields
            item = {
                "command": cmd,
                "minute": _number(minute),
                "hour": _number(hour),
                "month": _number(month),
                "day_of_month": _number(day_of_month),
                "day_of_week": _number(day_of_week),
                "comments": comments,
            }
        crons.commands.append(item)
        crons.line_of.append(number)
        comments = []
    return crons


class Crontab(FactBase[Any]):
    """The crontab of ``user`` (of the login user when not given), shaped as pyinfra's
    (a :class:`CrontabFile`; see there). No crontab: an empty one. ``crontab -l`` failing
    otherwise (an unknown user, ``-u`` without privileges, no ``crontab`` installed) fails
    the fact with its message. A line that is neither a comment, an environment setting,
    ``@special command`` nor five times and a command fails the fact, naming it."""

    shell_safe = True

    def command(self, user: str | None = None) -> str:
        if user is not None and not (isinstance(user, str) and _USER.match(user)):
            raise FactError(f"not a valid user name for crontab.Crontab: {user!r}")
        listing = command("crontab", "-l", *(["-u", user] if user else []))
        # crontab says "no crontab for USER" with the same status as its errors: its message
        # and whether it failed are printed (after a marker line) for parse() to tell apart.
        ok, failed = (command("printf", "\\n" + _STATUS + code + "\\n") for code in ("0", "1"))
        return if_then(listing + " 2>&1", ok, failed)

    def default(self) -> Any:
        return CrontabFile()

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        # surrogateescape: a byte that is not UTF-8 (a Latin-1 comment) is kept as it is in
        # the lines crontab.crontab writes back; parse_crontab shows it as U+FFFD
        text = stdout.decode("utf-8", "surrogateescape")
        body, marker, status = text.rpartition("\n" + _STATUS)
        if not marker or not status.strip().isdigit():
            raise FactFailed(rc, "crontab -l: no status line in the output")
        if status.strip() != "0":
            message = " ".join(body.encode("utf-8", "surrogateescape").decode("utf-8", "replace").split())
            if message.startswith("no crontab for "):
                return CrontabFile()
            raise FactFailed(1, f"crontab -l failed: {message[:200]}")
        lines = body.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return parse_crontab(lines)
