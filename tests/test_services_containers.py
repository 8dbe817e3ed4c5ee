"""Services on real Debian hosts (containers of the test image, reached over SSH as ``deploy``
with sudo): a SysV init script installed at test time with ``docker exec`` -- a tiny daemon
in sh with a pidfile, LSB headers, ``start|stop|restart|reload|force-reload|status`` -- managed
by ``sysvinit.service``, ``sysvinit.enable`` and ``server.service`` (the image has no
``systemctl``, so it dispatches to sysvinit); ``python.call`` reading the host's facts.

Each follows: apply -> the state read back independently (``docker exec``) -> apply again: 0
changes -> drift by hand -> ``--dry`` plans exactly the repair (and changes nothing) -> apply
repairs it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import PYINFRA_CLI, deploy_cycles, require_pyinfra, write_deploy

pytestmark = pytest.mark.containers

DAEMON = """\
#!/bin/sh
# oxdemo: sleeps; logs 'reload' on HUP; exits on TERM.
trap 'echo reload >> /var/log/oxdemo.log' HUP
trap 'exit 0' TERM
echo $$ > /run/oxdemo.pid  # ready: its traps are set
while :; do sleep 1 & wait $!; done
"""

INIT_SCRIPT = """\
#!/bin/sh
### BEGIN INIT INFO
# Provides:          oxdemo
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: oxinfra test daemon
### END INIT INFO
PIDFILE=/run/oxdemo.pid
LOG=/var/log/oxdemo.log
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
do_start() {
    running && return 0
    rm -f "$PIDFILE"
    setsid /usr/local/sbin/oxdemo-daemon </dev/null >/dev/null 2>&1 &
    i=0; while [ ! -s "$PIDFILE" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    running || return 1
    echo start >> "$LOG"
}
do_stop() {
    running || { rm -f "$PIDFILE"; return 0; }
    kill "$(cat "$PIDFILE")"
    rm -f "$PIDFILE"
    echo stop >> "$LOG"
}
case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart) echo restart >> "$LOG"; do_stop; do_start ;;
    reload|force-reload) running || exit 7; kill -HUP "$(cat "$PIDFILE")" ;;
    status) running && exit 0; [ -f "$PIDFILE" ] && exit 1; exit 3 ;;
    *) echo "usage: $0 start|stop|restart|reload|force-reload|status" >&2; exit 2 ;;
esac
exit 0
"""


#: ``server.service`` of the daemon, enabled (and running): it dispatches to the host's init.
SERVER_SERVICE = """
    from oxinfra.operations import server
    server.service(name="oxdemo", service="oxdemo", enabled=True, _sudo=True)
"""


def install_oxdemo(name: str, path: str = "/etc/init.d/oxdemo", script: str = INIT_SCRIPT) -> None:
    """The daemon and its service ``script`` at ``path``, installed as root with docker exec
    (the SysV init script by default); not running, no rc links."""
    for path, text in (("/usr/local/sbin/oxdemo-daemon", DAEMON), (path, script)):
        subprocess.run(
            ["docker", "exec", "-i", name, "sh", "-c", 'cat > "$1" && chmod 755 "$1"', "sh", path],
            input=text.encode(),
            check=True,
            timeout=60,
        )


def is_running(fleet: Any, name: str) -> bool:
    return fleet.exec(name, "sh", "-c", 'kill -0 "$(cat /run/oxdemo.pid)"', check=False).returncode == 0


def rc_links(fleet: Any, name: str) -> list[str]:
    out = fleet.sh(name, "cd /etc && ls -d rc?.d/[SK]*oxdemo 2>/dev/null || true")
    return sorted(out.split())


def log(fleet: Any, name: str) -> list[str]:
    return fleet.sh(name, "cat /var/log/oxdemo.log 2>/dev/null || true").split()


def run_plans(inventory: Path, deploy: Path, dry: bool = False) -> tuple[Any, dict[str, Any]]:
    """Run the deploy through the API; the result and, per operation name, its plan."""
    from oxinfra._engine.run import run  # the engine's run: these tests read its internal plans
    from oxinfra.api import load_inventory

    plans: dict[str, Any] = {}

    def sink(event: dict[str, Any]) -> None:
        if event.get("event") == "operation" and event.get("_plan") is not None:
            plans[event["op"]] = event["_plan"]

    result = run(load_inventory(str(inventory)), [str(deploy)], dry=dry, on_event=sink)
    return result, plans


def apply(inventory: Path, deploy: Path, dry: bool = False) -> tuple[Any, dict[str, list[Any]]]:
    """Run the deploy through the API; the result and, per operation name, its planned commands."""
    result, plans = run_plans(inventory, deploy, dry=dry)
    return result, {op: list(plan.commands) for op, plan in plans.items()}


def restart_and_reload(host: tuple[Any, str, Path], directory: Path, module: str, pidfile: str) -> dict[str, Any]:
    """``<module>.service`` restarts, then reloads, the running daemon (its pid in
    ``pidfile``): both change, the daemon is a new process, and it has had the time to log
    the HUP; the planned commands."""
    fleet, name, inventory = host
    pid = fleet.sh(name, f"cat {pidfile}").strip()
    deploy = write_deploy(
        directory,
        f"""
        from oxinfra.operations import {module}
        {module}.service(name="restart", service="oxdemo", restarted=True, _sudo=True)
        {module}.service(name="reload", service="oxdemo", reloaded=True, _sudo=True)
        """,
    )
    result, planned = apply(inventory, deploy)
    assert statuses(result, name) == {"restart": "changed", "reload": "changed"}
    assert fleet.sh(name, f"cat {pidfile}").strip() != pid  # a new process
    fleet.sh(name, "sleep 1.5")  # the HUP is logged once the daemon's sleep is interrupted
    return planned


def fact_equals_pyinfras(host: tuple[Any, str, Path], directory: Path, module: str, fact: str, **args: str) -> Any:
    """The fact ``module.fact`` (``args``: its arguments) read by oxinfra (in a python.call)
    equals pyinfra 3.10's value for the same container (pyinfra through its @docker
    connector); that value."""
    require_pyinfra()
    _, name, inventory = host
    call = ", ".join([fact, *(f"{k}={v!r}" for k, v in args.items())])
    deploy = write_deploy(
        directory,
        f"""
        from oxinfra import host
        from oxinfra.facts.{module} import {fact}
        from oxinfra.operations import python
        python.call(name="read", function=lambda: host.get_fact({call}), _sudo=True)
        """,
    )
    result, plans = run_plans(inventory, deploy)
    assert statuses(result, name) == {"read": "changed"}, [op.get("error") for op in result.hosts[name].ops]
    proc = subprocess.run(
        [PYINFRA_CLI, "-y", f"@docker/{name}", "fact", f"{module}.{fact}", *(f"{k}={v}" for k, v in args.items())],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=directory,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr  # pyinfra prints the fact data among its log lines
    theirs = json.loads(text[text.index("{") : text.rindex("}") + 1])[f"@docker/{name}"]
    assert plans["read"].op.meta.return_value == theirs
    return theirs


def statuses(result: Any, host: str) -> dict[str, str]:
    return {op["op"]: op["status"] for op in result.hosts[host].ops}


def oxdemo_host(
    fleet: Any, directory: Path, path: str = "/etc/init.d/oxdemo", script: str = INIT_SCRIPT, reset: str = ""
) -> tuple[Any, str, Path]:
    """The fleet's first host with the daemon installed (:func:`install_oxdemo`), then the
    shell ``reset`` run as root; (fleet, its name, an inventory of the fleet in ``directory``)."""
    name = fleet.hosts[0]
    install_oxdemo(name, path, script)
    if reset:
        fleet.sh(name, reset)
    return fleet, name, fleet.write_inventory(directory / "inventory.py")


@pytest.fixture
def host(container_fleet_factory: Any, tmp_path: Path) -> tuple[Any, str, Path]:
    return oxdemo_host(container_fleet_factory(1), tmp_path)


def test_sysvinit_service_running_and_enabled(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import sysvinit
        sysvinit.service(name="oxdemo", service="oxdemo", running=True, enabled=True, _sudo=True)
        """,
    )
    assert not is_running(fleet, name) and rc_links(fleet, name) == []
    first, planned = apply(inventory, deploy)
    assert statuses(first, name) == {"oxdemo": "changed"}, (first.hosts[name].status, first.hosts[name].error)
    assert planned["oxdemo"] == ["/etc/init.d/oxdemo start", "update-rc.d oxdemo defaults && update-rc.d oxdemo enable"]
    assert is_running(fleet, name)
    assert rc_links(fleet, name) == sorted(
        [f"rc{n}.d/K01oxdemo" for n in "016"] + [f"rc{n}.d/S01oxdemo" for n in "2345"]
    )

    again, planned = apply(inventory, deploy)
    assert statuses(again, name) == {"oxdemo": "unchanged"}
    assert again.hosts[name].ops[0]["noop"] == "service oxdemo is running, enabled"

    # drift: stopped and disabled by hand
    fleet.sh(name, "/etc/init.d/oxdemo stop && update-rc.d oxdemo disable")
    assert not is_running(fleet, name)
    assert [link for link in rc_links(fleet, name) if "/S" in link] == []
    dry, planned = apply(inventory, deploy, dry=True)
    assert statuses(dry, name) == {"oxdemo": "changed"}
    assert planned["oxdemo"] == ["/etc/init.d/oxdemo start", "update-rc.d oxdemo defaults && update-rc.d oxdemo enable"]
    assert not is_running(fleet, name)  # --dry changed nothing
    repaired, _ = apply(inventory, deploy)
    assert statuses(repaired, name) == {"oxdemo": "changed"}
    assert is_running(fleet, name)
    assert [link for link in rc_links(fleet, name) if "/S" in link] == [f"rc{n}.d/S01oxdemo" for n in "2345"]


def test_sysvinit_restart_reload_stop(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    fleet.sh(name, "/etc/init.d/oxdemo start")
    restart_and_reload(host, tmp_path, "sysvinit", "/run/oxdemo.pid")
    assert log(fleet, name) == ["start", "restart", "stop", "start", "reload"]

    stop = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import sysvinit
        sysvinit.service(name="stop", service="oxdemo", running=False, _sudo=True)
        """,
        name="stop.py",
    )
    result, planned = apply(inventory, stop)
    assert statuses(result, name) == {"stop": "changed"} and planned["stop"] == ["/etc/init.d/oxdemo stop"]
    assert not is_running(fleet, name)
    result, _ = apply(inventory, stop)
    assert statuses(result, name) == {"stop": "unchanged"}


def test_sysvinit_restarts_a_script_whose_name_has_a_dot(container_fleet_factory: Any, tmp_path: Path) -> None:
    """``php8.2-fpm``: ``sysvinit.InitdStatus`` lists only names of letters, digits and ``-``
    (as pyinfra's), so the operation read "no status", started the running service instead of
    restarting it (the new configuration never read), and did so on every run. It asks the
    one script now (``sysvinit.InitdScriptStatus``)."""
    fleet, name, inventory = oxdemo_host(container_fleet_factory(1), tmp_path, path="/etc/init.d/ox.demo")
    fleet.sh(name, "/etc/init.d/ox.demo start && : > /var/log/oxdemo.log")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import sysvinit
        sysvinit.service(name="restart", service="ox.demo", restarted=True, _sudo=True)
        sysvinit.service(name="stop", service="ox.demo", running=False, _sudo=True)
        """,
    )
    result, planned = apply(inventory, deploy)
    assert statuses(result, name) == {"restart": "changed", "stop": "changed"}, planned
    assert planned["restart"] == ["/etc/init.d/ox.demo restart"]
    assert log(fleet, name) == ["restart", "stop", "start", "stop"]
    assert not is_running(fleet, name)


def test_server_service_dispatches_to_sysvinit(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, _ = host
    assert fleet.exec(name, "sh", "-c", "command -v systemctl", check=False).returncode != 0
    deploy_cycles(
        fleet,
        tmp_path,
        SERVER_SERVICE,
        lambda: (is_running(fleet, name), "rc2.d/S01oxdemo" in rc_links(fleet, name)),
        (True, True),
        ("/etc/init.d/oxdemo stop", {"oxdemo": ["/etc/init.d/oxdemo start"]}),
    )


def test_sysvinit_enable_links(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import sysvinit
        sysvinit.enable(name="links", service="oxdemo", start_levels=(3, 5), stop_levels=(0, 6), _sudo=True)
        """,
    )
    first, _ = apply(inventory, deploy)
    assert statuses(first, name) == {"links": "changed"}
    assert rc_links(fleet, name) == ["rc0.d/K80oxdemo", "rc3.d/S20oxdemo", "rc5.d/S20oxdemo", "rc6.d/K80oxdemo"]
    assert fleet.sh(name, "readlink /etc/rc3.d/S20oxdemo").strip() == "/etc/init.d/oxdemo"
    again, _ = apply(inventory, deploy)
    assert statuses(again, name) == {"links": "unchanged"}
    fleet.sh(name, "rm /etc/rc5.d/S20oxdemo")
    dry, planned = apply(inventory, deploy, dry=True)
    # files.link makes sure of the parent directory (it does not know /etc/rc5.d exists)
    assert planned["links"] == ["mkdir -p -- /etc/rc5.d", "ln -s -- /etc/init.d/oxdemo /etc/rc5.d/S20oxdemo"]
    assert "rc5.d/S20oxdemo" not in rc_links(fleet, name)
    repaired, _ = apply(inventory, deploy)
    assert statuses(repaired, name) == {"links": "changed"} and "rc5.d/S20oxdemo" in rc_links(fleet, name)


def test_python_call_reads_facts_and_its_result_steers_later_operations(
    host: tuple[Any, str, Path], tmp_path: Path
) -> None:
    fleet, name, inventory = host
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import Command
        from oxinfra.facts.sysvinit import InitdStatus
        from oxinfra.operations import files, python, sysvinit

        sysvinit.service(name="start", service="oxdemo", _sudo=True)

        def look():
            # read on the host after "start" ran: the daemon is up
            return {"status": host.get_fact(InitdStatus), "pid": host.get_fact(Command, command="cat /run/oxdemo.pid")}

        seen = python.call(name="look", function=look, _sudo=True)
        files.file(name="mark", path="/tmp/oxdemo-seen", _if=lambda: seen.return_value["status"].get("oxdemo") is True)
        python.raise_exception(RuntimeError, "stop here", name="boom")
        files.file(name="after", path="/tmp/oxdemo-after")
        """,
    )
    result, _ = apply(inventory, deploy)
    assert statuses(result, name) == {
        "start": "changed",
        "look": "changed",
        "mark": "changed",
        "boom": "failed",
        "after": "not run",
    }, result.hosts[name].ops
    assert "RuntimeError: stop here" in result.hosts[name].ops[3]["error"]
    assert fleet.exec(name, "test", "-f", "/tmp/oxdemo-seen", check=False).returncode == 0
    assert fleet.exec(name, "test", "-e", "/tmp/oxdemo-after", check=False).returncode != 0


def test_initd_status_equals_pyinfras(host: tuple[Any, str, Path], tmp_path: Path) -> None:
    """sysvinit.InitdStatus read by oxinfra (in a python.call) equals pyinfra 3.10's value for
    the same container (pyinfra through its @docker connector)."""
    fleet, name, _ = host
    fleet.sh(name, "/etc/init.d/oxdemo start")
    theirs = fact_equals_pyinfras(host, tmp_path, "sysvinit", "InitdStatus")
    assert theirs["oxdemo"] is True and "cron" in theirs
