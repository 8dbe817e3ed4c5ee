"""Run commands and manage the server as a whole."""

from __future__ import annotations

from oxinfra.api import OperationGenerator, operation
from oxinfra.exceptions import OperationValueError
from oxinfra.operations.crontab import crontab
from oxinfra.operations.server.packages import packages
from oxinfra.operations.server.kernel import locale, modprobe, mount
from oxinfra.operations.server.scripts import kill, reboot, script, script_template, wait
from oxinfra.operations.server.service import service
from oxinfra.operations.server.system import etc_hosts, hostname, security_limit, sysctl, timezone
from oxinfra.operations.server.users import group, user, user_authorized_keys

__all__ = [
    "shell",
    "packages",
    "service",
    "user",
    "group",
    "user_authorized_keys",
    "sysctl",
    "hostname",
    "timezone",
    "security_limit",
    "crontab",
    "script",
    "script_template",
    "wait",
    "kill",
    "modprobe",
    "mount",
    "locale",
    "etc_hosts",
    "reboot",
]


@operation(is_idempotent=False)
def shell(commands: str | list[str]) -> OperationGenerator:
    """Run shell commands on the host, in order, stopping at the first that fails.

    This always counts as a change: oxinfra cannot know what a command does.

    + commands: one command string or a list of them (they are shell code, run as written)

    Example::

        server.shell(name="Probe", commands=["test -d /tmp", "uptime"])
    """
    if isinstance(commands, str):
        commands = [commands]
    if not isinstance(commands, (list, tuple)) or not all(isinstance(c, str) for c in commands):
        raise OperationValueError("server.shell commands= must be a string or a list of strings")
    yield from commands
