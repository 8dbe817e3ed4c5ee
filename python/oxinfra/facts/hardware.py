"""Facts about the hardware: CPUs, memory, mounted block devices, network devices and addresses.

Values are shaped as pyinfra 3.10's for the same host (tests/test_facts_pyinfra.py compares
them on the container hosts). ``ip -j addr`` JSON is read with :mod:`json`; the text of
``ip addr`` / ``ifconfig -a`` by Rust (:func:`oxinfra._core.parse_ip_addr`).

No exit status of these facts means "absent" (``absent_status`` is empty): where a thing can
be missing (a file, ``lsb_release``, ``sestatus``, ``vmstat``) the command itself says so
(status 0 and no output); every other status fails the fact with the tool's stderr.
"""

from __future__ import annotations

import json
import re
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed

__all__ = [
    "Cpus",
    "Memory",
    "BlockDevices",
    "NetworkDevices",
    "Ipv4Addresses",
    "Ipv6Addresses",
    "Ipv4Addrs",
    "Ipv6Addrs",
]


class Cpus(FactBase[Any]):
    """The number of CPUs online, an ``int`` (``getconf``); ``None`` where ``getconf``
    prints no number (``undefined``)."""

    shell_safe = True

    def command(self) -> str:
        return "getconf NPROCESSORS_ONLN 2> /dev/null || getconf _NPROCESSORS_ONLN"

    def process(self, output: list[str]) -> Any:
        text = output[0].strip()
        return int(text) if text.isascii() and text.isdigit() else None


class Memory(FactBase[Any]):
    """The memory installed, in MiB (an ``int``), from ``vmstat -s`` (Linux: its total;
    BSD: pages times the page size). ``None`` where ``vmstat`` is not installed or gives no
    total."""

    shell_safe = True

    def command(self) -> str:
        # Not installed: nothing printed, status 0.
        return "if command -v vmstat >/dev/null 2>&1; then env LANG=C vmstat -s; fi"

    def process(self, output: list[str]) -> Any:
        data: dict[str, float] = {}
        for line in output:
            number, _, key = line.strip().partition(" ")
            try:
                data[key.strip()] = float(number)
            except ValueError:
                continue
        total = data.get("K total memory", data.get("total memory"))
        if not total:
            per_page = data.get("bytes per page")
            pages = data.get("pages managed")
            if not pages:
                kinds = (
                    "pages active",
                    "pages inactive",
                    "pages wired down",
                    "pages free",
                    "pages in the laundry queue",
                )
                pages = sum(data.get(k, 0) for k in kinds)
            if per_page and pages:
                total = pages * per_page / 1024
        return int(round(total / 1024)) if total else None


_DF_LINE = re.compile(r"([a-zA-Z0-9\/\-_]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]+)\s+([0-9]{1,3})%\s+([a-zA-Z\/0-9\-_]+)")


class BlockDevices(FactBase[Any]):
    """Mounted filesystems as ``df`` lists them, by device (numbers as ``df`` prints them,
    strings, in its 1K blocks)::

        {"/dev/sda1": {"blocks": "40325900", "used": "836392", "available": "39489508",
                       "used_percent": "3", "mount": "/"}}

    Devices named ``none`` and lines of other shapes (a device or mount point with spaces or
    dots) are left out, as pyinfra 3.10 does. ``df``'s failure fails the fact (one
    filesystem it cannot read makes GNU ``df`` exit 1)."""

    shell_safe = True

    def command(self) -> str:
        return "df"

    def default(self) -> Any:
        return {}

    def process(self, output: list[str]) -> Any:
        devices = {}
        for line in output:
            found = _DF_LINE.match(line)
            if found and found.group(1) != "none":
                devices[found.group(1)] = {
                    "blocks": found.group(2),
                    "used": found.group(3),
                    "available": found.group(4),
                    "used_percent": found.group(5),
                    "mount": found.group(6),
                }
        return devices


def _netmask(bits: int) -> str:
    return ".".join(str((0xFFFFFFFF << (32 - b) >> bits) & 0xFF) for b in (24, 16, 8, 0))


class NetworkDevices(FactBase[Any]):
    """Network devices by name: ``state`` (``UP``, ``DOWN``, ``UNKNOWN``...), ``ether``,
    ``mtu``, and the first ``ipv4`` / ``ipv6`` address, the others in its
    ``additional_ips``::

        {"eth0": {"state": "UP", "ether": "02:42:ac:11:00:02", "mtu": 1500,
                  "ipv4": {"address": "172.17.0.2", "broadcast": "172.17.255.255",
                           "mask_bits": 16, "netmask": "255.255.0.0"},
                  "ipv6": {"address": "fe80::42:acff:fe11:2", "mask_bits": 64}}}

    Read from ``ip -j addr show`` where ``ip`` can (JSON: ``state`` is its ``operstate``),
    else ``ip addr show`` or ``ifconfig -a`` (text: ``state`` ``UP`` when ``UP`` shows
    anywhere for the device), as pyinfra 3.10 reads them. JSON that does not decode fails
    the fact; JSON addresses of other families (and devices without a name) are left out.
    """

    shell_safe = True

    def command(self) -> str:
        return "ip -j addr show 2> /dev/null || ip addr show 2> /dev/null || ifconfig -a"

    def default(self) -> Any:
        return {}

    def process(self, output: list[str]) -> Any:
        if "".join(line.strip() for line in output[:2]).startswith("[{"):
            return self._from_json("\n".join(output))
        devices: dict[str, Any] = {}
        for name, state, ether, mtu, ipv4, ipv6 in _core.parse_ip_addr("\n".join(output)):
            device: dict[str, Any] = {"state": state}
            if ether is not None:
                device["ether"] = ether
            if mtu is not None:
                device["mtu"] = mtu
            if ipv4:
                addresses: list[dict[str, Any]] = [
                    {"address": a, "mask_bits": bits, "netmask": mask, "broadcast": brd} for a, bits, mask, brd in ipv4
                ]
                first, *more = addresses
                device["ipv4"] = first
                if more:
                    first["additional_ips"] = more
            if ipv6:
                addresses6: list[dict[str, Any]] = [{"address": a, "mask_bits": bits} for a, bits in ipv6]
                first6, *more6 = addresses6
                device["ipv6"] = first6
                if more6:
                    first6["additional_ips"] = more6
            devices[name] = device
        return devices

    def _from_json(self, text: str) -> Any:
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise FactFailed(0, f"ip -j printed JSON that does not decode: {exc}") from None
        if not isinstance(decoded, list) or not all(isinstance(info, dict) for info in decoded):
            raise FactFailed(0, "ip -j printed JSON that is not a list of devices")
        devices: dict[str, Any] = {}
        for info in decoded:
            device: dict[str, Any] = {"state": info.get("operstate") or "UNKNOWN"}
            if "address" in info:
                device["ether"] = info["address"]
            if "mtu" in info:
                device["mtu"] = info["mtu"]
            for addr in info.get("addr_info", []):
                family = {"inet": "ipv4", "inet6": "ipv6"}.get(addr.get("family"))
                if "local" not in addr or family is None:
                    continue
                block: dict[str, Any] = {"address": addr["local"]}
                if family == "ipv4":
                    block["broadcast"] = addr.get("broadcast")
                if "prefixlen" in addr:
                    block["mask_bits"] = addr["prefixlen"]
                    if family == "ipv4":
                        block["netmask"] = _netmask(int(addr["prefixlen"]))
                if family not in device:
                    device[family] = block
                else:
                    device[family].setdefault("additional_ips", []).append(block)
            if "ifname" in info:
                devices[info["ifname"]] = device
        return devices


class Ipv4Addresses(NetworkDevices):
    """The first IPv4 address of each device that has one: ``{"eth0": "172.17.0.2"}``
    (pyinfra's older fact; :class:`Ipv4Addrs` lists them all)."""

    family = "ipv4"

    def process(self, output: list[str]) -> Any:
        return {
            name: device[self.family]["address"]
            for name, device in super().process(output).items()
            if device.get(self.family) and device[self.family].get("address")
        }


class Ipv6Addresses(Ipv4Addresses):
    """The first IPv6 address of each device that has one: ``{"eth0": "fe80::1"}``."""

    family = "ipv6"


class Ipv4Addrs(NetworkDevices):
    """Every IPv4 address of each device that has one: ``{"eth0": ["172.17.0.2"]}``."""

    family = "ipv4"

    def process(self, output: list[str]) -> Any:
        addresses = {}
        for name, device in super().process(output).items():
            first = device.get(self.family)
            if first and first.get("address"):
                addresses[name] = [first["address"], *(a["address"] for a in first.get("additional_ips", []))]
        return addresses


class Ipv6Addrs(Ipv4Addrs):
    """Every IPv6 address of each device that has one: ``{"eth0": ["fe80::1", "2001:db8::1"]}``."""

    family = "ipv6"
