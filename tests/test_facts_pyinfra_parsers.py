"""Differential test: oxinfra's fact parsers against pyinfra 3.10's own, on many generated
outputs (a fixed seed, so every run checks the same cases).

For each case the output oxinfra's command would print and the lines pyinfra's command would
print for the same host state are made; oxinfra's ``parse`` and pyinfra's ``process`` (run in
pyinfra's venv by tests/tools/pyinfra_process.py, all cases in one process) must give equal
values, or both fail. Skipped without pyinfra's venv (``OXINFRA_PYINFRA_PYTHON``).
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import DEFAULT_PYINFRA_PYTHON

from oxinfra.api import FactBase
from oxinfra.facts import hardware
from oxinfra.facts.server import LinuxDistribution, LsbRelease, OsRelease, Processes

PYINFRA_PYTHON = Path(__import__("os").environ.get("OXINFRA_PYINFRA_PYTHON", DEFAULT_PYINFRA_PYTHON))
TOOL = Path(__file__).parent / "tools" / "pyinfra_process.py"
CASES = 300


def pyinfra_values(cases: list[tuple[str, list[str], dict[str, Any]]]) -> list[Any]:
    if not PYINFRA_PYTHON.exists():
        pytest.skip(f"pyinfra 3.10's venv is not at {PYINFRA_PYTHON} (set OXINFRA_PYINFRA_PYTHON)")
    proc = subprocess.run(
        [str(PYINFRA_PYTHON), str(TOOL)], input=json.dumps(cases), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def ours(fact: FactBase[Any], stdout: str) -> Any:
    try:
        return json.loads(json.dumps(fact.parse(stdout.encode(), 0)))
    except ValueError as exc:  # FactFailed, OutputParseError
        return {"error": str(exc)}


def lines(text: str) -> list[str]:
    """What pyinfra reads from a command's output: lines without their newline."""
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def compare(name: str, cases: list[tuple[str, str]], fact: FactBase[Any], attrs: dict[str, Any] | None = None) -> None:
    """``cases``: (our stdout, pyinfra's stdout) pairs."""
    theirs = pyinfra_values([(name, lines(p), attrs or {}) for _o, p in cases])
    failures = []
    for (o, p), want in zip(cases, theirs):
        got = ours(type(fact)(), o)
        both_failed = isinstance(got, dict) and "error" in got and isinstance(want, dict) and "error" in want
        if got != want and not both_failed:
            failures.append(f"{o!r}\n  oxinfra: {got!r}\n  pyinfra: {want!r}")
    assert not failures, f"{len(failures)} of {len(cases)} differ:\n" + "\n".join(failures[:5])


# ------------------------------------------------------------------ generators

KEYS = ["NAME", "ID", "VERSION", "VERSION_ID", "PRETTY_NAME", "VERSION_CODENAME", "UBUNTU_CODENAME", "ID_LIKE", "x"]
WORDS = ["Debian", "12", "7.9", "8", "(bookworm)", "(Core)", "Linux", "release", "a b", ",", " Maipo", "LTS", "rolling"]


def value(rng: random.Random) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))
    style = rng.choice(["plain", "dq", "sq", "escaped", "comment"] * 10 + ["unclosed"])
    if style == "unclosed":  # a shell could not read it: both fail
        return rng.choice(['"', "'"]) + text
    if style == "dq":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + rng.choice(["", '\\"', "\\$", "\\x"]) + '"'
    if style == "sq":
        return "'" + text.replace("'", "") + "'"
    if style == "escaped":
        return text.replace(" ", "\\ ")
    if style == "comment":
        return text.replace(" ", "") + " # note"
    return text.replace(" ", "")


def os_release(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 7)):
        roll = rng.random()
        if roll < 0.1:
            out.append("# a comment")
        elif roll < 0.15:
            out.append("")
        else:
            out.append(f"{rng.choice(KEYS)}={value(rng)}")
    return "\n".join(out) + rng.choice(["\n", "", "\r\n"])


RELEASE_LINES = [
    "CentOS Linux release 7.9.2009 (Core)",
    "CentOS Linux release 8.5.2111",
    "Red Hat Enterprise Linux Server release 6.10 (Santiago)",
    "Fedora release 39 (Thirty Nine)",
    "3.19.1",
    "Rocky Linux release 9.3 (Blue Onyx)",
    "CloudLinux release 7.9",
    "Gentoo Base System release 2.14",
    "just words",
    "",
]


def release_files(rng: random.Random) -> dict[str, str]:
    files: dict[str, str] = {}
    if rng.random() < 0.85:
        files["os-release"] = os_release(rng)
    for name in rng.sample(
        [
            "centos-release",
            "redhat-release",
            "alpine-release",
            "arch-release",
            "lsb-release",
            "system-release",
            "gentoo-release",
            "weird.name-release",
            "fedora-release",
        ],
        rng.randint(0, 3),
    ):
        files[name] = rng.choice(RELEASE_LINES) + rng.choice(["\n", "\nsecond line\n", ""])
    return files


def release_outputs(files: dict[str, str]) -> tuple[str, str]:
    ours_ = "".join(f"{len(c.encode())} /etc/{n}\n{c}" for n, c in sorted(files.items()))
    theirs = "".join(
        f"/etc/{n}\n{c}" + ("" if c.endswith("\n") or not c else "\n") + "---\n" for n, c in sorted(files.items())
    )
    return ours_, theirs


def ip_text(rng: random.Random) -> str:
    out = []
    for i in range(rng.randint(1, 4)):
        name = rng.choice(["lo", "eth0", "eth0@if5", "wlan0", "em0", "br-1a2b", "7"])
        flags = rng.choice(["<LOOPBACK,UP,LOWER_UP>", "<BROADCAST,MULTICAST>", "<NO-CARRIER,DOWN>", "<>"])
        if rng.random() < 0.6:
            out.append(
                f"{i + 1}: {name}: {flags} mtu {rng.choice([1500, 65536, 9000])} qdisc noqueue state "
                f"{rng.choice(['UP', 'DOWN', 'UNKNOWN'])}"
            )
        else:
            out.append(f"{name}: flags=8863{flags} metric 0 mtu {rng.choice([1500, 16384])}")
        for _ in range(rng.randint(0, 5)):
            out.append(
                "    "
                + rng.choice(
                    [
                        "link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff",
                        "link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
                        f"inet 10.{rng.randint(0, 255)}.0.{rng.randint(1, 254)}/{rng.randint(0, 32)} brd 10.0.0.255 scope global",
                        f"inet 192.168.1.{rng.randint(1, 254)}/24 metric 100 brd 192.168.1.255 scope global dynamic",
                        "inet 127.0.0.1/8 scope host lo",
                        f"inet6 fe80::{rng.randint(1, 9999):x}/64 scope link",
                        "inet6 ::1/128 scope host",
                        "valid_lft forever preferred_lft forever",
                        "ether 08:00:27:aa:bb:cc",
                        f"inet 10.0.2.{rng.randint(1, 254)} netmask {rng.choice(['0xffffff00', '255.255.0.0', '0xff000000'])} "
                        "broadcast 10.0.2.255",
                        "inet 127.0.0.1 netmask 0xff000000",
                        "inet6 fe80::1%lo0 prefixlen 64 scopeid 0x2",
                        "inet6 2001:db8::1 prefixlen 64",
                        "media: Ethernet autoselect (1000baseT <full-duplex>)",
                        "status: active",
                    ]
                )
            )
    return "\n".join(out) + "\n"


def ps_full(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(0, 6)):
        pid = rng.randint(1, 99999)
        args = rng.choice(["", " /sbin/init splash", " sshd: /usr/sbin/sshd -D", " [kworker/0:1]"])
        out.append(
            f"{pid:>7} {rng.choice(['root', 'www-data', 'a'])} {rng.choice(['Ss', 'R+', 'S<l'])} "
            f"{rng.uniform(0, 99):.1f} {rng.uniform(0, 9):.1f} {rng.choice(['init', 'sshd', 'kworker/0:1'])}{args}"
        )
    if rng.random() < 0.2:
        out.append("garbage line")
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ tests


def test_linux_distribution_as_pyinfra_reads_it() -> None:
    rng = random.Random(10)
    compare(
        "server.LinuxDistribution", [release_outputs(release_files(rng)) for _ in range(CASES)], LinuxDistribution()
    )


def test_os_release_and_lsb_release_as_pyinfra_reads_them() -> None:
    rng = random.Random(11)
    texts = [os_release(rng) for _ in range(CASES)]
    compare("server.OsRelease", [(t, t) for t in texts if t.strip()], OsRelease())
    keys = ["Distributor ID", "Description", "Release", "Codename", "x y z", "nocolon"]
    separators = [":", ":\t", " : ", ""]
    lsb = [
        "".join(f"{rng.choice(keys)}{rng.choice(separators)}{value(rng)}\n" for _ in range(rng.randint(1, 5)))
        for _ in range(CASES)
    ]
    compare("server.LsbRelease", [(t, t) for t in lsb], LsbRelease())


def test_network_devices_text_as_pyinfra_reads_it() -> None:
    rng = random.Random(12)
    texts = [ip_text(rng) for _ in range(CASES)]
    for fact in (hardware.NetworkDevices(), hardware.Ipv4Addresses(), hardware.Ipv6Addrs()):
        compare(fact.name, [(t, t) for t in texts], fact)


def test_processes_as_pyinfra_reads_them() -> None:
    rng = random.Random(13)
    texts = [ps_full(rng) for _ in range(CASES)]
    compare("server.Processes", [("full\n" + t, t) for t in texts], Processes(), {"_is_busybox": False})


def ip_json(rng: random.Random) -> str:
    devices = []
    for i in range(rng.randint(0, 4)):
        device: dict[str, Any] = {"ifindex": i + 1}
        if rng.random() < 0.9:
            device["ifname"] = rng.choice(["lo", "eth0", "wg0", "br0"])
        if rng.random() < 0.8:
            device["operstate"] = rng.choice(["UP", "DOWN", "UNKNOWN", None, ""])
        if rng.random() < 0.8:
            device["mtu"] = rng.choice([1500, 65536])
        if rng.random() < 0.7:
            device["address"] = "02:42:ac:11:00:02"
        addresses = []
        for _ in range(rng.randint(0, 4)):
            addr: dict[str, Any] = {"family": rng.choice(["inet", "inet6", "link", None])}
            if rng.random() < 0.9:
                addr["local"] = rng.choice(["10.0.0.1", "fe80::1", "127.0.0.1", "2001:db8::2"])
            if rng.random() < 0.8:
                addr["prefixlen"] = rng.randint(0, 128)
            if rng.random() < 0.5:
                addr["broadcast"] = "10.0.0.255"
            addresses.append({k: v for k, v in addr.items() if v is not None})
        if addresses or rng.random() < 0.5:
            device["addr_info"] = addresses
        devices.append(device)
    text = json.dumps(devices, indent=rng.choice([None, 2]))
    return text + "\n" if devices else "[{}]\n"


def test_network_devices_json_as_pyinfra_reads_it() -> None:
    rng = random.Random(14)
    texts = [ip_json(rng) for _ in range(CASES)]
    for fact in (hardware.NetworkDevices(), hardware.Ipv6Addresses(), hardware.Ipv4Addrs()):
        compare(fact.name, [(t, t) for t in texts], fact)


def test_memory_block_devices_selinux_port_cpus_as_pyinfra_reads_them() -> None:
    from oxinfra.facts.server import Port, Selinux

    rng = random.Random(15)
    vmstat = [
        "".join(
            f"{rng.choice(['  ', ''])}{rng.choice(['24683792', '4096', '0', '12.5', 'x'])} "
            f"{rng.choice(['K total memory', 'bytes per page', 'pages managed', 'pages free', 'pages active', 'other'])}\n"
            for _ in range(rng.randint(1, 6))
        )
        for _ in range(CASES)
    ]
    compare("hardware.Memory", [(t, t) for t in vmstat], hardware.Memory())
    df = [
        "Filesystem 1K-blocks Used Available Use% Mounted on\n"
        + "".join(
            f"{rng.choice(['/dev/sda1', 'none', 'tmpfs', 'map auto_home', '//srv/share', 'a.b'])} "
            f"{rng.randint(0, 10**9)} {rng.randint(0, 10**6)} {rng.randint(0, 10**9)} {rng.randint(0, 1000)}% "
            f"{rng.choice(['/', '/run/user.1', '/mnt/x y', '/boot/efi'])}\n"
            for _ in range(rng.randint(0, 5))
        )
        for _ in range(CASES)
    ]
    compare("hardware.BlockDevices", [(t, t) for t in df], hardware.BlockDevices())
    sestatus = [
        rng.choice(["SELinux status:", "SELinux status: ", "selinux status:", "x"])
        + rng.choice(["   enabled\n", "\tdisabled\nmore\n", "\n  permissive\n", "\n", ""])
        for _ in range(CASES)
    ]
    compare("server.Selinux", [(t, t) for t in sestatus if t.strip()], Selinux())
    users = ["", 'users:(("sshd",pid=8,fd=3))', 'users:(("a b",pid=12,fd=3),("c",pid=13,fd=4))']
    ss = [
        "".join(
            f"LISTEN 0 128 {rng.choice(['0.0.0.0', '[::]', '127.0.0.1'])}:{rng.choice([22, 220, 2])} 0.0.0.0:* "
            f"{rng.choice(users)}\n"
            for _ in range(rng.randint(1, 3))
        )
        for _ in range(CASES)
    ]
    # pyinfra's command keeps only the lines with ":22 " (grep); oxinfra's reads them all.
    port = Port()
    port.command(port=22)
    theirs = [(("ss\n" + t), "".join(line + "\n" for line in t.split("\n") if ":22 " in line)) for t in ss]
    want = pyinfra_values([("server.Port", lines(p), {"_tool": "ss"}) for _o, p in theirs])
    for (o, p), value in zip(theirs, want):
        fact = Port()
        fact.command(port=22)
        got = json.loads(json.dumps(fact.parse(o.encode(), 0)))
        assert got == (value if p else None), (o, got, value)
    cpus = ["4\n", "undefined\n", " 16 \n", "x\n"]
    compare("hardware.Cpus", [(t, t) for t in cpus], hardware.Cpus())


def dnf_module_listing(rng: random.Random) -> str:
    """``dnf module list`` as dnf prints it: a table per repository, stream flags apart
    (``20 [e]``) or together (``8 [d][e]``), profiles with ``[d]``/``[i]``, the hint line."""
    out = []
    if rng.random() < 0.5:
        out.append("Last metadata expiration check: 0:01:02 ago on Fri Dec  4 10:00:00 2026.")
    for repo in range(rng.randint(0, 3)):
        out.append(f"Repository {repo} - AppStream")
        out.append("Name          Stream        Profiles                     Summary")
        for _ in range(rng.randint(0, 5)):
            name = rng.choice(["nodejs", "postgresql", "php", "ruby", "perl-DBI", "maven", "389-ds"])
            stream = rng.choice(["20", "16", "8.1", "3.1", "1.24", "rhel8", "el9.4"])
            flags = rng.choice(["", " [e]", " [x]", " [d]", " [d][e]", " [d][x]", " [e] [a]", " [d] [e]"])
            profiles = rng.choice(["common [d]", "client, server [d]", "default [d] [i]", "minimal", ""])
            out.append(f"{name:<14}{stream + flags:<14}{profiles:<29}Summary of {name}")
        out.append("")
    if rng.random() < 0.8:
        out.append("Hint: [d]efault, [e]nabled, [x]disabled, [i]nstalled")
    return "\n".join(out) + ("\n" if out else "")


def test_dnf_modules_as_pyinfra_reads_them() -> None:
    from oxinfra.facts.dnf import DnfDisabledModules, DnfEnabledModules

    rng = random.Random(17)
    outputs = [dnf_module_listing(rng) for _ in range(CASES)]
    compare("dnf.DnfEnabledModules", [(o, o) for o in outputs], DnfEnabledModules())
    compare("dnf.DnfDisabledModules", [(o, o) for o in outputs], DnfDisabledModules())
