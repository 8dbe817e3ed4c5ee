"""Inventories: which hosts a run targets, their groups and their data.

Accepted forms (``oxinfra INVENTORY ...``):

- a Python file: every module-level list or tuple is a group; an entry is ``"host"`` or
  ``("host", {data})``; a group may be ``([hosts...], {group data})``. The file's own name
  is a group of all its hosts, and so is ``all``.
- a comma-separated list of hosts: ``web1,web2``;
- ``@local``, ``@docker/NAME``, ``@ssh/HOST``.

Host names may hold ranges, expanded by the Rust core: ``web[01:03].example.com``.
Data precedence, highest first: ``--data`` overrides, host data, group data (groups in the
order the file defines them; later wins), ``all`` data.
"""

from __future__ import annotations

import fnmatch
import os
import runpy
from typing import Any, Iterable

from oxinfra import _core
from oxinfra.api.host import Host
from oxinfra.exceptions import HostPatternError, InventoryError

__all__ = ["Inventory", "load_inventory"]


class Inventory:
    """The hosts of a run, in inventory order, with their groups."""

    def __init__(self, hosts: list[Host], groups: dict[str, list[str]]) -> None:
        self.hosts = hosts
        self.groups = groups
        self._by_name = {h.name: h for h in hosts}

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.hosts)

    def get_host(self, name: str) -> Host | None:
        return self._by_name.get(name)

    def get_group(self, name: str) -> list[Host]:
        return [self._by_name[n] for n in self.groups.get(name, [])]

    def limit(self, patterns: Iterable[str]) -> "Inventory":
        """Keep the hosts named by any pattern: a group name, or a glob on host names."""
        chosen: set[str] = set()
        for pattern in patterns:
            for part in (p.strip() for p in pattern.split(",")):
                if not part:
                    continue
                if part in self.groups:
                    chosen.update(self.groups[part])
                    continue
                names = _expand(part, "--limit")
                matched = [h.name for h in self.hosts if any(fnmatch.fnmatchcase(h.name, n) for n in names)]
                if not matched:
                    raise InventoryError(f"--limit {part!r} matches no host or group in the inventory")
                chosen.update(matched)
        return Inventory([h for h in self.hosts if h.name in chosen], self.groups)


def _expand(pattern: str, where: str) -> list[str]:
    if "[" not in pattern:
        return [pattern]
    try:
        return list(_core.expand_host_pattern(pattern))
    except HostPatternError as exc:
        raise InventoryError(f"{where}: {exc}") from None


def _entries(value: Any) -> tuple[list[Any], dict[str, Any]] | None:
    """A group value: (entries, group data), or None when the value is not a group."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (list, tuple)) and isinstance(value[1], dict):
        return list(value[0]), dict(value[1])
    if isinstance(value, (list, tuple)) and all(isinstance(e, (str, tuple)) for e in value) and value:
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict):
            return None  # a lone ("host", {data}) tuple is not a group
        return list(value), {}
    return None


def load_inventory(spec: str, overrides: dict[str, Any] | None = None) -> Inventory:
    """Load an inventory from a Python file, a comma list or an ``@connector`` name."""
    overrides = overrides or {}
    if spec.endswith(".py") or os.path.isfile(spec):
        return _from_file(spec, overrides)
    if not spec.strip():
        raise InventoryError("the inventory is empty: name a file, hosts separated by commas, or @local")
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {"all": []}
    for part in spec.split(","):
        part = part.strip()
        if part:
            for name in _expand(part, "inventory"):
                groups["all"].append((name, {}))
    return _build(groups, {}, overrides, source="command line")


def _from_file(path: str, overrides: dict[str, Any]) -> Inventory:
    if not os.path.isfile(path):
        raise InventoryError(f"inventory file not found: {path}")
    try:
        namespace = runpy.run_path(path, run_name="__oxinfra_inventory__")
    except SyntaxError as exc:
        raise InventoryError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise InventoryError(f"{path}: {type(exc).__name__}: {exc}") from None
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    group_data: dict[str, dict[str, Any]] = {}
    for attr, value in namespace.items():
        if attr.startswith("_"):
            continue
        parsed = _entries(value)
        if parsed is None:
            continue
        entries, data = parsed
        members: list[tuple[str, dict[str, Any]]] = []
        for entry in entries:
            host_data: dict[str, Any] = {}
            if isinstance(entry, str):
                name = entry
            elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], dict):
                name, host_data = entry
            else:
                raise InventoryError(f"{path}: group {attr!r} has an entry {entry!r}: write \"host\" or (\"host\", {{data}})")
            for expanded in _expand(name, f"{path}: group {attr!r}"):
                members.append((expanded, dict(host_data)))
        groups[attr] = members
        group_data[attr] = data
    if not groups:
        raise InventoryError(f"{path} defines no hosts: add a module-level list such as web = [\"host1\"]")
    file_group = os.path.splitext(os.path.basename(path))[0]
    if file_group not in groups:
        seen: dict[str, dict[str, Any]] = {}
        for members in groups.values():
            for name, _ in members:
                seen.setdefault(name, {})
        groups[file_group] = [(name, {}) for name in seen]
    return _build(groups, group_data, overrides, source=path)


def _build(
    groups: dict[str, list[tuple[str, dict[str, Any]]]],
    group_data: dict[str, dict[str, Any]],
    overrides: dict[str, Any],
    source: str,
) -> Inventory:
    order: list[str] = []
    host_data: dict[str, dict[str, Any]] = {}
    host_groups: dict[str, list[str]] = {}
    for group, members in groups.items():
        for name, data in members:
            if name not in host_data:
                order.append(name)
                host_data[name] = {}
                host_groups[name] = []
            for key, value in data.items():
                if key in host_data[name] and host_data[name][key] != value:
                    raise InventoryError(
                        f"{source}: host {name!r} is listed with conflicting data for {key!r}: "
                        f"{host_data[name][key]!r} and {value!r}"
                    )
                host_data[name][key] = value
            if group != "all" and group not in host_groups[name]:
                host_groups[name].append(group)
    hosts = []
    all_data = group_data.get("all", {})
    for name in order:
        merged = dict(all_data)
        for group in host_groups[name]:
            merged.update(group_data.get(group, {}))
        merged.update(host_data[name])
        merged.update(overrides)
        hosts.append(Host(name, merged, host_groups[name]))
    names = {g: [n for n, _ in m] for g, m in groups.items()}
    names["all"] = list(order)
    return Inventory(hosts, names)
