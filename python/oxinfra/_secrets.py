"""Secrets: values that are used on hosts but never shown.

A leaf (imports nothing of oxinfra). Three things mark a value as secret:

- :class:`Secret` (``oxinfra.api.Secret``): a ``str`` whose ``repr`` is ``Secret('***')``;
- a data key whose name looks secret (:func:`is_secret_key`: ``password``, ``passwd``,
  ``pw``, ``secret``, ``token``, ``api_key``, ``auth``, ``credential``, ``private_key``,
  ``vault``, ... at any depth, in any case: ``db.password``, ``vault_pw``, ``apiKey``);
- a sudo password (``_sudo_password``, ``--sudo-password``, ``--ask-sudo-password``).

Where values are shown, two things hide them: :func:`masked` replaces the values of secret
keys and :class:`Secret` values in a data structure by ``***`` (``debug-inventory``), and a
:class:`Redactor` replaces every occurrence of a secret's *text* in what is printed
(commands at ``-vv``, errors, outputs, ``--json`` events, ``--report``): a command built
with an f-string from a secret is a plain ``str`` holding its text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable, Iterable

__all__ = [
    "Secret",
    "MASK",
    "is_secret_key",
    "masked",
    "secret_values",
    "Redactor",
    "MIN_MASKED_LENGTH",
    "register_secrets",
    "registered_secrets",
]

MASK = "***"

#: Texts shorter than this are not replaced in free text (a secret "ab" would turn every
#: "ab" of the output into ``***`` and tells nobody much); they are still hidden wherever
#: they are shown by key (``debug-inventory``) or as a :class:`Secret` (``repr``).
MIN_MASKED_LENGTH = 4
#: Texts up to this long are remembered masked (see :meth:`Redactor.text`).
_CACHED_LENGTH = 1024


class Secret(str):
    """A string that is used as itself but shown as ``***``.

    It IS the value for everything a deploy does with a string: f-strings, ``+``,
    ``quote()``, templates (Jinja calls ``str()``), comparisons, ``.encode()`` -- a secret
    must reach the config file or the command it is meant for, and a wrapper that printed
    ``***`` from ``str()`` would write ``***`` there without an error. Only ``repr()``
    (debug prints, error messages that show values with ``!r``, ``debug-inventory``) hides
    it. What oxinfra prints (commands, outputs, errors, JSON, reports) is masked by the
    value's text, so a string built from a secret is masked too. ``reveal()`` gives the
    plain ``str`` for code that wants to say so explicitly.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> "Secret":
        if isinstance(value, Secret):
            return value
        if not isinstance(value, str):
            raise TypeError(f"Secret() takes a str, not {type(value).__name__}")
        return super().__new__(cls, value)

    def reveal(self) -> str:
        """The value as a plain ``str``."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Secret, (self.reveal(),))


# Words that make a key secret wherever they appear in its name, and short ones that must be
# a whole word of it ("pw" in "vault_pw", not in "upwards"; "auth" in "basic_auth", not in
# "author").
_CONTAINED = re.compile(r"password|passwd|passphrase|secret|token|credential|private_?key|api_?key|vault")
_WORDS = frozenset({"pw", "pwd", "pass", "auth", "psk"})
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether data under the key ``name`` is secret (any depth, case-insensitive)."""
    if not isinstance(name, str):
        return False
    return _is_secret_key(name)


@lru_cache(maxsize=4096)
def _is_secret_key(name: str) -> bool:
    # every operation call's keyword names are looked at (register_secrets): a few distinct
    # names, asked for once per host and call
    words = _SPLIT.sub("_", _CAMEL.sub(r"\1_\2", name).lower())
    return _CONTAINED.search(words) is not None or any(word in _WORDS for word in words.split("_"))


def masked(value: Any, secret: bool = False) -> Any:
    """``value`` with :class:`Secret` values and everything under secret keys (at any depth)
    replaced by ``***``; dicts, lists and tuples are copied, other values kept."""
    if secret or isinstance(value, Secret):
        return MASK
    if isinstance(value, dict):
        return {k: masked(v, isinstance(k, str) and is_secret_key(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(masked(v) for v in value) if type(value) in (list, tuple) else [masked(v) for v in value]
    return value


#: Values that hold no secret unless under a secret key (a Secret is a str subclass: not these).
_PLAIN_LEAVES = frozenset({str, int, float, bool, type(None)})


def secret_values(value: Any, out: set[str], secret: bool = False) -> set[str]:
    """Add to ``out`` the texts of every :class:`Secret` in ``value`` and of every plain value
    (string, number, bytes) under a secret key, at any depth.

    Every operation call's arguments are walked (:func:`register_secrets`), so the walk is a
    loop over a stack, and the usual leaves (``str``, ``int``, ``float``, ``bool``, ``None``
    under a plain key) are looked at where their container is, without a push. A container
    is walked once per secrecy (a structure that holds itself ends)."""
    todo: list[tuple[Any, bool]] = [(value, secret)]
    push, pop = todo.append, todo.pop
    seen: set[tuple[int, bool]] = set()
    while todo:
        value, secret = pop()
        kind = type(value)
        if kind is str or kind is int or kind is float:  # Secret is a str subclass: not here
            if secret:
                out.add(str(value))
            continue
        if kind is dict or kind is list or kind is tuple or isinstance(value, (dict, list, tuple, set, frozenset)):
            mark = (id(value), secret)
            if mark in seen:
                continue
            seen.add(mark)
            if isinstance(value, dict):
                for k, v in value.items():
                    under = secret or (isinstance(k, str) and is_secret_key(k))
                    if under or type(v) not in _PLAIN_LEAVES:
                        push((v, under))
            else:
                for v in value:
                    if secret or type(v) not in _PLAIN_LEAVES:
                        push((v, secret))
        elif isinstance(value, Secret):
            out.add(value.reveal())
        elif secret and isinstance(value, (str, int, float, bytes)) and not isinstance(value, bool):
            out.add(value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))
    return out


#: The texts of the secrets found in operations' arguments in this process (append-only, in
#: the order found): :func:`register_secrets` adds to it, a :class:`Redactor` made with
#: ``registered=True`` masks them too. A sharded run's workers pass theirs to the parent.
_REGISTERED: list[str] = []
_REGISTERED_SET: set[str] = set()


def register_secrets(value: Any) -> None:
    """Remember the text of every :class:`Secret` in ``value`` (and of plain values under
    secret keys of dicts in it, at any depth; see :func:`secret_values`): an operation's
    arguments, so what the run prints masks them (``-vv`` commands, ``--json``, reports)."""
    found = secret_values(value, set())
    for text in sorted(found - _REGISTERED_SET):
        _REGISTERED_SET.add(text)
        _REGISTERED.append(text)


def registered_secrets(start: int = 0) -> list[str]:
    """The texts :func:`register_secrets` has remembered, from the ``start``-th on."""
    return _REGISTERED[start:]


def _spellings(text: str) -> set[str]:
    """``text`` and the ways it is spelled where it is shown inside other text: single-quoted
    for a shell (``'`` as ``'\\''``: commands), between the quotes of a Python ``repr`` (a
    backslash doubled, a quote escaped, control characters as ``\\n``: no-op reasons and
    error messages name values with ``!r``), and in a JSON string."""
    import json

    out = {text, text.replace("'", "'\\''"), json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    escaped = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    out |= {escaped, escaped.replace("'", "\\'"), escaped.replace('"', '\\"')}
    out |= {repr(text)[1:-1]}
    return out


class Redactor:
    """Replaces the text of known secrets by ``***`` in what is shown.

    A multi-line secret (a private key) is also masked line by line, so a part of it shown
    alone (one line of an error) is hidden too. Texts shorter than :data:`MIN_MASKED_LENGTH`
    are left (see there). With ``registered=True`` it also masks the secrets of operations'
    arguments (:func:`register_secrets`), those found after it was made included.
    """

    def __init__(self, values: Iterable[str] = (), registered: bool = False) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._cached = self._text
        self._registered = registered
        self._seen = 0
        self.add(values)

    def _sync(self) -> None:
        if self._registered and self._seen < len(_REGISTERED):
            new = _REGISTERED[self._seen :]
            self._seen += len(new)
            self.add(new)

    def add(self, values: Iterable[str]) -> None:
        found = set(self._values)
        for value in values:
            if not isinstance(value, str):
                continue
            value = str.__str__(value)
            for part in (value, *value.splitlines()):
                part = part.strip() if part is not value else part
                if len(part) >= MIN_MASKED_LENGTH:
                    found.update(_spellings(part))
        if found == self._values:
            return
        self._values = found
        # Longest first: a secret that contains another is replaced whole.
        ordered = sorted(found, key=lambda v: (-len(v), v))
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None
        self._cached = lru_cache(maxsize=8192)(self._text)

    def __bool__(self) -> bool:
        self._sync()
        return self._pattern is not None

    def values(self) -> list[str]:
        """The texts it masks (a multi-line secret's lines included), for another process's
        redactor."""
        self._sync()
        return sorted(self._values)

    def _text(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def text(self, text: str) -> str:
        """``text`` with every secret's text replaced by ``***``."""
        self._sync()
        # Short texts (commands, names, errors) repeat across hosts: cached. Outputs are
        # long and rarely repeat: not kept (8,192 of them could hold hundreds of MiB).
        return self._cached(text) if len(text) <= _CACHED_LENGTH else self._text(text)

    def masker(self) -> Callable[[str], str]:
        """:meth:`text` for many texts in a row (the secrets as they are now)."""
        self._sync()
        cached, direct = self._cached, self._text
        return lambda text: cached(text) if len(text) <= _CACHED_LENGTH else direct(text)

    def deep(self, value: Any) -> Any:
        """``value`` (dicts, lists, tuples of strings and other values) with every string
        masked: ``value`` itself when nothing in it needs masking (the usual case), else a
        copy (the containers that hold a secret copied, other values kept)."""
        self._sync()
        if self._pattern is None:
            return value
        return self._mask(value)

    def _mask(self, value: Any) -> Any:
        """One pass: ``value`` itself when no secret is in it."""
        if isinstance(value, str):
            if not value:
                return value
            text = str.__str__(value)
            masked = self.text(text)
            return value if masked == text else masked
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for k, v in value.items():
                m = self._mask(v)
                if m is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = m
            return value if out is None else out
        if isinstance(value, (list, tuple)):
            items = [self._mask(v) for v in value]
            if all(a is b for a, b in zip(items, value)):
                return value
            return items
        if isinstance(value, bytes):
            text = value.decode("utf-8", "replace")
            masked = self.text(text)
            return value if masked == text else masked
        return value
