"""Hosts and their data."""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from oxinfra.exceptions import InventoryError

__all__ = ["Host", "HostData"]

_MISSING = object()


class HostData(Mapping[str, Any]):
    """A host's merged data: ``host.data.key`` and ``host.data.get(key, default)``.

    A missing key read as an attribute is an error that names the host and the key.
    """

    __slots__ = ("_host_name", "_values")

    def __init__(self, host_name: str, values: dict[str, Any]) -> None:
        self._host_name = host_name
        self._values = values

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(
                f"host {self._host_name!r} has no data {key!r}: set it in the inventory or "
                f"with --data {key}=..., or read it with host.data.get({key!r}, default)"
            ) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"HostData({self._host_name!r}, keys={sorted(self._values)})"


class Host:
    """One target: a name, its groups, merged data and how to reach it.

    ``connector`` is ``"ssh"`` (default), ``"local"`` (``@local``) or ``"docker"``;
    ``target`` is the address or container the connector uses.
    """

    __slots__ = ("name", "data", "groups", "connector", "target", "_facts")

    def __init__(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        groups: list[str] | None = None,
    ) -> None:
        if not name or any(c.isspace() for c in name):
            raise InventoryError(f"{name!r} is not a valid host name (empty or contains spaces)")
        self.name = name
        self.data = HostData(name, dict(data or {}))
        self.groups = list(groups or [])
        if name.startswith("@"):
            connector, _, target = name[1:].partition("/")
            if connector not in ("local", "ssh", "docker"):
                raise InventoryError(
                    f"unknown connector in {name!r}: use @local, @ssh/HOST or @docker/CONTAINER"
                )
            if connector != "local" and not target:
                raise InventoryError(f"{name!r} names no target: write @{connector}/NAME")
            self.connector = connector
            self.target = target or "localhost"
        else:
            self.connector = "ssh"
            self.target = name
        self._facts: Any = None  # the fact source of the phase in progress

    def get_fact(self, fact: type, *args: Any, **kwargs: Any) -> Any:
        """Read a fact on this host (pyinfra's ``host.get_fact(Fact, **kwargs)``)."""
        from oxinfra.api.facts import resolve_fact

        return resolve_fact(self, fact, args, kwargs)

    def noop(self, reason: str) -> None:
        """Say why the operation being planned changes nothing (shown with its result)."""
        from oxinfra.api.operation import noop

        noop(reason)

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

