"""Facts about rpm packages (RHEL, Fedora, SUSE...): what rpm has installed, what a ``.rpm``
file holds."""

from __future__ import annotations

from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed
from oxinfra.quoting import command, file_test, if_then

__all__ = ["RpmPackages", "RpmPackage", "RPM_QUERY_FORMAT"]

#: One line per package: its name and ``VERSION-RELEASE``.
RPM_QUERY_FORMAT = "%{NAME} %{VERSION}-%{RELEASE}\\n"


class RpmPackages(FactBase[Any]):
    """The installed rpm packages: ``{"name": ["version-release"]}`` (several for a package
    installed at several versions, as kernels are), from ``rpm -qa``, parsed by the core
    (``_core.parse_package_listing``): a line that is not ``NAME VERSION`` fails the fact."""

    shell_safe = True

    def command(self) -> str:
        return command("rpm", "--queryformat", RPM_QUERY_FORMAT, "-qa")

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        return _core.parse_package_listing("rpm", stdout)


class RpmPackage(FactBase[Any]):
    """``{"name": ..., "version": ...}`` of an installed package or of a ``.rpm`` file;
    ``None`` when there is no such package (or, for a path, no such file).

    A ``package`` with a ``/`` ending in ``.rpm`` is a file on the host (``rpm -qp``);
    anything else a package name (``rpm -q``, which exits 1 for one not installed).
    """

    shell_safe = True
    absent_status = frozenset({1})

    def command(self, package: str) -> str:
        if "/" in package and package.endswith(".rpm"):
            query = command("rpm", "--queryformat", RPM_QUERY_FORMAT, "-qp", "--", package)
            return if_then(file_test("-f", package), query, "false")
        return command("rpm", "--queryformat", RPM_QUERY_FORMAT, "-q", "--", package)

    def process(self, output: list[str]) -> Any:
        fields = output[0].split(" ")
        if len(fields) != 2 or not all(fields):
            raise FactFailed(0, f"not NAME VERSION-RELEASE: {output[0][:120]!r}")
        return {"name": fields[0], "version": fields[1]}
