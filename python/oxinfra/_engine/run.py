"""Running deploys: :func:`run` and :func:`run_async` pick the driver -- this process, or
worker processes (:mod:`oxinfra._engine.shard`) -- and both go through the same steps
(:mod:`oxinfra._engine.pipeline`): evaluate, order, then every host on its own."""

from __future__ import annotations

import asyncio
from typing import Any

from oxinfra._engine.control import RunControl
from oxinfra._engine.evaluate import import_path
from oxinfra._engine.hostrun import EventSink, HostResult, RunResult, _emit
from oxinfra._engine.masking import mask_exception, mask_host_errors, masked_sink, run_redactor
from oxinfra._engine.pipeline import check_defaults, execute, load_deploy_files, order_operations, prepare
from oxinfra._engine.report import Timings
from oxinfra.api.context import scope
from oxinfra.inventory import Inventory

__all__ = ["RunResult", "HostResult", "RunControl", "run", "run_async"]


async def run_async(
    inventory: Inventory,
    deploy_files: list[str],
    *,
    dry: bool = False,
    parallel: int | None = None,
    on_event: EventSink | None = None,
    exec_command: str | None = None,
    shards: int = 1,
    global_args: dict[str, Any] | None = None,
    control: RunControl | None = None,
) -> RunResult:
    """Run deploy files (or one shell command, ``exec_command``) against an inventory.
    Errors in the deploys raise before any host is touched; errors on hosts are reported
    in the result. ``shards`` > 1 spreads the hosts over that many worker processes
    (:mod:`oxinfra._engine.shard`); the result is the same. ``global_args``: defaults for
    every operation's global arguments, e.g. ``{"_sudo": True, "_sudo_password": pw}``
    (the CLI's ``--sudo``, ``--sudo-password``, ...); privilege settings among them also
    apply to facts deploy code reads. ``control``: timeouts, ``fail_percent``, signal
    handling (:mod:`oxinfra._engine.control`); a run with a ``fail_percent`` runs in one
    process, where every host's end is counted as it happens."""
    control = control or RunControl()
    # The run's secrets: every record, event, result and error below is masked with it.
    redactor = control.redactor = run_redactor(inventory, global_args)
    on_event = masked_sink(on_event, redactor)
    control.sink = on_event
    try:
        defaults = check_defaults(global_args)
        remove_handlers = control.install(asyncio.get_running_loop())
        try:
            result = await _run(
                inventory, deploy_files, dry, parallel, on_event, exec_command, shards, defaults, control
            )
        finally:
            remove_handlers()
    except Exception as exc:
        mask_exception(exc, redactor)
        raise
    mask_host_errors(result.hosts, redactor)
    return result


async def _run(
    inventory: Inventory,
    deploy_files: list[str],
    dry: bool,
    parallel: int | None,
    on_event: EventSink | None,
    exec_command: str | None,
    shards: int,
    defaults: dict[str, Any],
    control: RunControl,
) -> RunResult:
    if shards > 1 and len(inventory.hosts) > 1 and control.fail_percent is None:
        from oxinfra._engine.shard import run_sharded

        return await run_sharded(
            inventory,
            deploy_files,
            shards=shards,
            dry=dry,
            parallel=parallel,
            on_event=on_event,
            exec_command=exec_command,
            control=control,
            global_args=defaults,
        )
    timings = Timings()
    with timings.phase("compile"):
        files = load_deploy_files(deploy_files, exec_command)
    with import_path(files), scope(diff=control.diff):
        prepared = await prepare(
            inventory, files, on_event, timings, parallel=parallel, control=control, defaults=defaults
        )
        try:
            with timings.phase("order"):
                order = order_operations(prepared.evaluated)
            _emit(on_event, {"event": "plan", "hosts": len(inventory.hosts), "operations": order, "dry": dry})
            results = await execute(prepared, dry, parallel, on_event, timings, control)
        finally:
            prepared.release()
    return RunResult(results, order, dry, timings, control)


def run(inventory: Inventory, deploy_files: list[str], **kwargs: Any) -> RunResult:
    """Synchronous :func:`run_async`."""
    return asyncio.run(run_async(inventory, deploy_files, **kwargs))
