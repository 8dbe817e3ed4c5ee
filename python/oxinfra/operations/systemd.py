"""Manage systemd units: start, stop, restart, reload, enable at boot; reload unit files."""

from __future__ import annotations

from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.systemd import SystemdEnabled, SystemdStatus
from oxinfra.operations.util.service import (
    asked_of,
    check_action,
    check_flags,
    ensure_service,
    service_command,
    systemctl_words,
)
from oxinfra.quoting import command as shell_command

__all__ = ["service", "daemon_reload"]

#: The unit types systemd knows; a name without one of them is a ``.service``.
UNIT_TYPES = (
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
)


def _scope_args(user_mode: bool, machine: str | None, user_name: str | None) -> dict[str, Any]:
    """The fact arguments that differ from their defaults (what the fact reads is the same)."""
    args: dict[str, Any] = {}
    if user_mode:
        args["user_mode"] = True
    if machine is not None:
        args["machine"] = machine
    if user_name is not None:
        args["user_name"] = user_name
    return args


@operation(is_idempotent=False)
def daemon_reload(
    user_mode: bool = False, machine: str | None = None, user_name: str | None = None
) -> OperationGenerator:
    """Make systemd read its unit files again (``systemctl daemon-reload``): after a unit
    file changed. Always runs (it counts as a change).

    + user_mode: the user's manager (``systemctl --user``)
    + machine: the machine to connect to (``--machine``)
    + user_name: the user whose manager to connect to

    Example::

        systemd.daemon_reload(name="Read the new unit files", _sudo=True)
    """
    check_flags("systemd.daemon_reload", user_mode=user_mode)
    yield shell_command("systemctl", *systemctl_words(user_mode, machine, user_name), "daemon-reload")


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
    daemon_reload: bool = False,
    user_mode: bool = False,
    machine: str | None = None,
    user_name: str | None = None,
) -> OperationGenerator:
    """Manage a systemd unit: running or stopped, restarted or reloaded, enabled at boot.

    + service: the unit (``nginx`` is ``nginx.service``; ``logrotate.timer`` as it is): ASCII
      letters, digits and ``: - _ . @ \\`` (a pattern such as ``app-*`` is refused: systemctl
      would act on every unit it matches)
    + running: whether the unit should be active (None: leave it as it is)
    + restarted: restart it if it was active (a unit this starts is not restarted again)
    + reloaded: reload it if it was active
    + command: a further action run every time (``systemctl COMMAND -- UNIT``), one word
    + enabled: whether it should start at boot (None: leave it)
    + daemon_reload: ``systemctl daemon-reload`` first (unit files changed)
    + user_mode: the user's manager (``systemctl --user``)
    + machine: the machine to connect to (``--machine``)
    + user_name: the user whose manager to connect to

    Active means a sub-state of ``running``, ``waiting``, ``exited``, ``listening`` or
    ``mounted`` (``systemd.SystemdStatus``); enabled, a unit file state of ``enabled`` or
    ``static`` (``systemd.SystemdEnabled``). A unit neither fact lists is started when it
    should run and enabled when it should be.

    Example::

        systemd.service(
            name="nginx runs and starts at boot",
            service="nginx.service",
            running=True,
            enabled=True,
            _sudo=True,
        )
    """
    asked = asked_of(
        "systemd.service",
        running,
        restarted,
        reloaded,
        command,
        enabled,
        daemon_reload=daemon_reload,
        user_mode=user_mode,
    )
    if not isinstance(service, str) or not service:
        raise OperationValueError(f"systemd.service: service= must name a unit, not {service!r}")
    unit = service if service.endswith(UNIT_TYPES) else service + ".service"
    words = systemctl_words(user_mode, machine, user_name)
    if command is not None:
        check_action(command)
    service_command("systemd", unit, "start", words)  # refuses a bad name before any fact is read

    scope = _scope_args(user_mode, machine, user_name)
    requests: list[tuple[type, dict[str, Any]]] = [(SystemdStatus, {**scope, "services": [unit]})]
    if enabled is not None:
        requests.append((SystemdEnabled, {**scope, "services": [unit]}))
    status, *boot = get_facts(host, requests)
    running = status.get(unit)
    if running is None and len(status) == 1:
        # asked for one unit, answered for another name: the unit ``unit`` is an alias of
        # (systemctl show names it by its own name: sshd.service is ssh.service on Debian)
        running = next(iter(status.values()))
    yield from ensure_service(
        "systemd",
        unit,
        is_running=running,
        is_enabled=boot[0].get(unit, False) if boot else None,
        daemon_reload=daemon_reload,
        systemctl=words,
        **asked,
    )
