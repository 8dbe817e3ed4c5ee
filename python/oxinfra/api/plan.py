"""Planning one host: run operation generators against gathered facts.

A fact value remembers the *epoch* it was read at; the epoch advances each time a planned
operation will change something. An operation that reads a fact older than the current
epoch is planned optimistically with it, and the fact becomes a *guard*: the script
re-reads it on the host right before the operation and stops with ``stale`` if it differs.
So every operation is planned from exactly the state it would see at execution time
(pyinfra 3's semantics) without a round trip per operation.
"""

from __future__ import annotations

from typing import Any

from oxinfra.api.context import deploy_dir, using_host
from oxinfra.api.facts import FactMissing, FactRequest, fact_context, fact_source
from oxinfra.api.operation import FunctionCommand, OpCall, _noops
from oxinfra.exceptions import OperationError, OxinfraError

__all__ = ["FactEntry", "OpPlan", "HostPlanner"]


class FactEntry:
    __slots__ = ("request", "stdout", "rc", "value", "epoch")

    def __init__(self, request: FactRequest, stdout: bytes, rc: int, value: Any, epoch: int) -> None:
        self.request = request
        self.stdout = stdout
        self.rc = rc
        self.value = value
        self.epoch = epoch


class OpPlan:
    """The planned outcome of one operation on one host."""

    __slots__ = ("op", "commands", "noops", "guards", "error", "skipped")

    def __init__(self, op: OpCall) -> None:
        self.op = op
        self.commands: list[Any] = []
        self.noops: list[str] = []
        self.guards: list[FactEntry] = []
        self.error: str | None = None
        self.skipped = False

    @property
    def changes(self) -> bool:
        return bool(self.commands)

    @property
    def has_function(self) -> bool:
        return any(isinstance(c, FunctionCommand) for c in self.commands)


class HostPlanner:
    """Holds one host's gathered facts and plans its operations from them."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.facts: dict[Any, FactEntry] = {}
        self.epoch = 0

    def store(self, request: FactRequest, stdout: bytes, rc: int) -> None:
        try:
            value = request.fact.parse(stdout, rc)
        except OxinfraError:
            raise
        except Exception as exc:
            raise OperationError(f"{self.host.name}: fact {request.cls.name} could not be parsed: {exc}") from exc
        self.facts[request.key] = FactEntry(request, stdout, rc, value, self.epoch)

    def missing(self, requests: list[FactRequest]) -> list[FactRequest]:
        seen: set[Any] = set()
        out = []
        for request in requests:
            entry = self.facts.get(request.key)
            if request.key in seen or (entry is not None and entry.epoch == self.epoch):
                continue
            seen.add(request.key)
            out.append(request)
        return out

    def plan(self, op: OpCall, guard: bool = True) -> OpPlan:
        """Plan ``op``. Raises FactMissing when it needs a fact not gathered yet."""
        plan = OpPlan(op)
        dir_token = deploy_dir.set(op.deploy_dir)
        try:
            return self._plan(op, plan, guard)
        finally:
            deploy_dir.reset(dir_token)

    def _plan(self, op: OpCall, plan: OpPlan, guard: bool) -> OpPlan:
        with using_host(self.host):
            try:
                for condition in op.globals.conditions:
                    if not condition():
                        plan.skipped = True
                        op.meta.will_change = False
                        return plan
            except OxinfraError as exc:
                plan.error = f"_if condition failed: {exc}"
                return plan
            except Exception as exc:
                plan.error = f"_if condition failed: {type(exc).__name__}: {exc}"
                return plan
            if op.precomputed is not None:
                plan.commands, plan.noops = list(op.precomputed[0]), list(op.precomputed[1])
            else:
                guards: dict[Any, FactEntry] = {}

                def lookup(host: Any, request: FactRequest) -> Any:
                    entry = self.facts.get(request.key)
                    if entry is None:
                        raise FactMissing(request)
                    if guard and entry.epoch < self.epoch:
                        guards[request.key] = entry
                    return entry.value

                token = fact_source.set(lookup)
                ctx = fact_context.set(op.globals.privilege)
                reasons: list[str] = []
                noop_token = _noops.set(reasons)
                try:
                    plan.commands = list(op.func(*op.args, **op.kwargs))
                except FactMissing:
                    raise
                except OxinfraError as exc:
                    plan.error = str(exc)
                except Exception as exc:
                    plan.error = f"{type(exc).__name__}: {exc}"
                finally:
                    _noops.reset(noop_token)
                    fact_context.reset(ctx)
                    fact_source.reset(token)
                plan.noops = reasons
                plan.guards = list(guards.values())
        op.meta.will_change = plan.changes and plan.error is None
        if plan.changes and plan.error is None:
            self.epoch += 1
        return plan
