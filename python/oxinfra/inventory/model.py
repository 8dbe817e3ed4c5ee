"""Inventories: which hosts a run targets, their groups and their data.

``oxinfra INVENTORY ...`` accepts:

- a Python file (``.py``): every module-level list or tuple is a group (names starting with
  ``_`` are private); an entry is ``"host"`` or ``("host", {data})``; a group may be
  ``([entries...], {group data})``. The file's own name is a group of all its hosts, and
  every host is in ``all``;
- an Ansible inventory: INI (``.ini``, ``.cfg``, or any other file with ``[group]``
  headers) or YAML (``.yml``, ``.yaml``), see :mod:`oxinfra.inventory.ansible`;
- ``module:function``: a Python callable returning ``{group: entries}`` (dynamic inventory);
- a comma-separated list of hosts: ``web1,web2``; ``@local``, ``@docker/NAME``, ``@ssh/HOST``.

Host names may hold ranges, expanded by the Rust core: ``web[01:20].example.com``,
``10.0.0.[1:254]``, ``db[a:f]``, ``n[0:100:10]``, ``rack[1:2]-node[01:16]``. Hosts are kept
in first-seen order; a host listed in several groups joins each of them.

Group data also comes from ``group_data/<group>.py`` files (every public module-level
value is a key): the folder next to the inventory, then the one in the current directory,
then each ``--group-data DIR``; a later folder wins, and any file wins over data written
in the inventory itself.

Data precedence, highest first (see :mod:`oxinfra.inventory.host`): ``--data`` overrides, host
data, group data (the host's groups from the last defined to the first; the file's own
group counts as defined first), ``all``, deploy defaults. The same key given two different
values in host data (a host listed twice) is an error naming both places.
"""

from __future__ import annotations

import os
import pickle
import re
from typing import Any, Iterable, Iterator, Mapping, TypeVar, Union, overload

from oxinfra import _core
from oxinfra._collect import gc_paused
from oxinfra._secrets import MASK, is_secret_key, masked, secret_values
from oxinfra.api.context import scope
from oxinfra.exceptions import InventoryError
from oxinfra.inventory.host import Host, HostData, connector_of
from oxinfra.inventory.source import GroupSpec, InventorySource

#: An inventory entry: ``"name"`` (or a pattern, ``web[01:20]``) or ``("name", {host data})``.
HostEntry = Union[str, tuple[str, Mapping[str, Any]]]

_MISSING: Any = object()
_D = TypeVar("_D")  # what get_host / get_group return for an unknown name when given a default


class _InitialHost:
    """A host as group data files see it: name, groups and its own data (no group data yet)."""

    __slots__ = ("name", "groups", "data")

    def __init__(self, name: str, groups: list[str], data: dict[str, Any]) -> None:
        self.name, self.groups, self.data = name, groups, HostData(name, data)

    def __repr__(self) -> str:
        return f"Host({self.name!r})"


class _InitialInventory:
    """``oxinfra.inventory`` while group data files are read (pyinfra's "initial inventory,
    without group data"): ``get_host``, ``get_group``, ``inventory.<group>``, iteration."""

    def __init__(self, model: "_Model") -> None:
        hosts = []
        for index, name in enumerate(model.names):
            groups = [model.group_names[g] for g in model.group_sets[model.host_group_set[index]]]
            data: dict[str, Any] = {}
            for d in model.data_sets[model.host_data_set[index]]:
                data.update(model.data_table[d])
            hosts.append(_InitialHost(name, groups, data))
        self.hosts = hosts
        self.groups = {g: [h.name for h in hosts if g in h.groups] for g in model.group_names}
        self.groups["all"] = [h.name for h in hosts]

    @overload
    def get_host(self, name: str) -> _InitialHost: ...
    @overload
    def get_host(self, name: str, default: _D) -> _InitialHost | _D: ...
    def get_host(self, name: str, default: Any = _MISSING) -> Any:
        for host in self.hosts:
            if host.name == name:
                return host
        if default is not _MISSING:
            return default
        raise InventoryError(f"no host {name!r} in the inventory")

    @overload
    def get_group(self, name: str) -> list[_InitialHost]: ...
    @overload
    def get_group(self, name: str, default: _D) -> list[_InitialHost] | _D: ...
    def get_group(self, name: str, default: Any = _MISSING) -> Any:
        if name not in self.groups:
            if default is not _MISSING:
                return default
            raise InventoryError(f"no group {name!r} in the inventory")
        return [h for h in self.hosts if h.name in set(self.groups[name])]

    def get_hosts(self) -> list[Any]:
        return list(self.hosts)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)


__all__ = ["Inventory", "load_inventory", "GroupSpec", "InventorySource"]


class _Model:
    """What an inventory and every limited view of it share."""

    #: host name -> its index, made on first use (Inventory._index_of)
    _index_of: dict[str, int] | None = None

    def __init__(self, source: InventorySource, overrides: dict[str, Any], group_data_dirs: Iterable[str]) -> None:
        self.where = source.where
        data_ids: dict[int, int] = {}
        self.data_table: list[dict[str, Any]] = []
        self.data_origins: list[str] = []
        specs = []
        for group in source.groups:
            ids: list[int] = []
            if group.patterns is not None and group.host_data is not None:
                for i, data in enumerate(group.host_data):
                    if not data:
                        ids.append(-1)
                        continue
                    found = data_ids.get(id(data))
                    if found is None:
                        origin = group.origins[i] if group.origins else group.origin
                        _check_keys(data, origin)
                        found = data_ids[id(data)] = len(self.data_table)
                        self.data_table.append(data)
                        self.data_origins.append(origin)
                    ids.append(found)
            specs.append((group.name, group.origin, group.patterns, ids, group.origins or []))
        self._layout(specs)
        if not self.names:
            raise InventoryError(f"{source.where}: the inventory names no hosts; add at least one host")
        inline = {g.name: g for g in reversed(source.groups)}  # the first spec of a name wins
        self.group_data: list[dict[str, Any]] = []
        self.group_origins: list[str] = []
        files = _group_data_files(source.directory, group_data_dirs, self.group_names)
        with scope(inventory=_InitialInventory(self) if files else None):
            self._load_group_data(inline, files)
        self.overrides = dict(overrides)
        for index, data_set in enumerate(self.data_sets):
            if len(data_set) > 1:
                self._check_conflicts(index, data_set)
        for index in {key: i for i, key in enumerate(zip(self.host_group_set, self.host_data_set))}.values():
            connector = self.chain(index)[2]
            if connector != "ssh":
                connector_of(self.names[index], {"connector": connector})
        for name in self.names:
            if name[0] == "@":
                connector_of(name, {})

    def _layout(self, specs: list[Any]) -> None:
        """The hosts, groups and data sets the Rust core expands from ``specs`` (group name,
        origin, patterns, host data ids, origins), and the caches made from them."""
        self._specs = specs
        self.layout = _core.InventoryLayout(specs)  # InventoryBuildError, an InventoryError
        self.names = self.layout.hosts
        self.group_names = self.layout.groups
        self.all = self.group_names.index("all") if self.names else -1
        self._members: list[list[int]] | None = None
        self.host_group_set, self.group_sets = self.layout.group_sets()
        self.host_data_set, self.data_sets = self.layout.data_sets()
        self._chains: dict[tuple[int, int], tuple[tuple[dict[str, Any], ...], tuple[str, ...], str]] = {}
        self._hosts: list[Host | None] = [None] * len(self.names)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what it was built from (the specs and the data, already checked and
        merged with group data files): the Rust layout is expanded again where it is
        unpickled (a worker process: :mod:`oxinfra._engine.isolate`). Host objects are not
        sent; they are made on first use there."""
        state = {
            "specs": self._specs,
            "where": self.where,
            "data_table": self.data_table,
            "data_origins": self.data_origins,
            "group_data": self.group_data,
            "group_origins": self.group_origins,
            "overrides": self.overrides,
        }
        return (_restore_model, (state,))

    def _load_group_data(self, inline: dict[str, Any], files: dict[str, list[str]]) -> None:
        """Group data: inline, then group data files (which may read ``oxinfra.inventory``:
        the hosts and groups, with host data only, as pyinfra's group data files may)."""
        for name in self.group_names:
            spec = inline.get(name)
            merged = dict(spec.data) if spec else {}
            origin = spec.origin if spec else f"group {name!r}"
            if spec and spec.data:
                _check_keys(spec.data, origin)
            for path in files.get(name, ()):
                from oxinfra.inventory.python import load_group_data

                merged.update(load_group_data(path))
                origin = path
            self.group_data.append(merged)
            self.group_origins.append(origin)

    @property
    def members(self) -> list[list[int]]:
        if self._members is None:
            self._members = self.layout.members()
        return self._members

    def _check_conflicts(self, set_index: int, data_set: list[int]) -> None:
        seen: dict[str, tuple[Any, int]] = {}
        for data_id in data_set:
            for key, value in self.data_table[data_id].items():
                if key not in seen:
                    seen[key] = (value, data_id)
                    continue
                first, first_id = seen[key]
                if first is value or _same(first, value):
                    continue
                host = self.names[self.host_data_set.index(set_index)]
                shown = (MASK, MASK) if is_secret_key(key) else (masked(first), masked(value))
                raise InventoryError(
                    f"host {host!r} has conflicting data for {key!r}: {shown[0]!r} at "
                    f"{self.data_origins[first_id]} and {shown[1]!r} at {self.data_origins[data_id]}; "
                    "give the host its data in one place, or move the value to group data"
                )

    def chain(self, index: int) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...], str]:
        """The host's data layers (highest first), group names, and data connector."""
        key = (self.host_group_set[index], self.host_data_set[index])
        found = self._chains.get(key)
        if found is None:
            groups = self.group_sets[key[0]]
            layers = [self.overrides]
            layers += [self.data_table[d] for d in self.data_sets[key[1]]]
            layers += [self.group_data[g] for g in reversed(groups)]
            layers.append(self.group_data[self.all])
            kept = tuple(layer for layer in layers if layer)
            connector = HostData("", layers=kept).get("connector", "ssh")
            names = tuple(self.group_names[g] for g in groups)
            found = self._chains[key] = (kept, names, connector)
        return found

    def hosts(self, indexes: Iterable[int]) -> list[Host]:
        """The Host objects of ``indexes``, made on first use (one loop, no calls per host
        beyond two object allocations: this is the cost of 100,000 hosts)."""
        result: list[Host] = []
        with gc_paused():
            self._make(indexes, result)
        return result

    def _make(self, indexes: Iterable[int], result: list[Host]) -> None:
        made, names, chains = self._hosts, self.names, self._chains
        group_set, data_set = self.host_group_set, self.host_data_set
        new = object.__new__
        for index in indexes:
            host = made[index]
            if host is None:
                name = names[index]
                found = chains.get((group_set[index], data_set[index]))
                layers, groups, connector = found if found is not None else self.chain(index)
                data = new(HostData)
                data._host_name = name
                data._layers = layers
                host = made[index] = new(Host)
                host.name = name
                host.data = data
                host.groups = list(groups)
                if name[0] == "@" or connector != "ssh":
                    host.connector, host.target = connector_of(name, {"connector": connector})
                else:
                    host.connector, host.target = "ssh", name
                host._facts = None
            result.append(host)


def _restore_model(state: dict[str, Any]) -> _Model:
    """A pickled :class:`_Model` (see ``_Model.__reduce__``)."""
    model = _Model.__new__(_Model)
    for key in ("where", "data_table", "data_origins", "group_data", "group_origins", "overrides"):
        setattr(model, key, state[key])
    model._layout(state["specs"])
    return model


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _check_keys(data: dict[str, Any], origin: str) -> None:
    for key in data:
        if not isinstance(key, str):
            raise InventoryError(f"{origin}: data key {key!r} is not a string; data keys are names such as 'ssh_port'")


def _group_data_files(directory: str | None, extra: Iterable[str], groups: list[str]) -> dict[str, list[str]]:
    """``group -> [group_data file, ...]``, lowest precedence first."""
    folders = []
    if directory is not None:
        folders.append(os.path.join(directory, "group_data"))
    folders.append(os.path.join(os.getcwd(), "group_data"))
    for folder in extra:
        if not os.path.isdir(folder):
            raise InventoryError(f"--group-data {folder}: not a directory; pass the folder holding <group>.py files")
        folders.append(folder)
    wanted = set(groups)
    found: dict[str, list[str]] = {}
    seen: set[str] = set()
    for folder in folders:
        real = os.path.realpath(folder)
        if real in seen or not os.path.isdir(folder):
            continue
        seen.add(real)
        for entry in sorted(os.listdir(folder)):
            stem, ext = os.path.splitext(entry)
            if ext == ".py" and stem in wanted:
                found.setdefault(stem, []).append(os.path.join(folder, entry))
    return found


class Inventory:
    """The hosts of a run, in inventory order, with their groups and data.

    ``limit()`` returns a view of the same inventory; Host objects are made on first use.
    """

    def __init__(self, model: _Model, selected: list[int] | None = None) -> None:
        self._model = model
        self._selected = selected
        self._host_list: list[Host] | None = None
        self._by_name: dict[str, Host] | None = None
        self._groups: dict[str, list[str]] | None = None

    @classmethod
    def from_hosts(
        cls,
        hosts: Iterable[HostEntry] = (),
        *,
        groups: Mapping[str, Iterable[HostEntry] | tuple[Iterable[HostEntry], Mapping[str, Any]]] | None = None,
        data: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        group_data_dirs: Iterable[str] = (),
    ) -> "Inventory":
        """An inventory from Python objects, as an inventory file would describe it::

            Inventory.from_hosts(
                ["@sim/a", ("web1.example.com", {"ssh_user": "deploy"})],
                groups={"web": ["web[1:3].example.com"], "db": (["db1"], {"port": 5432})},
                data={"env": "prod"},
            )

        ``hosts``: entries (``"name"``, patterns such as ``web[01:20]``, or ``("name",
        {host data})``) that belong to no group of their own; ``groups``: group name -> its
        entries, or ``(entries, {group data})``, in order (later groups' data wins);
        ``data``: data for every host (the ``all`` group's); ``overrides``: data over all
        of it (the CLI's ``--data``). Bad input is an InventoryError naming the entry."""
        from oxinfra.inventory.python import groups_from_mapping

        origin = "Inventory.from_hosts"
        specs: list[GroupSpec] = []
        if data is not None:
            if not isinstance(data, Mapping):
                raise InventoryError(f"{origin}: data= must be a dict of host data, not {type(data).__name__}")
            specs.append(GroupSpec("all", f"{origin}: data", None, data=dict(data)))
        if isinstance(hosts, (str, bytes)):
            raise InventoryError(f'{origin}: hosts= is a list of entries: write ["{hosts!s}"], not a string')
        listed = _entries(hosts, f"{origin}: hosts")
        if listed:
            specs += groups_from_mapping({"ungrouped": listed}, lambda name: f"{origin}: hosts", strict=True)
        if groups is not None:
            if not isinstance(groups, Mapping):
                raise InventoryError(f"{origin}: groups= must be a dict of group name -> entries")
            for name, value in groups.items():
                if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                    raise InventoryError(f"{origin}: group name {name!r} must be a Python identifier")
                where = f"{origin}: group {name!r}"
                if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
                    value = (_entries(value[0], where), dict(value[1]))
                else:
                    value = _entries(value, where)
                specs += groups_from_mapping({name: value}, lambda n: f"{origin}: group {n!r}", strict=True)
        if not any(g.patterns for g in specs):
            raise InventoryError(f"{origin}: no hosts: give hosts=[...] or groups={{...}}")
        source = InventorySource(origin, specs)
        return cls(_Model(source, dict(overrides or {}), group_data_dirs))

    @property
    def hosts(self) -> list[Host]:
        if self._host_list is None:
            model = self._model
            self._host_list = model.hosts(range(len(model.names)) if self._selected is None else self._selected)
        return self._host_list

    @property
    def groups(self) -> dict[str, list[str]]:
        """Group name -> its host names (of this view), ``all`` included."""
        if self._groups is None:
            model = self._model
            keep = None if self._selected is None else set(self._selected)
            self._groups = {
                name: [model.names[h] for h in members if keep is None or h in keep]
                for name, members in zip(model.group_names, model.members)
            }
        return self._groups

    def __len__(self) -> int:
        return len(self._model.names) if self._selected is None else len(self._selected)

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    @overload
    def get_host(self, name: str) -> Host: ...
    @overload
    def get_host(self, name: str, default: _D) -> Host | _D: ...
    def get_host(self, name: str, default: Any = _MISSING) -> Any:
        """The host called ``name``; an unknown name is an InventoryError unless ``default``
        is given (pyinfra's ``get_host``)."""
        if self._by_name is None:
            self._by_name = {h.name: h for h in self.hosts}
        found = self._by_name.get(name)
        if found is None:
            if default is not _MISSING:
                return default
            raise InventoryError(f"no host {name!r} in the inventory")
        return found

    def everything(self) -> "Inventory":
        """The whole inventory this view was limited from (what deploy code sees as
        ``oxinfra.inventory``: as in pyinfra, ``--limit`` chooses the hosts that run, not the
        hosts deploy code may look up)."""
        return self if self._selected is None else Inventory(self._model)

    @overload
    def get_group(self, name: str) -> list[Host]: ...
    @overload
    def get_group(self, name: str, default: _D) -> list[Host] | _D: ...
    def get_group(self, name: str, default: Any = _MISSING) -> Any:
        """The hosts of group ``name`` (in inventory order); an unknown group is an
        InventoryError unless ``default`` is given (pyinfra's ``get_group``)."""
        if name not in self.groups:
            if default is not _MISSING:
                return default
            raise InventoryError(f"no group {name!r} in the inventory (groups: {', '.join(sorted(self.groups))})")
        names = set(self.groups[name])
        return [h for h in self.hosts if h.name in names]

    def get_hosts(self) -> list[Host]:
        """Every host of the run, in inventory order."""
        return list(self.hosts)

    def get_data(self) -> dict[str, Any]:
        """The data of group ``all``."""
        model = self._model
        return dict(model.group_data[model.all])

    def get_override_data(self) -> dict[str, Any]:
        """The ``--data`` overrides."""
        return dict(self._model.overrides)

    def get_host_data(self, name: str) -> dict[str, Any]:
        """The data the inventory gives host ``name`` itself (no group data, no overrides)."""
        model = self._model
        index = self._index_of(name)
        merged: dict[str, Any] = {}
        for d in model.data_sets[model.host_data_set[index]]:
            merged.update(model.data_table[d])
        return merged

    def get_group_data(self, name: str) -> dict[str, Any]:
        """The data of group ``name`` ({} for an unknown group)."""
        model = self._model
        try:
            return dict(model.group_data[model.group_names.index(name)])
        except ValueError:
            return {}

    def get_groups_data(self, names: Iterable[str]) -> dict[str, Any]:
        """The data of groups ``names`` merged, later names winning."""
        merged: dict[str, Any] = {}
        for name in names:
            merged.update(self.get_group_data(name))
        return merged

    def _index_of(self, name: str) -> int:
        model = self._model
        index_of = model._index_of
        if index_of is None:
            index_of = model._index_of = {n: i for i, n in enumerate(model.names)}
        if name not in index_of:
            raise InventoryError(f"no host {name!r} in the inventory")
        return index_of[name]

    def limit(self, patterns: Iterable[str]) -> "Inventory":
        """The hosts ``--limit`` patterns select (see ``_core.InventoryLayout.select``): group
        names, host names, globs, ranges and ``!`` exclusions, comma-separated or several."""
        patterns = list(patterns)
        chosen = self._model.layout.select(patterns)  # HostSelectionError, an InventoryError
        if self._selected is not None:
            keep = set(self._selected)
            chosen = [h for h in chosen if h in keep]
            if not chosen:
                raise InventoryError(f"--limit {','.join(patterns)!r} selects no host of the already limited inventory")
        return Inventory(self._model, chosen)

    def exclude(self, patterns: Iterable[str]) -> "Inventory":
        """This view without the hosts each of ``patterns`` selects (as one ``--limit``
        value would: names, groups, globs, ranges, comma-separated; pyinfra's ``--exclude``).
        A pattern that selects no host of the inventory is an error, as for ``--limit``: a
        mistyped exclusion must not run on the hosts it meant to leave out."""
        model = self._model
        dropped: set[int] = set()
        for pattern in patterns:
            try:
                dropped.update(model.layout.select([pattern]))
            except InventoryError as exc:
                text = str(exc)
                raise type(exc)("--exclude" + text[len("--limit") :] if text.startswith("--limit") else text) from None
        indexes = range(len(model.names)) if self._selected is None else self._selected
        kept = [i for i in indexes if i not in dropped]
        if not kept:
            raise InventoryError(f"--exclude {','.join(patterns)!r} leaves no host to run")
        return Inventory(model, kept)

    def secret_values(self) -> set[str]:
        """The texts of every secret in the data of this inventory (``--data`` included):
        :class:`~oxinfra.api.Secret` values and values under secret-looking keys, at any
        depth. What the CLI masks in everything it prints."""
        model = self._model
        found: set[str] = set()
        for layer in (model.overrides, *model.data_table, *model.group_data):
            secret_values(layer, found)
        return found

    def only(self, names: Iterable[str], what: str) -> "Inventory":
        """The hosts called exactly ``names``, in inventory order. A name that is not a host
        of this inventory (view) is an error; ``what`` says where the names came from."""
        model = self._model
        indexes = range(len(model.names)) if self._selected is None else self._selected
        index_of = {model.names[i]: i for i in indexes}
        wanted = list(dict.fromkeys(names))
        unknown = [name for name in wanted if name not in index_of]
        if unknown:
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise InventoryError(
                f"{what} names hosts that are not in the inventory {model.where}: {', '.join(unknown[:10])}{more}"
            )
        keep = {index_of[name] for name in wanted}
        return Inventory(model, [i for i in indexes if i in keep])

    def check_picklable(self) -> None:
        """Raise InventoryError naming host, key and origin for data that cannot be pickled
        (sharded runs send host data to worker processes)."""
        model = self._model
        indexes = range(len(model.names)) if self._selected is None else self._selected
        checked: set[int] = set()
        for index in indexes:
            layers = model.chain(index)[0]
            for layer in layers:
                if id(layer) in checked:
                    continue
                checked.add(id(layer))
                for key, value in layer.items():
                    try:
                        pickle.dumps(value)
                    except Exception as exc:
                        raise InventoryError(
                            f"{_layer_origin(model, layer)}: data {key!r} of host {model.names[index]!r} cannot be "
                            f"pickled ({type(exc).__name__}: {exc}); sharded runs send data to worker processes: "
                            "use plain values (str, int, float, bool, list, dict), or run with --shards 1"
                        ) from None

    def __reduce__(self) -> tuple[Any, ...]:
        """The same hosts, groups and data where it is unpickled (data must be picklable:
        :meth:`check_picklable` names what is not)."""
        return (Inventory, (self._model, self._selected))

    def __repr__(self) -> str:
        return f"Inventory({self._model.where!r}, {len(self)} hosts)"


def _entries(values: Any, where: str) -> list[Any]:
    """Inventory entries given as Python objects, checked: ``"name"`` or ``("name", {data})``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise InventoryError(f'{where}: write a list of entries such as ["web1", ("web2", {{"key": 1}})]')
    entries: list[Any] = []
    for entry in values:
        if type(entry) is str:
            entries.append(entry)
        elif (
            isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], Mapping)
        ):
            entries.append((entry[0], dict(entry[1])))
        else:
            raise InventoryError(f'{where}: entry {entry!r} is not a host: write "host" or ("host", {{data}})')
    return entries


def _layer_origin(model: _Model, layer: dict[str, Any]) -> str:
    if layer is model.overrides:
        return "--data"
    for data, origin in zip(model.data_table, model.data_origins):
        if data is layer:
            return origin
    for data, origin in zip(model.group_data, model.group_origins):
        if data is layer:
            return origin
    return model.where


_DYNAMIC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


def load_inventory(
    spec: str,
    overrides: dict[str, Any] | None = None,
    group_data_dirs: Iterable[str] = (),
) -> Inventory:
    """Load an inventory: a Python or Ansible file, ``module:function``, a comma list of
    hosts or an ``@connector`` name. Raises InventoryError for bad input."""
    source = read_source(spec)
    return Inventory(_Model(source, overrides or {}, group_data_dirs))


def read_source(spec: str) -> InventorySource:
    """The groups an inventory spec describes, before expansion."""
    if os.path.isfile(spec) or spec.endswith((".py", ".ini", ".yml", ".yaml")):
        if os.path.isdir(spec):
            raise InventoryError(
                f"inventory {spec} is a directory: give an inventory file (.py, .ini, .yml), a list of hosts "
                "or module:function"
            )
        if not os.path.isfile(spec):
            raise InventoryError(f"inventory file not found: {spec}")
        if spec.endswith(".py"):
            from oxinfra.inventory.python import read_python_file

            return read_python_file(spec)
        from oxinfra.inventory.ansible import read_ansible_file

        return read_ansible_file(spec)
    if _DYNAMIC.fullmatch(spec):
        from oxinfra.inventory.python import read_dynamic

        return read_dynamic(spec)
    if not spec.strip():
        raise InventoryError("the inventory is empty: name a file, hosts separated by commas, or @local")
    patterns = [part.strip() for part in spec.split(",") if part.strip()]
    return InventorySource("command line", [GroupSpec("all", "command line", patterns)])
