"""``server.packages``: install or remove packages with the host's own package manager."""

from __future__ import annotations

from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.server import Which
from oxinfra.operations import apk, apt, dnf, pacman, yum, zypper

__all__ = ["packages"]

#: Package managers in the order they are looked for, and the operation each one means.
#: pyinfra's order (zypper first: openSUSE also ships an apt), less brew, xbps and pkg, which
#: oxinfra has no family for.
#: (program, its packages operation): each operation takes packages= and present=.
MANAGERS: tuple[tuple[str, Any], ...] = (
    ("zypper", zypper.packages),
    ("apk", apk.packages),
    ("apt-get", apt.packages),
    ("dnf", dnf.packages),
    ("pacman", pacman.packages),
    ("yum", yum.packages),
)


@operation(
    fact_batches=2,
    fact_batches_reason="which package manager the host has decides which family's facts to read",
)
def packages(packages: str | list[str], present: bool = True) -> OperationGenerator:
    """Install or remove packages with whichever package manager the host has (zypper, apk,
    apt-get, dnf, pacman or yum, looked for in that order, as pyinfra does); the family's
    ``packages`` operation does the work (``apt.packages`` on Debian).

    + packages: a name or a list of names (``name=version`` pins a version where the tool
      takes one)
    + present: whether the packages should be installed

    Example::

        server.packages(name="Tools", packages=["curl", "git"])
    """
    if isinstance(packages, str):
        packages = [packages]
    if not isinstance(packages, (list, tuple)) or not all(isinstance(p, str) and p for p in packages):
        raise OperationValueError(f"server.packages: packages= must be a name or a list of names, not {packages!r}")
    if not isinstance(present, bool):
        raise OperationValueError(f"server.packages: present= must be True or False, not {present!r}")
    found = get_facts(host, [(Which, {"command": program}) for program, _op in MANAGERS])
    for (program, op), path in zip(MANAGERS, found):
        if path:
            yield from op._inner(packages=list(packages), present=present)
            return
    raise OperationError(
        "server.packages: no package manager found on the host (looked for "
        + ", ".join(program for program, _op in MANAGERS)
        + ")"
    )
