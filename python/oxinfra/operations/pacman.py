"""Manage pacman packages (Arch Linux).

Proven by fixtures only: no Arch host can be built here. The commands follow pacman's
documented syntax (``pacman --noconfirm -S`` to install, ``-R`` to remove, ``-Sy`` to
refresh the databases, ``-Su`` to upgrade); names go after ``--`` (pacman reads options with
getopt_long). pacman takes no versions on its command line. Package groups are not expanded
(pyinfra reads their members with ``pacman -Sg``): name the group's packages.
"""

from __future__ import annotations

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation
from oxinfra.facts.pacman import PacmanPackages
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.packaging import PackageManager, check_packages, ensure_packages, split_pins
from oxinfra.quoting import command

__all__ = ["packages", "update", "upgrade"]

#: Arch package names: letters, digits and ``@._+-``, not starting with ``-`` or ``.``.
NAME_PATTERN = r"[A-Za-z0-9@_+][A-Za-z0-9@._+-]*"
PACMAN = PackageManager(
    install=("pacman", "--noconfirm", "-S"),
    uninstall=("pacman", "--noconfirm", "-R"),
    version_join=None,
    name_pattern=NAME_PATTERN,
)


@operation(is_idempotent=False)
def update() -> OperationGenerator:
    """Refresh the package databases (``pacman -Sy``); runs every time.

    Example::

        pacman.update(name="Refresh pacman databases")
    """
    yield command("pacman", "-Sy")


@operation(is_idempotent=False)
def upgrade() -> OperationGenerator:
    """Upgrade every installed package (``pacman --noconfirm -Su``); runs every time.

    Example::

        pacman.upgrade(name="Upgrade packages")
    """
    yield command("pacman", "--noconfirm", "-Su")


@operation()
def packages(
    packages: str | list[str] | None = None, present: bool = True, update: bool = False, upgrade: bool = False
) -> OperationGenerator:
    """Install or remove pacman packages, as ``pacman.PacmanPackages`` lists them installed.

    + packages: a name or a list of names
    + present: whether the packages should be installed
    + update: ``pacman -Sy`` first
    + upgrade: ``pacman --noconfirm -Su`` first

    Example::

        pacman.packages(name="Tools", packages=["curl", "git"], update=True)
    """
    op = "pacman.packages"
    check_flags(op, present=present, update=update, upgrade=upgrade)
    wanted = split_pins(op, packages)
    check_packages(PACMAN, wanted)
    (current,) = get_facts(host, [(PacmanPackages, {})])
    if update:
        yield command("pacman", "-Sy")
    if upgrade:
        yield command("pacman", "--noconfirm", "-Su")
    if wanted:
        yield from ensure_packages(PACMAN, wanted, current, present)
    elif not update and not upgrade:
        noop("no packages given")
