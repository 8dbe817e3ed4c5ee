"""Helpers shared by operation modules, one module per family: ``files`` (modes, ownership,
local paths, sed scripts), ``packaging`` (one ``ensure_packages`` for apt-get, dnf, yum,
apk, pacman and pip-style tools), ``rpm`` (what dnf, yum and zypper share), ``service`` (one
``ensure_service`` for systemd, sysvinit and OpenRC); here, what every family uses
(:func:`check_flags`). Like the operations, they import only the author API (``oxinfra.api``),
``oxinfra.quoting`` and ``oxinfra.exceptions``; docs/writing-operations.md says how to use
them."""

from typing import Any, Callable

from oxinfra.exceptions import OperationValueError

__all__ = ["any_changed", "all_changed", "check_flags"]


def any_changed(*results: Any) -> Callable[[], bool]:
    """pyinfra's ``any_changed(op1, op2)``: a condition for a later operation's ``_if`` that
    holds when any of these operation results changed something (answered when that
    operation is planned)."""
    return lambda: any(result.did_change() for result in results)


def all_changed(*results: Any) -> Callable[[], bool]:
    """A condition for ``_if`` that holds when every one of these results changed something."""
    return lambda: all(result.did_change() for result in results)


def check_flags(op: str, **flags: object) -> None:
    """Each flag is True or False, or also None where its name ends in ``_`` (None: leave it);
    anything else is an :class:`~oxinfra.exceptions.OperationValueError` naming ``op`` and the flag."""
    for name, value in flags.items():
        optional = name.endswith("_")
        if isinstance(value, bool) or (optional and value is None):
            continue
        allowed = "True, False or None" if optional else "True or False"
        raise OperationValueError(f"{op}: {name.rstrip('_')}= must be {allowed}, not {value!r}")
