"""Facts about Debian packages: what dpkg has installed, what a ``.deb`` archive holds, the
architecture apt sources are for."""

from __future__ import annotations

import re
from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed
from oxinfra.quoting import command, file_test, if_then

__all__ = ["DebArch", "DebPackages", "DebPackage", "DPKG_LISTING_FORMAT"]

#: What ``dpkg-query -W`` prints per package for :class:`DebPackages`: its status letters
#: (``ii``: wanted and installed; ``hi``: held and installed), name (no architecture) and version.
DPKG_LISTING_FORMAT = "${db:Status-Abbrev}\\t${Package}\\t${Version}\\n"

_FIELD = re.compile(r"^\s*(Package|Version):\s+(\S+)\s*$")


class DebArch(FactBase[Any]):
    """The architecture apt sources are for, as ``dpkg --print-architecture`` prints it
    (``amd64``)."""

    shell_safe = True

    def command(self) -> str:
        return "dpkg --print-architecture"

    def process(self, output: list[str]) -> Any:
        return output[0].strip() or None


class DebPackages(FactBase[Any]):
    """The installed dpkg packages: ``{"name": ["version"]}`` (several versions for a package
    installed for several architectures), as ``dpkg -l`` shows them installed (``ii`` or held,
    ``hi``). Read with ``dpkg-query -W`` (no column truncation, no descriptions) and parsed by
    the core (``_core.parse_package_listing``): a line it cannot read fails the fact, it is
    never skipped. Versions are sorted lists where pyinfra gives sets (equal as JSON)."""

    shell_safe = True

    def command(self) -> str:
        return command("dpkg-query", "-W", "-f", DPKG_LISTING_FORMAT)

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        return _core.parse_package_listing("dpkg", stdout)


class DebPackage(FactBase[Any]):
    """``{"name": ..., "version": ...}`` of a ``.deb`` archive or an installed package;
    ``None`` when there is no such archive and no such package in dpkg's database.

    A ``package`` ending in ``.deb`` that names a file on the host is read as an archive
    (``dpkg-deb -f``); such a path (it has a ``/``) that is not a file there gives ``None``.
    Anything else is the name of a package dpkg knows (``dpkg-query -s``, which also knows a
    removed package whose configuration files remain).
    """

    shell_safe = True
    #: dpkg-query -s: 1 when it knows no such package (its own errors exit 2).
    absent_status = frozenset({1})

    def command(self, package: str) -> str:
        query = command("dpkg-query", "-s", "--", package)
        if not package.endswith(".deb"):
            return query
        archive = command("dpkg-deb", "-f", "--", package, "Package", "Version")
        # a path (with a /) is no package name: not a file there means absent (exit 1)
        return if_then(file_test("-f", package), archive, "false" if "/" in package else query)

    def process(self, output: list[str]) -> Any:
        data: dict[str, str] = {}
        for line in output:
            match = _FIELD.match(line)
            if match:
                data.setdefault(match.group(1).lower().replace("package", "name"), match.group(2))
        return data or None
