"""Hashable keys for plain values: what makes two arguments equal when oxinfra shares work.

A leaf: the author API keys fact reads and global arguments with it, the engine keys
operation calls (:mod:`oxinfra._engine.reuse`).
"""

from __future__ import annotations

from typing import Any

from oxinfra._secrets import Secret

__all__ = ["freeze"]

_ATOMS = (str, int, float, bool, bytes, type(None))


class _Unfreezable(Exception):
    pass


def _freeze(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        return value
    if kind is Secret:
        return (Secret, value.reveal())
    if kind is float:
        return (float, value.hex())  # 0.0 == -0.0, and nan != nan
    if kind in _ATOMS:
        return (kind, value)  # 1, 1.0 and True are equal keys otherwise
    if kind is list or kind is tuple:
        return (kind, tuple([_freeze(v) for v in value]))
    if kind is dict:
        return (dict, tuple([(_freeze(k), _freeze(v)) for k, v in value.items()]))
    if kind is set or kind is frozenset:
        return (kind, frozenset([_freeze(v) for v in value]))
    raise _Unfreezable


def freeze(value: Any) -> Any:
    """A hashable key equal for equal plain values (type included), or None for values of
    other types (objects, functions): those calls are not shared."""
    try:
        return _freeze(value)
    except _Unfreezable:
        return None
