"""Operations that run alone, in round trips of their own: ``_retry_until``, ``_serial`` and
``_parallel``.

``_serial=True`` / ``_parallel=N``: at most 1 / N hosts run the operation at once (the hosts
of this process: a sharded run refuses them). The host's script ends before it; the host
waits for a slot, runs it in one round trip, and lets the next host in. Hosts go in the
order they reach it (pyinfra goes in inventory order).

``_retry_until``: an operation run again while a Python callback on the controller says
so (pyinfra 3's semantics). The callback reads the operation's output, so each attempt is a
round trip of its own: the operation ends the host's segment before it and runs alone
(docs/architecture.md). As in pyinfra, ``_retries`` counts every run after the first: one
that failed, or one after which the callback -- given ``{"stdout_lines", "stderr_lines",
"commands", "executed_commands", "host", "operation"}`` -- answered true; each ``_retry_delay``
seconds after the last. An error in the callback is logged and ends the retries; after the
last retry the operation succeeds if that run did, and fails if it failed."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from oxinfra._engine.plan import OpPlan
from oxinfra._engine.script import operation_result, render_commands
from oxinfra.api.context import scope

__all__ = ["run_until", "run_alone"]

logger = logging.getLogger("oxinfra")


async def run_alone(run: Any, plan: OpPlan) -> bool:
    """Run ``plan`` alone (see the module docs), within its ``_serial``/``_parallel`` limit.
    Returns True if it must be planned again (its facts changed under it)."""
    args = plan.op.globals
    limit = 1 if args.serial else args.parallel
    memo = run.memo
    if not limit or memo is None:
        return await run_until(run, plan)
    semaphore = memo.limits.get(plan.op.key)
    if semaphore is None:
        semaphore = memo.limits[plan.op.key] = asyncio.Semaphore(limit)
    async with semaphore:
        return await run_until(run, plan)


async def run_until(run: Any, plan: OpPlan) -> bool:
    """Run ``plan`` (on :class:`oxinfra._engine.hostrun.HostRun` ``run``) until its
    ``_retry_until`` says stop. Returns True if its guards found the host changed under it
    (nothing ran: plan it again), else reports its outcome and returns False."""
    op = plan.op
    args = op.globals
    guards = [(g.request, g.stdout, g.rc) for g in plan.guards]
    once = args
    if args.retry_until is not None and args.retries:
        once = copy.copy(args)  # the retries happen here, one round trip each, not in the shell
        once.retries = 0
    text = render_commands(plan.commands, once, run.nonce, op.shell_safe)
    attempt = 0
    while True:
        builder = run.builder()
        builder.add_operation(plan, text, guards, False)
        k = len(builder.sections) - 1
        sections, errors = await run.round_trip(builder)
        if k not in sections:
            run.report(plan, op, "failed", error="its outcome never came back (no end marker)")
            return False
        rc, out = sections[k]
        if rc is None:
            return True
        guards = []  # checked before the first attempt; later ones run what was planned
        stderr = errors.get(k, b"")
        out, error = operation_result(args, out, stderr, rc, run.nonce)
        if error is not None:
            if once is not args and attempt < args.retries:
                attempt += 1
                await asyncio.sleep(args.retry_delay)
                continue
            run.planner.invalidate()
            run.report(plan, op, "failed", out, stderr, error=error)
            return False
        if args.retry_until is None or attempt >= args.retries:
            break
        data = {
            "stdout_lines": out.decode("utf-8", "replace").splitlines(),
            "stderr_lines": stderr.decode("utf-8", "replace").splitlines(),
            "commands": [str(c) for c in plan.commands],
            "executed_commands": len(plan.commands),
            "host": run.host.name,
            "operation": op.name,
        }
        try:
            with scope(host=run.host):
                again = bool(args.retry_until(data))
        except Exception as exc:  # pyinfra logs it and stops retrying
            shown = f"{op.name}: error in _retry_until: {type(exc).__name__}: {exc}"
            logger.warning("[%s] %s", run.host.name, run.redactor.text(shown) if run.redactor else shown)
            again = False
        if not again:
            break
        attempt += 1
        await asyncio.sleep(args.retry_delay)
    run.planner.invalidate()  # it may have changed anything, any number of times
    run.report(plan, op, "changed", out, stderr)
    return False
