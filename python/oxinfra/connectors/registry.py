"""Connectors by name: the one table that says how a host is reached.

A host named ``@NAME`` or ``@NAME/TARGET`` uses connector ``NAME``; any other host uses its
``connector`` data (``ansible_connection=local`` sets it), else SSH to its name. Each entry
names the function that opens a connection -- ``async (host, settings) -> Connection`` --
as ``"module:attribute"``, imported on first use: the SSH library is loaded only when a host
is reached over SSH, the shell simulator only for ``@sim`` hosts.

This module imports nothing of oxinfra but its errors: the inventory checks names against
it, the engine connects through it.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from oxinfra.exceptions import InventoryError

__all__ = ["Connector", "CONNECTORS", "DEFAULT", "connect", "connector_of"]


class Connector(NamedTuple):
    #: ``"module:attribute"`` of ``async (host, settings) -> Connection``.
    opener: str
    #: ``@NAME`` needs a ``/TARGET`` (``@local`` does not: it is this machine).
    needs_target: bool
    #: File descriptors a connected host holds (a socket; three pipes; none when simulated).
    descriptors: int
    #: Runs that change the host take its lock (oxinfra._engine.lock); a simulated host has none.
    host_lock: bool = True


CONNECTORS: dict[str, Connector] = {
    "local": Connector("oxinfra.connectors.local:open_local", False, 3),
    "ssh": Connector("oxinfra.connectors.ssh:SSHConnection.open", True, 1),
    "docker": Connector("oxinfra.connectors.local:open_docker", True, 3),
    # The shell simulator, a test and benchmark instrument (oxinfra.testing.sim).
    "sim": Connector("oxinfra.testing.sim:SimConnection.open", True, 0, host_lock=False),
}
DEFAULT = "ssh"

_openers: dict[str, Any] = {}


def connector_of(name: str, data: Any) -> tuple[str, str]:
    """``(connector, target)`` for a host: from an ``@connector/target`` name, else from the
    ``connector`` data key (e.g. set by ``ansible_connection=local``), else ssh to the name."""
    if name.startswith("@"):
        connector, _, target = name[1:].partition("/")
        spec = CONNECTORS.get(connector)
        if spec is None:
            raise InventoryError(f"unknown connector in {name!r}: use {_spellings()}")
        if spec.needs_target and not target:
            raise InventoryError(f"{name!r} names no target: write @{connector}/NAME")
        return connector, target or "localhost"
    connector = data.get("connector", DEFAULT)
    spec = CONNECTORS.get(connector)
    if spec is None:
        raise InventoryError(f"host {name!r} has data connector={connector!r}: use one of {', '.join(CONNECTORS)}")
    return connector, name if spec.needs_target else "localhost"


#: How each connector's hosts are written, for messages (``@sim``: the simulator).
_TARGETS = {"ssh": "HOST", "docker": "CONTAINER", "sim": "NAME"}


def _spellings() -> str:
    names = [f"@{n}/{_TARGETS.get(n, 'NAME')}" if c.needs_target else f"@{n}" for n, c in CONNECTORS.items()]
    return ", ".join(names[:-1]) + " or " + names[-1]


async def connect(host: Any, settings: Any) -> Any:
    """Connect to ``host`` with the connector its name selects; errors are ConnectError."""
    opener: Any = _openers.get(host.connector)
    if opener is None:
        module, _, attribute = CONNECTORS[host.connector].opener.partition(":")
        opener = importlib.import_module(module)
        for part in attribute.split("."):
            opener = getattr(opener, part)
        _openers[host.connector] = opener
    return await opener(host, settings)
