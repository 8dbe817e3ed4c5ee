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

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_helpers import apply_cycle, require_pyinfra, write_deploy
from test_services_containers import DAEMON, PYINFRA, apply, statuses

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
    from oxinfra.testing.containers import ContainersUnavailable
    from oxinfra.testing.openrc_host import OpenrcFleet

    try:
        fleet = OpenrcFleet().start()
    except ContainersUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"OpenRC container unavailable on CI: {exc}", pytrace=False)
        pytest.skip(f"OpenRC container unavailable: {exc}")
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def host(openrc_host: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    """The daemon and its service script, installed as root: stopped, in no runlevel."""
    fleet = openrc_host
    name = fleet.hosts[0]
    fleet.sh(name, "rc-service -q oxdemo stop 2>/dev/null; rc-service -q oxdemo zap 2>/dev/null; true")
    for path, text in (("/usr/local/sbin/oxdemo-daemon", DAEMON), ("/etc/init.d/oxdemo", SERVICE)):
        subprocess.run(
            ["docker", "exec", "-i", name, "sh", "-c", 'cat > "$1" && chmod 755 "$1"', "sh", path],
            input=text.encode(),
            check=True,
            timeout=60,
        )
    fleet.sh(name, "rc-update -q del oxdemo default 2>/dev/null; rm -f /var/log/oxdemo.log; true")
    assert state(fleet, name) == ("stopped", False)
    return fleet, name, fleet.write_inventory(tmp_path / "inventory.py")


def state(fleet: Any, name: str) -> tuple[str, bool]:
    """What OpenRC says, asked directly: ``rc-service oxdemo status`` (its exit status: 0
    started, 3 stopped) and whether ``rc-update show default`` lists it."""
    status = fleet.exec(name, "rc-service", "oxdemo", "status", check=False).returncode
    listed = fleet.sh(name, "rc-update show default").split()
    return {0: "started", 3: "stopped"}.get(status, f"exit {status}"), "oxdemo" in listed


def daemon_pid(fleet: Any, name: str) -> str:
    return fleet.sh(name, "cat /run/oxdemo-openrc.pid").strip()


def test_openrc_init_is_pid_1(host: tuple[Any, str, Path]) -> None:
    fleet, name, _ = host
    assert fleet.sh(name, "ps -p 1 -o comm=").strip() == "openrc-init"
    assert fleet.sh(name, "rc-status --runlevel").strip() == "default"


def test_openrc_service_running_and_enabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=True, enabled=True, _sudo=True)
        """,
    )
    apply_cycle(
        fleet,
        name,
        inventory,
        deploy,
        read=lambda: state(fleet, name),
        want=("started", True),
        drift="rc-service oxdemo stop && rc-update del oxdemo default",
        dry_commands={"oxdemo": ["rc-service oxdemo start", "rc-update add oxdemo default"]},
    )


def test_openrc_service_stopped_and_disabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=False, enabled=False, _sudo=True)
        """,
    )
    apply_cycle(
        fleet,
        name,
        inventory,
        deploy,
        read=lambda: state(fleet, name),
        want=("stopped", False),
        drift="rc-service oxdemo start && rc-update add oxdemo default",
        dry_commands={"oxdemo": ["rc-service oxdemo stop", "rc-update del oxdemo default"]},
    )


def test_openrc_service_in_no_runlevel(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    """Started by hand and in no runlevel: ``rc-status default`` does not list it, OpenRC's
    list of every service says it is started (pyinfra would start it again on every run)."""
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="oxdemo", service="oxdemo", running=True, _sudo=True)
        """,
    )
    apply_cycle(
        fleet,
        name,
        inventory,
        deploy,
        read=lambda: state(fleet, name),
        want=("started", False),
        drift="rc-service oxdemo stop",
        dry_commands={"oxdemo": ["rc-service oxdemo start"]},
    )
    assert "oxdemo" not in fleet.sh(name, "rc-status default")


def test_openrc_restart_and_reload(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    pid = daemon_pid(fleet, name)
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import openrc
        openrc.service(name="restart", service="oxdemo", restarted=True, _sudo=True)
        openrc.service(name="reload", service="oxdemo", reloaded=True, _sudo=True)
        """,
    )
    result, planned = apply(inventory, deploy)
    assert statuses(result, name) == {"restart": "changed", "reload": "changed"}
    assert planned == {"restart": ["rc-service oxdemo restart"], "reload": ["rc-service oxdemo reload"]}
    assert daemon_pid(fleet, name) != pid  # a new process
    fleet.sh(name, "sleep 1.5")  # the HUP is logged once the daemon's sleep is interrupted
    assert fleet.sh(name, "cat /var/log/oxdemo.log").split() == ["reload"]
    assert state(fleet, name) == ("started", True)


def test_server_service_dispatches_to_openrc(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    assert fleet.exec(name, "sh", "-c", "command -v systemctl", check=False).returncode != 0
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.service(name="oxdemo", service="oxdemo", enabled=True, _sudo=True)
        """,
    )
    apply_cycle(
        fleet,
        name,
        inventory,
        deploy,
        read=lambda: state(fleet, name),
        want=("started", True),
        drift="rc-service oxdemo stop",
        dry_commands={"oxdemo": ["rc-service oxdemo start"]},
    )


@pytest.mark.parametrize("fact", ["OpenrcStatus", "OpenrcEnabled"])
def test_openrc_facts_equal_pyinfras(host: tuple[Any, str, Path], tmp_path: Path, fact: str) -> None:
    """openrc.OpenrcStatus / OpenrcEnabled read by oxinfra (in a python.call) equal pyinfra
    3.10's values for the same container (pyinfra through its @docker connector)."""
    require_pyinfra()
    fleet, name, inventory = host
    fleet.sh(name, "rc-service oxdemo start && rc-update add oxdemo default")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.facts.openrc import {fact}
        from oxinfra.operations import python
        python.call(name="read", function=lambda: host.get_fact({fact}, runlevel="default"), _sudo=True)
        """,
    )
    from oxinfra._engine.run import run  # the engine's run: these tests read its internal plans
    from oxinfra.api import load_inventory

    values: list[Any] = []

    def sink(event: dict[str, Any]) -> None:
        if event.get("event") == "operation" and event.get("_plan") is not None:
            values.append(event["_plan"].op.meta.return_value)

    result = run(load_inventory(str(inventory)), [str(deploy)], on_event=sink)
    assert statuses(result, name) == {"read": "changed"}, [op.get("error") for op in result.hosts[name].ops]
    proc = subprocess.run(
        [PYINFRA, "-y", f"@docker/{name}", "fact", f"openrc.{fact}", "runlevel=default"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    theirs = json.loads(text[text.index("{") : text.rindex("}") + 1])[f"@docker/{name}"]
    assert values == [theirs]
    if fact == "OpenrcStatus":
        assert values[0] == {"ssh": True, "sudo": True, "cron": True, "oxdemo": True}
    else:
        assert values[0]["oxdemo"] is True and values[0]["procps"] is False
