"""``server.service``: a service, managed by whichever init system the host has."""

from __future__ import annotations

from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import Directory, Link
from oxinfra.facts.server import Which
from oxinfra.operations import openrc, systemd, sysvinit
from oxinfra.operations.util.service import asked_of, check_action

__all__ = ["service"]

#: What pyinfra looks for, in its order: the program that tells the init system, and what
#: oxinfra does with it (an operation, or None for the init systems it does not drive).
_PROBES = (
    ("systemctl", "systemd"),
    ("rc-service", "openrc"),
    ("initctl", None),  # upstart
    ("sv", None),  # runit
)


@operation(
    fact_batches=2,
    fact_batches_reason="which init system's facts it reads depends on which init system the first batch finds",
)
def service(
    service: str,
    running: bool | None = True,
    restarted: bool = False,
    reloaded: bool = False,
    command: str | None = None,
    enabled: bool | None = None,
) -> OperationGenerator:
    """Manage a service with the host's init system: ``systemd.service`` when the host has
    ``systemctl``, ``openrc.service`` when it has ``rc-service``, ``sysvinit.service`` when it
    has ``service`` or an ``/etc/init.d`` directory (pyinfra's order).

    + service: the service's name
    + running: whether it should run (None: leave it as it is)
    + restarted: restart it if it was running
    + reloaded: reload it if it was running
    + command: a further action run every time, one word
    + enabled: whether it should start at boot (None: leave it)

    A host with upstart (``initctl``) or runit (``sv``) and none of these, or with no init
    system found, fails with a message naming it: oxinfra drives neither (pyinfra's
    ``upstart``, ``runit`` and ``bsdinit`` are not part of oxinfra). Finding the init system
    costs hosts that reach this operation one more round trip for facts.

    Example::

        server.service(name="cron runs and starts at boot", service="cron", enabled=True, _sudo=True)
    """
    asked = asked_of("server.service", running, restarted, reloaded, command, enabled)
    if not isinstance(service, str) or not service or "/" in service or "\x00" in service or service.startswith("-"):
        raise OperationValueError(
            f"server.service: {service!r} is not a service name (not empty, no '/' or NUL byte, not starting with '-')"
        )
    if command is not None:
        check_action(command)
    probes: list[tuple[type, dict[str, Any]]] = [(Which, {"command": program}) for program, _ in _PROBES]
    probes += [(Which, {"command": "service"}), (Link, {"path": "/etc/init.d"}), (Directory, {"path": "/etc/init.d"})]
    *found, has_service, initd_link, initd_dir = get_facts(host, probes)
    family = None
    for (program, name), path in zip(_PROBES, found):
        if path:
            if name is None:
                raise OperationError(
                    f"server.service: the host has {program} ({path}), whose init system oxinfra does not drive"
                )
            family = name
            break
    else:
        if has_service or initd_link or initd_dir:
            family = "sysvinit"
    if family == "systemd":
        yield from systemd.service._inner(service, **asked)
    elif family == "openrc":
        yield from openrc.service._inner(service, **asked)
    elif family == "sysvinit":
        yield from sysvinit.service._inner(service, **asked)
    else:
        raise OperationError(
            "server.service: no init system found on the host (no systemctl, rc-service, service or /etc/init.d)"
        )
