"""Manage yum packages, repositories, keys and ``.rpm`` files (RHEL and CentOS 7 and older).

Proven by fixtures only: no such host can be built here. The commands follow yum's
documented syntax: ``yum install -y``, ``yum remove -y``, ``yum update -y`` (what pyinfra's
``yum.update`` runs: it upgrades installed packages too), ``yum clean all``; a pinned
version is asked for as ``name-version`` (yum's package spec; ``name=version`` is how a deploy
pins one). Names go after ``--`` (yum reads options with optparse).
"""

from __future__ import annotations

from oxinfra.api import OperationGenerator, operation
from oxinfra.operations.util import rpm as rpm_util
from oxinfra.operations.util.rpm import family_packages, import_key
from oxinfra.quoting import command

__all__ = ["packages", "update", "repo", "rpm", "key"]


@operation(is_idempotent=False)
def update() -> OperationGenerator:
    """Update every installed package (``yum update -y``); runs every time.

    Example::

        yum.update(name="Update packages")
    """
    yield command("yum", "update", "-y")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    clean: bool = False,
    nobest: bool = False,
    extra_install_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> OperationGenerator:
    """Install or remove packages with yum, as ``rpm.RpmPackages`` lists them installed.

    + packages: a name or a list of names; ``name=version`` pins a version
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (every run)
    + update: ``yum update -y`` first
    + clean: ``yum clean all`` first
    + nobest: let yum pick another than the newest candidate (``--nobest``)
    + extra_install_args: more yum options for installs (words, each quoted)
    + extra_uninstall_args: the same for removals

    Example::

        yum.packages(name="Tools", packages=["curl", "git"])
    """
    yield from family_packages(
        "yum.packages",
        "yum",
        packages,
        present,
        latest,
        update,
        clean,
        nobest,
        extra_install_args,
        extra_uninstall_args,
    )


@operation()
def repo(
    src: str,
    present: bool = True,
    baseurl: str | None = None,
    description: str | None = None,
    enabled: bool = True,
    gpgcheck: bool = True,
    gpgkey: str | None = None,
) -> OperationGenerator:
    """A repository file ``/etc/yum.repos.d/NAME.repo``: written from the arguments when
    ``src`` is a name, downloaded (once) when it is the URL of a ``.repo`` file.

    + src: the repository's name, or the URL of a ``.repo`` file
    + present: whether the file should exist
    + baseurl: the repository's URL (with a name)
    + description: its ``name=`` (default: the name)
    + enabled: ``enabled=1``
    + gpgcheck: ``gpgcheck=1``
    + gpgkey: the key's URL or path (several separated by spaces)

    Example::

        yum.repo(name="Internal", src="internal", baseurl="https://repo.example.com/el9/")
    """
    yield from rpm_util.ensure_repo_file(
        "yum.repo", "/etc/yum.repos.d", src, present, baseurl, description, enabled, gpgcheck, gpgkey
    )


@operation()
def rpm(src: str, present: bool = True) -> OperationGenerator:
    """Install (``rpm -i``) or remove (``yum remove -y``) the package of a ``.rpm`` file, a
    path on the host or a URL (downloaded once into root's private
    ``/var/cache/oxinfra``, never ``/tmp``).

    + src: the ``.rpm``'s path or URL
    + present: whether its package should be installed

    Example::

        yum.rpm(name="Tool", src="https://example.com/tool-1.0-1.x86_64.rpm")
    """
    yield from rpm_util.ensure_rpm("yum.rpm", src, present, ("yum", "remove", "-y"))


@operation(is_idempotent=False)
def key(src: str) -> OperationGenerator:
    """Import a signing key into rpm's database (``rpm --import``); runs every time.

    + src: the key's path on the host or URL

    Example::

        yum.key(name="Vendor key", src="https://example.com/RPM-GPG-KEY-vendor")
    """
    yield from import_key("yum.key", src)
