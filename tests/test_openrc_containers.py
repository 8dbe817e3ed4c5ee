"""OpenRC on a real host: a container of the test image with Debian's ``openrc`` installed at
test time and ``openrc-init`` as PID 1, unprivileged (``oxinfra.testing.openrc_host`` says
how), reached over SSH as ``deploy`` with sudo. An openrc-run script of a tiny sh daemon
(``command_background``, a pidfile, a ``reload`` that sends HUP) is installed with ``docker
exec``; ``openrc.service`` and ``server.service`` (which finds ``rc-service`` and dispatches to
OpenRC) drive it.

Each follows: apply -> the state read back independently (``docker exec rc-service NAME
status`` and ``rc-update show``) -> apply again: 0 changes -> drift by hand -> ``--dry`` plans
exactly the repair -> apply repairs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_helpers import deploy_cycles, init_fleet
from test_services_containers import SERVER_SERVICE, fact_equals_pyinfras, oxdemo_host, restart_and_reload

pytestmark = pytest.mark.containers

# The daemon is a sh script: its process is /bin/sh, which start-stop-daemon checks on stop.
SERVICE = """\
#!/sbin/openrc-run
description="oxinfra test daemon"
command=/bin/sh
command_args=/usr/local/sbin/oxdemo-daemon
command_background=yes
pidfile=/run/oxdemo-openrc.pid
extra_started_commands="reload"

reload() {
    ebegin "Reloading $RC_SVCNAME"
    start-stop-daemon --stop --signal HUP --pidfile "$pidfile"
    eend $?
}
"""


@pytest.fixture(scope="module")
def openrc_host() -> Iterator[Any]:
    from oxinfra.testing.openrc_host import OpenrcFleet

    yield from init_fleet(OpenrcFleet, "OpenRC")


@pytest.fixture
def host(openrc_host: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    """The daemon and its service script, installed as root: stopped, in no runlevel."""
    fleet = openrc_host
    fleet.sh(fleet.hosts[0], "rc-service -q oxdemo stop 2>/dev/null; rc-service -q oxdemo zap 2>/dev/null; true")
    reset = "rc-update -q del oxdemo default 2>/dev/null; rm -f /var/log/oxdemo.log; true"
    found = oxdemo_host(fleet, tmp_path, "/etc/init.d/oxdemo", SERVICE, reset)
    assert state(fleet, fleet.hosts[0]) == ("stopped", False)
    return found


def cycle(
    host: tuple[Any, str, Path], tmp_path: Path, source: str, want: tuple[str, bool], drift: str, *commands: str
) -> None:
    """e2e_helpers.deploy_cycles of ``source`` on the OpenRC host (its inventory), its state
    read with :func:`state`; ``commands``: what --dry must show for operation ``oxdemo``."""
    fleet, name, _ = host
    deploy_cycles(fleet, tmp_path, source, lambda: state(fleet, name), want, (drift, {"oxdemo": list(commands)}))


def state(fleet: Any, name: str) -> tuple[str, bool]:
    """What OpenRC says, asked directly: ``rc-service oxdemo status`` (its exit status: 0
    started, 3 stopped) and whether ``rc-update show default`` lists it."""
    status = fleet.exec(name, "rc-service", "oxdemo", "status", check=False).returncode
    listed = fleet.sh(name, "rc-update show default").split()
    return {0: "started", 3: "stopped"}.get(status, f"exit {status}"), "oxdemo" in listed


def test_openrc_init_is_pid_1(host: tuple[Any, str, Path]) -> None:
    fleet, name, _ = host
    assert fleet.sh(name, "ps -p 1 -o comm=").strip() == "openrc-init"
    assert fleet.sh(name, "rc-status --runlevel").strip() == "default"


def test_openrc_service_running_and_enabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    cycle(
        host,
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=True, enabled=True, _sudo=True)
        """,
        ("started", True),
        "rc-service oxdemo stop && rc-update del oxdemo default",
        "rc-service oxdemo start",
        "rc-update add oxdemo default",
    )


def test_openrc_service_stopped_and_disabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, _ = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    cycle(
        host,
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=False, enabled=False, _sudo=True)
        """,
        ("stopped", False),
        "rc-service oxdemo start && rc-update add oxdemo default",
        "rc-service oxdemo stop",
        "rc-update del oxdemo default",
    )


def test_openrc_service_in_no_runlevel(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    """Started by hand and in no runlevel: ``rc-status default`` does not list it, OpenRC's
    list of every service says it is started (pyinfra would start it again on every run)."""
    fleet, name, _ = host
    cycle(
        host,
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=True, _sudo=True)
        """,
        ("started", False),
        "rc-service oxdemo stop",
        "rc-service oxdemo start",
    )
    assert "oxdemo" not in fleet.sh(name, "rc-status default")


def test_openrc_restart_and_reload(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, _ = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    planned = restart_and_reload(host, tmp_path, "openrc", "/run/oxdemo-openrc.pid")
    assert planned == {"restart": ["rc-service oxdemo restart"], "reload": ["rc-service oxdemo reload"]}
    assert fleet.sh(name, "cat /var/log/oxdemo.log").split() == ["reload"]
    assert state(fleet, name) == ("started", True)


def test_server_service_dispatches_to_openrc(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, _ = host
    assert fleet.exec(name, "sh", "-c", "command -v systemctl", check=False).returncode != 0
    cycle(host, tmp_path, SERVER_SERVICE, ("started", True), "rc-service oxdemo stop", "rc-service oxdemo start")


@pytest.mark.parametrize("fact", ["OpenrcStatus", "OpenrcEnabled"])
def test_openrc_facts_equal_pyinfras(host: tuple[Any, str, Path], tmp_path: Path, fact: str) -> None:
    """openrc.OpenrcStatus / OpenrcEnabled read by oxinfra (in a python.call) equal pyinfra
    3.10's values for the same container (pyinfra through its @docker connector)."""
    fleet, name, _ = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    value = fact_equals_pyinfras(host, tmp_path, "openrc", fact, runlevel="default")
    if fact == "OpenrcStatus":
        assert value == {"ssh": True, "sudo": True, "cron": True, "oxdemo": True}
    else:
        assert value["oxdemo"] is True and value["procps"] is False
