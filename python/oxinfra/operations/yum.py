"""Manage yum packages, repositories, keys and ``.rpm`` files (RHEL and CentOS 7 and older).

Proven by fixtures only: no such host can be built here. The commands follow yum's
documented syntax: ``yum install -y``, ``yum remove -y``, ``yum update -y`` (what pyinfra's
``yum.update`` runs: it upgrades installed packages too), ``yum clean all``; a pinned
version is asked for as ``name-version`` (yum's package spec; ``name=version`` is how a deploy
pins one). Names go after ``--`` (yum reads options with optparse).
"""

from __future__ import annotations

from oxinfra.operations.util import rpm as rpm_util

__all__ = ["packages", "update", "repo", "rpm", "key"]

#: The operations dnf and yum share: pyinfra's parameters, written once in operations/util/rpm.py.
_shared = rpm_util.YumFamily("yum", __name__)
update, packages, repo, rpm, key = _shared.update, _shared.packages, _shared.repo, _shared.rpm, _shared.key
