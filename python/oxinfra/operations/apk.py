"""Manage apk packages (Alpine Linux).

Proven by fixtures only: no Alpine host can be built here. The commands follow apk-tools'
documented syntax (``apk add``, ``apk del``, ``apk upgrade``, ``apk update``; a version
pinned as ``name=version``); names go after ``--`` (apk reads options with getopt_long).
"""

from __future__ import annotations

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation
from oxinfra.facts.apk import ApkPackages
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.packaging import PackageManager, check_packages, ensure_packages, split_pins
from oxinfra.quoting import command

__all__ = ["packages", "update", "upgrade"]

#: Alpine package names: letters (lower-case by Alpine policy), digits and ``._+-``, starting with a letter or digit.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
APK = PackageManager(
    install=("apk", "add"),
    uninstall=("apk", "del"),
    upgrade=("apk", "upgrade"),
    version_join="=",
    name_pattern=NAME_PATTERN,
)


@operation(is_idempotent=False)
def update() -> OperationGenerator:
    """Update the package indexes (``apk update``); runs, and counts as a change, every time.

    Example::

        apk.update(name="Update apk indexes")
    """
    yield command("apk", "update")


@operation(is_idempotent=False)
def upgrade(available: bool = False) -> OperationGenerator:
    """Upgrade every installed package (``apk upgrade``); runs every time.

    + available: also replace packages with the repositories' versions when they differ
      (``--available``)

    Example::

        apk.upgrade(name="Upgrade packages")
    """
    check_flags("apk.upgrade", available=available)
    yield command("apk", "upgrade", *(["--available"] if available else []))


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    upgrade: bool = False,
) -> OperationGenerator:
    """Install or remove apk packages, as ``apk.ApkPackages`` lists them installed.

    + packages: a name or a list of names; ``name=version`` pins a version
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (every run)
    + update: ``apk update`` first
    + upgrade: ``apk upgrade`` first

    Example::

        apk.packages(name="Tools", packages=["curl", "git"], update=True)
    """
    op = "apk.packages"
    check_flags(op, present=present, latest=latest, update=update, upgrade=upgrade)
    wanted = split_pins(op, packages)
    check_packages(APK, wanted)
    (current,) = get_facts(host, [(ApkPackages, {})])
    # a pin without the package release (musl=1.2.4) is met by 1.2.4-r2
    current = {n: [*vs, *(v.rsplit("-r", 1)[0] for v in vs if "-r" in v)] for n, vs in current.items()}
    if update:
        yield command("apk", "update")
    if upgrade:
        yield command("apk", "upgrade")
    if wanted:
        yield from ensure_packages(APK, wanted, current, present, latest)
    elif not update and not upgrade:
        noop("no packages given")
