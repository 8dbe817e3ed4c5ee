"""Manage OpenRC services (Alpine, Gentoo).

No OpenRC host can be built here: ``openrc.service`` is proven by fixtures (its commands
follow ``rc-service``'s and ``rc-update``'s documented usage), not on a host.
"""

from __future__ import annotations

from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.facts.openrc import OpenrcEnabled, OpenrcStatus
from oxinfra.operations.util.service import check_action, check_flags, enable_command, ensure_service, service_command

__all__ = ["service"]


@operation()
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
    runlevel: str = "default",
) -> OperationGenerator:
    """Manage an OpenRC service: started or stopped, restarted or reloaded, in a runlevel.

    + service: the service's name
    + running: whether it should be started (None: leave it as it is)
    + restarted: restart it if it was started
    + reloaded: reload it if it was started
    + command: a further action run every time (``rc-service SERVICE COMMAND``), one word
    + enabled: whether it should be in ``runlevel`` (None: leave it)
    + runlevel: the runlevel (``default``)

    Whether it is started is what ``rc-status RUNLEVEL`` lists (``openrc.OpenrcStatus``: a
    service not in the runlevel is started when it should run); whether it is in the
    runlevel, ``rc-update show -v`` (``openrc.OpenrcEnabled``).

    Example::

        openrc.service(name="sshd runs and starts at boot", service="sshd", enabled=True, _sudo=True)
    """
    check_flags("openrc.service", running_=running, restarted=restarted, reloaded=reloaded, enabled_=enabled)
    service_command("openrc", service, "start")  # refuses a bad name before any fact is read
    enable_command("openrc", service, True, runlevel)  # and a bad runlevel
    if command is not None:
        check_action(command)
    requests: list[tuple[type, dict[str, Any]]] = [(OpenrcStatus, {"runlevel": runlevel})]
    if enabled is not None:
        requests.append((OpenrcEnabled, {"runlevel": runlevel}))
    statuses, *boot = get_facts(host, requests)
    yield from ensure_service(
        "openrc",
        service,
        is_running=statuses.get(service),
        is_enabled=boot[0].get(service, False) if boot else None,
        running=running,
        restarted=restarted,
        reloaded=reloaded,
        enabled=enabled,
        runlevel=runlevel,
        command=command,
    )
