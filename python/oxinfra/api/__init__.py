"""The API for writing deploys, operations and facts, and for running them as a library.

Deploys, operations, facts::

    from oxinfra.api import deploy, operation, FactBase

Running (sync and async)::

    from oxinfra.api import load_inventory, run, run_async
    result = run(load_inventory("@local"), ["deploy.py"])
"""

from oxinfra.api.deploy import deploy
from oxinfra.api.facts import FactBase
from oxinfra.inventory import Inventory, load_inventory
from oxinfra.api.operation import FileUpload, FunctionCommand, OperationMeta, get_facts, operation
from oxinfra._engine.runner import HostResult, RunResult, run, run_async
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

__all__ = [
    "deploy", "operation", "FactBase", "FileUpload", "FunctionCommand", "OperationMeta", "get_facts",
    "Inventory", "load_inventory", "run", "run_async", "RunResult", "HostResult",
    "OxinfraError", "DeployError", "InventoryError", "OperationError", "OperationTypeError",
    "OperationValueError", "FactError", "ConnectError",
]
