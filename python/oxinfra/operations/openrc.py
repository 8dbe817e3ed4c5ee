"""Manage OpenRC services (Alpine, Gentoo; Debian's ``openrc`` package).

Proven by fixtures and on an OpenRC host: a container of the test image with Debian's OpenRC
as its init (``tests/test_openrc_containers.py``: apply, verify with ``rc-service``/
``rc-update``, apply again, drift, ``--dry``, repair).
"""

from __future__ import annotations

from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.facts.openrc import OpenrcEnabled, OpenrcServices, OpenrcStatus
from oxinfra.operations.util.service import asked_of, check_action, enable_command, ensure_service, service_command

__all__ = ["service"]


@operation(
    fact_batches=2,
    fact_batches_reason="a service missing from the runlevel's listing is looked up in the list of every service",
)
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

    Whether it is started is what ``rc-status RUNLEVEL`` lists (``openrc.OpenrcStatus``);
    for a service not in the runlevel, what ``rc-status --servicelist`` lists
    (``openrc.OpenrcServices``; pyinfra takes such a service as not started, so it starts it
    on every run and never stops it). Whether it is in the runlevel: ``rc-update show -v``
    (``openrc.OpenrcEnabled``).

    Example::

        openrc.service(name="sshd runs and starts at boot", service="sshd", enabled=True, _sudo=True)
    """
    asked = asked_of("openrc.service", running, restarted, reloaded, command, enabled)
    service_command("openrc", service, "start")  # refuses a bad name before any fact is read
    enable_command("openrc", service, True, runlevel)  # and a bad runlevel
    if command is not None:
        check_action(command)
    requests: list[tuple[type, dict[str, Any]]] = [(OpenrcStatus, {"runlevel": runlevel})]
    if enabled is not None:
        requests.append((OpenrcEnabled, {"runlevel": runlevel}))
    statuses, *boot = get_facts(host, requests)
    is_running = statuses.get(service)
    if is_running is None:  # in no runlevel's listing: OpenRC's list of every service says
        (everything,) = get_facts(host, [(OpenrcServices, {})])
        is_running = everything.get(service)
    yield from ensure_service(
        "openrc",
        service,
        is_running=is_running,
        is_enabled=boot[0].get(service, False) if boot else None,
        runlevel=runlevel,
        **asked,
    )
