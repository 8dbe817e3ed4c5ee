"""Connectors: how oxinfra reaches a host. Each opens ONE persistent shell per host.

- ``ssh`` (default): asyncssh, one connection and one exec channel per host.
- ``local`` (``@local``): a local ``sh`` process.
- ``docker`` (``@docker/CONTAINER``): ``docker exec -i CONTAINER sh``.
- ``sim`` (``@sim/NAME``): a simulated host, answered in-process from an in-memory
  filesystem (no network; a test and benchmark instrument, see :mod:`oxinfra.testing.sim`).

They are found through one table, :mod:`oxinfra.connectors.registry`; what they share is in
:mod:`oxinfra.connectors.base` (the shell, the connection, the per-run settings).
"""

from __future__ import annotations

from oxinfra.connectors.registry import connect

__all__ = ["connect"]
