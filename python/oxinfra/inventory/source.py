"""What an inventory reader returns: the groups a source describes, before expansion.

Every reader (:mod:`oxinfra.inventory.python`, :mod:`oxinfra.inventory.ansible`, the
command line) returns an :class:`InventorySource`; :mod:`oxinfra.inventory.model` lays it
out. This module imports nothing of oxinfra, so readers and the model depend on it and not
on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GroupSpec", "InventorySource"]


@dataclass
class GroupSpec:
    """One group as a source describes it.

    ``patterns`` are host patterns, or None for a group of every host. ``host_data`` holds
    per pattern the entry's data dict (or None); ``origins`` per pattern where it was
    written (default: ``origin``). ``data`` is the group's own data.
    """

    name: str
    origin: str
    patterns: list[str] | None
    host_data: list[dict[str, Any] | None] | None = None
    origins: list[str] | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class InventorySource:
    """What a loader read: groups in ordinal order (later groups' data wins)."""

    where: str
    groups: list[GroupSpec]
    directory: str | None = None
