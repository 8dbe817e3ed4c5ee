"""Facts about systemd units: which are active, which start at boot.

Both read ``systemctl show --all --property Id --property <state>`` for the units asked
for (every loaded unit when none is named) and give ``{unit: bool}``, as pyinfra 3 does:
only ``Id`` values that are unit names (a known type suffix) are kept. A host without
``systemctl`` gives ``{}`` (the shell's 127). ``systemctl``'s own failures (no systemd
running: "System has not been booted with systemd", a bus it cannot reach) fail the fact
with its message; pyinfra swallows them in ``user_mode`` only, oxinfra never does.
"""

from __future__ import annotations

import re

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.quoting import command

__all__ = ["SystemdStatus", "SystemdEnabled"]

#: A unit name: a prefix of letters, digits, ``:-_.\\@``, a dot and a unit type.
UNIT_NAME = re.compile(
    r"[a-zA-Z0-9:\-_.\\@]+\.(?:service|socket|device|mount|automount|swap|target|path|timer|slice|scope)"
)
_MACHINE = re.compile(r"[A-Za-z0-9_.-]+\Z")


def systemctl_options(user_mode: bool = False, machine: str | None = None, user_name: str | None = None) -> list[str]:
    """``--user`` and ``--machine=[USER@]MACHINE`` as pyinfra's arguments ask (``USER@.host``
    for a user alone)."""
    for what, value in (("machine", machine), ("user_name", user_name)):
        if value is not None and (not isinstance(value, str) or not _MACHINE.match(value) or value.startswith("-")):
            raise FactError(f"{what}={value!r} is not a machine or user name: letters, digits, _, . and - only")
    words = ["--user"] if user_mode else []
    if machine is not None:
        words.append("--machine=" + (user_name + "@" + machine if user_name is not None else machine))
    elif user_name is not None:
        words.append("--machine=" + user_name + "@.host")
    return words


class SystemdStatus(FactBase[dict[str, bool]]):
    """Whether each systemd unit is active: ``{"ssh.service": True, "apt-daily.timer": False}``
    (its sub-state is ``running``, ``waiting``, ``exited``, ``listening`` or ``mounted``).

    + user_mode: the user's manager (``systemctl --user``)
    + machine: the machine to ask (``--machine``)
    + user_name: the user whose manager to ask (with ``machine``, or on this machine)
    + services: a unit name or a list of them (default: every loaded unit)
    """

    shell_safe = True  # systemctl runs as a process
    absent_status = frozenset({127})  # no systemctl on the host
    state_key = "SubState"
    state_values = frozenset({"running", "waiting", "exited", "listening", "mounted"})

    def command(
        self,
        user_mode: bool = False,
        machine: str | None = None,
        user_name: str | None = None,
        services: str | list[str] | None = None,
    ) -> str:
        if services is None:
            names = ["*"]
        elif isinstance(services, str):
            names = [services]
        elif isinstance(services, (list, tuple)) and all(isinstance(s, str) for s in services):
            names = list(services)
        else:
            raise FactError(f"services= of {self.name} must be a unit name or a list of them, not {services!r}")
        options = systemctl_options(user_mode, machine, user_name)
        return command(
            "systemctl", *options, "show", "--all", "--property", "Id", "--property", self.state_key, "--", *names
        )

    def default(self) -> dict[str, bool]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool]:
        units: dict[str, bool] = {}
        unit = None
        for line in output:
            key, sep, value = line.strip().partition("=")
            if not sep:
                unit = None  # the blank line between units
            elif key == "Id":
                unit = value if UNIT_NAME.match(value) else None
            elif key == self.state_key and unit:
                units[unit] = value in self.state_values
        return units


class SystemdEnabled(SystemdStatus):
    """Whether each systemd unit starts at boot: ``{"ssh.service": True}`` (its unit file
    state is ``enabled`` or ``static``). Arguments as :class:`SystemdStatus`."""

    state_key = "UnitFileState"
    state_values = frozenset({"enabled", "static"})

    def command(
        self,
        user_mode: bool = False,
        machine: str | None = None,
        user_name: str | None = None,
        services: str | list[str] | None = None,
    ) -> str:
        return super().command(user_mode=user_mode, machine=machine, user_name=user_name, services=services)
