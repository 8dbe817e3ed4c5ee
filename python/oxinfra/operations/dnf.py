"""Manage dnf packages, repositories, keys and ``.rpm`` files (Fedora, RHEL 8+).

Proven by fixtures only: no such host can be built here. The commands follow dnf's
documented syntax: ``dnf install -y``, ``dnf remove -y``, ``dnf update -y`` (what pyinfra's
``dnf.update`` runs: it upgrades installed packages too), ``dnf clean all``; a pinned
version is asked for as ``name-version`` (dnf's package spec; pyinfra writes ``name=version``,
which dnf does not read as a version: ``name=version`` is still how a deploy pins one).
Names go after ``--`` (dnf reads options with argparse).
"""

from __future__ import annotations

import re

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.dnf import DnfDisabledModules, DnfEnabledModules
from oxinfra.operations.util import rpm as rpm_util
from oxinfra.operations.util.rpm import family_packages, import_key
from oxinfra.quoting import command

__all__ = ["packages", "update", "repo", "rpm", "key", "module"]

#: A module or stream name as dnf lists them (no spaces, no ``:`` or ``/``, which separate
#: name, stream and profile in a module spec).
_MODULE_WORD = re.compile(r"[A-Za-z0-9_.+-]+\Z")


@operation(is_idempotent=False)
def update() -> OperationGenerator:
    """Update every installed package (``dnf update -y``); runs every time.

    Example::

        dnf.update(name="Update packages")
    """
    yield command("dnf", "update", "-y")


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
    """Install or remove packages with dnf, as ``rpm.RpmPackages`` lists them installed.

    + packages: a name or a list of names; ``name=version`` pins a version
    + present: whether the packages should be installed
    + latest: also upgrade installed packages asked for without a version (every run)
    + update: ``dnf update -y`` first
    + clean: ``dnf clean all`` first
    + nobest: let dnf pick another than the newest candidate (``--nobest``)
    + extra_install_args: more dnf options for installs (words, each quoted)
    + extra_uninstall_args: the same for removals

    Example::

        dnf.packages(name="Tools", packages=["curl", "git"])
    """
    yield from family_packages(
        "dnf.packages",
        "dnf",
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

        dnf.repo(name="Internal", src="internal", baseurl="https://repo.example.com/el9/")
    """
    yield from rpm_util.ensure_repo_file(
        "dnf.repo", "/etc/yum.repos.d", src, present, baseurl, description, enabled, gpgcheck, gpgkey
    )


@operation()
def rpm(src: str, present: bool = True) -> OperationGenerator:
    """Install (``rpm -i``) or remove (``dnf remove -y``) the package of a ``.rpm`` file, a
    path on the host or a URL (downloaded once into root's private
    ``/var/cache/oxinfra``, never ``/tmp``).

    + src: the ``.rpm``'s path or URL
    + present: whether its package should be installed

    Example::

        dnf.rpm(name="Tool", src="https://example.com/tool-1.0-1.x86_64.rpm")
    """
    yield from rpm_util.ensure_rpm("dnf.rpm", src, present, ("dnf", "remove", "-y"))


@operation(is_idempotent=False)
def key(src: str) -> OperationGenerator:
    """Import a signing key into rpm's database (``rpm --import``); runs every time.

    + src: the key's path on the host or URL

    Example::

        dnf.key(name="Vendor key", src="https://example.com/RPM-GPG-KEY-vendor")
    """
    yield from import_key("dnf.key", src)


@operation()
def module(module: str, stream: str | None = None, enabled: bool = True) -> OperationGenerator:
    """Enable a module stream (``dnf module enable -y -- MODULE:STREAM``) or disable a
    module (``dnf module disable -y -- MODULE``), as ``dnf.DnfEnabledModules`` /
    ``dnf.DnfDisabledModules`` list them (one fact, read with the others of the run).

    + module: the module's name
    + stream: the stream to enable; required with ``enabled=True``, not read otherwise
    + enabled: True to enable ``stream``; False to disable the module (all its streams)

    dnf refuses to switch to another stream while packages of the enabled one are installed:
    remove them (or ``dnf module reset``) first; that failure is dnf's, reported as is.

    Example::

        dnf.module(name="PostgreSQL 16", module="postgresql", stream="16")
        dnf.module(name="No ruby module", module="ruby", enabled=False)
    """
    if not isinstance(module, str) or not _MODULE_WORD.match(module) or module.startswith("-"):
        raise OperationValueError(
            f"dnf.module: module= must be a module's name (letters, digits, ._+-), not {module!r}"
        )
    if not isinstance(enabled, bool):
        raise OperationValueError(f"dnf.module: enabled= must be True or False, not {enabled!r}")
    if enabled:
        if stream is None:
            raise OperationValueError("dnf.module: stream= is required with enabled=True (the stream to enable)")
        if not isinstance(stream, str) or not _MODULE_WORD.match(stream) or stream.startswith("-"):
            raise OperationValueError(
                f"dnf.module: stream= must be a stream's name (letters, digits, ._+-), not {stream!r}"
            )
        (enabled_streams,) = get_facts(host, [(DnfEnabledModules, {})])
        if enabled_streams.get(module) == stream:
            noop(f"dnf module {module}:{stream} is enabled")
            return
        yield command("dnf", "module", "enable", "-y", "--", f"{module}:{stream}")
        return
    (disabled,) = get_facts(host, [(DnfDisabledModules, {})])
    if module in disabled:
        noop(f"dnf module {module} is disabled")
        return
    yield command("dnf", "module", "disable", "-y", "--", module)
