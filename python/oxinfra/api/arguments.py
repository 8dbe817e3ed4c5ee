"""Global arguments: the ``_sudo``, ``_env`` ... keywords every operation accepts.

They are validated once per call, here, and carried as a :class:`GlobalArgs` value.

Privilege (pyinfra's names): ``_sudo``, ``_sudo_user``, ``_su_user``, ``_sudo_password``
(given to ``sudo`` on its stdin, never as an argument; see
:func:`oxinfra._engine.script.wrap_privilege`), ``_use_sudo_login`` (``sudo -i``),
``_preserve_sudo_env`` (``sudo -E``), ``_use_su_login`` (``su -l``), ``_preserve_su_env``
(``su -m``) and ``_su_shell`` (``su -s SHELL``). ``_sensitive=True`` hides the operation's
commands, outputs and messages in everything oxinfra prints.

Every other global argument of pyinfra 3.10 is honoured (``_success_exit_codes``,
``_shell_executable``, ``_stdin``, ``_continue_on_error``, ``_run_once``, ``_retry_until``,
``_serial``, ``_parallel``,
``_temp_dir``: oxinfra keeps no temporary files in a temporary directory, so there is
nothing to move) or, given a value that would change anything, refused with the reason
(:data:`REFUSED`).
"""

from __future__ import annotations

import re

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
    "REFUSED",
]


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_user(v: Any) -> bool:
    # no user name starts with "-": su would read a lone "-" as its login option and, with no
    # user left, become root (and sudo -u takes "#UID", never an option)
    # None: no user (it clears one set around the call)
    return v is None or (isinstance(v, str) and not v.startswith("-") and "\n" not in v and "\x00" not in v)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_env(v: Any) -> bool:
    # ASCII names only (isidentifier() takes "é", which dash refuses and bash skips), and
    # values exported as their text (a path, a number), never None, a bool or bytes (they
    # would be the text "None", "True" or "b'x'"), with no NUL byte
    return isinstance(v, dict) and all(
        isinstance(k, str)
        and _ENV_NAME.fullmatch(k) is not None
        and value is not None
        and not isinstance(value, (bool, bytes, bytearray))
        and "\x00" not in str(value)
        for k, value in v.items()
    )


def _is_password(v: Any) -> bool:
    # sudo reads one line: a newline (or a carriage return) would end it early.
    return isinstance(v, str) and v != "" and not any(c in v for c in "\n\r\x00")


def _is_condition(v: Any) -> bool:
    return callable(v) or (isinstance(v, (list, tuple)) and all(callable(c) for c in v))


def _is_codes(v: Any) -> bool:
    return (
        isinstance(v, (list, tuple, set, frozenset))
        and len(v) > 0
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in v)
    )


def _is_shell(v: Any) -> bool:
    """A shell's name or path: no spaces or shell syntax (it is quoted anyway)."""
    return isinstance(v, str) and v != "" and not v.startswith("-") and all(c.isalnum() or c in "_./+-" for c in v)


_SHELL_OPTION = re.compile(r"[-+][A-Za-z0-9][A-Za-z0-9-]*")
#: Long options a shell started for an operation may take: none reads an argument or ends
#: the shell before it reads the script (--version, --rcfile FILE, --dump-strings do).
_LONG_SHELL_OPTIONS = frozenset({"--login", "--noprofile", "--norc", "--posix"})
#: Short options it may not: -c reads a command string and -s is oxinfra's own; -n reads
#: without running, -t runs one command, -i is interactive (it ignores the SIGTERM of
#: _timeout), -D prints strings instead of running, -O reads an argument.
_REFUSED_SHELL_LETTERS = frozenset("csntiDO")


def shell_words(v: str) -> list[str]:
    """``_shell_executable`` as words: the shell, then its options (pyinfra 3's documented
    ``"bash -l"``). Each word is quoted on its own where the shell is started."""
    return v.split()


def _is_shell_command(v: Any) -> bool:
    """A shell's name or path, then options (``bash -l``, ``bash --login``, ``bash -o
    pipefail``): never ``-c``/``-s`` (oxinfra feeds the script on stdin with ``-s``)."""
    if not isinstance(v, str) or not v.strip():
        return False
    words = shell_words(v)
    if not _is_shell(words[0]):
        return False
    after_o = short = False
    for word in words[1:]:
        if after_o:  # the name of a set -o option
            if not word.isidentifier():
                return False
            after_o = False
        elif word.startswith("--"):
            # bash and zsh only, before any short option (bash refuses them after one)
            if word not in _LONG_SHELL_OPTIONS or short or words[0].rsplit("/", 1)[-1] not in ("bash", "zsh"):
                return False
        elif not _SHELL_OPTION.fullmatch(word):
            return False
        elif any(c in _REFUSED_SHELL_LETTERS for c in word[1:]):
            return False
        else:
            short = True
            after_o = word.endswith("o")  # -o NAME, -euo NAME
    return not after_o


def _is_su_shell(v: Any) -> bool:
    return v is False or v is None or (_is_shell(v) and v.startswith("/"))


def _is_stdin(v: Any) -> bool:
    # no NUL byte: the shell drops it from the here-document ("a\0b" arrived as "ab")
    lines = [v] if isinstance(v, str) else v
    return isinstance(lines, (list, tuple)) and all(isinstance(line, str) and "\x00" not in line for line in lines)


def _is_timeout(v: Any) -> bool:
    return _is_number(v) and v > 0  # timeout 0 is no timeout at all


def _is_directory(v: Any) -> bool:
    return isinstance(v, str) and "\x00" not in v


_SPEC: dict[str, tuple[Callable[[Any], bool], str, Any]] = {
    "_sudo": (_is_bool, "True or False", False),
    "_sudo_user": (_is_user, "a user name (not starting with -)", None),
    "_su_user": (_is_user, "a user name (not starting with -)", None),
    "_sudo_password": (_is_password, "a non-empty string on one line", None),
    "_use_sudo_login": (_is_bool, "True or False", False),
    "_preserve_sudo_env": (_is_bool, "True or False", False),
    "_sensitive": (_is_bool, "True or False", False),
    "_env": (_is_env, "a dict of NAME: value (NAME: letters, digits, _; no None, bool or bytes value)", None),
    "_chdir": (_is_directory, "a directory path", None),
    "_ignore_errors": (_is_bool, "True or False", False),
    "_if": (_is_condition, "a callable or a list of callables returning bool", None),
    "_timeout": (_is_timeout, "a number of seconds above 0", None),
    "_retries": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number", 0),
    "_retry_delay": (_is_number, "a number of seconds", 5),
    "_retry_until": (lambda v: v is None or callable(v), "a callable taking the output and returning bool", None),
    "_use_su_login": (_is_bool, "True or False", False),
    "_preserve_su_env": (_is_bool, "True or False", False),
    "_su_shell": (_is_su_shell, "an absolute shell path (or False)", False),
    "_success_exit_codes": (_is_codes, "a list of exit codes (0 to 255)", None),
    "_shell_executable": (
        _is_shell_command,
        "a shell's name or path, optionally with options, such as bash or 'bash -l' "
        "(never -c, -s, -n, -t, -i, -D or -O; long options: bash or zsh, before short ones)",
        "sh",
    ),
    "_stdin": (_is_stdin, "a string or a list of lines (no NUL byte)", None),
    "_temp_dir": (lambda v: v is None or (isinstance(v, str) and v != ""), "a directory path", None),
    "_continue_on_error": (_is_bool, "True or False", False),
    "_run_once": (_is_bool, "True or False", False),
    "_serial": (_is_bool, "True or False", False),
    "_parallel": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "a whole number", 0),
    # Refused (see REFUSED) unless given as their default:
    "_get_pty": (_is_bool, "True or False", False),
    "_su_password": (lambda v: True, "", None),
    "_doas": (_is_bool, "True or False", False),
    "_doas_user": (lambda v: v is None or isinstance(v, str), "a user name", None),
    "_dzdo": (_is_bool, "True or False", False),
    "_dzdo_user": (lambda v: v is None or isinstance(v, str), "a user name", None),
}
#: pyinfra global arguments oxinfra does not do, and why (given their default value, they are
#: accepted and change nothing).
REFUSED = {
    "_get_pty": "oxinfra runs a host's operations in one shell without a terminal (a terminal would "
    "mix stderr into stdout and echo the script back)",
    "_su_password": "su reads a password from a terminal only and oxinfra's shell has none: log in as "
    "root, or use _sudo=True with _su_user (sudo's password), or _sudo_user",
    "_doas": "oxinfra does not wrap commands with doas (not proven on any host here): use _sudo",
    "_doas_user": "oxinfra does not wrap commands with doas (not proven on any host here): use _sudo_user",
    "_dzdo": "oxinfra does not wrap commands with dzdo: use _sudo",
    "_dzdo_user": "oxinfra does not wrap commands with dzdo: use _sudo_user",
}
GLOBAL_ARG_NAMES = frozenset(_SPEC)
#: Arguments whose values are never shown, not even in the error about a bad one.
_SECRET_ARGS = frozenset({"_sudo_password", "_su_password"})
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
    su_login: bool = False
    su_preserve_env: bool = False
    su_shell: str | None = None


@lru_cache(maxsize=256)
def privileged(settings: Privilege) -> tuple[Any, ...]:
    """The privilege context of ``settings`` (as given, defaults included): ``()`` when
    neither sudo nor su is used, else a :class:`Privilege` holding only what applies
    (no password, ``-i`` or ``-E`` without sudo)."""
    sudo = bool(settings.sudo or settings.sudo_user)
    if not (sudo or settings.su_user):
        return ()
    su = (bool(settings.su_login), bool(settings.su_preserve_env), settings.su_shell or None)
    if not settings.su_user:
        su = (False, False, None)
    if sudo:
        return Privilege(
            True,
            settings.sudo_user or None,
            settings.su_user or None,
            settings.password,
            settings.login,
            settings.preserve_env,
            *su,
        )
    return Privilege(False, None, settings.su_user, None, False, False, *su)


PRIVILEGE_ARGS = {
    "_sudo": "sudo",
    "_sudo_user": "sudo_user",
    "_su_user": "su_user",
    "_sudo_password": "password",
    "_use_sudo_login": "login",
    "_preserve_sudo_env": "preserve_env",
    "_use_su_login": "su_login",
    "_preserve_su_env": "su_preserve_env",
    "_su_shell": "su_shell",
}


def privilege_with(base: tuple[Any, ...], given: dict[str, Any], where: str) -> tuple[Any, ...]:
    """The privilege context of a fact read with ``given`` global arguments (``_sudo``, ...)
    over ``base``, the settings in force (:attr:`GlobalArgs.privilege_settings`, or ``()``)."""
    fields = (Privilege(*base) if base else Privilege())._asdict()
    for key, value in given.items():
        _check(key, value, where)
        fields[PRIVILEGE_ARGS[key]] = Secret(value) if key in _SECRET_ARGS and value is not None else value
    _sudo_off(given, fields, "sudo_user")
    return privileged(Privilege(**fields))


def _check(key: str, value: Any, where: str) -> None:
    check, expected, default = _SPEC[key]
    reason = REFUSED.get(key)
    if reason is not None and value != default and value is not None:
        raise ArgumentError(f"{where}: {key} is not supported: {reason}")
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
    retry_until: Callable[[dict[str, Any]], Any] | None
    use_su_login: bool
    preserve_su_env: bool
    su_shell: Any
    success_exit_codes: Any
    shell_executable: str
    stdin: Any
    temp_dir: str | None
    continue_on_error: bool
    run_once: bool
    serial: bool
    parallel: int

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

            # conditions and callbacks are per call; _run_once calls differ between hosts
            if getattr(self, "if") is not None or self.retry_until is not None or self.run_once:
                key = None
            else:
                parts: list[Any] = []
                for name in _SPEC:
                    value = getattr(self, name[1:])
                    if name == "_sudo_password":
                        parts.append(value)
                        continue
                    frozen = freeze(value)
                    if frozen is None and value is not None:
                        parts = []
                        break
                    parts.append(frozen)
                key = tuple(parts) if parts else None
            self._key = key
        return key

    @property
    def conditions(self) -> list[Callable[[], Any]]:
        cond = getattr(self, "if")
        if cond is None:
            return []
        return list(cond) if isinstance(cond, (list, tuple)) else [cond]

    @property
    def privilege_settings(self) -> Privilege | tuple[()]:
        """The privilege arguments as given (defaults included), ``()`` when none is: what a
        fact read while this operation is planned starts from (``host.get_fact(...,
        _sudo=True)`` adds to it)."""
        settings = Privilege(
            self.sudo,
            self.sudo_user,
            self.su_user,
            self.sudo_password,
            self.use_sudo_login,
            self.preserve_sudo_env,
            self.use_su_login,
            self.preserve_su_env,
            self.su_shell or None,
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
    _sudo_off(kwargs, values)
    return GlobalArgs(values), own


def _sudo_off(given: dict[str, Any], merged: dict[str, Any], key: str = "_sudo_user") -> None:
    """A caller's ``_sudo=False`` turns sudo off: a ``_sudo_user`` set around it (a
    ``@deploy``, the run's defaults) or beside it is dropped, as pyinfra ignores
    ``_sudo_user`` without ``_sudo`` (``_sudo_user`` alone still means sudo here)."""
    if given.get("_sudo") is False:
        merged[key] = None


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
    _sudo_off(given, merged)
    return merged


#: The global arguments of a call that gives none (shared: GlobalArgs values are never changed).
DEFAULT = GlobalArgs({})
#: The inherited dict (the run's defaults, a @deploy's arguments) of the last call that gave
#: no global argument of its own, and its GlobalArgs: equal calls share one value.
_INHERITED: list[Any] = [None, DEFAULT]
