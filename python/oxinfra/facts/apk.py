"""Facts about apk packages (Alpine Linux)."""

from __future__ import annotations

from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed

__all__ = ["ApkPackages"]


class ApkPackages(FactBase[Any]):
    """The installed packages: ``{"name": ["version-rN"]}``, from ``apk list --installed``
    (``NAME-VERSION-rN ARCH {ORIGIN} (LICENSE) [installed]``), parsed by the core
    (``_core.parse_package_listing``): a line of another shape fails the fact."""

    shell_safe = True

    def command(self) -> str:
        return "apk list --installed"

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        return _core.parse_package_listing("apk", stdout)
