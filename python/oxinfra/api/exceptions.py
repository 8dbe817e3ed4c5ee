"""pyinfra's ``pyinfra.api.exceptions`` names for deploy code (oxinfra's own errors, see
:mod:`oxinfra.exceptions`): ``PyinfraError`` is :class:`OxinfraError`; ``NoHostError`` and
``NoGroupError`` are what ``inventory.get_host``/``get_group`` raise for an unknown name."""

from oxinfra.exceptions import (
    ConnectError,
    DeployError,
    FactError,
    InventoryError,
    OperationError,
    OperationTypeError,
    OperationValueError,
    OxinfraError,
)

PyinfraError = OxinfraError
NoHostError = InventoryError
NoGroupError = InventoryError

__all__ = [
    "PyinfraError",
    "OxinfraError",
    "ConnectError",
    "DeployError",
    "FactError",
    "InventoryError",
    "NoHostError",
    "NoGroupError",
    "OperationError",
    "OperationTypeError",
    "OperationValueError",
]
