"""Per-run and per-host context, carried by :mod:`contextvars` (no mutable globals).

``host`` (exported as ``oxinfra.host``) is a proxy: attribute access is forwarded to the
host whose deploy is being evaluated or planned in the current context.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from oxinfra.inventory.host import Host

__all__ = ["current_host", "host", "using_host", "deploy_dir", "host_reads", "note_host_read"]

# The directory of the deploy file being run: relative local paths (files.put src,
# templates) are found from here first.
deploy_dir: ContextVar[str | None] = ContextVar("oxinfra_deploy_dir", default=None)

_current_host: ContextVar["Host | None"] = ContextVar("oxinfra_current_host", default=None)


# While an operation is discovered or planned, or a deploy file evaluated: ``[any, identity]``,
# set when that code reads the host itself. ``any``: anything (``host.name``, ``host.data``,
# ``current_host()``): an operation's result then belongs to that host alone and is never
# reused for another. ``identity``: anything but ``host.data`` (deploy code that reads only
# data gives the same calls on hosts with the same data). Fact reads are not host reads:
# they are keyed by their own values. See oxinfra._engine.reuse.
host_reads: ContextVar[list[bool] | None] = ContextVar("oxinfra_host_reads", default=None)


def note_host_read(attr: str = "") -> None:
    """Record that the code being run depends on the host itself (``attr`` read, or the
    host object as a whole)."""
    cell = host_reads.get()
    if cell is not None:
        cell[0] = True
        if attr != "data":
            cell[1] = True


def current_host() -> "Host":
    """The host in context; a clear error outside a deploy."""
    note_host_read()
    return _host_in_context()


def _host_in_context() -> "Host":
    found = _current_host.get()
    if found is None:
        from oxinfra.exceptions import DeployError

        raise DeployError(
            "`host` is only available while a deploy runs: use the oxinfra CLI or "
            "oxinfra.api.run() to run this file"
        )
    return found


@contextlib.contextmanager
def using_host(target: "Host") -> Iterator["Host"]:
    token = _current_host.set(target)
    try:
        yield target
    finally:
        _current_host.reset(token)


# Reading facts or saying why nothing changes does not make a result host-specific.
_FACT_METHODS = frozenset({"get_fact", "noop"})


class _HostProxy:
    """Forwards to the current host: ``host.name``, ``host.data.x``, ``host.get_fact(...)``."""

    __slots__ = ()

    def __getattr__(self, attr: str) -> Any:
        if attr not in _FACT_METHODS:
            note_host_read(attr)
        return getattr(_host_in_context(), attr)

    def __repr__(self) -> str:
        found = _current_host.get()
        if found is None:
            return "<host proxy (no host in context)>"
        note_host_read("repr")
        return f"<host proxy for {found.name}>"

    def __str__(self) -> str:
        """The host's name (as pyinfra's ``str(host)``)."""
        note_host_read("str")
        return _host_in_context().name

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __bool__(self) -> bool:
        return _current_host.get() is not None


host: Any = _HostProxy()
