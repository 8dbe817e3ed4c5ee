"""Hosts and their data.

A host's data is a chain of layers, looked up highest first (nothing is merged at load):

1. ``--data`` overrides;
2. host data (the entries that name the host; conflicting values are an inventory error);
3. group data, the host's groups from the last defined to the first;
4. ``all`` group data;
5. deploy defaults: ``@deploy(..., data_defaults={...})``, innermost deploy first, while
   that deploy runs.

Hosts with the same groups and entries share one tuple of layers.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Iterable, Iterator, Mapping

from oxinfra import _core
from oxinfra.api.arguments import split_global_args
from oxinfra.api.context import current_data_defaults, current_inventory, current_recorder, note_host_read
from oxinfra.api.effects import noop
from oxinfra.api.facts import resolve_fact
from oxinfra.connectors.registry import connector_of

__all__ = ["Host", "HostData", "connector_of"]

_MISSING: Any = object()


def _default(key: str) -> Any:
    """``key`` from the data defaults of the deploy being run (``@deploy(data_defaults=...)``)."""
    for layer in current_data_defaults():
        value = layer.get(key, _MISSING)
        if value is not _MISSING:
            return value
    return _MISSING


class HostData(Mapping[str, Any]):
    """A host's data: ``host.data.key``, ``host.data.get(key, default)``, a read-only mapping.

    ``values`` is one dict of data; inventories pass ``layers`` instead, highest first (see
    the module docs). A missing key read as an attribute is an error naming host and key.
    """

    __slots__ = ("_host_name", "_layers")

    def __init__(
        self,
        host_name: str,
        values: Mapping[str, Any] | None = None,
        *,
        layers: tuple[Mapping[str, Any], ...] | None = None,
    ) -> None:
        self._host_name = host_name
        if layers is None:
            layers = (dict(values),) if values else ()
        self._layers = layers

    def _lookup(self, key: str) -> Any:
        for layer in self._layers:
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return value
        return _default(key)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        for layer in self._layers:  # _lookup, inlined: the hot path of host.data.x
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return value
        value = _default(key)
        if value is _MISSING:
            raise AttributeError(
                f"host {self._host_name!r} has no data {key!r}: set it in the inventory or "
                f"with --data {key}=..., or read it with host.data.get({key!r}, default)"
            )
        return value

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(key)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not _MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(self.dict())

    def __len__(self) -> int:
        return len(self.dict())

    def get(self, key: str, default: Any = None) -> Any:
        value = self._lookup(key)
        return default if value is _MISSING else value

    def dict(self) -> dict[str, Any]:
        """The merged data, as a new dict."""
        merged: dict[str, Any] = {}
        for layer in reversed(current_data_defaults()):
            merged.update(layer)
        for layer in reversed(self._layers):
            merged.update(layer)
        return merged

    def __repr__(self) -> str:
        note_host_read("repr")  # names the host
        return f"HostData({self._host_name!r}, keys={sorted(self.dict())})"


class Host:
    """One target: a name, its groups, its data and how to reach it.

    ``connector`` is ``"ssh"`` (default), ``"local"`` (``@local``, or data
    ``connector="local"``), ``"docker"`` or ``"sim"``; ``target`` is the address or
    container the connector uses. (Inventories set these slots directly for speed, see
    ``oxinfra.inventory.model._Model.hosts``; keep the two in step.)
    """

    __slots__ = ("name", "data", "groups", "connector", "target", "_facts")

    def __init__(
        self,
        name: str,
        data: Mapping[str, Any] | None = None,
        groups: list[str] | None = None,
    ) -> None:
        _core.check_host_name(name)  # HostNameError, an InventoryError
        self.name = name
        self.data = HostData(name, data)
        self.groups = list(groups or [])
        self.connector, self.target = connector_of(name, data or {})
        # Fact requests already built for this host during a run (see api/facts.py).
        self._facts: dict[Any, Any] | None = None

    def get_fact(self, fact: type, *args: Any, **kwargs: Any) -> Any:
        """Read a fact on this host (pyinfra's ``host.get_fact(Fact, **kwargs)``)."""
        return resolve_fact(self, fact, args, kwargs)

    def noop(self, reason: str) -> None:
        """Say why the operation being planned changes nothing (shown with its result)."""
        noop(reason)

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """pyinfra's ``for item in host.loop(items):``: the items, in order. An operation
        called in the loop is keyed by its line and its position in each enclosing
        ``host.loop`` (as pyinfra does), so hosts that reach a line in different iterations
        still agree on the order (``Order loop 2`` before ``Nested loop 2/1`` on a host that
        skips iteration 1's inner loop). Any other loop tells calls apart by how many times
        their line was reached (docs/architecture.md, "Evaluate")."""
        recorder = current_recorder()
        if recorder is None:
            yield from iterable
            return
        outer = recorder.loop_positions
        try:
            for position, item in enumerate(iterable):
                recorder.loop_positions = (*outer, position)
                yield item
                recorder.loop_positions = outer  # the loop's body ran: back out while iterating
        finally:
            recorder.loop_positions = outer

    @contextlib.contextmanager
    def arguments(self, **arguments: Any) -> Iterator[None]:
        """``with host.arguments(_sudo=True):``: global arguments for the operations called
        in the block (under their own; conditions ``_if`` of both must hold)."""
        recorder = current_recorder()
        if recorder is None:
            from oxinfra.exceptions import DeployError

            raise DeployError("host.arguments() and host.when() are for deploy code: run the file with the oxinfra CLI")
        plain = sorted(k for k in arguments if not k.startswith("_"))
        if plain:
            from oxinfra.exceptions import ArgumentError

            raise ArgumentError(f"host.arguments() takes global arguments (_sudo, _if, ...), not {', '.join(plain)}")
        split_global_args(dict(arguments), {}, "host.arguments()")  # checked now, with the caller's line
        recorder.push_args(arguments)
        try:
            yield
        finally:
            recorder.pop_args()

    def when(self, condition: Callable[[], Any]) -> Any:
        """``with host.when(op.did_change):``: the operations called in the block run only
        if ``condition()`` is true when they are planned (their ``_if``)."""
        return self.arguments(_if=condition)

    @property
    def host_data(self) -> dict[str, Any]:
        """The data the inventory gives this host itself (no group data, no overrides)."""
        inventory = current_inventory()
        return inventory.get_host_data(self.name) if inventory is not None else {}

    @property
    def group_data(self) -> dict[str, Any]:
        """The data of this host's groups, merged (later groups win; no ``all``)."""
        inventory = current_inventory()
        return inventory.get_groups_data(self.groups) if inventory is not None else {}

    def log(self, message: str, log_func: Callable[[str], Any] | None = None) -> None:
        """Log ``message`` prefixed with the host's name (logger ``oxinfra``, level INFO)."""
        (log_func or logging.getLogger("oxinfra").info)(f"[{self.name}] {message}")

    def __repr__(self) -> str:
        return f"Host({self.name!r})"
