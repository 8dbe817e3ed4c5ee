"""Exceptions raised by oxinfra. One base class; leaves also inherit the matching builtin.

The Rust core (``oxinfra._core``) raises the classes from ``HostPatternError`` on: they are
defined here, so this module must never import the core (the core imports it).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "OxinfraError",
    "InventoryError",
    "DeployError",
    "OperationError",
    "OperationValueError",
    "OperationTypeError",
    "ArgumentError",
    "FactError",
    "ConnectError",
    "TemplateError",
    "HostPatternError",
    "OrderCycleError",
    "OutputParseError",
    "HostNameError",
    "InventoryBuildError",
    "HostSelectionError",
    "EventCallbackError",
]


class OxinfraError(Exception):
    """Base class of every error oxinfra raises on purpose.

    ``exit_code`` is what the CLI exits with when this error ends a run: 2, bad input or usage
    (a file that cannot be read or written, a limit the run cannot work within), unless a
    subclass says otherwise (see :mod:`oxinfra.cli.outcome`).
    """

    exit_code = 2


class InventoryError(OxinfraError):
    """The inventory could not be loaded (missing file, bad entry, bad host pattern)."""

    exit_code = 2


class DeployError(OxinfraError):
    """A deploy file could not be loaded or evaluated (missing, syntax error, exception)."""

    exit_code = 2


class OperationError(OxinfraError):
    """An operation cannot reach the requested state on a host."""


class OperationValueError(OperationError, ValueError):
    """An operation was given an argument value it cannot use."""


class OperationTypeError(OperationError, TypeError):
    """An operation was called with an argument it does not take."""


class ArgumentError(OperationTypeError):
    """A global argument (``_sudo``, ``_env`` ...) is unknown or has the wrong type."""


class FactError(OxinfraError):
    """A fact could not be gathered or parsed."""


class ConnectError(OxinfraError):
    """A host could not be reached or refused the login.

    A round trip's failure also says whether no answer came in time (``timed_out``), what
    the host had printed on stdout before (``partial``) and the stream that kept it
    (``reader``, whose cuts :mod:`oxinfra._engine.capture` applies)."""

    timed_out: bool = False
    partial: bytes = b""
    reader: object = None


class TemplateError(OperationError):
    """A template failed to render (missing variable, syntax error)."""


class EventCallbackError(OxinfraError):
    """The ``on_event`` callback given to :func:`oxinfra.api.run` / ``run_async`` raised.

    The run went on to its end regardless -- a callback's bug never leaves hosts half-done --
    and every later event still reached the callback; then this is raised instead of the
    result returned. ``result`` is the run's :class:`~oxinfra.api.results.RunResult`,
    ``count`` how many calls raised, ``__cause__`` the first exception."""

    exit_code = 70
    result: Any = None
    count: int = 0


# -- raised by the Rust core (rust/py/mod.rs maps each CoreError kind to one of these) ----------


class HostPatternError(InventoryError, ValueError):
    """A host pattern is malformed or expands to more than 10,000,000 names.

    The message quotes the pattern and says how to fix it, e.g.
    ``invalid host pattern "web[10:01]": start 10 is after end 01; write the
    smaller bound first``.
    """


class HostNameError(InventoryError, ValueError):
    """A string is not a host name.

    Host names are hostnames (labels of ASCII letters, digits, ``-`` and ``_``, no empty
    label, no leading ``-``), IPv4 or IPv6 addresses (bare or bracketed), or
    ``@connector[/target]``. The message quotes the name and says what is wrong, e.g.
    ``"web 1" is not a valid host name: contains a space; ...``.
    """


class InventoryBuildError(InventoryError, ValueError):
    """An inventory entry has a bad host pattern or host name.

    The message starts with the entry's origin (e.g. ``inventory.py:3: group 'web': ``),
    followed by the pattern or name error.
    """


class HostSelectionError(InventoryError, ValueError):
    """A ``--limit`` pattern is malformed, names no group or host, matches nothing, or the
    patterns together select no host. The message starts with ``--limit "PATTERN": ``."""


class OrderCycleError(DeployError, ValueError):
    """Two operations run in opposite orders on different hosts, so no global order exists.

    The message names both operations by label, e.g. ``operation order conflict:
    "deploy.py:12" runs before "deploy.py:15" on some hosts and after it on others; ...``.
    """


class OutputParseError(OxinfraError, ValueError):
    """What a host printed did not have the expected shape: a malformed marker line or
    marker status, a malformed section of a batched ``stat``, or ``stat`` output whose
    first line does not have 8 fields. The message quotes the offending text. It ends the
    run of that host (status ``error``), never the whole run.
    """


def exit_called(exc: SystemExit, when: str) -> str:
    """What a ``sys.exit()`` (``exit()``, ``raise SystemExit``) in user code -- a deploy, an
    inventory, group data, ``config.py`` -- is reported as: ``sys.exit(0) called WHEN: ...``.
    It never ends the run (nor the caller of :func:`oxinfra.api.run`): it is an error of that
    file, exit 2."""
    return f"sys.exit({exc.code!r}) called {when}: remove it (it cannot end the run)"
