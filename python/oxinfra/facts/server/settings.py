"""Facts about system settings: kernel parameters (``sysctl``) and resource limits
(``/etc/security/limits.conf``). The ``sysctl`` output is parsed in Rust
(:func:`oxinfra._core.parse_sysctl`)."""

from __future__ import annotations

import re
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed
from oxinfra.exceptions import FactError
from oxinfra.quoting import command, file_test, if_then

__all__ = ["Sysctl", "SecurityLimits", "KernelModules", "Locales", "Mounts", "check_sysctl_key"]

#: A sysctl key: dotted (``net.ipv4.ip_forward``) or slashed (``net/ipv4/ip_forward``)
#: names; never ``-`` first (it would read as an option), no ``=`` or spaces.
_SYSCTL_KEY = re.compile(r"[A-Za-z0-9_*][A-Za-z0-9_.*/:@+-]*\Z")


def check_sysctl_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SYSCTL_KEY.match(key))


class Sysctl(FactBase[Any]):
    """Kernel parameters by key, shaped as pyinfra's::

        {"net.ipv4.ip_forward": 1, "net.ipv4.ip_local_port_range": [32768, 60999],
         "kernel.core_pattern": "|/usr/share/apport/apport ..."}

    A value of letters, digits, ``_``, ``-``, ``.`` and spaces is a list of its words (whole
    numbers as ints), one word alone; anything else is the text. ``keys``: only these (a
    list); every key the user may read when not given. Keys the kernel does not have, or
    that may not be read, are left out (``sysctl -e``); ``sysctl`` itself failing (not
    installed, exit 127) fails the fact.
    """

    shell_safe = True

    def command(self, keys: list[str] | str | None = None) -> str:
        if keys is None:
            return command("sysctl", "-e", "-a")
        names = [keys] if isinstance(keys, str) else list(keys)
        for key in names:
            if not check_sysctl_key(key):
                raise FactError(f"not a sysctl key for server.Sysctl: {key!r}")
        return command("sysctl", "-e", "--", *names)

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        out: dict[str, Any] = {}
        for key, value in _core.parse_sysctl(stdout):
            if isinstance(value, str):
                out[key] = value
                continue
            words = [int(text) if is_int else text for is_int, text in value]
            out[key] = words[0] if len(words) == 1 else words
        return out


LIMITS_FILE = "/etc/security/limits.conf"


class SecurityLimits(FactBase[Any]):
    """The entries of ``/etc/security/limits.conf``, in order, shaped as pyinfra's::

        [{"domain": "*", "limit_type": "soft", "item": "nofile", "value": "1048576"}]

    Blank and ``#`` lines are skipped; no file: ``[]``. A line that is not four
    whitespace-separated fields (a trailing ``# comment`` after them is allowed) fails the
    fact, naming its number.
    """

    shell_safe = True

    def command(self) -> str:
        return if_then(file_test("-e", LIMITS_FILE), command("cat", "--", LIMITS_FILE))

    def default(self) -> Any:
        return []

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        limits = []
        for number, line in enumerate(stdout.decode("utf-8", "replace").split("\n"), 1):
            fields = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
            if not fields:
                continue
            if len(fields) != 4:
                raise FactFailed(rc, f"{LIMITS_FILE} line {number}: {len(fields)} fields where there must be 4")
            domain, limit_type, item, value = fields
            limits.append({"domain": domain, "limit_type": limit_type, "item": item, "value": value})
        return limits


class KernelModules(FactBase[Any]):
    """The loaded kernel modules (Linux, ``/proc/modules``), shaped as pyinfra's::

        {"ext4": {"size": "1048576", "instances": 3, "state": "Live", "depends": ["jbd2", "mbcache"]}}

    (``depends`` only when it has any). No ``/proc/modules`` (a kernel without modules, a
    container): ``{}``. A line that is not six space-separated fields fails the fact.
    """

    shell_safe = True

    def command(self) -> str:
        return if_then(file_test("-f", "/proc/modules"), command("cat", "/proc/modules"))

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        modules: dict[str, Any] = {}
        for number, line in enumerate(stdout.decode("utf-8", "replace").split("\n"), 1):
            if not line:
                continue
            fields = line.split(" ", 5)
            if len(fields) != 6 or not fields[2].isdigit():
                raise FactFailed(rc, f"/proc/modules line {number}: not a module line: {line[:80]!r}")
            name, size, instances, depends, state, _ = fields
            module: dict[str, Any] = {"size": size, "instances": int(instances), "state": state}
            if depends != "-":
                module["depends"] = [d for d in depends.split(",") if d]
            modules[name] = module
        return modules


class Locales(FactBase[Any]):
    """The locales the host has (``locale -a``), ``utf8`` written ``UTF-8`` as in
    ``/etc/locale.gen`` (pyinfra's shape): ``["C", "C.UTF-8", "POSIX", "en_US.UTF-8"]``.
    ``locale`` failing (not installed) fails the fact."""

    shell_safe = True

    def command(self) -> str:
        return command("locale", "-a")

    def default(self) -> Any:
        return []

    def process(self, output: list[str]) -> Any:
        return [line.replace("utf8", "UTF-8") for line in output]


class Mounts(FactBase[Any]):
    """The mounted file systems by mount point (Linux, ``/proc/self/mountinfo``; parsed in
    Rust), shaped as pyinfra's::

        {"/": {"device": "/dev/sda1", "type": "ext4", "options": ["rw", "relatime", "errors=remount-ro"]}}

    ``options`` are the mount's options then its super block's (without ``ro``/``rw``).
    A line of another shape fails the fact, naming it. (pyinfra reads ``mount`` on the BSDs:
    not supported here.)
    """

    shell_safe = True

    def command(self) -> str:
        return command("cat", "/proc/self/mountinfo")

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        return {
            path: {"device": device, "type": fs_type, "options": options}
            for path, device, fs_type, options in _core.parse_mountinfo(stdout)
        }
