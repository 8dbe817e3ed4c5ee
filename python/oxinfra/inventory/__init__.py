"""Inventories: which hosts a run targets, their groups and their data.

Loading only: nothing here imports the engine that runs deploys. Readers (``python``,
``ansible``) turn a file into an :class:`InventorySource`; :func:`load_inventory` lays it out
with the Rust core into an :class:`Inventory` of :class:`Host` objects.
"""

from oxinfra.inventory.host import Host, HostData
from oxinfra.inventory.model import Inventory, load_inventory
from oxinfra.inventory.source import GroupSpec, InventorySource

__all__ = ["Inventory", "load_inventory", "Host", "HostData", "GroupSpec", "InventorySource"]
