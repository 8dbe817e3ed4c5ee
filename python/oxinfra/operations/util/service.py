"""One helper for every init system: a service's state as facts read it in, the commands
that bring it where it is asked out.

A family's operation (``systemd.service``, ``openrc.service``...) reads whether the service
runs and is enabled, then ends in ``yield from ensure_service(...)``::

    >>> list(ensure_service("systemd", "nginx", is_running=False, is_enabled=False, enabled=True))
    ['systemctl start -- nginx', 'systemctl enable -- nginx']
    >>> list(ensure_service("openrc", "sshd", is_running=True, is_enabled=True, enabled=True))
    []

Names are values: always quoted, never part of shell text. ``systemctl`` reads ``--`` as the
end of its options (getopt_long; the tests run it), so a unit such as ``-.mount`` comes
after it. ``update-rc.d`` parses its own options and rejects ``--``; ``rc-service`` and
``rc-update`` document none in their usage: for sysvinit and OpenRC a name starting with
``-`` is refused. A name with a ``/`` is refused everywhere (sysvinit runs
``/etc/init.d/<name>``; no init system names a service with one).

Starting or stopping a service may change anything on the host: an operation built on this
declares no ``touches``.
"""

from __future__ import annotations

import re
from typing import Iterator, TypedDict

from oxinfra.api import noop
from oxinfra.exceptions import FactError, OperationValueError
from oxinfra.facts.systemd import systemctl_options
from oxinfra.operations.util import check_flags
from oxinfra.quoting import and_then, command, invoke

_command = command  # ensure_service has an argument named ``command`` (pyinfra's)

__all__ = [
    "INIT_SYSTEMS",
    "ServiceArguments",
    "asked_of",
    "ensure_service",
    "service_command",
    "enable_command",
    "check_action",
    "check_flags",
    "systemctl_words",
]

#: The init systems :func:`ensure_service` drives.
INIT_SYSTEMS = ("systemd", "sysvinit", "openrc")
_ACTIONS = ("start", "stop", "restart", "reload")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def check_action(action: str) -> str:
    """A custom action (``command=`` of the service operations, such as ``reload-or-restart``
    or ``condrestart``): one word of letters, digits, ``_`` and ``-``, not starting with ``-``."""
    if not isinstance(action, str) or not _WORD.match(action):
        raise OperationValueError(
            f"command={action!r} is not a service action: give one word of letters, digits, _ and - "
            "(such as reload-or-restart)"
        )
    return action


class ServiceArguments(TypedDict):
    """What every service operation is asked, by pyinfra's names, as :func:`ensure_service`
    takes it (``**asked``); ``server.service`` hands it on to the init system's operation."""

    running: bool | None
    restarted: bool
    reloaded: bool
    command: str | None
    enabled: bool | None


def asked_of(
    op: str,
    running: bool | None,
    restarted: bool,
    reloaded: bool,
    command: str | None,
    enabled: bool | None,
    **flags: object,
) -> ServiceArguments:
    """A service operation's pyinfra arguments, their flags checked (:func:`check_flags`, with
    the operation's own further ``flags``) before any fact is read."""
    check_flags(op, running_=running, restarted=restarted, reloaded=reloaded, enabled_=enabled, **flags)
    return {"running": running, "restarted": restarted, "reloaded": reloaded, "command": command, "enabled": enabled}


def systemctl_words(
    user_mode: bool = False, machine: str | None = None, user_name: str | None = None
) -> tuple[str, ...]:
    """The options after ``systemctl`` for pyinfra's ``user_mode``, ``machine`` and
    ``user_name``: ``--user`` and ``--machine=[USER@]MACHINE`` (``USER@.host`` for a user alone).

    >>> systemctl_words(user_mode=True, user_name="app")
    ('--user', '--machine=app@.host')
    """
    try:
        return tuple(systemctl_options(user_mode, machine, user_name))
    except FactError as exc:  # the same check as the systemd facts': an argument error here
        raise OperationValueError(str(exc)) from None


#: The characters of a systemd unit name (systemd.unit(5)): ``\\`` starts an escape.
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.@\\-]+")


def _check(init: str, name: str) -> None:
    if init not in INIT_SYSTEMS:
        raise OperationValueError(f"unknown init system {init!r}: use one of {', '.join(INIT_SYSTEMS)}")
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise OperationValueError(
            f"{name!r} is not a service name (it cannot be empty, '.', '..' or hold a '/' or a NUL byte)"
        )
    if name.startswith("-") and init != "systemd":
        raise OperationValueError(f"service name {name!r} starts with '-': the {init} tools would read it as an option")
    if init == "systemd" and not _UNIT_NAME.fullmatch(name):
        # systemctl reads a name with * ? [ as a pattern of unit names: "app-*" would stop them all
        raise OperationValueError(
            f"{name!r} is not a unit name: systemd's are ASCII letters, digits and : - _ . @ \\ "
            "(a pattern such as 'app-*' would act on every unit it matches)"
        )


def service_command(init: str, name: str, action: str, systemctl: tuple[str, ...] = (), custom: bool = False) -> str:
    """The command that starts, stops, restarts or reloads the service ``name`` (another
    action with ``custom``: see :func:`check_action`). ``systemctl``: options after
    ``systemctl`` (:func:`systemctl_words`).

    >>> service_command("sysvinit", "my app", "reload")
    "'/etc/init.d/my app' reload"
    """
    _check(init, name)
    if custom:
        check_action(action)
    elif action not in _ACTIONS:
        raise OperationValueError(f"unknown service action {action!r}: use one of {', '.join(_ACTIONS)}")
    if init == "systemd":
        return command("systemctl", *systemctl, action, "--", name)
    if init == "sysvinit":
        return invoke(f"/etc/init.d/{name}", action)
    return command("rc-service", name, action)


def enable_command(
    init: str, name: str, enable: bool, runlevel: str = "default", systemctl: tuple[str, ...] = ()
) -> str:
    """The command that makes the service start at boot (``enable``) or not.

    For sysvinit, Debian's ``update-rc.d`` (``defaults`` makes the links if there are none);
    for OpenRC, ``rc-update`` in ``runlevel``.

    >>> enable_command("openrc", "sshd", True)
    'rc-update add sshd default'
    """
    _check(init, name)
    if init == "systemd":
        return command("systemctl", *systemctl, "enable" if enable else "disable", "--", name)
    if init == "sysvinit":
        if enable:
            return and_then(command("update-rc.d", name, "defaults"), command("update-rc.d", name, "enable"))
        return command("update-rc.d", name, "disable")
    if (
        not isinstance(runlevel, str)
        or not runlevel
        or runlevel.startswith("-")
        or "/" in runlevel
        or "\x00" in runlevel
    ):
        raise OperationValueError(f"{runlevel!r} is not an OpenRC runlevel")
    return command("rc-update", "add" if enable else "del", name, runlevel)


def ensure_service(
    init: str,
    name: str,
    is_running: bool | None,
    is_enabled: bool | None = None,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    enabled: bool | None = None,
    runlevel: str = "default",
    daemon_reload: bool = False,
    command: str | None = None,
    systemctl: tuple[str, ...] = (),
) -> Iterator[str]:
    """Yield the commands that bring the service ``name`` to the state asked for.

    + init: ``systemd``, ``sysvinit`` or ``openrc``
    + name: the service (a systemd unit name, an ``/etc/init.d`` script name)
    + is_running / is_enabled: what the family's facts read (None: they could not tell)
    + running: True to have it running, False stopped, None to leave it as it is
    + restarted / reloaded: restart or reload it if it was running (a service this
      starts needs neither)
    + enabled: True to start it at boot, False not, None to leave it
    + runlevel: the OpenRC runlevel ``enabled`` applies to
    + daemon_reload: (systemd) ``systemctl daemon-reload`` first, after unit files changed
    + command: a further action run every time, whatever the state (pyinfra's ``command=``:
      ``systemctl ACTION -- NAME``, ``/etc/init.d/NAME ACTION``, ``rc-service NAME ACTION``)
    + systemctl: (systemd) options after ``systemctl`` (:func:`systemctl_words`)

    A state the facts could not tell (None) is acted on: started when it should run,
    stopped when it should not. When nothing needs doing, says why (``noop``).
    """
    _check(init, name)
    if daemon_reload and init != "systemd":
        raise OperationValueError("daemon_reload is for systemd only")
    if systemctl and init != "systemd":
        raise OperationValueError("systemctl options are for systemd only")
    if command is not None:
        check_action(command)
    commands: list[str] = []
    if daemon_reload:
        commands.append(_command("systemctl", *systemctl, "daemon-reload"))
    started = stopped = False
    if running is True and is_running is not True:
        commands.append(service_command(init, name, "start", systemctl))
        started = True
    elif running is False and is_running is not False:
        commands.append(service_command(init, name, "stop", systemctl))
        stopped = True
    if is_running and not started and not stopped:
        if restarted:
            commands.append(service_command(init, name, "restart", systemctl))
        elif reloaded:
            commands.append(service_command(init, name, "reload", systemctl))
    if command is not None:
        commands.append(service_command(init, name, command, systemctl, custom=True))
    if enabled is not None and is_enabled is not enabled:
        commands.append(enable_command(init, name, enabled, runlevel, systemctl))
    if len(commands) == int(daemon_reload):
        state = "running" if is_running else "stopped" if is_running is False else "as it is"
        boot = "" if enabled is None else ", enabled" if enabled else ", disabled"
        noop(f"service {name} is {state}{boot}")
    yield from commands
