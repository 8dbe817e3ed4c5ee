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
from oxinfra.quoting import command

__all__ = ["packages", "update", "repo", "rpm", "key", "module"]

#: A module or stream name as dnf lists them (no spaces, no ``:`` or ``/``, which separate
#: name, stream and profile in a module spec).
_MODULE_WORD = re.compile(r"[A-Za-z0-9_.+-]+\Z")


#: The operations dnf and yum share: pyinfra's parameters, written once in operations/util/rpm.py.
_shared = rpm_util.YumFamily("dnf", __name__)
update, packages, repo, rpm, key = _shared.update, _shared.packages, _shared.repo, _shared.rpm, _shared.key


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
