"""``--sudo``, ``--sudo-user``, ``--su-user``, ``--sudo-password``, ``--ask-sudo-password``:
the run's defaults for every operation's ``_sudo``, ``_sudo_user``, ``_su_user`` and
``_sudo_password`` (an operation's own arguments win).

``--ask-sudo-password`` asks once per run, with a hidden prompt on the terminal (stderr, so
``--json`` output stays clean), after the inventory has loaded; the one answer serves every
host. Without a terminal it is the first line of stdin; with nothing there either, exit 2 and
one line naming ``OXINFRA_SUDO_PASSWORD`` (:func:`oxinfra.cli.console.ask_password`). The password then lives in this process (and its shard workers, sent over a pipe) and
reaches each host inside the script its shell reads, for ``sudo -S`` on its stdin.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["RunPrivilege", "run_privilege"]


class RunPrivilege:
    """What the privilege options asked for; :meth:`global_args` asks for the password (once)."""

    def __init__(self, sudo: bool, sudo_user: str | None, su_user: str | None, password: str | None, ask: bool) -> None:
        self.sudo = sudo
        self.sudo_user = sudo_user
        self.su_user = su_user
        self.password = password
        self.ask = ask

    def global_args(self) -> dict[str, Any]:
        from oxinfra._secrets import Secret

        if self.ask and self.password is None:
            from oxinfra.cli.console import ask_password

            answer = ask_password("sudo password", "--ask-sudo-password", "OXINFRA_SUDO_PASSWORD")
            if not answer:
                raise click.UsageError("no sudo password given")
            self.password = answer
        args: dict[str, Any] = {}
        if self.sudo:
            args["_sudo"] = True
        if self.sudo_user:
            args["_sudo_user"] = self.sudo_user
        if self.su_user:
            args["_su_user"] = self.su_user
        if self.password is not None:
            if not self.password or any(c in self.password for c in "\n\r\x00"):
                raise click.BadParameter("a sudo password is one non-empty line", param_hint="--sudo-password")
            args["_sudo_password"] = Secret(self.password)
        return args

    def secrets(self) -> list[str]:
        return [self.password] if self.password else []


def run_privilege(
    sudo: bool, sudo_user: str | None, su_user: str | None, password: str | None, ask: bool
) -> RunPrivilege:
    if ask and password is not None:
        raise click.UsageError("give --sudo-password (or OXINFRA_SUDO_PASSWORD) or --ask-sudo-password, not both")
    return RunPrivilege(sudo, sudo_user, su_user, password, ask)
