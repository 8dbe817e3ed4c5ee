"""Global arguments: the ``_sudo``, ``_env`` ... keywords every operation accepts.

They are validated once per call, here, and carried as a :class:`GlobalArgs` value.
"""

from __future__ import annotations

from typing import Any, Callable

from oxinfra.exceptions import ArgumentError

__all__ = ["GlobalArgs", "split_global_args", "GLOBAL_ARG_NAMES"]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _is_env(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and k.isidentifier() for k in v)


def _is_condition(v: Any) -> bool:
    return callable(v) or (isinstance(v, (list, tuple)) and all(callable(c) for c in v))


_SPEC: dict[str, tuple[Callable[[Any], bool], str, Any]] = {
    "_sudo": (_is_bool, "True or False", False),
    "_sudo_user": (_is_str, "a user name", None),
    "_su_user": (_is_str, "a user name", None),
    "_env": (_is_env, "a dict of NAME: value", None),
    "_chdir": (_is_str, "a directory path", None),
    "_ignore_errors": (_is_bool, "True or False", False),
    "_if": (_is_condition, "a callable or a list of callables returning bool", None),
    "_timeout": (_is_number, "a number of seconds", None),
    "_retries": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number", 0),
    "_retry_delay": (_is_number, "a number of seconds", 5),
}
GLOBAL_ARG_NAMES = frozenset(_SPEC)
_UNSET = object()


class GlobalArgs:
    """The validated global arguments of one operation call (defaults filled in)."""

    __slots__ = tuple(name.lstrip("_") for name in _SPEC) + ("_key",)

    sudo: bool
    sudo_user: str | None
    su_user: str | None
    env: dict[str, Any] | None
    chdir: str | None
    ignore_errors: bool
    timeout: float | None
    retries: int
    retry_delay: float

    def __init__(self, values: dict[str, Any]) -> None:
        for name, (_, _, default) in _SPEC.items():
            setattr(self, name.lstrip("_"), values.get(name, default))
        self._key: Any = _UNSET

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
                key = None if env is None and self.env is not None else (
                    self.sudo, self.sudo_user, self.su_user, env, self.chdir, self.ignore_errors,
                    freeze(self.timeout), self.retries, freeze(self.retry_delay))
            self._key = key
        return key

    @property
    def conditions(self) -> list[Callable[[], Any]]:
        cond = getattr(self, "if")
        if cond is None:
            return []
        return list(cond) if isinstance(cond, (list, tuple)) else [cond]

    @property
    def privilege(self) -> tuple[Any, ...]:
        """The privilege context facts are read in: () or (sudo, sudo_user, su_user)."""
        if self.sudo or self.sudo_user or self.su_user:
            return (bool(self.sudo or self.sudo_user), self.sudo_user, self.su_user)
        return ()


def split_global_args(
    kwargs: dict[str, Any], inherited: dict[str, Any], where: str | Callable[[], str]
) -> tuple[GlobalArgs, dict[str, Any]]:
    """Take the global arguments out of ``kwargs``; validate them; merge ``inherited`` (from
    an enclosing ``@deploy``) under them. Returns the globals and the operation's own kwargs
    (``kwargs`` itself when it holds no global argument and nothing is inherited: the
    defaults are one shared, never changed value). ``where`` names the call in errors."""
    if not inherited:
        for key in kwargs:
            if key[:1] == "_":
                break
        else:
            return DEFAULT, kwargs
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
            check, expected, _ = spec
            if not check(value):
                raise ArgumentError(f"{where}: {key} must be {expected}, not {value!r}")
            values[key] = value
        else:
            own[key] = value
    return GlobalArgs(values), own


#: The global arguments of a call that gives none (shared: GlobalArgs values are never changed).
DEFAULT = GlobalArgs({})
