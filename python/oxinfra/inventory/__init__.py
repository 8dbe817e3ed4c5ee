"""Inventories: which hosts a run targets, their groups and their data.

Loading only: nothing here imports the engine that runs deploys. Readers (``python``,
``ansible``) turn a file into an :class:`InventorySource`; :func:`load_inventory` lays it out
with the Rust core into an :class:`Inventory` of :class:`Host` objects.
"""

from oxinfra.inventory.host import Host, HostData
from oxinfra.inventory.model import Inventory, load_inventory
from oxinfra.inventory.source import GroupSpec, InventorySource

__all__ = ["Inventory", "load_inventory", "Host", "HostData", "GroupSpec", "InventorySource"]


# ``from oxinfra import inventory`` in deploy code is this package (Python binds a
# subpackage to its parent's attribute), so, as pyinfra's ``inventory``, it also answers for
# the run's inventory: ``inventory.get_host(name)``, ``get_group(name)``, ``get_hosts()``,
# ``get_data()``, ``get_host_data(name)``, ``get_group_data(name)``, ``len(inventory)``,
# ``for h in inventory`` (see oxinfra.api.runtime).
import sys as _sys
import types as _types

from oxinfra.api.runtime import inventory as _running

_FORWARDED: tuple[str, ...] = ("get_host", "get_group", "get_hosts", "get_data", "get_override_data", "get_host_data")
_FORWARDED += ("get_group_data", "get_groups_data", "groups", "hosts")


def __getattr__(name: str) -> object:
    if name in _FORWARDED:
        return getattr(_running, name)
    if not name.startswith("_"):  # pyinfra's ``inventory.web_servers``: a group's hosts
        from oxinfra.api.context import current_inventory

        running = current_inventory()
        if running is not None and name in getattr(running, "groups", {}):
            return running.get_group(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _InventoryModule(_types.ModuleType):
    def __bool__(self) -> bool:  # a module is true, whatever len() would need
        return True

    def __len__(self) -> int:
        return len(_running)

    def __iter__(self) -> object:
        return iter(_running)


_sys.modules[__name__].__class__ = _InventoryModule
