"""Facts about pacman packages (Arch Linux)."""

from __future__ import annotations

from typing import Any

from oxinfra import _core
from oxinfra.api import FactBase, FactFailed

__all__ = ["PacmanPackages"]


class PacmanPackages(FactBase[Any]):
    """The installed packages: ``{"name": ["version"]}``, from ``pacman -Q``, parsed by the
    core (``_core.parse_package_listing``): a line that is not ``NAME VERSION`` fails the fact."""

    shell_safe = True

    def command(self) -> str:
        return "pacman -Q"

    def default(self) -> Any:
        return {}

    def parse(self, stdout: bytes, rc: int) -> Any:
        if rc != 0:
            raise FactFailed(rc)
        return _core.parse_package_listing("pacman", stdout)
