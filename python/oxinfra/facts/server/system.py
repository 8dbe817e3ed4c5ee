"""Facts about the running system: kernel version, clock, uptime, paths, SELinux, reboots.

Values are shaped as pyinfra 3.10's for the same host (tests/test_facts_pyinfra.py compares
them on the container hosts).

No exit status of these facts means "absent" (``absent_status`` is empty): where a thing can
be missing (a file, ``lsb_release``, ``sestatus``, ``vmstat``) the command itself says so
(status 0 and no output); every other status fails the fact with the tool's stderr.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oxinfra.api import FactBase, FactFailed

__all__ = ["KernelVersion", "OsVersion", "Date", "TmpDir", "Path", "Selinux", "RebootRequired", "Uptime", "Timezone"]


class _Text(FactBase[Any]):
    """The output as one string, lines joined; no output: ``None``."""

    shell_safe = True


class KernelVersion(_Text):
    """The kernel release as ``uname -r`` prints it (``6.1.0-18-amd64``)."""

    def command(self) -> str:
        return "uname -r"


class OsVersion(KernelVersion):
    """The same as :class:`KernelVersion` (pyinfra's older name for it)."""


class _Echoed(FactBase[Any]):
    """A value printed by ``echo``: an empty line is ``""``, not "absent"."""

    shell_safe = True

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        if not stdout:
            raise FactFailed(rc, "no output, where echo prints at least a newline")
        text = stdout.decode("utf-8", "replace")
        return text[:-1] if text.endswith("\n") else text


class Path(_Echoed):
    """The ``PATH`` of the shell commands run in (``/usr/local/bin:/usr/bin:/bin``); ``""``
    when it is empty."""

    def command(self) -> str:
        return 'echo "$PATH"'


class TmpDir(_Echoed):
    """The temporary directory named by ``TMPDIR``, else ``TMP``, else ``TEMP`` -- the first
    that is set to a directory we may write to; ``""`` when none is (``/tmp`` is not
    assumed)."""

    def command(self) -> str:
        return (
            'if [ -n "$TMPDIR" ] && [ -d "$TMPDIR" ] && [ -w "$TMPDIR" ]; then echo "$TMPDIR"; '
            'elif [ -n "$TMP" ] && [ -d "$TMP" ] && [ -w "$TMP" ]; then echo "$TMP"; '
            'elif [ -n "$TEMP" ] && [ -d "$TEMP" ] && [ -w "$TEMP" ]; then echo "$TEMP"; '
            "else echo; fi"
        )


class Timezone(FactBase[Any]):
    """The host's time zone, from where ``/etc/localtime`` leads (``readlink -f``): what
    follows the last ``/zoneinfo/`` of that path (``Europe/Amsterdam``, ``Etc/UTC``). When it
    leads to no ``zoneinfo`` directory (a copied file, or no ``/etc/localtime``) the value is
    the path itself (``/etc/localtime``), as pyinfra gives it. ``readlink`` failing (not
    installed, a link it cannot follow) fails the fact."""

    shell_safe = True

    def command(self) -> str:
        return "readlink -f /etc/localtime"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        path = stdout.decode("utf-8", "replace").split("\n", 1)[0]
        if not path:
            raise FactFailed(rc, "readlink -f printed no path")
        return path.rsplit("/zoneinfo/", 1)[-1]


#: How ``Date`` asks ``date`` to print the time (and reads it back).
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class Date(FactBase[Any]):
    """The host's clock: a ``datetime`` with the host's UTC offset (``date`` in its local
    time zone), to the second. Output that is not such a time fails the fact (pyinfra 3.10
    gives the controller's clock for no output)."""

    shell_safe = True

    def command(self) -> str:
        return f"date +'{DATE_FORMAT}'"

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        text = stdout.decode("utf-8", "replace").split("\n", 1)[0]
        try:
            return datetime.strptime(text, DATE_FORMAT)
        except ValueError:
            raise FactFailed(rc, f"date printed {text[:60]!r}, not a time as {DATE_FORMAT}") from None


class Selinux(FactBase[Any]):
    """SELinux's status as ``sestatus`` reports it: ``{"mode": "enabled"}`` (or
    ``"disabled"``); ``{"mode": None}`` where ``sestatus`` is not installed or says nothing
    readable."""

    shell_safe = True

    def command(self) -> str:
        # Not installed: nothing printed, status 0.
        return "if command -v sestatus >/dev/null 2>&1; then sestatus; fi"

    def default(self) -> Any:
        return {"mode": None}

    def process(self, output: list[str]) -> Any:
        text = "\n".join(output)
        label = "SELinux status:"
        if not text.startswith(label):
            return self.default()
        rest = text[len(label) :]
        words = rest.split()
        if not words or rest[:1] not in " \t\n\r\f\v":
            return self.default()
        return {"mode": words[0]}


#: Prints ``reboot_required`` or ``no_reboot_required``. Linux: the files package managers
#: leave (``/var/run/reboot-required[.pkgs]``), on Alpine a running kernel that is not the
#: newest installed one; FreeBSD: a running kernel that is not the installed one.
REBOOT_CHECK = (
    "case $(uname -s) in "
    "Linux) if [ -f /etc/alpine-release ]; then "
    '[ "$(uname -r)" = "$(ls -1 /lib/modules | sort -V | tail -n 1)" ]; '
    "else ! [ -f /var/run/reboot-required ] && ! [ -f /var/run/reboot-required.pkgs ]; fi;; "
    'FreeBSD) [ "$(freebsd-version -r)" = "$(freebsd-version -k)" ];; '
    "*) true;; esac && echo no_reboot_required || echo reboot_required"
)


class RebootRequired(FactBase[Any]):
    """Whether the host needs a reboot (``True``/``False``): on Linux, the files package
    managers leave (``/var/run/reboot-required``, ``.pkgs``), on Alpine a running kernel that
    is not the newest installed one; on FreeBSD a running kernel that is not the installed
    one. Other systems: ``False``."""

    shell_safe = True

    def command(self) -> str:
        return REBOOT_CHECK

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        word = stdout.decode("utf-8", "replace").strip()
        if word not in ("reboot_required", "no_reboot_required"):
            raise FactFailed(rc, f"unexpected output {word[:60]!r}")
        return word == "reboot_required"


class Uptime(FactBase[Any]):
    """Seconds since the host booted, an ``int`` (``/proc/uptime``; on FreeBSD and macOS
    the clock less ``kern.boottime``)."""

    shell_safe = True

    def command(self) -> str:
        return (
            "if [ -r /proc/uptime ]; then cut -d. -f1 /proc/uptime; "
            "else echo $(( $(date +%s) - $(sysctl -n kern.boottime | awk '{print $4}' | tr -d ',') )); fi"
        )

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        text = stdout.decode("utf-8", "replace").strip()
        if not text.isdigit() or not text.isascii():
            raise FactFailed(rc, f"not a number of seconds: {text[:60]!r}")
        return int(text)
