"""Global arguments: the ``_sudo``, ``_env`` ... keywords every operation accepts.

They are validated once per call, here, and carried as a :class:`GlobalArgs` value.

Privilege (pyinfra's names): ``_sudo``, ``_sudo_user``, ``_su_user``, ``_sudo_password``
(given to ``sudo`` on its stdin, never as an argument; see
:func:`oxinfra._engine.script.wrap_privilege`), ``_use_sudo_login`` (``sudo -i``) and
``_preserve_sudo_env`` (``sudo -E``). ``_sensitive=True`` hides the operation's commands,
outputs and messages in everything oxinfra prints.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, NamedTuple

from oxinfra._secrets import Secret
from oxinfra.exceptions import ArgumentError

__all__ = [
    "GlobalArgs",
    "split_global_args",
    "merge_global_args",
    "GLOBAL_ARG_NAMES",
    "Privilege",
    "privileged",
    "privilege_with",
    "PRIVILEGE_ARGS",
]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _is_env(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and k.isidentifier() for k in v)


def _is_password(v: Any) -> bool:
    # sudo reads one line: a newline (or a carriage return) would end it early.
    return isinstance(v, str) and v != "" and not any(c in v for c in "\n\r\x00")


def _is_condition(v: Any) -> bool:
    return callable(v) or (isinstance(v, (list, tuple)) and all(callable(c) for c in v))


_SPEC: dict[str, tuple[Callable[[Any], bool], str, Any]] = {
    "_sudo": (_is_bool, "True or False", False),
    "_sudo_user": (_is_str, "a user name", None),
    "_su_user": (_is_str, "a user name", None),
    "_sudo_password": (_is_password, "a non-empty string on one line", None),
    "_use_sudo_login": (_is_bool, "True or False", False),
    "_preserve_sudo_env": (_is_bool, "True or False", False),
    "_sensitive": (_is_bool, "True or False", False),
    "_env": (_is_env, "a dict of NAME: value", None),
    "_chdir": (_is_str, "a directory path", None),
    "_ignore_errors": (_is_bool, "True or False", False),
    "_if": (_is_condition, "a callable or a list of callables returning bool", None),
    "_timeout": (_is_number, "a number of seconds", None),
    "_retries": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number", 0),
    "_retry_delay": (_is_number, "a number of seconds", 5),
}
GLOBAL_ARG_NAMES = frozenset(_SPEC)
#: Arguments whose values are never shown, not even in the error about a bad one.
_SECRET_ARGS = frozenset({"_sudo_password"})
_UNSET = object()


class Privilege(NamedTuple):
    """Who an operation's commands (or a fact's command) run as. ``()`` stands for "the
    login user, no privilege change"; otherwise a Privilege whose ``password`` (a
    :class:`~oxinfra._secrets.Secret`), ``login`` and ``preserve_env`` apply to sudo only."""

    sudo: bool = False
    sudo_user: str | None = None
    su_user: str | None = None
    password: Secret | None = None
    login: bool = False
    preserve_env: bool = False


@lru_cache(maxsize=256)
def privileged(settings: Privilege) -> tuple[Any, ...]:
    """The privilege context of ``settings`` (as given, defaults included): ``()`` when
    neither sudo nor su is used, else a :class:`Privilege` holding only what applies
    (no password, ``-i`` or ``-E`` without sudo)."""
    sudo = bool(settings.sudo or settings.sudo_user)
    if not (sudo or settings.su_user):
        return ()
    if sudo:
        return Privilege(
            True,
            settings.sudo_user or None,
            settings.su_user or None,
            settings.password,
            settings.login,
            settings.preserve_env,
        )
    return Privilege(False, None, settings.su_user, None, False, False)


PRIVILEGE_ARGS = {
    "_sudo": "sudo",
    "_sudo_user": "sudo_user",
    "_su_user": "su_user",
    "_sudo_password": "password",
    "_use_sudo_login": "login",
    "_preserve_sudo_env": "preserve_env",
}


def privilege_with(base: tuple[Any, ...], given: dict[str, Any], where: str) -> tuple[Any, ...]:
    """The privilege context of a fact read with ``given`` global arguments (``_sudo``, ...)
    over ``base``, the settings in force (:attr:`GlobalArgs.privilege_settings`, or ``()``)."""
    fields = (Privilege(*base) if base else Privilege())._asdict()
    for key, value in given.items():
        _check(key, value, where)
        fields[PRIVILEGE_ARGS[key]] = Secret(value) if key in _SECRET_ARGS and value is not None else value
    return privileged(Privilege(**fields))


def _check(key: str, value: Any, where: str) -> None:
    check, expected, _ = _SPEC[key]
    if not check(value):
        shown = f"a {type(value).__name__} (not shown)" if key in _SECRET_ARGS else repr(value)
        raise ArgumentError(f"{where}: {key} must be {expected}, not {shown}")


class GlobalArgs:
    """The validated global arguments of one operation call (defaults filled in)."""

    __slots__ = tuple(name.lstrip("_") for name in _SPEC) + ("_key", "_privilege")

    sudo: bool
    sudo_user: str | None
    su_user: str | None
    sudo_password: Secret | None
    use_sudo_login: bool
    preserve_sudo_env: bool
    sensitive: bool
    env: dict[str, Any] | None
    chdir: str | None
    ignore_errors: bool
    timeout: float | None
    retries: int
    retry_delay: float

    def __init__(self, values: dict[str, Any]) -> None:
        for name, (_, _, default) in _SPEC.items():
            setattr(self, name.lstrip("_"), values.get(name, default))
        if self.sudo_password is not None:
            self.sudo_password = Secret(self.sudo_password)
        self._key: Any = _UNSET
        self._privilege: tuple[Any, ...] | None = None

    @property
    def key(self) -> Any:
        """A hashable value equal for equal global arguments, or None when they hold
        conditions (``_if``) or values that are not plain (see :mod:`oxinfra._keys`)."""
        key = self._key
        if key is _UNSET:
            from oxinfra._keys import freeze

            if getattr(self, "if") is not None:
                key = None
            else:
                env = freeze(self.env)
                key = (
                    None
                    if env is None and self.env is not None
                    else (
                        self.sudo,
                        self.sudo_user,
                        self.su_user,
                        env,
                        self.chdir,
                        self.ignore_errors,
                        freeze(self.timeout),
                        self.retries,
                        freeze(self.retry_delay),
                        self.sudo_password,
                        self.use_sudo_login,
                        self.preserve_sudo_env,
                        self.sensitive,
                    )
                )
            self._key = key
        return key

    @property
    def conditions(self) -> list[Callable[[], Any]]:
        cond = getattr(self, "if")
        if cond is None:
            return []
        return list(cond) if isinstance(cond, (list, tuple)) else [cond]

    @property
    def privilege_settings(self) -> tuple[Any, ...]:
        """The privilege arguments as given (defaults included), ``()`` when none is: what a
        fact read while this operation is planned starts from (``host.get_fact(...,
        _sudo=True)`` adds to it)."""
        settings = Privilege(
            self.sudo, self.sudo_user, self.su_user, self.sudo_password, self.use_sudo_login, self.preserve_sudo_env
        )
        return settings if any(settings) else ()

    @property
    def privilege(self) -> tuple[Any, ...]:
        """The privilege context the commands run in: ``()`` or a :class:`Privilege`."""
        found = self._privilege
        if found is None:
            settings = self.privilege_settings
            found = self._privilege = privileged(Privilege(*settings)) if settings else ()
        return found


def split_global_args(
    kwargs: dict[str, Any], inherited: dict[str, Any], where: str | Callable[[], str]
) -> tuple[GlobalArgs, dict[str, Any]]:
    """Take the global arguments out of ``kwargs``; validate them; merge ``inherited`` (from
    an enclosing ``@deploy``) under them. Returns the globals and the operation's own kwargs
    (``kwargs`` itself when it holds no global argument: the globals are then one shared,
    never changed value per ``inherited`` dict, which callers never change once made).
    ``where`` names the call in errors."""
    for key in kwargs:
        if key[:1] == "_":
            break
    else:
        if not inherited:
            return DEFAULT, kwargs
        last = _INHERITED
        if last[0] is inherited:
            return last[1], kwargs
        found = GlobalArgs(inherited)
        last[:] = [inherited, found]
        return found, kwargs
    if callable(where):
        where = where()
    own: dict[str, Any] = {}
    values = dict(inherited)
    for key, value in kwargs.items():
        if key.startswith("_"):
            spec = _SPEC.get(key)
            if spec is None:
                known = ", ".join(sorted(_SPEC))
                raise ArgumentError(f"{where}: unknown global argument {key!r} (known: {known})")
            _check(key, value, where)
            if key == "_if" and values.get("_if") is not None:
                values[key] = _conditions(values["_if"]) + _conditions(value)
            else:
                values[key] = value
        else:
            own[key] = value
    return GlobalArgs(values), own


def _conditions(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def merge_global_args(inherited: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` (checked global arguments) over ``inherited``; conditions (``_if``) of both
    must hold, as pyinfra combines those of nested deploys and ``host.when``."""
    merged = dict(inherited)
    for key, value in given.items():
        if key == "_if" and merged.get("_if") is not None and value is not None:
            merged[key] = _conditions(merged["_if"]) + _conditions(value)
        else:
            merged[key] = value
    return merged


#: The global arguments of a call that gives none (shared: GlobalArgs values are never changed).
DEFAULT = GlobalArgs({})
#: The inherited dict (the run's defaults, a @deploy's arguments) of the last call that gave
#: no global argument of its own, and its GlobalArgs: equal calls share one value.
_INHERITED: list[Any] = [None, DEFAULT]
