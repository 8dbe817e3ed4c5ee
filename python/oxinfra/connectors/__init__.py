"""Connectors: how oxinfra reaches a host. Each opens ONE persistent shell per host.

- ``ssh`` (default): asyncssh, one connection and one exec channel per host.
- ``local`` (``@local``): a local ``sh`` process.
- ``docker`` (``@docker/CONTAINER``): ``docker exec -i CONTAINER sh``.
- ``sim`` (``@sim/NAME``): a simulated host, answered in-process from an in-memory
  filesystem (no network; see :mod:`oxinfra.testing.sim`).
"""

from __future__ import annotations

from typing import Any

from oxinfra.connectors.base import Connection, Shell

__all__ = ["Connection", "Shell", "connect"]


async def connect(host: Any, settings: Any) -> Connection:
    """Connect to ``host`` with the connector its name selects; errors are ConnectError."""
    if host.connector == "local":
        from oxinfra.connectors.local import LocalConnection

        return await LocalConnection.open(["sh"])
    if host.connector == "docker":
        from oxinfra.connectors.local import LocalConnection

        return await LocalConnection.open(["docker", "exec", "-i", host.target, "sh"], what=host.name)
    if host.connector == "sim":
        from oxinfra.testing.sim import SimConnection

        return await SimConnection.open(host)
    from oxinfra.connectors.ssh import SSHConnection

    return await SSHConnection.open(host, settings)
