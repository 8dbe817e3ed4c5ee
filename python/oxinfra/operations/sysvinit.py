"""Manage SysV init services (``/etc/init.d`` scripts) and their start links."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.sysvinit import InitdScriptStatus, InitdStartLinks
from oxinfra.operations import files
from oxinfra.operations.util.service import asked_of, check_action, ensure_service, service_command

__all__ = ["service", "enable"]

_LEVEL = re.compile(r"[0-6S]\Z")


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    enabled: bool | None = None,
    command: str | None = None,
) -> OperationGenerator:
    """Manage a SysV init service (``/etc/init.d/SERVICE``): running or stopped, restarted
    or reloaded, started at boot.

    + service: the script's name in ``/etc/init.d``
    + running: whether it should run (None: leave it as it is)
    + restarted: restart it if it was running (one this starts is not restarted again)
    + reloaded: reload it if it was running
    + enabled: whether it should start at boot (None: leave it)
    + command: a further action run every time (``/etc/init.d/SERVICE COMMAND``), one word

    Whether it runs is what ``/etc/init.d/SERVICE status`` says (``sysvinit.InitdScriptStatus``:
    a script whose status cannot tell is started when it should run, stopped when it should
    not). Whether it starts at boot is whether it has start links ``/etc/rc?.d/SNNSERVICE``
    (``sysvinit.InitdStartLinks``); ``enabled`` uses Debian's ``update-rc.d`` (``defaults``,
    then ``enable``; ``disable`` turns the start links into stop links). pyinfra also
    drives ``chkconfig`` (RHEL) and removes the start links to disable: oxinfra drives
    ``update-rc.d`` only; for other systems see ``sysvinit.enable``.

    Example::

        sysvinit.service(
            name="cron runs and starts at boot",
            service="cron",
            running=True,
            enabled=True,
            _sudo=True,
        )
    """
    asked = asked_of("sysvinit.service", running, restarted, reloaded, command, enabled)
    service_command("sysvinit", service, "start")  # refuses a bad name before any fact is read
    if command is not None:
        check_action(command)
    requests: list[tuple[type, dict[str, Any]]] = [(InitdScriptStatus, {"service": service})]
    if enabled is not None:
        requests.append((InitdStartLinks, {"service": service}))
    status, *links = get_facts(host, requests)
    yield from ensure_service(
        "sysvinit",
        service,
        is_running=status,
        is_enabled=bool(links[0]) if links else None,
        **asked,
    )


def _priority(what: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 99:
        raise OperationValueError(f"sysvinit.enable: {what}= must be a whole number from 0 to 99, not {value!r}")
    return str(value).rjust(2, "0")


def _levels(what: str, value: object) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise OperationValueError(f"sysvinit.enable: {what}= must be a list of runlevels (0 to 6, S), not {value!r}")
    levels = [str(level) for level in value]
    bad = [level for level in levels if isinstance(level, bool) or not _LEVEL.match(level)]
    if bad or any(isinstance(level, bool) for level in value):
        raise OperationValueError(f"sysvinit.enable: {what}= holds {bad or list(value)!r}: runlevels are 0 to 6 and S")
    return sorted(set(levels))


@operation()
def enable(
    service: str,
    start_priority: int = 20,
    stop_priority: int = 80,
    start_levels: Any = (2, 3, 4, 5),
    stop_levels: Any = (0, 1, 6),
) -> OperationGenerator:
    """Make the start and stop links of an ``/etc/init.d`` script by hand: a link
    ``/etc/rcL.d/SNNSERVICE`` for each start level, ``/etc/rcL.d/KNNSERVICE`` for each stop
    level, each pointing at ``/etc/init.d/SERVICE`` (for systems without ``update-rc.d``, or
    finer control). Links of other priorities or levels are left alone.

    + service: the script's name in ``/etc/init.d``
    + start_priority: the start links' priority (0 to 99, written with two digits: ``S20``)
    + stop_priority: the stop links' priority
    + start_levels: the runlevels it starts in (0 to 6, S)
    + stop_levels: the runlevels it stops in

    pyinfra writes a priority below 10 with one digit (``S5``); oxinfra with two (``S05``),
    as ``update-rc.d`` does, so that the links sort in priority order.

    Example::

        sysvinit.enable(
            name="rsyslog starts in 3, 4 and 5 only",
            service="rsyslog",
            start_levels=(3, 4, 5),
            stop_levels=(0, 1, 2, 6),
            _sudo=True,
        )
    """
    service_command("sysvinit", service, "start")  # refuses a bad name before any fact is read
    start, stop = _priority("start_priority", start_priority), _priority("stop_priority", stop_priority)
    links = ["/etc/rc" + level + ".d/S" + start + service for level in _levels("start_levels", start_levels)]
    links += ["/etc/rc" + level + ".d/K" + stop + service for level in _levels("stop_levels", stop_levels)]
    for link in links:
        yield from files.link._inner(path=link, target="/etc/init.d/" + service)
