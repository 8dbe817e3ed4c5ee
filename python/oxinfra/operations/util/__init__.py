"""Helpers shared by operation modules, one module per family: ``files`` (modes, ownership,
local paths, sed scripts), ``packaging`` (one ``ensure_packages`` for apt-get, dnf, yum,
apk, pacman and pip-style tools), ``service`` (one ``ensure_service`` for systemd, sysvinit
and OpenRC). Like the operations, they import only the author API (``oxinfra.api``),
``oxinfra.quoting`` and ``oxinfra.exceptions``; docs/writing-operations.md says how to use
them."""

from typing import Any, Callable

__all__ = ["any_changed", "all_changed"]


def any_changed(*results: Any) -> Callable[[], bool]:
    """pyinfra's ``any_changed(op1, op2)``: a condition for a later operation's ``_if`` that
    holds when any of these operation results changed something (answered when that
    operation is planned)."""
    return lambda: any(result.did_change() for result in results)


def all_changed(*results: Any) -> Callable[[], bool]:
    """A condition for ``_if`` that holds when every one of these results changed something."""
    return lambda: all(result.did_change() for result in results)
