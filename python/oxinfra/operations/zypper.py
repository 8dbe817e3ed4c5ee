"""Manage zypper packages, repositories and ``.rpm`` files (openSUSE, SLES).

Proven by fixtures only: no such host can be built here. The commands follow zypper's
documented syntax: global options (``--non-interactive``, ``--gpg-auto-import-keys``) before
the command, ``install -y``, ``remove -y``, ``update -y``, ``clean --all``; a pinned version
as ``name=version`` (zypper's capability syntax). Names go after ``--``.
"""

from __future__ import annotations

from oxinfra.api import OperationGenerator, operation
from oxinfra.operations.util import rpm as rpm_util
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.packaging import PackageManager, option_words, split_pins
from oxinfra.quoting import command

__all__ = ["packages", "update", "repo", "rpm"]

_GLOBAL = ("--non-interactive", "--gpg-auto-import-keys")


@operation(is_idempotent=False)
def update() -> OperationGenerator:
    """Update every installed package (``zypper --non-interactive --gpg-auto-import-keys
    update -y``); runs every time.

    Example::

        zypper.update(name="Update packages")
    """
    yield command("zypper", *_GLOBAL, "update", "-y")


@operation()
def packages(
    packages: str | list[str] | None = None,
    present: bool = True,
    latest: bool = False,
    update: bool = False,
    clean: bool = False,
    extra_global_install_args: str | None = None,
    extra_install_args: str | None = None,
    extra_global_uninstall_args: str | None = None,
    extra_uninstall_args: str | None = None,
) -> OperationGenerator:
    """Install or remove packages with zypper, as ``rpm.RpmPackages`` lists them installed.

    + packages: a name or a list of names; ``name=version`` pins a version
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (every run)
    + update: ``zypper update`` first
    + clean: ``zypper clean --all`` first
    + extra_global_install_args: more global zypper options for installs (before ``install``)
    + extra_install_args: more ``install`` options
    + extra_global_uninstall_args: more global options for removals
    + extra_uninstall_args: more ``remove`` options

    Example::

        zypper.packages(name="Tools", packages=["curl", "git"])
    """
    op = "zypper.packages"
    check_flags(op, present=present, latest=latest, update=update, clean=clean)
    wanted = split_pins(op, packages)
    manager = PackageManager(
        install=(
            "zypper",
            *_GLOBAL,
            *option_words(op, "extra_global_install_args", extra_global_install_args),
            "install",
            "-y",
            *option_words(op, "extra_install_args", extra_install_args),
        ),
        uninstall=(
            "zypper",
            "--non-interactive",
            *option_words(op, "extra_global_uninstall_args", extra_global_uninstall_args),
            "remove",
            "-y",
            *option_words(op, "extra_uninstall_args", extra_uninstall_args),
        ),
        upgrade=("zypper", *_GLOBAL, "update", "-y"),
        version_join="=",
        name_pattern=rpm_util.NAME_PATTERN,
        several_versions=True,
    )
    first = [command("zypper", "clean", "--all")] if clean else []
    first += [command("zypper", *_GLOBAL, "update", "-y")] if update else []
    yield from rpm_util.ensure_rpm_packages(manager, wanted, present, latest, first)


@operation()
def repo(
    src: str,
    baseurl: str | None = None,
    present: bool = True,
    description: str | None = None,
    enabled: bool = True,
    gpgcheck: bool = True,
    gpgkey: str | None = None,
    type: str = "rpm-md",
) -> OperationGenerator:
    """A repository file ``/etc/zypp/repos.d/NAME.repo``: written from the arguments when
    ``src`` is a name, downloaded (once) when it is the URL of a ``.repo`` file.

    + src: the repository's name, or the URL of a ``.repo`` file
    + baseurl: the repository's URL (with a name)
    + present: whether the file should exist
    + description: its ``name=`` (default: the name)
    + enabled: ``enabled=1``
    + gpgcheck: ``gpgcheck=1``
    + gpgkey: the key's URL or path
    + type: the repository's type (``rpm-md``, ``yast2``, ``plaindir``)

    Example::

        zypper.repo(name="Internal", src="internal", baseurl="https://repo.example.com/leap/")
    """
    yield from rpm_util.ensure_repo_file(
        "zypper.repo", "/etc/zypp/repos.d", src, present, baseurl, description, enabled, gpgcheck, gpgkey, type
    )


@operation()
def rpm(src: str, present: bool = True) -> OperationGenerator:
    """Install (``rpm -i``) or remove (``zypper remove -y``) the package of a ``.rpm`` file,
    a path on the host or a URL (downloaded once into root's private
    ``/var/cache/oxinfra``, never ``/tmp``).

    + src: the ``.rpm``'s path or URL
    + present: whether its package should be installed

    Example::

        zypper.rpm(name="Tool", src="/srv/rpms/tool-1.0-1.x86_64.rpm")
    """
    yield from rpm_util.ensure_rpm("zypper.rpm", src, present, ("zypper", "--non-interactive", "remove", "-y"))
