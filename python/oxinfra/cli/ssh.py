"""``--ssh-user``, ``--ssh-port``, ``--ssh-key``, ``--ssh-key-password``, ``--ssh-password``
(pyinfra's names, and its short forms ``--user``, ``--port``, ``--key``, ``--key-password``,
``--password``): the SSH settings of every host of the run.

As in pyinfra, they are override data -- the same as ``--data ssh_user=...`` -- so they win
over host data, group data and the inventory (and over the OpenSSH client config, which host
data already wins over, as ``ssh -p`` wins over ``Port``); what they do not set still comes
from there. Hosts of other connectors (``@local``, ``@docker/...``) ignore them.

The passwords come from the option, from ``OXINFRA_SSH_PASSWORD`` /
``OXINFRA_SSH_KEY_PASSWORD``, or from a hidden prompt on the terminal (``--ssh-password-prompt``,
also spelt ``--ask-ssh-password``; ``--ask-ssh-key-password``), asked once before the
inventory loads, on stderr (``--json`` output stays clean). The environment variables are
removed once read, so nothing oxinfra starts inherits them; a password is a
:class:`~oxinfra.api.Secret` in the run's data, masked wherever the run prints, handed to
asyncssh in this process (and to shard workers over their stdin pipe), never an argument of
a process or written to a file.
"""

from __future__ import annotations

import os
from typing import Any

import click

from oxinfra.exceptions import DeployError

__all__ = ["ssh_overrides"]


def _password(value: str | None, ask: bool, what: str, option: str, envvar: str) -> str | None:
    if ask and value is not None:
        raise click.UsageError(f"give {option} (or {envvar}) or the prompt for it, not both")
    if ask:
        from oxinfra.cli.console import ask_password

        prompt = "--ask-ssh-key-password" if envvar == "OXINFRA_SSH_KEY_PASSWORD" else "--ssh-password-prompt"
        value = ask_password(what, prompt, f"{envvar} (or {option})")
        if not value:
            raise click.UsageError(f"no {what} given")
    if value is not None and (not value or any(c in value for c in "\n\r\x00")):
        raise click.BadParameter(f"{what} is one non-empty line", param_hint=option)
    return value


def ssh_overrides(
    user: str | None,
    port: int | None,
    key: str | None,
    key_password: str | None,
    password: str | None,
    ask_password: bool = False,
    ask_key_password: bool = False,
) -> dict[str, Any]:
    """The host data the SSH options set (only those given)."""
    from oxinfra._secrets import Secret

    out: dict[str, Any] = {}
    if user is not None:
        if not user or any(c.isspace() or c == "\x00" for c in user):
            raise click.BadParameter(f"{user!r} is not a user name", param_hint="--ssh-user")
        out["ssh_user"] = user
    if port is not None:
        out["ssh_port"] = port
    if key is not None:
        path = os.path.abspath(os.path.expanduser(key))
        if not os.path.isfile(path) or not os.access(path, os.R_OK):
            raise DeployError(f"--ssh-key {key}: no readable file there")
        out["ssh_key"] = path
    password = _password(password, ask_password, "SSH password", "--ssh-password", "OXINFRA_SSH_PASSWORD")
    if password is not None:
        out["ssh_password"] = Secret(password)
    key_password = _password(
        key_password, ask_key_password, "SSH key password", "--ssh-key-password", "OXINFRA_SSH_KEY_PASSWORD"
    )
    if key_password is not None:
        out["ssh_key_password"] = Secret(key_password)
    return out
