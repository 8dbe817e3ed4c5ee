"""pyinfra's config file (``config.py``), read before the inventory: what it sets in
``oxinfra.config`` becomes the run's defaults (see :mod:`oxinfra.api.config`)."""

from __future__ import annotations

import math
import os
import traceback

from oxinfra.api.config import Config
from oxinfra.api.context import scope
from oxinfra.exceptions import DeployError, OxinfraError, exit_called

__all__ = ["read_config"]


def read_config(path: str) -> Config:
    """The config ``path`` sets (an empty Config when there is no such file). Errors in it
    are one line naming the file and line."""
    config = Config()
    if not os.path.isfile(path):
        if path != "config.py":  # named on the command line: it must be there
            raise DeployError(f"config file not found: {path}")
        return config
    try:
        with open(path, "rb") as handle:
            code = compile(handle.read(), os.path.abspath(path), "exec")
    except SyntaxError as exc:
        raise DeployError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except OSError as exc:
        raise DeployError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        with scope(config=config):
            exec(code, {"__name__": "__oxinfra_config__", "__file__": os.path.abspath(path)})
    except (Exception, SystemExit) as exc:
        line = next((n for f, n in traceback.walk_tb(exc.__traceback__) if f.f_code.co_filename == code.co_filename), 0)
        if isinstance(exc, SystemExit):
            raise DeployError(f"{path}:{line}: {exit_called(exc, 'while the config file was read')}") from None
        raise DeployError(f"{path}:{line}: {type(exc).__name__}: {exc}") from None
    from oxinfra._engine.pipeline import check_defaults

    try:
        check_defaults(config.global_args())
    except OxinfraError as exc:
        raise DeployError(f"{path}: {exc}") from None
    for name, low, high in (("PARALLEL", 0, None), ("FAIL_PERCENT", 0, 100)):
        value = getattr(config, name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if value is not None and not (number and value >= low and (high is None or value <= high)):
            bound = f"from {low} to {high}" if high is not None else f"of {low} or more"
            raise DeployError(f"{path}: config.{name} must be a number {bound}, not {value!r}")
    if isinstance(config.PARALLEL, float):
        config.PARALLEL = int(config.PARALLEL)
    return config
