"""Facts about OpenRC services (Alpine, Gentoo; Debian's ``openrc`` package).

Proven by fixtures of the output ``rc-status`` and ``rc-update show -v`` print, and on an
OpenRC host (a container of the test image with Debian's OpenRC as its init:
``tests/test_openrc_containers.py``), where ``OpenrcStatus`` and ``OpenrcEnabled`` equal
pyinfra 3.10's values.
"""

from __future__ import annotations

import re

from oxinfra.api import FactBase
from oxinfra.exceptions import FactError
from oxinfra.quoting import command

__all__ = ["OpenrcStatus", "OpenrcEnabled", "OpenrcServices"]

# " sshd        [  started  ]" or "[  started 1 day(s) 02:03:04 (2) ]" (the uptime of a
# supervised service), as rc-status prints a runlevel's services.
_STATUS_LINE = re.compile(
    r"\s+([a-zA-Z0-9\-_.]+)\s+\[\s+([a-z]+)(?:\s(?:[0-9]+\sday\(s\)\s)?[0-9]+:[0-9]+:[0-9]+\s\([0-9]+\))?\s+\]"
)


def _statuses(output: list[str]) -> dict[str, bool]:
    services: dict[str, bool] = {}
    for line in output:
        found = _STATUS_LINE.match(line)
        if found:
            services[found.group(1)] = found.group(2) == "started"
    return services


def _check_runlevel(runlevel: str) -> str:
    if not isinstance(runlevel, str) or not runlevel or runlevel.startswith("-") or "/" in runlevel:
        raise FactError(f"{runlevel!r} is not an OpenRC runlevel")
    return runlevel


class OpenrcStatus(FactBase[dict[str, bool]]):
    """Whether each service of an OpenRC runlevel is started: ``{"sshd": True, "crond": False}``
    (``rc-status RUNLEVEL``; a host without ``rc-status`` gives ``{}``).

    + runlevel: the runlevel (``default``)
    """

    shell_safe = True  # rc-status runs as a process
    absent_status = frozenset({127})  # no rc-status on the host

    def command(self, runlevel: str = "default") -> str:
        return command("rc-status", _check_runlevel(runlevel))

    def default(self) -> dict[str, bool]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool]:
        return _statuses(output)


class OpenrcServices(FactBase[dict[str, bool]]):
    """Whether each OpenRC service is started, in a runlevel or not: ``{"sshd": True,
    "crond": False}`` (``rc-status --servicelist``: every service OpenRC knows; a host without
    ``rc-status`` gives ``{}``).

    oxinfra's own: ``rc-status RUNLEVEL`` (``OpenrcStatus``, as pyinfra's) lists only the
    runlevel's services, so a service in no runlevel is missing from it, started or not.
    ``openrc.service`` reads this fact for such a service.
    """

    shell_safe = True  # rc-status runs as a process
    absent_status = frozenset({127})  # no rc-status on the host

    def command(self) -> str:
        return "rc-status --servicelist"

    def default(self) -> dict[str, bool]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool]:
        return _statuses(output)


class OpenrcEnabled(FactBase[dict[str, bool]]):
    """Whether each OpenRC service is added to a runlevel: ``{"sshd": True, "crond": False}``
    (``rc-update show -v``: every service, with the runlevels it is in; a host without
    ``rc-update`` gives ``{}``).

    + runlevel: the runlevel (``default``)
    """

    shell_safe = True  # rc-update runs as a process
    absent_status = frozenset({127})  # no rc-update on the host

    def command(self, runlevel: str = "default") -> str:
        self.runlevel = _check_runlevel(runlevel)
        return "rc-update show -v"

    def default(self) -> dict[str, bool]:
        return {}

    def process(self, output: list[str]) -> dict[str, bool]:
        services: dict[str, bool] = {}
        for line in output:
            name, sep, levels = line.partition("|")
            if sep:
                services[name.strip()] = self.runlevel in levels.split()
        return services
