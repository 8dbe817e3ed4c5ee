"""``oxinfra.config``: pyinfra 3's ``config`` object, read and set by deploy code and config.py.

Its names and defaults are pyinfra 3.10's. Those that are defaults of global arguments
(``config.SUDO`` is every later operation's ``_sudo`` default, ``config.SHELL`` its
``_shell_executable``, ...) act as such: set in a deploy file, they apply to the operations
that file calls after it, on that host (and to the facts its code reads). As in pyinfra, what
a deploy file sets is undone when it ends: the next deploy file starts from the run's config
(config.py, then the command line). The run-wide ones (``PARALLEL``, ``FAIL_PERCENT``,
``CONNECT_TIMEOUT``) are read from config.py before any host connects (``--parallel``,
``--fail-percent``); set in a deploy file, ``PARALLEL`` is the ``_parallel`` default of the
operations called after it, as in pyinfra (each then runs in a round trip of its own: see
``_parallel``), and the others change only what ``config.X`` reads there afterwards
(pyinfra, too, has started its hosts by then).
"""

from __future__ import annotations

from typing import Any, Callable

from oxinfra.api.context import current_config
from oxinfra.exceptions import DeployError

__all__ = ["Config", "config", "CONFIG_DEFAULTS", "CONFIG_ARGUMENTS", "DEPLOY_ARGUMENTS"]

#: pyinfra 3.10's config names and defaults.
CONFIG_DEFAULTS: dict[str, Any] = {
    "CONNECT_TIMEOUT": 10,
    "FAIL_PERCENT": None,
    "PARALLEL": 0,
    "TEMP_DIR": None,
    "DEFAULT_TEMP_DIR": "/tmp",
    "REQUIRE_PYINFRA_VERSION": None,
    "REQUIRE_PACKAGES": None,
    "SUDO": False,
    "SUDO_USER": None,
    "PRESERVE_SUDO_ENV": False,
    "USE_SUDO_LOGIN": False,
    "SUDO_PASSWORD": None,
    "SU_USER": None,
    "USE_SU_LOGIN": False,
    "SU_SHELL": False,
    "PRESERVE_SU_ENV": False,
    "SU_PASSWORD": None,
    "DOAS": False,
    "DOAS_USER": None,
    "DZDO": False,
    "DZDO_USER": None,
    "IGNORE_ERRORS": False,
    "SHELL": "sh",
    "DIFF": False,
    "RETRY": 0,
    "RETRY_DELAY": 5,
    "INHERIT_ENV": (),
}

#: Config name -> the global argument it is the default of.
CONFIG_ARGUMENTS: dict[str, str] = {
    "SUDO": "_sudo",
    "SUDO_USER": "_sudo_user",
    "PRESERVE_SUDO_ENV": "_preserve_sudo_env",
    "USE_SUDO_LOGIN": "_use_sudo_login",
    "SUDO_PASSWORD": "_sudo_password",
    "SU_USER": "_su_user",
    "USE_SU_LOGIN": "_use_su_login",
    "SU_SHELL": "_su_shell",
    "PRESERVE_SU_ENV": "_preserve_su_env",
    "SU_PASSWORD": "_su_password",
    "DOAS": "_doas",
    "DOAS_USER": "_doas_user",
    "DZDO": "_dzdo",
    "DZDO_USER": "_dzdo_user",
    "IGNORE_ERRORS": "_ignore_errors",
    "SHELL": "_shell_executable",
    "RETRY": "_retries",
    "RETRY_DELAY": "_retry_delay",
    "TEMP_DIR": "_temp_dir",
}
_ARGUMENT_CONFIG = {arg: name for name, arg in CONFIG_ARGUMENTS.items()}
#: Set by deploy code, these are defaults of global arguments too (in config.py they are the
#: run's: ``--parallel``).
DEPLOY_ARGUMENTS: dict[str, str] = {"PARALLEL": "_parallel"}


class Config:
    """One set of config values (pyinfra's names). ``on_change(name)`` is called after a
    name that is a global argument's default is set."""

    __slots__ = ("_values", "_on_change")

    def __init__(self, values: dict[str, Any] | None = None, on_change: Callable[[str], None] | None = None) -> None:
        object.__setattr__(self, "_values", dict(values or {}))
        object.__setattr__(self, "_on_change", on_change)

    @classmethod
    def from_global_args(cls, defaults: dict[str, Any] | None, **kwargs: Any) -> "Config":
        """The config whose global-argument names hold ``defaults`` (``{"_sudo": True}``)."""
        values = {_ARGUMENT_CONFIG[k]: v for k, v in (defaults or {}).items() if k in _ARGUMENT_CONFIG}
        return cls(values, **kwargs)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        if name in CONFIG_DEFAULTS:
            return CONFIG_DEFAULTS[name]
        raise AttributeError(f"config has no {name!r} (pyinfra 3's config names: {', '.join(sorted(CONFIG_DEFAULTS))})")

    def __setattr__(self, name: str, value: Any) -> None:
        if not (name.isidentifier() and name.isupper()):
            raise DeployError(f"config.{name}: config names are upper case (config.SUDO = True)")
        values = self._values
        had, before = name in values, values.get(name)
        values[name] = value
        if (name in CONFIG_ARGUMENTS or name in DEPLOY_ARGUMENTS) and self._on_change is not None:
            try:
                self._on_change(name)
            except BaseException:  # a bad value: the config stays as it was
                if had:
                    values[name] = before
                else:
                    del values[name]
                raise

    def global_args(self) -> dict[str, Any]:
        """The global argument defaults this config sets (only those set away from pyinfra's
        defaults, so an untouched config adds nothing)."""
        out: dict[str, Any] = {}
        for name, arg in CONFIG_ARGUMENTS.items():
            if name in self._values and self._values[name] != CONFIG_DEFAULTS[name]:
                out[arg] = self._values[name]
        return out

    def values(self) -> dict[str, Any]:
        """Every name set (not the defaults)."""
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"


class _ConfigProxy:
    """``oxinfra.config``: the config of the deploy being evaluated (or of the config file
    being read)."""

    __slots__ = ()

    @staticmethod
    def _target() -> Config:
        found: Config | None = current_config()
        if found is None:
            raise DeployError(
                "`config` is only available while a deploy file or config.py runs: use the oxinfra CLI "
                "or oxinfra.api.run() to run this file"
            )
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target(), name, value)

    def __repr__(self) -> str:
        found = current_config()
        return "<config (no deploy running)>" if found is None else repr(found)


config: Any = _ConfigProxy()
