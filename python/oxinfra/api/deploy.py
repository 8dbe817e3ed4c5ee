"""Deploy files and ``@deploy`` functions.

A deploy file is plain Python run once per host with ``oxinfra.host`` set to that host;
every operation it calls is recorded for the host. ``@deploy("name")`` groups operations
under a name and passes global arguments given to the call down to them::

    from oxinfra.api import deploy
    from oxinfra.operations import files, server

    @deploy("Install app")
    def install_app(version="1.0"):
        files.directory(path="/opt/app")
        server.shell(commands=[f"echo {version} > /opt/app/VERSION"])

    install_app(_sudo=True)
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from typing import Any, Callable, Iterator

from oxinfra.api.arguments import split_global_args
from oxinfra.api.context import deploy_dir, using_host
from oxinfra.api.facts import FactMissing, FactRequest, fact_source
from oxinfra.inventory.host import data_defaults as defaults_layer
from oxinfra.api.operation import OpCall, Recorder, _recorder, current_recorder
from oxinfra.exceptions import DeployError, OxinfraError

__all__ = ["deploy", "DeployFile", "evaluate", "import_path"]


def deploy(name: str | None = None, data_defaults: dict[str, Any] | None = None) -> Callable[..., Any]:
    """Group operations into a named deploy; global arguments of the call apply to them all.

    ``data_defaults`` is the lowest layer of host data while the deploy runs: ``host.data.x``
    inside it falls back to ``data_defaults["x"]`` when no inventory layer sets ``x``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        label = name or func.__name__

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            recorder = current_recorder()
            if recorder is None:
                raise DeployError(f"deploy {label!r} was called outside a running deploy")
            global_args, own = split_global_args(kwargs, recorder.deploy_args[-1], f"deploy {label!r}")
            inherited = dict(recorder.deploy_args[-1])
            inherited.update({k: v for k, v in kwargs.items() if k.startswith("_")})
            recorder.deploy_args.append(inherited)
            recorder.deploy_names.append(label)
            try:
                with defaults_layer(data_defaults):
                    return func(*args, **own)
            finally:
                recorder.deploy_names.pop()
                recorder.deploy_args.pop()

        return wrapper

    if callable(name):  # used bare: @deploy
        func, name = name, None
        return decorate(func)
    return decorate


class DeployFile:
    """A deploy file read and compiled once, run once per host."""

    @classmethod
    def from_source(cls, name: str, source: str, directory: str) -> "DeployFile":
        self = cls.__new__(cls)
        self.path = name
        self.directory = directory
        self.code = compile(source, name, "exec")
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


def _run_deploy_files(files: list[DeployFile]) -> None:
    for deploy_file in files:
        deploy_dir.set(deploy_file.directory)
        namespace = {"__name__": "__oxinfra_deploy__", "__file__": deploy_file.path}
        exec(deploy_file.code, namespace)


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
    for the duration of a run."""
    added = [d for d in dict.fromkeys(f.directory for f in files) if d not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for directory in added:
            try:
                sys.path.remove(directory)
            except ValueError:
                pass


def evaluate(
    host: Any,
    files: list[DeployFile],
    facts: Callable[[Any, FactRequest], Any],
) -> list[OpCall]:
    """Run the deploy files for ``host`` and return its operation calls in order.

    ``facts`` answers ``host.get_fact`` calls made by deploy code; it raises
    :class:`FactMissing` when the fact has to be gathered first (the caller gathers it and
    evaluates again).
    """
    recorder = Recorder(host)
    recorder.stop_code = _STOP_CODE
    token = _recorder.set(recorder)
    fact_token = fact_source.set(facts)
    dir_token = deploy_dir.set(None)
    try:
        with using_host(host):
            _run_deploy_files(files)
    except FactMissing:
        raise
    except OxinfraError as exc:
        message = str(exc)
        where = _where(exc, files)
        if where and f"{os.path.basename(where.rsplit(':', 1)[0])}:" not in message:
            message = f"{where}: {message}"
        error = DeployError(message)
        error.exit_code = exc.exit_code if exc.exit_code != 1 else 2
        raise error from None
    except Exception as exc:
        where = _where(exc, files) or files[0].path
        raise DeployError(f"{where}: {type(exc).__name__}: {exc} (on host {host.name})") from None
    finally:
        deploy_dir.reset(dir_token)
        fact_source.reset(fact_token)
        _recorder.reset(token)
    return recorder.ops
