"""Facts read from a real container host equal pyinfra 3.10's values for the same host.

Each test reads facts with oxinfra (a deploy run through ``@docker/NAME``, values written out
by the deploy code) and with pyinfra itself (tests/tools/pyinfra_facts.py, run in pyinfra's own
venv: ``OXINFRA_PYINFRA_PYTHON``, default the venv .ci/install makes) from the same container,
one after the other, and compares them: equal with their types, except where the value moves
between the two reads (the clock, uptime, the ``ps`` and ``sh`` processes of the reads
themselves, disk usage), which are compared as said in each case.

Without pyinfra's venv the comparison is skipped (saying so); the values oxinfra reads are still
checked against the host with ``docker exec``. The fixtures under ``tests/facts/`` hold values
recorded from pyinfra on these hosts (``container_*`` cases, tests/tools/capture_case.py), so
the parsers are held to pyinfra's values without it too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DEFAULT_PYINFRA_PYTHON

pytestmark = pytest.mark.containers

TOOLS = Path(__file__).parent / "tools"
PYINFRA_PYTHON = os.environ.get("OXINFRA_PYINFRA_PYTHON", DEFAULT_PYINFRA_PYTHON)

#: (family.Fact, arguments) read on every host; the families are oxinfra's and pyinfra's.
SPECS: list[tuple[str, dict[str, Any]]] = [
    ("server.LinuxDistribution", {}),
    ("server.LinuxName", {}),
    ("server.LsbRelease", {}),
    ("server.OsRelease", {}),
    ("server.Os", {}),
    ("server.OsVersion", {}),
    ("server.Kernel", {}),
    ("server.KernelVersion", {}),
    ("server.Arch", {}),
    ("server.Hostname", {}),
    ("server.Timezone", {}),
    ("server.Home", {}),
    ("server.Home", {"user": "deploy"}),
    ("server.Which", {"command": "ls"}),
    ("server.Which", {"command": "no-such-program"}),
    ("server.Which", {"command": "cd"}),
    ("server.Command", {"command": "echo hi; echo; echo '  there  '"}),
    ("server.Command", {"command": "true"}),
    ("server.Date", {}),
    ("server.TmpDir", {}),
    ("server.Path", {}),
    ("server.Selinux", {}),
    ("server.RebootRequired", {}),
    ("server.Uptime", {}),
    ("server.Port", {"port": 22}),
    ("server.Port", {"port": 23}),
    ("server.Processes", {}),
    ("hardware.Cpus", {}),
    ("hardware.Memory", {}),
    ("hardware.BlockDevices", {}),
    ("hardware.NetworkDevices", {}),
    ("hardware.Ipv4Addresses", {}),
    ("hardware.Ipv6Addresses", {}),
    ("hardware.Ipv4Addrs", {}),
    ("hardware.Ipv6Addrs", {}),
]
#: Compared loosely: they change between the two reads.
MOVING = {"server.Date", "server.Uptime", "server.Processes", "hardware.BlockDevices"}


def encode(value: Any) -> Any:
    """A value as JSON, the way tests/tools/pyinfra_facts.py writes pyinfra's."""
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def types(value: Any) -> Any:
    """The value's shape: its types all the way down (tuples and lists both ``list`` in JSON,
    so they are compared in Python by :func:`read_with_oxinfra`'s ``kinds``)."""
    if isinstance(value, dict):
        return {k: types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [types(v) for v in value]
    return type(value).__name__


DEPLOY = """
import importlib
import json
from pathlib import Path

from oxinfra import host
from oxinfra.api import get_facts

SPECS = {specs!r}
requests = [
    (getattr(importlib.import_module("oxinfra.facts." + n.split(".")[0]), n.split(".")[1]), args) for n, args in SPECS
]
values = get_facts(host, requests)
Path({out!r}).write_text(json.dumps([[encode(v), type(v).__name__] for v in values]))
"""


def read_with_oxinfra(
    tmp_path: Path, container: str, specs: list[tuple[str, dict[str, Any]]], inventory: str | None = None
) -> list[Any]:
    """The facts' values read by oxinfra from ``container`` (JSON-encoded), each with the
    Python type name of the value (``tuple``, ``dict``...); through ``@docker/NAME``, or the
    ``inventory`` file given (one host)."""
    from oxinfra.api import load_inventory, run

    out = tmp_path / f"{container}-facts.json"
    deploy = tmp_path / "read_facts.py"
    source = textwrap.dedent(DEPLOY).format(specs=specs, out=str(out))
    deploy.write_text(_ENCODE_SOURCE + source)
    result = run(load_inventory(inventory or f"@docker/{container}"), [str(deploy)])
    assert result.success, result
    return json.loads(out.read_text())


_ENCODE_SOURCE = (
    "from datetime import datetime\n\n"
    "def encode(value):\n"
    "    if hasattr(value, 'to_json'):\n"
    "        return encode(value.to_json())\n"
    "    if isinstance(value, datetime):\n"
    "        return {'datetime': value.isoformat()}\n"
    "    if isinstance(value, dict):\n"
    "        return {str(k): encode(v) for k, v in value.items()}\n"
    "    if isinstance(value, (list, tuple)):\n"
    "        return [encode(v) for v in value]\n"
    "    return value\n\n"
)


NO_PYINFRA = f"pyinfra 3.10's venv is not at {PYINFRA_PYTHON} (set OXINFRA_PYINFRA_PYTHON)"


def have_pyinfra() -> bool:
    return Path(PYINFRA_PYTHON).exists()


def compared_with_pyinfra() -> None:
    """At a test's end: skipped (after its own checks ran) when pyinfra was not there to compare."""
    if not have_pyinfra():
        pytest.skip(NO_PYINFRA + "; checked against docker exec only")


def read_with_pyinfra(
    container: str, specs: list[tuple[str, dict[str, Any]]], ssh: tuple[str, dict[str, Any]] | None = None
) -> list[Any]:
    """pyinfra's values, through ``@docker/container`` or over SSH (``(address, data)``)."""
    target = [ssh[0], json.dumps(ssh[1])] if ssh else [f"@docker/{container}"]
    proc = subprocess.run(
        [PYINFRA_PYTHON, str(TOOLS / "pyinfra_facts.py"), *target],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def compare(name: str, ours: Any, theirs: Any) -> None:
    """Equal, with equal types (JSON's); moving facts as described in the module."""
    if name == "server.Date":
        a, b = datetime.fromisoformat(ours["datetime"]), datetime.fromisoformat(theirs["datetime"])
        assert a.utcoffset() == b.utcoffset() and abs((a - b).total_seconds()) < 60, (ours, theirs)
    elif name == "server.Uptime":
        assert type(ours) is int and abs(ours - theirs) < 60, (ours, theirs)
    elif name == "server.Processes":
        # The reads' own shells and ps differ; the host's long-lived processes do not.
        stable = {pid for pid, p in theirs.items() if p["command"] not in ("sh", "ps", "bash", "sudo")}
        assert stable and stable <= ours.keys(), (sorted(stable), sorted(ours))
        for pid in stable:
            a, b = dict(ours[pid]), dict(theirs[pid])
            for key in ("cpu_percent", "mem_percent"):
                assert type(a.pop(key)) is float and type(b.pop(key)) is float
            assert a == b, pid
    elif name == "hardware.BlockDevices":
        # Other processes write to the disks between the two reads: used and available move.
        def still(devices: dict[str, Any]) -> dict[str, Any]:
            return {
                dev: {k: v for k, v in d.items() if k not in ("used", "available", "used_percent")}
                for dev, d in devices.items()
            }

        assert still(ours) == still(theirs) and types(ours) == types(theirs), (ours, theirs)
    else:
        assert json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True), (name, ours, theirs)
        assert types(ours) == types(theirs), name


def check_against_pyinfra(
    tmp_path: Path, container: str, specs: list[tuple[str, dict[str, Any]]], fleet: Any = None
) -> list[Any]:
    """oxinfra's and pyinfra's values of ``specs`` on ``container``, through ``@docker`` (as
    root, no login), or over SSH as the fleet's login user when ``fleet`` is given."""
    inventory = str(fleet.write_inventory(tmp_path / "inventory.py", hosts=[container])) if fleet else None
    ours = read_with_oxinfra(tmp_path, container, specs, inventory=inventory)
    if not have_pyinfra():
        return ours  # the caller's checks still run; compared_with_pyinfra() says it was not compared
    ssh = dict(fleet.inventory())[container] if fleet else None
    theirs = read_with_pyinfra(container, specs, ssh=(ssh.pop("ssh_hostname"), ssh) if ssh else None)
    failures = []
    for (name, args), (value, _kind), want in zip(specs, ours, theirs):
        try:
            compare(name, value, want)
        except AssertionError as exc:
            failures.append(
                f"{name} {args}: oxinfra {json.dumps(value)[:300]} != pyinfra {json.dumps(want)[:300]} {exc}"
            )
    assert not failures, "\n".join(failures)
    return ours


def docker_sh(container: str, script: str) -> str:
    proc = subprocess.run(["docker", "exec", container, "sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_server_and_hardware_facts_equal_pyinfra(container_fleet: Any, tmp_path: Path) -> None:
    container = container_fleet.hosts[0]
    ours = check_against_pyinfra(tmp_path, container, SPECS)
    got = {f"{name} {json.dumps(args)}": value for (name, args), value in zip(SPECS, ours)}
    # Read back independently: what the host says through docker exec.
    assert got["server.Hostname {}"][0] == docker_sh(container, "uname -n").strip()
    assert got["server.KernelVersion {}"][0] == docker_sh(container, "uname -r").strip()
    assert got["server.LinuxName {}"][0] == "Debian"
    assert got["server.LinuxDistribution {}"][0]["major"] == int(
        docker_sh(container, ". /etc/os-release; echo $VERSION_ID")
    )
    assert got['server.Port {"port": 22}'] == [["sshd", int(docker_sh(container, "pgrep -o -x sshd"))], "tuple"]
    assert got['server.Port {"port": 23}'] == [None, "NoneType"]
    processes = got["server.Processes {}"][0]
    assert processes["1"]["command"] == docker_sh(container, "cat /proc/1/comm").strip()
    assert got["hardware.Cpus {}"][0] == int(docker_sh(container, "nproc"))
    kib = int(docker_sh(container, "awk '/^MemTotal:/ { print $2 }' /proc/meminfo"))
    assert got["hardware.Memory {}"][0] == round(kib / 1024)
    address = docker_sh(container, "ip -4 -o addr show dev eth0 | awk '{ print $4 }'").strip().split("/")[0]
    assert got["hardware.Ipv4Addresses {}"][0] == {"lo": "127.0.0.1", "eth0": address}
    assert got["hardware.NetworkDevices {}"][0]["eth0"]["state"] == "UP"
    compared_with_pyinfra()


#: A tree made on the host for the file facts (unreadable parts are read as root: @docker).
FILE_TREE = (
    "rm -rf /srv/facts && mkdir -p /srv/facts/d/e && cd /srv/facts && "
    "printf 'a\\n# BEGIN PYINFRA BLOCK\\nx\\n\\ny\\n# END PYINFRA BLOCK\\nz\\n' > blk && "
    "printf '# BEGIN PYINFRA BLOCK\\n# END PYINFRA BLOCK\\n' > emptyblock && "
    "printf '<<<\\nmine\\n>>>\\n' > custom && : > empty && printf 'no newline' > partial && "
    "ln -s blk lnk && ln -s nowhere dangling && head -c 2000 /dev/zero > big && "
    "printf 'x\\n' > 'd/a b.txt' && printf 'y\\n' > d/e/UPPER.TXT"
)
FILE_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("files.Md5File", {"path": "/srv/facts/blk"}),
    ("files.Md5File", {"path": "/srv/facts/missing"}),
    ("files.Md5File", {"path": "/srv/facts/d"}),
    ("files.Sha384File", {"path": "/srv/facts/blk"}),
    ("files.Sha384File", {"path": "/srv/facts/missing"}),
    ("files.FileContents", {"path": "/srv/facts/blk"}),
    ("files.FileContents", {"path": "/srv/facts/partial"}),
    ("files.FileContents", {"path": "/srv/facts/empty"}),
    ("files.FileContents", {"path": "/srv/facts/missing"}),
    ("files.FileContents", {"path": "/srv/facts/d/a b.txt"}),
    ("files.Block", {"path": "/srv/facts/blk"}),
    ("files.Block", {"path": "/srv/facts/emptyblock"}),
    ("files.Block", {"path": "/srv/facts/empty"}),
    ("files.Block", {"path": "/srv/facts/missing"}),
    ("files.Block", {"path": "/srv/facts/d"}),
    ("files.Block", {"path": "/srv/facts/custom", "marker": "{mark}", "begin": "<<<", "end": ">>>"}),
    ("files.FindFiles", {"path": "/srv/facts"}),
    ("files.FindFiles", {"path": "/srv/facts", "maxdepth": 1}),
    ("files.FindFiles", {"path": "/srv/facts", "min_size": "1KB"}),
    ("files.FindFiles", {"path": "/srv/facts", "max_size": 3}),
    ("files.FindFiles", {"path": "/srv/facts", "size": 2000}),
    ("files.FindFiles", {"path": "/srv/facts", "fname": "*.txt"}),
    ("files.FindFiles", {"path": "/srv/facts", "iname": "upper*"}),
    ("files.FindFiles", {"path": "/srv/facts", "regex": ".*/[a-c].*"}),
    ("files.FindFiles", {"path": "/srv/facts", "path_match": "*/d/*"}),
    ("files.FindFiles", {"path": "/srv/facts", "args": ["-newer", "/srv/facts/blk"]}),
    ("files.FindFiles", {"path": "/srv/facts/missing"}),
    ("files.FindFiles", {"path": "/srv/fact*", "quote_path": False}),
    ("files.FindLinks", {"path": "/srv/facts"}),
    ("files.FindDirectories", {"path": "/srv/facts"}),
    ("files.FindDirectories", {"path": "/srv/facts", "maxdepth": 1}),
]


def test_file_facts_equal_pyinfra(container_fleet: Any, tmp_path: Path) -> None:
    container = container_fleet.hosts[2]
    docker_sh(container, FILE_TREE)
    ours = check_against_pyinfra(tmp_path, container, FILE_SPECS)
    got = {f"{name} {json.dumps(args)}": value for (name, args), value in zip(FILE_SPECS, ours)}
    # Read back independently.
    assert (
        got['files.Md5File {"path": "/srv/facts/blk"}'][0] == docker_sh(container, "md5sum < /srv/facts/blk").split()[0]
    )
    assert (
        got['files.FileContents {"path": "/srv/facts/blk"}'][0]
        == docker_sh(container, "cat /srv/facts/blk").split("\n")[:-1]
    )
    assert got['files.Block {"path": "/srv/facts/blk"}'][0] == ["x", "", "y"]
    listed = docker_sh(container, "find /srv/facts -type f").split("\n")[:-1]
    assert sorted(got['files.FindFiles {"path": "/srv/facts"}'][0]) == sorted(listed) and len(listed) == 8
    compared_with_pyinfra()


#: Facts whose value does not depend on the user reading them nor move between reads.
STABLE_SPECS = [
    (name, args)
    for name, args in SPECS + FILE_SPECS
    if name not in MOVING
    and name not in ("server.Port", "server.Path", "server.Home")  # the login's (LOGIN_SPECS)
    and not name.startswith("files.Find")
]


#: Facts of the login (its name, its environment): read over SSH, where there is one.
LOGIN_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("server.User", {}),
    ("server.Home", {}),
    ("server.Home", {"user": "root"}),
    ("server.Path", {}),
    ("server.TmpDir", {}),
    ("server.Which", {"command": "sudo"}),
]


def test_login_facts_over_ssh_equal_pyinfra(container_fleet: Any, tmp_path: Path) -> None:
    """The facts of who is logged in, read over SSH as ``deploy`` by both (through ``@docker``
    there is no login: pyinfra's ``server.User`` is ``$USER``, unset there, where oxinfra's
    is ``id -un``)."""
    container = container_fleet.hosts[1]
    ours = check_against_pyinfra(tmp_path, container, LOGIN_SPECS, fleet=container_fleet)
    got = {f"{name} {json.dumps(args)}": value for (name, args), value in zip(LOGIN_SPECS, ours)}
    assert got["server.User {}"][0] == "deploy" == docker_sh(container, "id -un deploy").strip()
    assert got["server.Home {}"][0] == docker_sh(container, "getent passwd deploy | cut -d: -f6").strip()
    assert got['server.Home {"user": "root"}'][0] == "/root"
    compared_with_pyinfra()


def test_over_ssh_as_a_login_the_same_values(container_fleet: Any, tmp_path: Path) -> None:
    """The same facts read over SSH as ``deploy`` (no sudo) and through ``@docker`` as root
    are equal: the commands do not depend on the shell or connector they run in."""
    container = container_fleet.hosts[2]
    docker_sh(container, FILE_TREE + " && chmod -R a+rX /srv/facts")
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", hosts=[container])
    over_ssh = read_with_oxinfra(tmp_path, container, STABLE_SPECS, inventory=str(inventory))
    through_docker = read_with_oxinfra(tmp_path, container, STABLE_SPECS)
    assert len(over_ssh) == len(STABLE_SPECS) > 40
    for spec, a, b in zip(STABLE_SPECS, over_ssh, through_docker):
        assert a == b, spec


@pytest.mark.parametrize(
    ("fact", "args"),
    [
        ("files.FileContents", "path='/etc/shadow'"),
        ("files.Md5File", "path='/etc/shadow'"),
        ("files.Block", "path='/etc/shadow'"),
        ("files.FindFiles", "path='/root'"),
    ],
)
def test_what_the_login_may_not_read_fails_the_fact(container_fleet: Any, tmp_path: Path, fact: str, args: str) -> None:
    """Over SSH as ``deploy`` without sudo: a file or directory only root may read fails the
    fact with the tool's own message (pyinfra 3.10 reads these as absent or empty); with
    ``_sudo=True`` the same fact reads it."""
    from oxinfra.api import load_inventory, run

    host = container_fleet.hosts[3]
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", hosts=[host])
    family, name = fact.split(".")
    out = tmp_path / "value.json"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "import json\nfrom pathlib import Path\nfrom oxinfra import host\n"
        f"from oxinfra.facts.{family} import {name}\n"
        f"value = host.get_fact({name}, {args}, _sudo=True)\n"
        f"Path({str(out)!r}).write_text(json.dumps(value))\n"
        f"host.get_fact({name}, {args})\n"
    )
    result = run(load_inventory(str(inventory)), [str(deploy)])
    outcome = result.hosts[host]
    assert outcome.status == "failed", outcome.summary()
    assert f"fact {fact} failed" in str(outcome.error) and "Permission denied" in str(outcome.error), outcome.error
    assert json.loads(out.read_text()) is not None  # root reads it: a value, not a failure


def test_reboot_required_follows_the_file(container_fleet: Any, tmp_path: Path) -> None:
    """A file left by a package manager: both read True; removed: both False."""
    container = container_fleet.hosts[1]
    specs = [("server.RebootRequired", {})]
    try:
        docker_sh(container, "touch /var/run/reboot-required")
        assert check_against_pyinfra(tmp_path, container, specs)[0] == [True, "bool"]
    finally:
        docker_sh(container, "rm -f /var/run/reboot-required")
    assert check_against_pyinfra(tmp_path, container, specs)[0] == [False, "bool"]
    compared_with_pyinfra()


if __name__ == "__main__":  # pragma: no cover - for a look by hand: python tests/test_facts_pyinfra.py NAME
    sys.exit(pytest.main([__file__, "-q"]))


ACCOUNT_SPECS: list[tuple[str, dict[str, Any]]] = [
    ("server.Users", {}),
    ("server.Groups", {}),
    ("server.Sysctl", {"keys": ["net.ipv4.ip_forward", "net.ipv4.ip_local_port_range", "kernel.panic_sys_info"]}),
    ("server.SecurityLimits", {}),
    ("crontab.Crontab", {"user": "deploy"}),
    ("crontab.Crontab", {"user": "pwuser"}),
    ("server.KernelModules", {}),
    ("server.Locales", {}),
    ("server.Mounts", {}),
]


def test_account_and_setting_facts_equal_pyinfra(container_fleet: Any, tmp_path: Path) -> None:
    """The facts server.user, server.sysctl, crontab.crontab... read, on a host with a user of
    several groups and a comment, a login time, a crontab and a limit."""
    container = container_fleet.hosts[3]
    docker_sh(
        container,
        "groupadd -g 2400 oxgrp && useradd -M -c 'Ox, Facts' -G oxgrp,users oxfacts && lastlog -S -u oxfacts && "
        "printf '# m\\nMAILTO=x@example.com\\n*/5 1,2 * * mon /bin/true a  b\\n\\n# pyinfra-name=n\\n@daily /x\\n' "
        "| crontab -u deploy - && printf 'oxfacts\\tsoft\\tnofile\\t4096\\n' >> /etc/security/limits.conf",
    )
    try:
        ours = check_against_pyinfra(tmp_path, container, ACCOUNT_SPECS)
        users, groups = ours[0][0], ours[1][0]
        assert users["oxfacts"]["comment"] == "Ox, Facts" and users["oxfacts"]["groups"] == ["users", "oxgrp"]
        assert users["oxfacts"]["login_time"] is not None
        assert groups == [line.split(":")[0] for line in docker_sh(container, "getent group").splitlines()]
        assert ours[4][0][1]["minute"] == "*/5" and ours[5][0] == []
        assert {"domain": "oxfacts", "limit_type": "soft", "item": "nofile", "value": "4096"} in ours[3][0]
        root_line = docker_sh(container, "awk '$5 == \"/\"' /proc/self/mountinfo").splitlines()[-1]
        assert ours[8][0]["/"]["type"] == root_line.split(" - ")[1].split()[0]
    finally:
        docker_sh(
            container,
            "crontab -r -u deploy; userdel oxfacts; groupdel oxgrp; sed -i '/^oxfacts/d' /etc/security/limits.conf",
        )
    compared_with_pyinfra()
