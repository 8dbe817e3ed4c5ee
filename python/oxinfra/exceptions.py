"""Exceptions raised by oxinfra. One base class; leaves also inherit the matching builtin."""

from __future__ import annotations

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
]


class OxinfraError(Exception):
    """Base class of every error oxinfra raises on purpose.

    ``exit_code`` is what the CLI exits with when this error ends a run.
    """

    exit_code = 1


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
    """A host could not be reached or refused the login."""


class TemplateError(OperationError):
    """A template failed to render (missing variable, syntax error)."""


# The native module defines these once; they are re-exported under the public path.
from oxinfra._core import (  # noqa: E402
    HostNameError,
    HostPatternError,
    HostSelectionError,
    InventoryBuildError,
    OrderCycleError,
    OutputParseError,
)
