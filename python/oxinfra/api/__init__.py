"""The author contract: what deploys, operations and facts import, and how to run them.

Deploys, operations, facts::

    from oxinfra.api import deploy, operation, FactBase, get_facts, host

Running (sync and async; :mod:`oxinfra._engine.embed`)::

    from oxinfra.api import Inventory, run, run_async
    result = run(Inventory.from_hosts(["@local"]), "deploy.py")   # or a function
    result = await run_async("inventory.py", ["a.py", "b.py"], dry=True, on_event=print)

Results and events are typed (:mod:`oxinfra.api.results`: ``RunResult``, ``HostResult``,
``OperationResult``, ``Event``...); operations are typed for mypy
(:mod:`oxinfra.api.typed`, with the ``oxinfra.mypy_plugin`` for global arguments; an
operation's generator returns an ``OperationGenerator``).

Importing this package does not import the engine that runs deploys (``oxinfra._engine``)
nor the SSH library: ``run``, ``run_async``, ``load_inventory``, ``Inventory``, the result
types and ``RunControl`` (timeouts, ``fail_percent``, signal handling:
``run(..., control=RunControl(host_timeout=600))``) are resolved on first use.
"""

from typing import TYPE_CHECKING, Any

from oxinfra._secrets import Secret
from oxinfra.api.commands import (
    FileUpload,
    FunctionCommand,
    OperationCommand,
    OperationGenerator,
    OperationMeta,
    QuoteString,
    Reconnect,
    StringCommand,
)
from oxinfra.api.context import current_deploy_dir, current_host, host, wants_diff
from oxinfra.api.deploy import deploy
from oxinfra.api.effects import (
    change_note,
    content_change,
    ensure_directory,
    mark_directory,
    noop,
    op_memo,
    predict_content,
    predict_fact,
    touches,
)
from oxinfra.api.facts import FactBase, FactFailed, ShortFactBase
from oxinfra.api.operation import get_facts, operation
from oxinfra.exceptions import (
    ConnectError,
    DeployError,
    EventCallbackError,
    FactError,
    InventoryError,
    OperationError,
    OperationTypeError,
    OperationValueError,
    OxinfraError,
)

if TYPE_CHECKING:
    from oxinfra._engine.control import RunControl
    from oxinfra._engine.embed import run, run_async
    from oxinfra.api.results import Event, HostResult, OperationResult, RunResult
    from oxinfra.api.typed import GlobalArguments, Operation, OperationArguments
    from oxinfra.inventory import Inventory, load_inventory

__all__ = [
    "deploy",
    "operation",
    "FactBase",
    "ShortFactBase",
    "FactFailed",
    "get_facts",
    "host",
    "current_host",
    "current_deploy_dir",
    "FileUpload",
    "FunctionCommand",
    "Reconnect",
    "OperationMeta",
    "OperationCommand",
    "OperationGenerator",
    "StringCommand",
    "QuoteString",
    "Secret",
    "noop",
    "touches",
    "predict_content",
    "predict_fact",
    "content_change",
    "change_note",
    "wants_diff",
    "ensure_directory",
    "mark_directory",
    "op_memo",
    "inventory",
    "state",
    "Inventory",
    "load_inventory",
    "run",
    "run_async",
    "RunResult",
    "HostResult",
    "OperationResult",
    "Event",
    "GlobalArguments",
    "OperationArguments",
    "Operation",
    "RunControl",
    "OxinfraError",
    "DeployError",
    "InventoryError",
    "OperationError",
    "OperationTypeError",
    "OperationValueError",
    "FactError",
    "ConnectError",
    "EventCallbackError",
]

# name -> module that defines it, imported on first use (PEP 562).
_LAZY = {
    "run": "oxinfra._engine.embed",
    "run_async": "oxinfra._engine.embed",
    "RunResult": "oxinfra.api.results",
    "HostResult": "oxinfra.api.results",
    "OperationResult": "oxinfra.api.results",
    "Event": "oxinfra.api.results",
    "GlobalArguments": "oxinfra.api.typed",
    "OperationArguments": "oxinfra.api.typed",
    "Operation": "oxinfra.api.typed",
    "RunControl": "oxinfra._engine.control",
    "Inventory": "oxinfra.inventory",
    "load_inventory": "oxinfra.inventory",
    # the run's inventory and state as deploy code and templates read them (pyinfra's names)
    "inventory": "oxinfra.api.runtime",
    "state": "oxinfra.api.runtime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups find it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
