"""Evaluation: deploy files run once per host, every operation call recorded and discovered.

A deploy file is plain Python run once per host with ``oxinfra.host`` set to that host
(:func:`evaluate`). ``@operation`` checks each call and hands it to the :class:`Recorder` in
context, which gives it its call-site key -- the chain of ``(file, line)`` of deploy-code
frames that led to it, plus how many times that chain was seen on this host -- and
*discovers* it (:func:`discover`): runs the generator once with no facts, so argument errors
raise before any host is touched and the facts it reads first are known. Equal calls on many
hosts share one discovery (:mod:`oxinfra._engine.reuse`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from typing import Any, Callable, Iterator

from oxinfra._engine.reuse import SharedCall, call_key
from oxinfra.api.arguments import GlobalArgs, merge_global_args, split_global_args
from oxinfra.api.config import CONFIG_ARGUMENTS, DEPLOY_ARGUMENTS, Config
from oxinfra.api.commands import OperationMeta
from oxinfra.api.context import current_deploy_dir, current_run_memo, scope
from oxinfra.api.effects import PlanContext, plan_commands
from oxinfra.api.facts import FactFailed, FactMissing, FactRequest
from oxinfra.exceptions import DeployError, OperationError, OxinfraError, exit_called

__all__ = ["OpCall", "Recorder", "discover", "DeployFile", "evaluate", "import_path"]

_UNSET: Any = object()
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OpCall:
    """One operation call recorded for one host, in call order."""

    __slots__ = (
        "key",
        "label",
        "name",
        "func",
        "args",
        "kwargs",
        "globals",
        "meta",
        "first_facts",
        "precomputed",
        "index",
        "deploy_dir",
        "memo",
        "shell_safe",
        "quiet",
        "shared",
        "once_skip",
    )

    def __init__(
        self,
        key: tuple[Any, ...],
        label: str,
        name: str,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        global_args: GlobalArgs,
        meta: OperationMeta,
    ) -> None:
        self.key = key
        self.label = label
        self.name = name
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.globals = global_args
        self.meta = meta
        self.first_facts: list[FactRequest] | tuple[FactRequest, ...] = ()
        self.precomputed: tuple[list[Any], PlanContext] | None = None
        self.index = 0
        self.deploy_dir = current_deploy_dir()
        self.memo: dict[str, Any] | None = None  # op_memo(), made when first used
        self.shell_safe = bool(getattr(func, "_oxinfra_shell_safe", False))
        self.quiet = bool(getattr(func, "_oxinfra_quiet", False))
        # The discovery shared with every host making the same call (_engine/reuse.py), if any.
        self.shared: SharedCall | None = None
        # _run_once: an earlier host makes this call, so it is skipped here (pipeline.run_once).
        self.once_skip = False

    def for_host(self, host_name: str) -> "OpCall":
        """This call as another host makes it (same arguments and shared discovery; its own
        outcome). Only for calls whose discovery is shared (``shared``)."""
        copy = _new_call(OpCall)
        copy.key, copy.label, copy.name, copy.func = self.key, self.label, self.name, self.func
        copy.args, copy.kwargs, copy.globals = self.args, self.kwargs, self.globals
        copy.meta = OperationMeta(self.meta.op_name, host_name)
        copy.first_facts, copy.precomputed, copy.index = self.first_facts, self.precomputed, self.index
        shared = self.shared
        assert shared is not None
        copy.deploy_dir, copy.shell_safe, copy.shared = self.deploy_dir, self.shell_safe, shared
        copy.quiet = self.quiet
        copy.memo = dict(shared.memo) if shared.memo else None
        copy.once_skip = False
        return copy


_new_call = object.__new__


class Recorder:
    """Collects the operation calls of one host while its deploy files run."""

    def __init__(self, host: Any, defaults: dict[str, Any] | None = None) -> None:
        self.host = host
        self.ops: list[OpCall] = []
        self.defaults = defaults if defaults is not None else {}
        #: ``oxinfra.config`` while this host's deploy files run: the run's global arguments
        #: under pyinfra's config names; setting one changes the defaults of later calls.
        self.config = Config.from_global_args(self.defaults, on_change=self._config_changed)
        self._config_start = self.config.values()
        # The global arguments each enclosing @deploy, ``host.when``/``host.arguments`` or
        # ``local.include`` gave, outermost first; ``deploy_args[i]``: what is in force at
        # depth i (the run's defaults and the config, then each level over it: one dict per
        # level, never changed once made, shared by the calls made there).
        self._levels: list[dict[str, Any]] = []
        self.deploy_args: list[dict[str, Any]] = [self.defaults]
        self.deploy_names: list[str] = []
        self._seen: dict[tuple[Any, ...], int] = {}
        #: The position in each enclosing ``host.loop`` (outermost first): part of the key of
        #: the calls made in it, as pyinfra does (see :meth:`call_site`).
        self.loop_positions: tuple[int, ...] = ()
        self.stop_code: Any = None  # the code object of the frame that runs deploy files
        self._scopes: list[scope] = []  # privilege of facts read by deploy code, after config changes

    def push_args(self, given: dict[str, Any]) -> None:
        """Global arguments (checked by the caller) for the calls made until :meth:`pop_args`."""
        self._levels.append(given)
        self.deploy_args.append(merge_global_args(self.deploy_args[-1], given))

    def pop_args(self) -> None:
        self._levels.pop()
        self.deploy_args.pop()

    def _base(self) -> dict[str, Any]:
        base = dict(self.defaults)
        start = self._config_start
        for name, value in self.config.values().items():
            arg = CONFIG_ARGUMENTS.get(name)
            if arg is None and name in DEPLOY_ARGUMENTS and start.get(name, _UNSET) != value:
                arg = DEPLOY_ARGUMENTS[name]  # set by deploy code
            if arg is not None:
                base[arg] = value
        if base.get("_sudo") is False:  # config.SUDO = False: sudo off, as _sudo=False on a call
            base["_sudo_user"] = None
        return base

    def _config_changed(self, name: str) -> None:
        base = self._base()
        split_global_args(dict(base), {}, f"config.{name}")  # a bad value raises; Config undoes it
        args = [base]
        for given in self._levels:
            args.append(merge_global_args(args[-1], given))
        self.deploy_args[:] = args
        privilege = split_global_args({}, base, "")[0].privilege_settings
        entered = scope(privilege=privilege)
        entered.__enter__()
        self._scopes.append(entered)

    def reset_config(self) -> None:
        """A deploy file ended: what it set in ``config`` is undone (as pyinfra does)."""
        if self.config.values() != self._config_start:
            self.config._values.clear()
            self.config._values.update(self._config_start)
            self.deploy_args[:] = [self.defaults]  # no level is open when a file ends
            self.close_scopes()

    def restore_config(self, values: dict[str, Any]) -> None:
        """Put ``config`` back as it was (``values``: :meth:`Config.values`) after an include."""
        if self.config.values() != values:
            self.config._values.clear()
            self.config._values.update(values)
            self._config_changed("")

    def close_scopes(self) -> None:
        while self._scopes:
            self._scopes.pop().__exit__(None, None, None)

    def call_site(self) -> tuple[tuple[Any, ...], str]:
        """The key of the current call: the chain of deploy-code lines that led to it, plus
        how many times this chain has been seen on this host (loops)."""
        frame = sys._getframe(2)
        stop = self.stop_code
        back = frame.f_back
        filename = frame.f_code.co_filename
        if back is not None and back.f_code is stop and not filename.startswith(_PACKAGE_DIR):
            # (file, line) pairs, then ("loop", positions) in host.loop
            site: tuple[tuple[str, Any], ...] = ((filename, frame.f_lineno),)  # top level of a deploy file
        else:
            chain: list[tuple[str, int]] = []
            walk: Any = frame
            while walk is not None and walk.f_code is not stop:
                filename = walk.f_code.co_filename
                if not filename.startswith(_PACKAGE_DIR):
                    chain.append((filename, walk.f_lineno))
                walk = walk.f_back
            chain.reverse()
            site = tuple(chain)
        label = _site_label(site[-1] if site else None)
        if self.loop_positions:
            # In host.loop: the call is told apart by its position in each enclosing loop, so
            # a line reached in iteration 2 on one host and in iterations 1 and 2 on another
            # is the same operation for both in iteration 2 (pyinfra's order, not a conflict).
            positions = self.loop_positions
            site = site + (("loop", positions),)
            label += " (loop " + ".".join(str(p + 1) for p in positions) + ")"
        count = self._seen.get(site, 0)
        self._seen[site] = count + 1
        if not count:
            return _first_call_key(site), label
        return site + (count,), label + f" (call {count + 1})"

    def record(
        self,
        gen_func: Callable[..., Any],
        op_name: str,
        name: str | None,
        key: tuple[Any, ...],
        label: str,
        args: tuple[Any, ...],
        own: dict[str, Any],
        global_args: GlobalArgs,
    ) -> OperationMeta:
        """Record a checked operation call (``@operation`` hands it over) and discover it, or
        take the discovery of an equal call another host made (oxinfra._engine.reuse)."""
        display = name or op_name
        if self.deploy_names:
            display = f"{self.deploy_names[-1]} | {display}"
        meta = OperationMeta(display, self.host.name)
        call = OpCall(key, label, display, gen_func, args, own, global_args, meta)
        meta._probe = functools.partial(will_change, self.host, call)
        call.index = len(self.ops)
        self.ops.append(call)
        memo = current_run_memo()
        if memo is None:
            discover(self.host, call)
            return meta
        shared_key = call_key(gen_func, args, own, global_args, call.deploy_dir)
        shared = memo.calls.get(shared_key) if shared_key is not None else None
        if shared is None:
            if discover(self.host, call) and shared_key is not None and len(memo.calls) < memo.max_calls:
                shared = memo.calls[shared_key] = SharedCall(
                    call.first_facts, call.precomputed, dict(call.memo) if call.memo else {}
                )
                call.shared = shared
        else:
            call.first_facts = shared.first_facts
            call.precomputed = shared.precomputed
            call.memo = dict(shared.memo) if shared.memo else None  # the host's own; discovery's work kept
            call.shared = shared
        return meta


@functools.lru_cache(maxsize=4096)
def _first_call_key(site: tuple[tuple[str, Any], ...]) -> tuple[Any, ...]:
    """The key of the first call from ``site`` (one tuple shared by every host)."""
    return site + (0,)


@functools.lru_cache(maxsize=4096)
def _site_label(where: tuple[str, int] | None) -> str:
    return f"{os.path.basename(where[0])}:{where[1]}" if where else "<unknown>"


def _no_facts(host: Any, request: FactRequest) -> Any:
    raise FactMissing(request)


def discover(host: Any, call: OpCall) -> bool:
    """Run the generator with no facts at all: errors in the arguments (a template that
    does not render, a bad value) surface now, before any host changes; the facts it reads
    first are noted so the first batch can gather them; an operation that reads no facts is
    planned here once. Returns whether the result may be shared with other hosts making the
    same call (the operation did not read the host itself)."""
    reads = [False, False]
    if call.memo is None:
        call.memo = {}
    ctx = PlanContext(memo=call.memo, shell_safe=call.shell_safe, quiet=call.quiet)
    try:
        with scope(reads=reads, facts=_no_facts, privilege=call.globals.privilege_settings, plan=ctx):
            commands = plan_commands(ctx, call.func, call.args, call.kwargs)
    except FactMissing as exc:
        call.first_facts = exc.requests
    except (Exception, SystemExit) as exc:  # sys.exit() in an operation fails that call, never the run
        if call.globals.sensitive:  # the message may show its arguments: name the call only
            raise OperationError(
                f"{call.label}: {call.name}: {type(exc).__name__} (details hidden: _sensitive)"
            ) from None
        if isinstance(exc, (OperationError, DeployError)):
            raise
        # an operation's own bug or bad argument: name the call
        raise OperationError(f"{call.label}: {call.name}: {type(exc).__name__}: {exc}") from exc
    else:
        call.precomputed = (commands, ctx)
    return not reads[0]


def will_change(host: Any, call: OpCall) -> bool:
    """Whether ``call`` would change something, planned from the facts deploy code reads (the
    state before the run): ``op.will_change`` / ``op.changed`` read by deploy code. A fact
    not gathered yet raises FactMissing, as a fact read by deploy code does: the host is
    evaluated again once it is gathered."""
    if call.precomputed is not None:
        return bool(call.precomputed[0])
    ctx = PlanContext(memo=dict(call.memo or {}), shell_safe=call.shell_safe, quiet=call.quiet)
    try:
        with scope(host=host, deploy_dir=call.deploy_dir, privilege=call.globals.privilege_settings, plan=ctx):
            return bool(plan_commands(ctx, call.func, call.args, call.kwargs))
    except (FactMissing, FactFailed, OxinfraError):
        raise
    except Exception as exc:
        raise OperationError(f"{call.label}: {call.name}: {type(exc).__name__}: {exc}") from exc


class DeployFile:
    """A deploy file read and compiled once, run once per host; or a Python function that
    calls operations (:meth:`from_callable`: the library's ``run(inventory, deploy=func)``)."""

    #: The function to call instead of running ``code`` (a deploy given as a callable).
    func: Callable[[], object] | None = None
    #: The source of a deploy made from text (:meth:`from_source`): sharded runs send it to
    #: their workers, which compile it again.
    source: str | None = None

    @classmethod
    def from_callable(cls, func: Callable[[], object]) -> "DeployFile":
        """A deploy that is a function taking no arguments: it runs once per host, as a
        deploy file does; its operation calls are keyed by their lines in its source."""
        if not callable(func):
            raise DeployError(f"a deploy is a file path or a function, not {type(func).__name__}")
        self = cls.__new__(cls)
        code = getattr(func, "__code__", None)
        filename = code.co_filename if code is not None else "<deploy>"
        self.path = os.path.abspath(filename) if os.path.isfile(filename) else filename
        self.directory = os.path.dirname(self.path) if os.path.isfile(filename) else os.getcwd()
        self.code = code  # type: ignore[assignment]  # not run: func is called instead
        self.func = func
        return self

    @classmethod
    def from_source(cls, name: str, source: str, directory: str) -> "DeployFile":
        self = cls.__new__(cls)
        self.path = name
        self.directory = directory
        self.code = compile(source, name, "exec")
        self.source = source
        return self

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.directory = os.path.dirname(self.path)
        try:
            with open(self.path, "rb") as handle:
                source = handle.read()
        except FileNotFoundError:
            raise DeployError(f"deploy file not found: {path}") from None
        except OSError as exc:
            raise DeployError(f"cannot read deploy file {path}: {exc.strerror}") from None
        try:
            self.code = compile(source, self.path, "exec")
        except SyntaxError as exc:
            raise DeployError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None


def _run_deploy_files(files: list[DeployFile], recorder: Recorder) -> None:
    for deploy_file in files:
        namespace = {"__name__": "__oxinfra_deploy__", "__file__": deploy_file.path}
        with scope(deploy_dir=deploy_file.directory):
            if deploy_file.func is not None:
                deploy_file.func()
            else:
                exec(deploy_file.code, namespace)
        recorder.reset_config()


_STOP_CODE = _run_deploy_files.__code__


def _where(exc: BaseException, files: list[DeployFile]) -> str:
    """file:line of the innermost frame of the exception that is in a deploy file or user code."""
    paths = {f.path for f in files}
    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if filename in paths or not filename.startswith(os.path.dirname(os.path.dirname(__file__))):
            if filename != "<string>":
                found = f"{os.path.relpath(filename)}:{line}"
    return found


@contextlib.contextmanager
def import_path(files: list[DeployFile]) -> Iterator[None]:
    """Deploy files may import modules beside them: their directories go first on sys.path
    for the duration of a run. The modules the run imported from those directories leave
    ``sys.modules`` when it ends, so the next run in this process (a library caller's)
    imports its own deploy's modules afresh -- another deploy's ``helpers``, or this one's
    changed since -- instead of finding the first run's. Modules imported before the run
    stay as they were."""
    directories = list(dict.fromkeys(f.directory for f in files if f.func is None))
    added = [d for d in directories if d not in sys.path]
    before = set(sys.modules)
    sys.path[:0] = added
    try:
        yield
    finally:
        for directory in added:
            try:
                sys.path.remove(directory)
            except ValueError:
                pass
        _forget_modules(before, directories)


def _forget_modules(before: set[str], directories: list[str]) -> None:
    """Remove from ``sys.modules`` what was imported since ``before`` as a module (or a
    package, with its submodules) lying directly in one of ``directories`` -- what those
    directories on sys.path made importable. A package found deeper (a virtualenv inside the
    project) or a submodule of a package imported before stays."""
    roots = {os.path.realpath(d or ".") for d in directories}
    beside: dict[str, bool] = {}  # top-level name -> it lies directly in one of ``roots``
    for name in [n for n in list(sys.modules) if n not in before]:
        top = name.partition(".")[0]
        if top in before:
            continue
        if top not in beside:
            beside[top] = _home(sys.modules.get(top)) in roots
        if beside[top]:
            sys.modules.pop(name, None)


def _home(module: Any) -> str | None:
    """The directory a top-level module was found in: a package's parent, a module's own."""
    paths = list(getattr(module, "__path__", None) or ())
    found = paths[0] if paths else getattr(module, "__file__", None)
    home = os.path.dirname(found) if found else ""
    return os.path.realpath(home) if home else None


def evaluate(
    host: Any,
    files: list[DeployFile],
    facts: Callable[[Any, FactRequest], Any],
    defaults: dict[str, Any] | None = None,
) -> list[OpCall]:
    """Run the deploy files for ``host`` and return its operation calls in order.

    ``facts`` answers ``host.get_fact`` calls made by deploy code; it raises
    :class:`FactMissing` when the fact has to be gathered first (the caller gathers it and
    evaluates again). ``defaults``: the run's global arguments (checked by the caller),
    under every call's own; their privilege settings also apply to facts deploy code reads.
    """
    recorder = Recorder(host, defaults)
    recorder.stop_code = _STOP_CODE
    privilege = split_global_args({}, defaults, "")[0].privilege_settings if defaults else ()
    try:
        with scope(
            recorder=recorder, facts=facts, deploy_dir=None, host=host, privilege=privilege, config=recorder.config
        ):
            try:
                _run_deploy_files(files, recorder)
            finally:
                recorder.close_scopes()
    except FactMissing:
        raise
    except FactFailed as exc:  # the host's answer, not the deploy's fault: that host fails
        where = _where(exc, files)
        raise FactFailed(exc.rc, f"{where}: {exc}" if where else str(exc)) from None
    except OxinfraError as exc:
        message = str(exc)
        where = _where(exc, files)
        if where and f"{os.path.basename(where.rsplit(':', 1)[0])}:" not in message:
            message = f"{where}: {message}"
        error = DeployError(message)
        error.exit_code = exc.exit_code if exc.exit_code != 1 else 2
        raise error from None
    except SystemExit as exc:  # the deploy's sys.exit(): an error of the deploy, never the run's end
        where = _where(exc, files) or files[0].path
        raise DeployError(
            f"{where}: {exit_called(exc, 'while the deploy was evaluated')} (on host {host.name})"
        ) from None
    except Exception as exc:
        where = _where(exc, files) or files[0].path
        raise DeployError(f"{where}: {type(exc).__name__}: {exc} (on host {host.name})") from None
    return recorder.ops
