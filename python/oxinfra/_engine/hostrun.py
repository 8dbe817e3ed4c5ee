"""One host from connect to disconnect: its result, and the pipeline that produces it.

Round trips per host (docs/architecture.md): one connection, one persistent shell; one
batch of facts; one script per *segment* of operations. A segment ends only where the
plan cannot go on without the host: a fact read that could not be foreseen, a guard that
failed (``stale``), or a Python callback. No host waits for another.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, Callable

from oxinfra import _core
from oxinfra._engine.capture import CappedStream, apply_cuts, output_fields
from oxinfra._engine.control import Interrupted, RunControl, Stopped, TimedOut, uncancel
from oxinfra._engine.evaluate import OpCall
from oxinfra._engine.diff import hidden_reason, render_diffs
from oxinfra._engine.masking import conceal, must_conceal, shown_output
from oxinfra._engine.lock import HostLockError, check_lock, lock_path, lock_script
from oxinfra._engine.plan import HostPlanner, OpPlan
from oxinfra._engine.reconnect import reconnect
from oxinfra._engine.results import HostResult, RunResult
from oxinfra._engine.retry import run_alone
from oxinfra._engine.reuse import RunMemo
from oxinfra._engine.script import (
    FactScript,
    ScriptBuilder,
    capturable,
    done_marker,
    new_nonce,
    operation_result,
    render_commands,
)
from oxinfra.api.commands import FunctionCommand, Reconnect
from oxinfra.api.context import scope
from oxinfra.api.facts import FactMissing, FactRequest
from oxinfra.connectors.base import Collect, ConnectSettings
from oxinfra.connectors.registry import CONNECTORS, connect
from oxinfra.exceptions import ConnectError, OperationError, OxinfraError

__all__ = ["HostResult", "RunResult", "HostRun", "EventSink"]

EventSink = Callable[[dict[str, Any]], None]
_UNSEEN = object()
_NO_CONTROL = RunControl()
#: Fact batches one operation may read before it is taken for one that never stops asking.
MAX_FACT_BATCHES = 100
#: Times one operation's guards may fail (its facts changed under it) before the host stops.
MAX_STALE = 10


class HostRun:
    """One host from connect to disconnect."""

    def __init__(
        self,
        host: Any,
        ops: list[OpCall],
        dry: bool,
        sink: EventSink | None,
        memo: RunMemo | None = None,
        control: RunControl | None = None,
    ) -> None:
        self.host = host
        self.control = control or _NO_CONTROL
        #: The host's deadline (``--host-timeout``), set when it starts connecting.
        self.deadline: float | None = None
        #: End the connection by killing the host's shell and what it runs (a timeout, an
        #: interrupt, a lost connection) instead of closing it.
        self.aborted = False
        #: (path, timeout) of the host lock the first script takes (runs that change the host).
        self.lock: tuple[str, float] | None = None
        if not dry and self.control.lock_timeout is not None and CONNECTORS[host.connector].host_lock:
            self.lock = (lock_path(host.name), self.control.lock_timeout)
        self.ops = ops
        self.dry = dry
        self.sink = sink
        #: The run's secrets: what this host's records and results show is masked with it.
        self.redactor = self.control.redactor
        self.memo = memo
        self.gathers = 0
        self.answered = False  # the shell answered a script (RunControl.start_timeout)
        # While a dry plan that may be reused is made: each reported outcome.
        self.outcomes: list[tuple[Any, ...]] | None = None
        self.result = HostResult(host.name)
        self.result.details = {} if self.control.keep_details else None
        self.started = time.perf_counter()
        self.planner = HostPlanner(host)
        self.nonce = new_nonce()
        self.shell: Any = None
        self.conn: Any = None
        self.settings: Any = None
        self.earlier_round_trips = 0  # of the shells before a reconnect
        self.first_script = True
        self.fact_stderr: dict[Any, bytes] = {}  # of the last shared fact script
        self.stderr_tail = b""  # the last round trip's stderr after its last section

    def builder(self) -> ScriptBuilder:
        first, self.first_script = self.first_script, False
        lock = self.lock
        builder = ScriptBuilder(self.nonce, first=first, lock=lock_script(*lock) if first and lock else None)
        builder.locks = first and lock is not None
        return builder

    async def round_trip(self, builder: ScriptBuilder) -> tuple[dict[int, tuple[int | None, bytes]], dict[int, bytes]]:
        # Read as it arrives; of the operations' output only a bounded head and tail is kept.
        capped = sum(1 for owner in builder.sections if owner is None or isinstance(owner, OpPlan))
        # a quiet operation's block marks no section on stderr: the facts after them pass whole
        out_stream, err_stream = CappedStream(self.nonce, capped), CappedStream(self.nonce, capped - builder.joined)
        out, err = await self._send(builder.build(), out_stream, err_stream, getattr(builder, "locks", False))
        sections, _, _ = _core.demux(out, self.nonce)
        err_sections, self.stderr_tail, _ = _core.demux(err, self.nonce)
        found = {i: (status, data) for i, status, data in apply_cuts(sections, out_stream.cuts)}
        if getattr(builder, "locks", False) and self.lock is not None:
            status, data = found.get(0, (None, b"no status"))
            check_lock(status, data, self.lock[0], self.lock[1], self.host.name)  # HostLockError: the host fails
        return found, {i: data for i, _, data in apply_cuts(err_sections, err_stream.cuts)}

    async def _send(self, script: bytes, out: Any, err: Any, locks: bool = False) -> tuple[bytes, bytes]:
        """One round trip within the host's limits; nothing is sent once the run stops
        starting work. A timeout is :class:`TimedOut`, an interrupt while waiting
        :class:`Interrupted` (both carry what the host printed before, like a lost connection)."""
        control = self.control
        if control.interrupted is not None:  # between two scripts
            raise Interrupted(f"interrupted ({control.interrupted})")
        if control.stopping is not None:
            raise Stopped("--fail-percent")
        wait = self.lock[1] if locks and self.lock is not None else 0.0  # waiting for the lock is not stalling
        budget = control.round_trip_budget(self.deadline, extra=wait)
        try:
            start = None if self.answered or control.start_timeout is None else control.start_timeout + wait
            done = done_marker(self.nonce)
            output = await control.first_answer(self.shell, script, done, self.nonce, start, budget, out, err)
            self.answered = True
            return output
        except ConnectError as exc:
            if not getattr(exc, "timed_out", False):
                raise
            error: ConnectError = control.timed_out(self.deadline, exc)
        except asyncio.CancelledError:
            if control.interrupted is None:
                raise
            uncancel()
            error = Interrupted(f"interrupted ({control.interrupted})")
        error.partial = out.value()
        error.reader = out
        raise error from None

    async def gather(self, requests: list[FactRequest]) -> None:
        todo = self.planner.missing(requests)
        if not todo:
            return
        self.gathers += 1
        builder = self.builder()
        builder.add_facts(todo)
        builder.capture = capturable(todo)
        with self.result.timings.phase("facts"):
            sections, errors = await self.round_trip(builder)
        self._store(builder, sections, errors)
        self._store_unanswered(builder)

    def _store_unanswered(self, builder: ScriptBuilder) -> None:
        """Every fact a fact script asked for and got no section back for (the shell that
        ran the script stopped before its marker) is kept as an error that fails its
        reader: asked for again, it would be missing again, round trip after round trip."""
        facts = self.planner.facts
        for request in builder.fact_requests():
            entry = facts.get(request.key)
            if entry is None or self.planner.may_be_stale(entry):
                tail = " ".join(self.stderr_tail.decode("utf-8", "replace").split())[-300:]
                self.planner.store_error(
                    request,
                    (
                        f"fact {request.cls.name}: no answer came back (the shell reading it stopped before its end, "
                        f"e.g. on an expansion error such as ${{VAR?}})" + (f": {tail}" if tail else "")
                    ),
                )

    async def _gather_script(
        self, script: FactScript
    ) -> tuple[Any, list[tuple[FactRequest, bytes, int]] | None, ScriptBuilder | None, Any]:
        """Read facts with a script made for another host of the same class. Returns what
        identifies the answer (equal for equal fact outputs), the facts if they were parsed
        on the way, and what :meth:`_parse_script_answer` needs to parse them."""
        if not script.requests:
            return (), [], None, None
        self.gathers += 1
        builder = self.builder()
        script.add_to(builder)
        with self.result.timings.phase("facts"):
            done = done_marker(self.nonce)
            out, err = await self._send(builder.build(), Collect(done), Collect(done))
        listed, _, _ = _core.demux(out, self.nonce)
        err_listed, self.stderr_tail, _ = _core.demux(err, self.nonce)
        self.fact_stderr = builder.fact_errors({i: data for i, _, data in err_listed})
        link = script.link_index
        if link is None or not any(i == link and data for i, _, data in listed):
            return tuple(listed), None, builder, listed  # the sections name no nonce: they are the key
        found = builder.fact_results({i: (status, data) for i, status, data in listed})
        return tuple([(stdout, rc) for _, stdout, rc in found]), found, builder, listed

    def _store(
        self,
        builder: ScriptBuilder,
        sections: dict[int, tuple[int | None, bytes]],
        errors: dict[int, bytes] | None = None,
    ) -> None:
        stderr = builder.fact_errors(errors) if errors else {}
        for request, stdout, rc in builder.fact_results(sections):
            self.planner.store(request, stdout, rc, stderr.get(request.key, b""))

    def report(
        self,
        plan: OpPlan | None,
        op: OpCall,
        status: str,
        stdout: bytes = b"",
        stderr: bytes = b"",
        error: str | None = None,
    ) -> None:
        op.meta.status = status if status != "not run" else None
        op.meta.stdout = stdout.decode("utf-8", "replace")
        op.meta.stderr = stderr.decode("utf-8", "replace")
        op.meta.error = error
        record = {
            "op": op.name,
            "key": op.label,
            "index": op.index,
            "status": status,
        }
        if plan is not None:
            record["commands"] = len([c for c in plan.commands if not isinstance(c, FunctionCommand)])
            if plan.noops:
                record["noop"] = "; ".join(plan.noops)
        if error:
            record["error"] = error
        if plan is not None and plan.diffs and status == "changed":  # --diff
            shown_diff = render_diffs(plan.diffs, hidden_reason(op), self.redactor)
            if shown_diff:
                record["diff"] = shown_diff
        if status == "failed" or stdout or stderr:  # a failure's always; others' when they printed
            record.update(output_fields("stdout", stdout))
            record.update(output_fields("stderr", stderr))
        shown = plan
        redactor = self.redactor
        if must_conceal(op, redactor):  # _sensitive, a sudo password, the run's secrets
            record, shown = conceal(record, plan, op, redactor)
        if self.result.details is not None:
            extra = shown_output(op, stdout, stderr, redactor) if status != "failed" else None
            self.result.details[op.index] = (shown, extra, time.perf_counter() - self.started)
        if status != "failed" and self.memo is not None:  # equal outcomes on many hosts: one record (read-only)
            record = self.memo.records.setdefault(tuple(record.items()), record)
        self.result.ops.append(record)
        if self.outcomes is not None:
            self.outcomes.append((op.index, status, error, op.meta.will_change, record, shown))
        _emit(self.sink, {"event": "operation", "host": self.host.name, **record, "_plan": shown})

    def _replay(self, outcomes: list[tuple[Any, ...]]) -> None:
        """Report a dry plan computed on another host of the same class with the same facts:
        the same outcome records (they name no host, so hosts share them)."""
        ops = self.ops
        for index, status, error, will_change, _, _ in outcomes:
            meta = ops[index].meta
            meta.status = status if status != "not run" else None
            meta.will_change = will_change
            meta.error = error
        self.result.ops.extend([record for _, _, _, _, record, _ in outcomes])
        details = self.result.details
        if details is not None:
            at = time.perf_counter() - self.started
            for index, _, _, _, _, plan in outcomes:
                details[index] = (plan, None, at)
        sink = self.sink
        if sink is not None:
            name = self.host.name
            for index, _, _, _, record, plan in outcomes:
                stand_in = (
                    None if plan is None else SimpleNamespace(commands=plan.commands, noops=plan.noops, op=ops[index])
                )
                sink({"event": "operation", "host": name, **record, "_plan": stand_in})

    async def run(self, settings: ConnectSettings) -> HostResult:
        started = time.perf_counter()
        conn = None
        self.settings = settings
        control = self.control
        task = asyncio.current_task()
        if task is not None:
            control.running.add(task)  # an interrupt cancels it
        try:
            timings = self.result.timings
            try:
                with timings.phase("connect_wait"):
                    await settings.connect_slots.acquire()
                try:
                    self.deadline = control.deadline()
                    with timings.phase("connect"):
                        conn = await control.within(self.deadline, connect(self.host, settings))
                finally:
                    settings.connect_slots.release()
                with timings.phase("shell"):
                    self.shell = await control.within(self.deadline, conn.open_shell())
                self.conn = conn
            except ConnectError as exc:
                self.aborted = True
                self.result.status = "unreachable"
                self.result.error = (
                    str(exc) if not isinstance(exc, TimedOut) else f"{self.host.name}: {exc} while connecting"
                )
                _emit(self.sink, {"event": "unreachable", "host": self.host.name, "error": self.result.error})
                return self.result
            _emit(self.sink, {"event": "connected", "host": self.host.name})
            for notice in getattr(conn, "notices", ()):
                _emit(self.sink, {"event": "notice", "host": self.host.name, "message": notice})
            first = [r for op in self.ops for r in op.first_facts]
            shared = [op.shared for op in self.ops]
            if self.dry and self.memo is not None and shared and None not in shared:
                # The outcome records name each operation and its call site: part of the class.
                cls = (tuple(shared), tuple([op.name for op in self.ops]), tuple([op.label for op in self.ops]))
                await self._dry_run_shared(cls, first)
            else:
                await self.gather(first)
                if self.dry:
                    await self._dry_run()
                else:
                    await self._execute()
            stopped = any(op.meta.status == "failed" and not op.globals.ignore_errors for op in self.ops)
            self.result.status = "failed" if stopped else "success"
            if not stopped:
                done = {record["index"] for record in self.result.ops if record["status"] != "not run"}
                left = [op for op in self.ops if op.index not in done]
                if left:  # nothing failed, so everything must have run: a bug of ours
                    self._not_run(0)
                    self.result.status = "error"
                    self.result.error = (
                        f"{self.host.name}: internal error: {left[0].name} ({left[0].label}) "
                        "was not run, and nothing failed"
                    )
        except asyncio.CancelledError:
            if control.interrupted is None:
                raise
            uncancel()  # interrupted while connecting: nothing was sent
            self.aborted = True
            self._ended(
                "not started", f"{self.host.name}: not started (interrupted ({control.interrupted}) while connecting)"
            )
        except HostLockError as exc:
            self._ended("failed", str(exc))
        except Stopped as exc:
            sent = self.shell is not None and self.shell.round_trips > 0
            at = self._at_operation()
            if sent:
                self._ended("stopped", f"{self.host.name}: stopped " + (f"before {at} " if at else "") + f"({exc})")
            else:
                self._ended("not started", f"{self.host.name}: not started ({exc})")
        except ConnectError as exc:
            # Lost mid-run (or past a timeout, or interrupted): the host is unreachable at the
            # operation it was at; what had no outcome yet did not run (as far as anyone can
            # tell from here). Its shell, and what it runs, is killed where the connector can.
            self.aborted = True
            at = self._at_operation()
            where = f"at {at}" if at else "after its last operation"
            if isinstance(exc, Interrupted) and (self.shell is None or self.shell.round_trips == 0):
                self._ended("not started", f"{self.host.name}: not started ({exc})")
            elif isinstance(exc, Interrupted):
                self._ended("interrupted", f"{self.host.name}: {exc} {where}")
            elif isinstance(exc, TimedOut):
                self._ended("unreachable", f"{self.host.name}: {exc} {where}")
            else:
                # The host's shell may still run what it had been sent (a script is sent whole):
                # the operations after ``at`` have no known outcome, reported as not run.
                self._ended(
                    "unreachable", str(exc) + (f" (at {at}; the rest of what had been sent may have run)" if at else "")
                )
        except OxinfraError as exc:
            self.result.status = "error"
            self.result.error = str(exc)
            self._not_run(0)
        except BaseException as exc:
            # A bug, or user code's sys.exit(), must not take the other hosts down with this
            # one; only Ctrl-C and the cancellation of this host's task end more than it.
            if isinstance(exc, KeyboardInterrupt) or _cancelled(exc):
                raise
            self.result.status = "error"
            self.result.error = f"{self.host.name}: internal error: {type(exc).__name__}: {exc}"
            self._not_run(0)
        finally:
            if task is not None:
                control.running.discard(task)  # from here on, an interrupt waits for it
            if self.shell is not None:
                self.result.round_trips = self.earlier_round_trips + self.shell.round_trips
            conn = self.conn if self.conn is not None else conn  # a reconnect replaced it
            if conn is not None:
                with self.result.timings.phase("disconnect"):
                    await self._disconnect(conn)
            self.result.seconds = time.perf_counter() - started
            _emit(self.sink, {"event": "host_done", "host": self.host.name, **self.result.summary()})
        return self.result

    async def _disconnect(self, conn: Any) -> None:
        """Close (or abort) the connection. An interrupt that comes now (or came while no
        await was pending) aborts it instead, and is not passed on: the host's end is known."""
        try:
            await (conn.abort() if self.aborted else conn.close())
        except asyncio.CancelledError:
            if self.control.interrupted is None:
                raise
            uncancel()
            try:
                await conn.abort()
            except Exception:
                pass
        except Exception:  # closing a lost connection: nothing left to do
            pass

    def _ended(self, status: str, error: str) -> None:
        """The host ends before its deploy did: the operations with no outcome did not run."""
        self.result.status = status
        self.result.error = error
        self._not_run(0)
        if status == "unreachable":
            _emit(self.sink, {"event": "unreachable", "host": self.host.name, "error": error})

    def _at_operation(self) -> str:
        """The first operation of this host with no outcome yet (what a lost connection
        interrupted), as ``name (file:line)``."""
        reported = {record["index"] for record in self.result.ops}
        for op in self.ops:
            if op.index not in reported:
                return f"{op.name} ({op.label})"
        return ""

    async def _plan(self, op: OpCall, guard: bool) -> OpPlan:
        """Plan an operation, gathering facts it reads that were not foreseen (a round trip each)."""
        for _ in range(MAX_FACT_BATCHES):
            try:
                with self.result.timings.phase("plan"):
                    return self.planner.plan(op, guard=guard)
            except FactMissing as exc:
                await self.gather(list(exc.requests))
        raise OperationError(f"{op.label}: {op.name} keeps asking for new facts")

    async def _dry_run_shared(self, cls: tuple[Any, ...], first: list[FactRequest]) -> None:
        """A dry run of a host whose every call is shared (_engine/reuse.py): planned once per
        class and first-batch output, replayed on the other hosts."""
        memo = self.memo
        assert memo is not None
        script = memo.fact_scripts.get(cls)
        if script is None:
            script = memo.fact_scripts[cls] = FactScript(self.planner.missing(first), first=self.first_script)
        answer, found, builder, listed = await self._gather_script(script)
        key = (cls, answer)
        cached = memo.plans.get(key, _UNSEEN)
        if cached is not _UNSEEN and cached is not None:
            memo.hits += 1
            self._replay(cached)
            return
        memo.misses += 1
        if found is None:
            assert builder is not None
            found = builder.fact_results({i: (status, data) for i, status, data in listed})
        stderr, self.fact_stderr = self.fact_stderr, {}
        failed = False
        for request, stdout, rc in found:
            self.planner.store(request, stdout, rc, stderr.get(request.key, b""))
            failed = failed or self.planner.facts[request.key].error is not None
        if builder is not None and len(found) < len(script.requests):
            self._store_unanswered(builder)
            failed = True
        reads = [False, False]
        gathers = self.gathers
        self.outcomes = []
        with scope(reads=reads):
            await self._dry_run()
        # Reusable only if the plan came from the first batch alone and never read the host.
        if cached is _UNSEEN:
            # (nor when a fact failed: the error names this host's stderr)
            memo.plans[key] = None if reads[0] or failed or self.gathers != gathers else self.outcomes
        self.outcomes = None

    async def _dry_run(self) -> None:
        for op in self.ops:
            plan = await self._plan(op, guard=False)
            if plan.error:
                self.report(plan, op, "failed", error=plan.error)
                if not op.globals.ignore_errors:
                    self._not_run(op.index + 1)
                    return
            elif plan.skipped:
                self.report(plan, op, "skipped")
            else:
                self.report(plan, op, "changed" if plan.changes else "unchanged")

    def _not_run(self, start: int) -> None:
        """Report every operation from ``start`` on that has no outcome yet as not run."""
        reported = {record["index"] for record in self.result.ops}
        for op in self.ops[start:]:
            if op.index not in reported:
                self.report(None, op, "not run")

    async def _execute(self) -> None:
        i = 0
        n = len(self.ops)
        stale: dict[int, int] = {}  # operation index -> times it went stale
        while i < n:
            segment: list[OpPlan] = []
            missing: list[FactRequest] = []
            stop_after = False
            j = i
            asked = 0  # fact batches read for operation j
            while j < n:
                op = self.ops[j]
                try:
                    with self.result.timings.phase("plan"):
                        plan = self.planner.plan(op)
                except FactMissing as exc:
                    if not segment:  # nothing pending: gather now and plan again
                        asked += 1
                        if asked > MAX_FACT_BATCHES:
                            raise OperationError(f"{op.label}: {op.name} keeps asking for new facts") from None
                        await self.gather(list(exc.requests))
                        continue
                    missing = list(exc.requests)
                    break
                g = op.globals
                until = (
                    (g.retry_until is not None or g.serial or g.parallel)
                    and plan.changes
                    and not plan.error
                    and not plan.skipped
                )
                if plan.has_function or until:
                    if segment:
                        break  # run what is pending first; the callback op starts the next segment
                    if until:
                        if await run_alone(self, plan):  # went stale: plan it again
                            self.planner.invalidate()
                            stale[j] = stale.get(j, 0) + 1
                            if stale[j] > MAX_STALE:
                                raise OperationError(f"{op.label}: {op.name}: what it read keeps changing under it")
                            continue
                    else:
                        await self._run_with_functions(plan)
                    if plan.op.meta.status == "failed" and not op.globals.ignore_errors:
                        self._not_run(j + 1)
                        return
                    j += 1
                    asked = 0
                    i = j
                    continue
                if plan.error and not plan.fact_failed and plan.guards and segment:
                    # Planned from facts an earlier operation may change (server.user_authorized_keys,
                    # or crontab.crontab's crontab -l -u, after the server.user that creates
                    # the user): run those first, read the facts again, then plan it again --
                    # with the facts of the operations after it that failed the same way.
                    missing = [g.request for g in plan.guards] + self._stale_failures(j + 1)
                    break
                segment.append(plan)
                j += 1
                asked = 0
                if plan.error and not op.globals.ignore_errors:
                    stop_after = True
                    break
            if not segment:
                continue
            resume = await self._run_segment(segment, missing)
            if resume is None:  # the host stopped on a failure: the rest of the segment did not run
                self._not_run(segment[0].op.index)
                return
            if stop_after and resume > segment[-1].op.index:
                self._not_run(segment[-1].op.index + 1)
                return
            if resume <= segment[-1].op.index:  # went stale there: planned again from it
                stale[resume] = stale.get(resume, 0) + 1
                if stale[resume] > MAX_STALE:
                    op = self.ops[resume]
                    raise OperationError(
                        f"{op.label}: {op.name}: what it read changed under it {stale[resume]} "
                        "times (a fact that differs on every read?)"
                    )
            i = resume

    async def _run_segment(self, segment: list[OpPlan], missing: list[FactRequest]) -> int | None:
        """Send one script for ``segment`` (plus the facts the next operation needs).
        Returns the index of the next operation to plan, or None if the host must stop."""
        builder = self.builder()
        guarded = [p.op.index for p in segment if p.guards and not p.error and not p.skipped]
        if guarded:
            builder.add_refetch_chain(self._refetch_plan(min(guarded)))
        for plan in segment:
            if plan.error or plan.skipped:
                continue
            text = (
                render_commands(plan.commands, plan.op.globals, self.nonce, plan.op.shell_safe)
                if plan.commands
                else None
            )
            guards = [(g.request, g.stdout, g.rc) for g in plan.guards]
            if text is None and not guards:
                continue
            on_stale = f"__ox_f{plan.op.index}" if guards else ""
            builder.add_operation(plan, text, guards, plan.op.globals.ignore_errors, on_stale, _joined(plan.op))
        builder.add_after(self.planner.missing(missing))
        lost: ConnectError | None = None
        if builder.sections:
            with self.result.timings.phase("execute"):
                try:
                    sections, errors = await self.round_trip(builder)
                except ConnectError as exc:
                    # Report what finished before the connection went; raise at the first
                    # operation without an outcome (the one it was at).
                    lost = exc
                    sections, errors = self._partial_sections(exc), {}
        else:
            sections, errors = {}, {}
        index_of = {id(owner): k for k, owner in enumerate(builder.sections)}
        for plan in segment:
            op = plan.op
            if plan.error:
                self.report(plan, op, "failed", error=plan.error)
                if not op.globals.ignore_errors:
                    return None
                continue
            if plan.skipped:
                self.report(plan, op, "skipped")
                continue
            k = index_of.get(id(plan))
            if k is None:  # nothing to run and nothing to check: unchanged, if execution got here
                self.report(plan, op, "changed" if plan.changes else "unchanged")
                continue
            if k not in sections:  # an earlier block stopped the script (or the connection went)
                if lost is not None:
                    raise lost
                return None
            rc, stdout = sections[k]
            stderr = errors.get(k, b"")
            if _joined(op):  # all it printed is in its stdout section: diagnostics
                stdout, stderr = b"", stdout
            if rc is None:  # stale
                # What this operation assumed changed under it: the script has re-read the
                # facts from here on (the refetch chain); plan again from this operation.
                self.planner.invalidate()
                self.planner.rewind_dirs(op.index)
                self._store(builder, sections, errors)
                return op.index
            stdout, error = operation_result(op.globals, stdout, stderr, rc, self.nonce)
            if error is not None:
                self.report(plan, op, "failed", stdout, stderr, error=error)
                if not op.globals.ignore_errors:
                    return None
                continue
            self.report(plan, op, "changed" if plan.changes else "unchanged", stdout, stderr)
        if lost is not None:
            raise lost
        self._store(builder, sections, errors)
        return segment[-1].op.index + 1

    def _partial_sections(self, exc: ConnectError) -> dict[int, tuple[int | None, bytes]]:
        """The complete sections of what a round trip printed before its connection was lost."""
        partial = getattr(exc, "partial", b"")
        if not partial:
            return {}
        try:
            listed, _, _ = _core.demux(partial, self.nonce)
        except Exception:  # a torn section: nothing can be told from it
            return {}
        cuts = getattr(getattr(exc, "reader", None), "cuts", {})
        return {i: (status, data) for i, status, data in apply_cuts(listed, cuts)}

    def _stale_failures(self, start: int) -> list[FactRequest]:
        """The facts the operations from ``start`` read first that failed before a change
        that may have touched them (see :attr:`OpPlan.fact_failed`): read again with those of
        the operation that found one, so that N such operations cost one round trip, not N."""
        planner = self.planner
        out = []
        for op in self.ops[start:]:
            for request in op.first_facts:
                entry = planner.facts.get(request.key)
                if entry is not None and entry.error is not None and entry.rc >= 0 and planner.may_be_stale(entry):
                    out.append(request)
        return out

    def _refetch_plan(self, start: int) -> list[tuple[int, list[FactRequest]]]:
        """For each operation from ``start``: the facts whose last reader it is."""
        last: dict[Any, tuple[int, FactRequest]] = {}
        for op in self.ops[start:]:
            for request in op.first_facts:
                last[request.key] = (op.index, request)
        per_op: dict[int, list[FactRequest]] = {op.index: [] for op in self.ops[start:]}
        for index, request in last.values():
            per_op[index].append(request)
        return list(per_op.items())

    async def _reconnect(self, item: Reconnect) -> None:
        """The host is going away (a reboot): a new connection and shell once it is back
        (:func:`oxinfra._engine.reconnect.reconnect`); its first script takes the lock again,
        and no fact read before is trusted after it."""
        old, self.conn = self.conn, None
        if self.shell is not None:
            self.earlier_round_trips += self.shell.round_trips
        self.shell = None
        if old is not None:
            self.aborted = True
            await self._disconnect(old)
            self.aborted = False
        self.answered = False
        self.conn, self.shell = await reconnect(self.host, self.settings, item, self._disconnect)
        self.first_script = True
        self.planner.invalidate()

    async def _call(self, item: FunctionCommand, op: OpCall) -> Any:
        """Run a Python callback of ``op`` in a worker thread, with the host in context; its
        ``host.get_fact`` reads the host now (a round trip for what is not fresh), through
        this host's event loop, which goes on serving the other hosts meanwhile."""
        loop = asyncio.get_running_loop()

        def lookup(_host: Any, request: FactRequest) -> Any:
            asyncio.run_coroutine_threadsafe(self.gather([request]), loop).result()
            return self.planner.facts[request.key].read()

        def call() -> Any:
            with scope(host=self.host, deploy_dir=op.deploy_dir, facts=lookup, privilege=op.globals.privilege_settings):
                return item.function(*item.args, **item.kwargs)

        return await asyncio.to_thread(call)

    async def _run_with_functions(self, plan: OpPlan) -> None:
        """An operation that yields Python callbacks: shell commands in between run as they come."""
        pending: list[Any] = []
        op = plan.op
        try:
            for item in plan.commands + [None]:
                if isinstance(item, FunctionCommand) or item is None:
                    if pending:
                        builder = self.builder()
                        k = len(builder.sections)  # 1 in the host's first script (0 is the prelude's)
                        builder.add_operation(plan, render_commands(pending, op.globals, self.nonce), [], False)
                        k = len(builder.sections) - 1  # (a host's first script has the prelude's before it)
                        sections, errors = await self.round_trip(builder)
                        if k not in sections:
                            self.report(
                                plan,
                                op,
                                "failed",
                                error="its commands' outcome never came back "
                                "(the host's shell printed no end marker for them)",
                            )
                            return
                        rc, out = sections[k]
                        if rc is None:
                            self.report(plan, op, "failed", out, errors.get(k, b""), error="stale")
                            return
                        out, error = operation_result(op.globals, out, errors.get(k, b""), rc, self.nonce)
                        if error is not None:
                            self.report(plan, op, "failed", out, errors.get(k, b""), error=error)
                            return
                        pending = []
                    if isinstance(item, Reconnect):
                        await self._reconnect(item)
                    elif item is not None:
                        op.meta._return_value = await self._call(item, op)
                else:
                    pending.append(item)
        except (ConnectError, Stopped, HostLockError):
            raise  # the host's end (lost, timed out, interrupted, stopped), not this operation's failure
        except OxinfraError as exc:
            self.report(plan, op, "failed", error=str(exc))
            return
        except (Exception, SystemExit) as exc:  # a callback's sys.exit() ends its operation, not the run
            self.report(plan, op, "failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.planner.invalidate()
        self.report(plan, op, "changed")


def _cancelled(exc: BaseException) -> bool:
    """Whether ``exc`` is the cancellation of the running task (not a CancelledError that
    user code raised itself)."""
    if not isinstance(exc, asyncio.CancelledError):
        return False
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return task is None or cancelling is None or cancelling() > 0


def _emit(sink: EventSink | None, event: dict[str, Any]) -> None:
    if sink is not None:
        sink(event)


def _joined(op: OpCall) -> bool:
    """Whether ``op`` runs with its stderr joined to its stdout (``ScriptBuilder.add_operation``):
    a quiet operation, unless it runs as another user (the privileged shell's start mark and
    sudo's or su's own words must stay apart: ``operation_result``)."""
    return op.quiet and not op.globals.privilege
