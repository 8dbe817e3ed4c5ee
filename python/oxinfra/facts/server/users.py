"""Facts about accounts: the users and groups of ``/etc/passwd`` and ``/etc/group``.

The files are read as they are (like pyinfra, not through NSS: accounts from LDAP and the
like are not listed); the parsing is Rust (:func:`oxinfra._core.parse_users`), shared with
the JSON fixtures under ``tests/facts/``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase
from oxinfra.quoting import and_then, command, group, or_else

__all__ = ["Users", "Groups"]


def _mark(name: str) -> str:
    return command("printf", "\\n%s\\n", name)


def _quiet(*argv: str) -> str:
    """``argv`` with its stderr dropped (its failure is handled by the caller)."""
    return command(*argv) + " 2>/dev/null"


class Users(FactBase[Any]):
    """The accounts of ``/etc/passwd``, by name, shaped as pyinfra's::

        {"app": {"home": "/home/app", "comment": None, "shell": "/bin/bash",
                 "group": "app", "groups": ["sudo"], "uid": 1000, "gid": 1000,
                 "lastlog": None, "login_time": None, "password": "$y$j9T$..."}}

    * ``group`` is the primary group's name (its id, as text, when no group has it);
      ``groups`` the other groups that list the user, in ``/etc/group`` order;
    * ``comment``, ``home`` and ``shell`` are None when empty;
    * ``password`` is the hash in ``/etc/shadow``: ``""`` when the account has no shadow
      entry or the file may not be read (read the fact with ``_sudo=True``);
    * ``lastlog`` is the last login as ``lastlog`` prints it, ``login_time`` the same as a
      datetime with its UTC offset; both None when there is none or ``lastlog`` is not
      installed.

    ``/etc/passwd`` or ``/etc/group`` that cannot be read, or a line of either of the wrong
    shape (not 7 or 4 ``:``-separated fields, an id that is not a number), fails the fact,
    naming the file and line. Empty, ``#`` and NIS (``+``/``-``) lines are skipped; bytes
    that are not UTF-8 become U+FFFD. A name that appears twice: the later line wins (its
    place is the first one's), as in pyinfra.
    """

    shell_safe = True

    def command(self) -> str:
        shadow = group(or_else(_quiet("cat", "/etc/shadow"), _quiet("cat", "/etc/master.passwd"), "true"))
        lastlog = group(or_else(_quiet("lastlog"), "true"))
        return and_then(
            command("cat", "/etc/passwd"),
            _mark("@@OX-GROUP"),
            command("cat", "/etc/group"),
            _mark("@@OX-SHADOW"),
            shadow,
            _mark("@@OX-LASTLOG"),
            lastlog,
        )

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            return super().parse(stdout, rc)  # a failure: nothing here is "absent"
        users: dict[str, Any] = {}
        for name, home, comment, shell, grp, groups, uid, gid, lastlog, when, password in _core.parse_users(stdout):
            login_time = None
            if when is not None:
                year, month, day, hour, minute, second, offset = when
                login_time = datetime(
                    year, month, day, hour, minute, second, tzinfo=timezone(timedelta(seconds=offset))
                )
            users[name] = {
                "home": home,
                "comment": comment,
                "shell": shell,
                "group": grp,
                "groups": groups,
                "uid": uid,
                "gid": gid,
                "lastlog": lastlog,
                "login_time": login_time,
                "password": password,
            }
        return users


class Groups(FactBase[Any]):
    """The names of the groups in ``/etc/group``, in file order (a list, as pyinfra's).

    An unreadable file or a line of the wrong shape (not 4 ``:``-separated fields, an id that
    is not a number) fails the fact; empty, ``#`` and NIS lines are skipped.
    """

    shell_safe = True

    def command(self) -> str:
        return command("cat", "/etc/group")

    def default(self) -> Any:
        return []

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            return super().parse(stdout, rc)
        return _core.parse_groups(stdout)
