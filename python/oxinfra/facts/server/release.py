"""Facts about the distribution: ``LinuxDistribution``, ``LinuxName``, ``OsRelease``, ``LsbRelease``.

Values are shaped as pyinfra 3.10's for the same host (checked against it on the container
hosts: tests/test_facts_pyinfra.py). ``LinuxDistribution`` reads every regular file
``/etc/*-release`` in one command; the framing and the ``os-release`` shell syntax are parsed
in Rust (:func:`oxinfra._core.split_release_files`, :func:`oxinfra._core.parse_os_release`).

No exit status of these facts means "absent" (``absent_status`` is empty): where a thing can
be missing (a file, ``lsb_release``, ``sestatus``, ``vmstat``) the command itself says so
(status 0 and no output); every other status fails the fact with the tool's stderr.
"""

from __future__ import annotations

import re
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed

__all__ = ["LinuxDistribution", "LinuxName", "OsRelease", "LsbRelease"]

#: Each regular file ``/etc/*-release`` (links followed): ``<byte count> <path>``, then its
#: bytes. None: no output. A file that cannot be read: exit 2 (a failure, never "absent").
RELEASE_FILES = (
    'for __ox_f in /etc/*-release; do if [ -f "$__ox_f" ]; then '
    '__ox_n=$(wc -c < "$__ox_f") && printf \'%s %s\\n\' $__ox_n "$__ox_f" && cat -- "$__ox_f" || exit 2; '
    "fi; done"
)

#: Names for the ``ID``\\ s pyinfra spells its own way; others take ``NAME``.
PRETTY_NAMES = {
    "alpine": "Alpine",
    "centos": "CentOS",
    "fedora": "Fedora",
    "gentoo": "Gentoo",
    "opensuse": "openSUSE",
    "rhel": "RedHat",
    "ubuntu": "Ubuntu",
    "debian": "Debian",
}
#: Release files that name no distribution.
_NOT_DISTRO_FILES = frozenset(
    {
        "debian_version",
        "lsb-release",
        "oem-release",
        "os-release",
        "system-release",
        "plesk-release",
        "iredmail-release",
        "board-release",
        "ec2_version",
    }
)
_DISTRO_FILE = re.compile(r"(\w+)[-_](release|version)$")
#: A distro release file's first line, read backwards: ``<name> [release] <version> [(<codename>)]``.
_RELEASE_LINE_REVERSED = re.compile(r"(?:[^)]*\)(.*)\()? *(?:STL )?([\d.+\-a-z]*\d) *(?:esaeler *)?(.+)")
_VERSION = re.compile(r"(\d+)\.?(\d+)?\.?(\d+)?")
_OS_IDS = {"ol": "oracle", "opensuse-leap": "opensuse"}
_DISTRO_IDS = {"redhat": "rhel"}


def _release_line(line: str) -> dict[str, str]:
    """``name``, ``version_id``, ``codename`` of a release line (``CentOS Linux release 7.9.2009 (Core)``)."""
    found = _RELEASE_LINE_REVERSED.match(line.strip()[::-1])
    if found:
        info = {"name": found.group(3)[::-1]}
        if found.group(2):
            info["version_id"] = found.group(2)[::-1]
        if found.group(1):
            info["codename"] = found.group(1)[::-1]
        return info
    return {"name": line.strip()} if line else {}


def _distro_file_info(files: dict[str, str]) -> dict[str, str]:
    """What the first distro release file (by name) that names a distribution says."""
    for basename in sorted(b for b in files if b not in _NOT_DISTRO_FILES):
        match = _DISTRO_FILE.match(basename)
        if match is None:
            continue
        first = files[basename].split("\n", 1)
        line = first[0] + ("\n" if len(first) > 1 else "")
        info = _release_line(line)
        if "name" not in info:
            continue
        info["id"] = match.group(1)
        if "cloudlinux" in info["name"].lower():
            info["id"] = "cloudlinux"
        return info
    return {}


def _normal_id(value: str, table: dict[str, str]) -> str:
    value = value.lower().replace(" ", "_")
    return table.get(value, value)


def _as_int(text: str) -> int | None:
    return int(text) if text else None


class LinuxDistribution(FactBase[Any]):
    """The Linux distribution: ``name``, ``major`` and ``minor`` version (ints or ``None``),
    and ``release_meta``, the variables of ``/etc/os-release`` with upper-case keys (plus
    ``CODENAME``), as pyinfra gives them::

        {"name": "Debian", "major": 12, "minor": None,
         "release_meta": {"ID": "debian", "VERSION_ID": "12", "CODENAME": "bookworm", ...}}

    The version is the most precise one of ``VERSION_ID``, the version in a distribution's
    own release file (``/etc/centos-release``: ``CentOS Linux release 8.5.2111``) and the one
    in ``PRETTY_NAME``. No release file: ``name``, ``major``, ``minor`` ``None`` and
    ``release_meta`` ``{}``. Files that cannot be read, and an ``os-release`` a shell could not
    read (an unclosed quote), fail the fact. (pyinfra 3.10 splits its command's output at every
    ``---``: a release file holding one reads differently there.)
    """

    def command(self) -> str:
        return RELEASE_FILES

    def default(self) -> Any:
        return {"name": None, "major": None, "minor": None, "release_meta": {}}

    def parse(self, stdout: bytes, rc: int) -> Any:
        return self._distribution(stdout, rc)

    def _distribution(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc, f"exit {rc}: a release file could not be read")
        files: dict[str, str] = {}
        for path, body in _core.split_release_files(stdout):
            # As pyinfra reads them: trailing blanks dropped, a file of blanks skipped, and
            # (read back from a file in text mode) \r\n and \r taken for \n.
            text = body.decode("utf-8", "replace").rstrip().replace("\r\n", "\n").replace("\r", "\n")
            if text:
                files[path.rsplit("/", 1)[-1]] = text
        value = LinuxDistribution.default(self)
        if not files:
            return value
        os_release = dict(_core.parse_os_release(files["os-release"])) if "os-release" in files else {}
        distro = _distro_file_info(files)
        if os_release.get("id"):
            distro_id = _normal_id(os_release["id"], _OS_IDS)
        elif distro.get("id"):
            distro_id = _normal_id(distro["id"], _DISTRO_IDS)
        else:
            distro_id = ""
        name = os_release.get("name") or distro.get("name") or ""
        candidates = [
            os_release.get("version_id", ""),
            distro.get("version_id", ""),
            _release_line(os_release.get("pretty_name", "")).get("version_id", ""),
        ]
        version = ""
        for candidate in candidates:  # the last of the most precise
            if version == "" or candidate.count(".") > version.count("."):
                version = candidate
        parts = _VERSION.match(version)
        value["name"] = PRETTY_NAMES.get(distro_id, name)
        value["major"] = _as_int(parts.group(1)) if parts else None
        value["minor"] = _as_int(parts.group(2) or "") if parts else None
        value["release_meta"] = {k.upper(): v for k, v in os_release.items() if k != "release_codename"}
        return value


class LinuxName(LinuxDistribution):
    """The name of the Linux distribution (``Debian``, ``Ubuntu``, ``CentOS``...): the
    ``name`` of :class:`LinuxDistribution`; ``None`` without release files."""

    def default(self) -> Any:
        return None

    def parse(self, stdout: bytes, rc: int) -> Any:
        return self._distribution(stdout, rc)["name"]


class OsRelease(FactBase[Any]):
    """The variables of ``/etc/os-release`` as pyinfra reads them: each line with an ``=``,
    the key lower-cased, the value stripped of blanks and double quotes::

        {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)", ...}

    ``None`` when there is no ``/etc/os-release``; one that cannot be read fails the fact.
    """

    shell_safe = True

    def command(self) -> str:
        # No file (proven: -e and -L both false): nothing printed, status 0.
        return "if [ -e /etc/os-release ] || [ -L /etc/os-release ]; then cat /etc/os-release; fi"

    def process(self, output: list[str]) -> Any:
        items = {}
        for line in output:
            if "=" in line:
                key, value = line.split("=", 1)
                items[key.strip().lower()] = value.strip().strip('"')
        return items


class LsbRelease(FactBase[Any]):
    """What ``lsb_release -ca`` says, keys lower-cased and shortened to their last word::

        {"id": "Ubuntu", "description": "Ubuntu 22.04.4 LTS", "release": "22.04", "codename": "jammy"}

    ``None`` when ``lsb_release`` is not installed (as on a minimal Debian); its own failure
    fails the fact.
    """

    shell_safe = True

    def command(self) -> str:
        # Not installed: nothing printed, status 0.
        return "if command -v lsb_release >/dev/null 2>&1; then lsb_release -ca; fi"

    def process(self, output: list[str]) -> Any:
        items = {}
        for line in output:
            if ":" not in line:
                continue
            key, value = line.split(":", 1)
            key = key.strip().lower()
            items[key.split(" ")[-1]] = value.strip()
        return items
