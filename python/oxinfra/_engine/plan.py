"""Planning one host: run operation generators against gathered facts.

A fact value remembers the *epoch* it was read at; the epoch advances each time a planned
operation will change something, and the paths that operation declared it may change are
logged. An operation that reads a fact which a later change may have touched (a declared
path that is the fact's path, or a change that declared nothing) is planned optimistically
with it, and the fact becomes a *guard*: the script re-reads it on the host right before
the operation and stops with ``stale`` if it differs. So every operation is planned from
exactly the state it would see at execution time (pyinfra 3's semantics) without a round
trip per operation.
"""

from __future__ import annotations

import posixpath
from typing import Any

from oxinfra._engine.evaluate import OpCall
from oxinfra.api.commands import FunctionCommand
from oxinfra.api.context import scope
from oxinfra.api.effects import PlanContext, fact_key, plan_commands
from oxinfra._engine.script import privileged_result, who
from oxinfra.api.facts import FactFailed, FactMissing, FactRequest, fact_failure
from oxinfra.exceptions import OutputParseError, OxinfraError

__all__ = ["FactEntry", "OpPlan", "HostPlanner"]

_NONE = object()

# What one change may have touched: (exact paths, subtree roots), or None for "anything".
Touched = tuple[frozenset[str], tuple[str, ...]] | None


class FactEntry:
    """A gathered fact: its raw output and value, or ``error`` (the one-line message) when
    its command failed; reading a failed fact raises :class:`FactError` in the reader."""

    __slots__ = ("request", "stdout", "rc", "value", "epoch", "error")

    def __init__(
        self, request: FactRequest, stdout: bytes, rc: int, value: Any, epoch: int, error: str | None = None
    ) -> None:
        self.request = request
        self.stdout = stdout
        self.rc = rc
        self.value = value
        self.epoch = epoch
        self.error = error

    def read(self) -> Any:
        if self.error is not None:
            raise FactFailed(self.rc, self.error)
        return self.value


class OpPlan:
    """The planned outcome of one operation on one host."""

    __slots__ = ("op", "commands", "noops", "guards", "error", "fact_failed", "skipped", "touched", "diffs")

    def __init__(self, op: OpCall) -> None:
        self.op = op
        self.commands: list[Any] = []
        self.noops: list[str] = []
        self.guards: list[FactEntry] = []
        self.error: str | None = None
        #: The error is a fact's own failure (its command failed) read at the current state,
        #: not the operation's verdict on what the facts say: reading the facts again would
        #: not plan it differently. A failure read before a change that may have touched the
        #: fact (``crontab -l -u U`` before the ``server.user`` that creates U) is not this:
        #: the fact is read again after that change, and the operation planned again.
        self.fact_failed = False
        self.skipped = False
        self.touched: Touched = None
        #: ``--diff``: what the operation says it changes in files (PlanContext.diffs).
        self.diffs: list[tuple[str, Any, bytes | None, str | None]] | None = None

    @property
    def changes(self) -> bool:
        return bool(self.commands)

    @property
    def has_function(self) -> bool:
        return any(isinstance(c, FunctionCommand) for c in self.commands)


def _affects(path: str, touched: Touched) -> bool:
    """``path`` is normalised and absolute (see :meth:`HostPlanner.may_be_stale`)."""
    if touched is None:
        return True
    exact, subtrees = touched
    if path in exact:
        return True
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in subtrees)


class HostPlanner:
    """Holds one host's gathered facts and plans its operations from them."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.facts: dict[Any, FactEntry] = {}
        self.epoch = 0
        self.touch_log: list[Touched] = []  # touch_log[e]: what moved the epoch from e to e + 1
        self.known_dirs: set[str] = set()
        self._dirs_before: dict[int, frozenset[str]] = {}
        self._dirs_snapshot: frozenset[str] = frozenset()
        # Files whose whole content the plan knows (an earlier operation wrote it).
        self.contents: dict[str, bytes] = {}
        # Values of facts as earlier operations said they leave them (predict_fact): used
        # by a dry run only, which cannot read the host again.
        self.fact_values: dict[tuple[str, str, str], Any] = {}
        # --diff: what files hold after the operations planned so far, as they said
        # (content_change): also edits (a line appended), which predict no deciding fact.
        self.shown: dict[str, bytes] = {}
        # Where a path leads through symbolic links (facts that resolve paths, e.g.
        # files.LinkTarget): a fact read under the spelling is touched by a change at the
        # real path too.
        self.real_paths: dict[str, str] = {}

    def store(self, request: FactRequest, stdout: bytes, rc: int, stderr: bytes = b"") -> None:
        """Keep a fact's output and value. A command that failed (a status that does not mean
        "absent"), or output its fact rejects, is kept as an error: whoever reads the fact
        fails with it (see :meth:`FactEntry.read`), nobody else. Output of a shape no
        command of ours prints (a Rust parser's :class:`OutputParseError`) fails the host."""
        error = None
        value = None
        out, status = stdout, rc
        if request.context:
            out, status, ran = privileged_result(stdout, rc)
            if not ran:  # sudo's or su's own failure: their last word says why
                last = stderr.rstrip().rsplit(b"\n", 1)[-1]
                error = fact_failure(request.cls.name, rc, last, f"could not run as {who(request.context)}: exit {rc}")
                self.facts[request.key] = FactEntry(request, stdout, rc, None, self.epoch, error)
                return
        try:
            value = request.fact.parse(out, status)
        except OutputParseError as exc:  # malformed output: the host's result says which host
            raise OutputParseError(f"fact {request.cls.name}: {exc}") from None
        except FactFailed as exc:
            error = fact_failure(request.cls.name, exc.rc, stderr, exc.detail)
        except OxinfraError as exc:
            error = f"fact {request.cls.name}: {exc}"
        except Exception as exc:
            error = f"fact {request.cls.name} could not be parsed: {type(exc).__name__}: {exc}"
        self.facts[request.key] = FactEntry(request, stdout, rc, value, self.epoch, error)
        if request.fact.resolves_path and request.path is not None and isinstance(value, str) and value.startswith("/"):
            self.real_paths[request.path] = posixpath.normpath(value)

    def store_error(self, request: FactRequest, error: str) -> None:
        """Keep ``error`` as the fact's outcome: whoever reads it fails with it."""
        self.facts[request.key] = FactEntry(request, b"", -1, None, self.epoch, error)

    def missing(self, requests: list[FactRequest]) -> list[FactRequest]:
        seen: set[Any] = set()
        out = []
        for request in requests:
            entry = self.facts.get(request.key)
            if request.key in seen or (entry is not None and not self.may_be_stale(entry)):
                continue
            seen.add(request.key)
            out.append(request)
        return out

    def may_be_stale(self, entry: FactEntry) -> bool:
        """Whether a change planned since the fact was read may have touched it."""
        if entry.epoch == self.epoch:
            return False
        path = entry.request.path
        if path is None:
            return True  # no path, or a relative one: any change may have touched it
        log = self.touch_log
        return any(self._touches(path, log[e]) for e in range(entry.epoch, self.epoch))

    def changed_by_plan(self, entry: FactEntry) -> bool:
        """Whether an operation planned since the fact was read declared that it changes
        the fact's path (changes that declared nothing are not counted: see
        :meth:`_shown`)."""
        path = entry.request.path
        for e in range(entry.epoch, self.epoch):
            touched = self.touch_log[e]
            if touched is not None and (path is None or self._touches(path, touched)):
                return True
        return False

    def _touches(self, path: str, touched: Touched) -> bool:
        """Whether ``touched`` covers ``path`` or the real path its spelling leads to."""
        if _affects(path, touched):
            return True
        real = self.real_paths.get(path)
        return real is not None and _affects(real, touched)

    def _shown(self, request: FactRequest) -> Any:
        """The value of a fact that is only shown (``decides = False``: ``--diff``'s content):
        never a guard. Predicted from what an earlier operation of the plan writes; else, when
        an earlier operation declared it changes the path, or the fact failed, not known.
        After a change that declared nothing (``server.shell``) it is the value read, as a
        dry run reads every fact (the operation's own facts are checked on the host)."""
        entry = self.facts.get(request.key)
        if entry is None or self.may_be_stale(entry):
            path = request.kwargs.get("path")
            content = self.shown.get(posixpath.normpath(path)) if isinstance(path, str) else None
            raw = request.fact.predict(content, **request.kwargs) if content is not None else None
            if raw is not None:
                return request.fact.parse(*raw)
        if entry is None:
            raise FactMissing(request)
        if entry.error is not None:
            return request.fact.unknown(entry.error)
        if entry.epoch != self.epoch and self.changed_by_plan(entry):
            return request.fact.unknown("an earlier operation changes it")
        return entry.value

    def invalidate(self) -> None:
        """Forget every fact: something changed that nobody described."""
        self.facts.clear()
        self.known_dirs.clear()
        self.contents.clear()
        self.fact_values.clear()
        self.shown.clear()
        self._advance(None)

    def predicted(self, request: FactRequest) -> FactEntry | None:
        """A fact computed from a file content the plan knows, if the fact can do that."""
        path = request.kwargs.get("path")
        if not isinstance(path, str) or request.context:
            return None
        content = self.contents.get(posixpath.normpath(path))
        if content is None:
            return None
        raw = request.fact.predict(content, **request.kwargs)
        if raw is None:
            return None
        stdout, rc = raw
        try:
            value = request.fact.parse(stdout, rc)
        except Exception:  # a prediction the fact cannot read back: read the host instead
            return None
        return FactEntry(request, stdout, rc, value, self.epoch)

    def rewind_dirs(self, index: int) -> None:
        """Re-planning from operation ``index``: forget directories later plans assumed."""
        self.known_dirs = set(self._dirs_before.get(index, frozenset()))

    def _advance(self, touched: Touched) -> None:
        self.touch_log.append(touched)
        self.epoch += 1

    def plan(self, op: OpCall, guard: bool = True) -> OpPlan:
        """Plan ``op``. Raises FactMissing when it needs a fact not gathered yet."""
        plan = OpPlan(op)
        snapshot = self._dirs_snapshot
        if len(snapshot) != len(self.known_dirs) or snapshot != self.known_dirs:
            snapshot = self._dirs_snapshot = frozenset(self.known_dirs)
        self._dirs_before[op.index] = snapshot  # the same object while known_dirs is unchanged
        with scope(host=self.host, deploy_dir=op.deploy_dir):
            self._plan(op, plan, guard)
        op.meta.will_change = plan.changes and plan.error is None
        if plan.changes and plan.error is None:
            self._advance(plan.touched)
        return plan

    def _plan(self, op: OpCall, plan: OpPlan, guard: bool) -> None:
        if op.once_skip:  # _run_once: an earlier host runs it
            plan.skipped = True
            plan.noops.append("_run_once: runs on an earlier host")
            return
        try:
            for condition in op.globals.conditions:
                if not condition():
                    plan.skipped = True
                    return
        except (Exception, SystemExit) as exc:  # user code: its sys.exit() fails this operation only
            detail = str(exc) if isinstance(exc, OxinfraError) else f"{type(exc).__name__}: {exc}"
            plan.error = f"_if condition failed: {detail}"
            return
        if op.precomputed is not None:
            commands, ctx = op.precomputed
            plan.commands = list(commands)
        else:
            if op.memo is None:
                op.memo = {}
            ctx = PlanContext(self.known_dirs, op.memo, op.shell_safe, op.quiet)
            guards: dict[Any, FactEntry] = {}
            stale_failures: list[FactRequest] = []

            chdir = op.globals.chdir

            def lookup(host: Any, request: FactRequest) -> Any:
                if chdir is not None:
                    _relative_under_chdir(op, request, chdir)
                if not request.fact.decides:
                    return self._shown(request)
                entry = self.facts.get(request.key)
                if not guard and self.fact_values and (entry is None or self.may_be_stale(entry)):
                    # a dry run: what an earlier operation said it leaves beats the state
                    # before the run (a real run reads the host again instead: a guard)
                    known = self.fact_values.get(fact_key(request.cls, request.command), _NONE)
                    if known is not _NONE:
                        return known
                if entry is None or self.may_be_stale(entry):
                    predicted = self.predicted(request)
                    if predicted is not None:  # always checked on the host before use
                        if guard:
                            guards[request.key] = predicted
                        return predicted.value
                if entry is None:
                    raise FactMissing(request)
                if guard and self.may_be_stale(entry):
                    guards[request.key] = entry
                    if entry.error is not None and entry.rc >= 0:
                        # failed before an earlier change that may have touched it (and came
                        # back with a status: its command leaves the shell alone)
                        stale_failures.append(request)
                return entry.read()

            try:
                with scope(facts=lookup, privilege=op.globals.privilege_settings, plan=ctx):
                    plan.commands = plan_commands(ctx, op.func, op.args, op.kwargs)
            except FactMissing:
                raise
            except FactFailed as exc:
                plan.error, plan.fact_failed = str(exc), not stale_failures
            except OxinfraError as exc:
                plan.error = str(exc)
            except (Exception, SystemExit) as exc:
                plan.error = f"{type(exc).__name__}: {exc}"
            plan.guards = list(guards.values())
        plan.noops = list(ctx.noops)
        if ctx.diffs and plan.changes and plan.error is None:
            plan.diffs = list(ctx.diffs)
        if plan.changes and plan.error is None:
            if ctx.declared and not plan.has_function:
                plan.touched = (frozenset(ctx.touched), tuple(ctx.subtrees))
                for path in ctx.touched:
                    self.contents.pop(path, None)
                    self.shown.pop(path, None)
                for root in ctx.subtrees:
                    self.contents = {p: c for p, c in self.contents.items() if not p.startswith(root.rstrip("/") + "/")}
                    self.shown = {p: c for p, c in self.shown.items() if not p.startswith(root.rstrip("/") + "/")}
                self.contents.update(ctx.contents)
                self.shown.update(ctx.contents)
                for path, _, after, _ in plan.diffs or ():
                    if after is not None:
                        self.shown[posixpath.normpath(path)] = after
                for root in ctx.subtrees:
                    self.known_dirs = {d for d in self.known_dirs if not (d == root or d.startswith(root + "/"))}
                for created in ctx.created_dirs:
                    while created not in ("", "/"):
                        self.known_dirs.add(created)
                        created = posixpath.dirname(created)
            else:
                # It may have changed anything: every later fact is checked on the host. File
                # contents this plan wrote stay the best guess of what those checks will read
                # (the file as it was before the run surely is not); a guess that is wrong
                # fails its check and the plan is redone from there.
                plan.touched = None
                self.known_dirs.clear()
            self.fact_values.update(ctx.fact_values)


def _relative_under_chdir(op: OpCall, request: FactRequest, chdir: str) -> None:
    """Facts are read in the shell's own directory, an operation's commands in its
    ``_chdir``: a relative path would name two files (``files.file(path="x", _chdir=D)``
    read the login directory's ``x`` and truncated ``D/x``). Refused, on this host."""
    path = request.kwargs.get("path")
    if isinstance(path, str) and not path.startswith("/"):
        raise OxinfraError(
            f"{op.name}: the path {path!r} is relative and _chdir={chdir!r} is set: its facts would be "
            "read in the login directory and its commands run in _chdir; give an absolute path"
        )
