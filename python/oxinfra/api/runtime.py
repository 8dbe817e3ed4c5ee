"""``oxinfra.inventory``, ``oxinfra.state`` and ``oxinfra.logger``: pyinfra 3's names for what
deploy code reads of the run.

- ``inventory``: the run's whole inventory (``--limit`` chooses the hosts that run, not the
  hosts deploy code may look up, as in pyinfra): ``get_host(name)``, ``get_group(name)``,
  ``get_hosts()``, ``get_data()``, ``get_host_data(name)``, ``get_group_data(name)``,
  a group's hosts as an attribute (``inventory.web_servers``), iteration and ``len()``. It is the same for every host, so reading it does not make
  deploy code host-specific (docs/architecture.md, "Compute once, reuse").
- ``state``: ``state.inventory``, ``state.config``, ``state.cwd`` and ``state.is_executing``
  (False while deploy files run, True in callbacks that run while the host executes).
- ``logger``: the ``oxinfra`` logger of :mod:`logging`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Callable, Iterator

from oxinfra.api.context import _host, current_config, current_inventory, current_recorder
from oxinfra.exceptions import DeployError

__all__ = ["inventory", "state", "logger"]

logger = logging.getLogger("oxinfra")


def _inventory() -> Any:
    found = current_inventory()
    if found is None:
        raise DeployError("`inventory` is only available while a deploy runs: use the oxinfra CLI or oxinfra.api.run()")
    if not hasattr(found, "get_group"):
        raise DeployError("`inventory` is not available in a sharded run: run with --shards 1")
    return found


class _InventoryProxy:
    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        found = _inventory()
        if not name.startswith("_") and not hasattr(found, name) and name in found.groups:
            return found.get_group(name)  # pyinfra's ``inventory.web_servers``
        return getattr(found, name)

    def __iter__(self) -> Any:
        return iter(_inventory())

    def __len__(self) -> int:
        return len(_inventory())

    def __repr__(self) -> str:
        return "<oxinfra inventory>" if current_inventory() is not None else "<inventory (no run)>"


class _State:
    """What deploy code reads of the run, under pyinfra's names."""

    __slots__ = ()

    @property
    def inventory(self) -> Any:
        return inventory

    @property
    def config(self) -> Any:
        from oxinfra.api.config import config

        return config

    @property
    def cwd(self) -> str:
        return os.getcwd()

    @property
    def is_executing(self) -> bool:
        """True while a host executes (a callback of ``python.call``), False while deploy
        files are evaluated (pyinfra: while operations are being prepared)."""
        return current_recorder() is None and _host.get() is not None

    @property
    def is_config_loaded(self) -> bool:
        return current_config() is not None

    @contextlib.contextmanager
    def preserve_loop_order(self, items: Any) -> Iterator[Callable[[], Iterator[Any]]]:
        """pyinfra 2's ``with state.preserve_loop_order(items) as loop_items:`` (gone from
        pyinfra 3): oxinfra runs each host's operations in the order its code called them,
        loops included, so this only hands the items back."""
        items = list(items)
        yield lambda: iter(items)

    def __repr__(self) -> str:
        return "<oxinfra state>"


inventory: Any = _InventoryProxy()
state: Any = _State()
