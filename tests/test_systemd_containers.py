"""systemd on a real host: a container of the test image with systemd installed at test time
and running as PID 1, unprivileged (``oxinfra.testing.systemd_host`` says what the engine
needs), reached over SSH as ``deploy`` with sudo. A unit of the same sh daemon as the SysV
tests is installed with ``docker exec``; ``systemd.service``, ``systemd.daemon_reload`` and
``server.service`` (which finds ``systemctl`` and dispatches to systemd) drive it.

Each follows: apply -> the state read back independently (``docker exec systemctl``) -> apply
again: 0 changes -> drift by hand -> ``--dry`` plans exactly the repair -> apply repairs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_helpers import deploy_cycles, init_fleet, write_deploy
from test_services_containers import SERVER_SERVICE, apply, fact_equals_pyinfras, oxdemo_host, statuses

pytestmark = pytest.mark.containers

UNIT = """\
[Unit]
Description=oxinfra test daemon

[Service]
ExecStart=/usr/local/sbin/oxdemo-daemon
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
"""


@pytest.fixture(scope="module")
def systemd_host() -> Iterator[Any]:
    from oxinfra.testing.systemd_host import SystemdFleet

    yield from init_fleet(SystemdFleet, "systemd")


@pytest.fixture
def host(systemd_host: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    reset = "systemctl stop oxdemo.service; systemctl disable oxdemo.service 2>/dev/null; systemctl daemon-reload"
    return oxdemo_host(systemd_host, tmp_path, "/etc/systemd/system/oxdemo.service", UNIT, reset)


def unit_state(fleet: Any, name: str, prop: str) -> str:
    return fleet.sh(name, f"systemctl show -p {prop} --value oxdemo.service").strip()


def test_systemd_is_pid_1(host: tuple[Any, str, Path]) -> None:
    fleet, name, _ = host
    assert fleet.sh(name, "ps -p 1 -o comm=").strip() == "systemd"


def test_systemd_service_running_and_enabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import systemd
        systemd.service(name="oxdemo", service="oxdemo", running=True, enabled=True, _sudo=True)
        """,
    )
    assert unit_state(fleet, name, "ActiveState") == "inactive"
    first, planned = apply(inventory, deploy)
    assert statuses(first, name) == {"oxdemo": "changed"}, (first.hosts[name].status, first.hosts[name].error)
    assert planned["oxdemo"] == ["systemctl start -- oxdemo.service", "systemctl enable -- oxdemo.service"]
    assert unit_state(fleet, name, "SubState") == "running"
    assert unit_state(fleet, name, "UnitFileState") == "enabled"

    again, _ = apply(inventory, deploy)
    assert statuses(again, name) == {"oxdemo": "unchanged"}
    assert again.hosts[name].ops[0]["noop"] == "service oxdemo.service is running, enabled"

    fleet.sh(name, "systemctl stop oxdemo && systemctl disable oxdemo 2>/dev/null")
    dry, planned = apply(inventory, deploy, dry=True)
    assert statuses(dry, name) == {"oxdemo": "changed"}
    assert planned["oxdemo"] == ["systemctl start -- oxdemo.service", "systemctl enable -- oxdemo.service"]
    assert unit_state(fleet, name, "ActiveState") == "inactive"  # --dry changed nothing
    repaired, _ = apply(inventory, deploy)
    assert statuses(repaired, name) == {"oxdemo": "changed"}
    assert (unit_state(fleet, name, "SubState"), unit_state(fleet, name, "UnitFileState")) == ("running", "enabled")


def test_systemd_restart_reload_stop(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.sh(name, "systemctl start oxdemo")
    pid = unit_state(fleet, name, "MainPID")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import systemd
        systemd.service(name="restart", service="oxdemo.service", running=None, restarted=True, _sudo=True)
        systemd.service(name="stop", service="oxdemo", running=False, _sudo=True)
        """,
    )
    result, planned = apply(inventory, deploy)
    assert statuses(result, name) == {"restart": "changed", "stop": "changed"}
    assert planned == {"restart": ["systemctl restart -- oxdemo.service"], "stop": ["systemctl stop -- oxdemo.service"]}
    assert unit_state(fleet, name, "ActiveState") == "inactive"
    result, _ = apply(inventory, deploy)  # stopped: nothing to restart, nothing to stop
    assert statuses(result, name) == {"restart": "unchanged", "stop": "unchanged"}
    assert pid != "0"


def test_daemon_reload_reads_changed_unit_files(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.sh(name, "systemctl start oxdemo")  # loaded: systemd keeps the unit file it read
    fleet.sh(name, "sed -i 's/^Description=.*/Description=changed by hand/' /etc/systemd/system/oxdemo.service")
    assert unit_state(fleet, name, "NeedDaemonReload") == "yes"
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import systemd
        systemd.daemon_reload(name="reload units", _sudo=True)
        """,
    )
    result, planned = apply(inventory, deploy)
    assert statuses(result, name) == {"reload units": "changed"}
    assert planned["reload units"] == ["systemctl daemon-reload"]
    assert unit_state(fleet, name, "NeedDaemonReload") == "no"
    assert unit_state(fleet, name, "Description") == "changed by hand"


def test_server_service_dispatches_to_systemd(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, _ = host
    deploy_cycles(
        fleet,
        tmp_path,
        SERVER_SERVICE,
        lambda: (unit_state(fleet, name, "SubState"), unit_state(fleet, name, "UnitFileState")),
        ("running", "enabled"),
        ("systemctl stop oxdemo", {"oxdemo": ["systemctl start -- oxdemo.service"]}),
    )


@pytest.mark.parametrize("fact", ["SystemdStatus", "SystemdEnabled"])
def test_systemd_facts_equal_pyinfras(host: tuple[Any, str, Path], tmp_path: Path, fact: str) -> None:
    fleet, name, _ = host
    fleet.sh(name, "systemctl start oxdemo")
    value = fact_equals_pyinfras(host, tmp_path, "systemd", fact, services="oxdemo.service")
    assert value == {"oxdemo.service": fact == "SystemdStatus"}
