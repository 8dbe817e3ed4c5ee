"""Account names: what ``useradd``/``groupadd`` accept everywhere (shared by the operations
that take a user or group name: ``server.user``, ``server.group``, ``crontab.crontab``...)."""

from __future__ import annotations

import re
from typing import Any

from oxinfra.exceptions import OperationValueError

__all__ = ["check_name"]

#: The portable set: a letter, digit or ``_`` first (never ``-``: it would read as an
#: option), then letters, digits, ``_``, ``.``, ``-``, and a final ``$`` (Samba machine
#: accounts); at most 32 characters; not all digits (it would read as an id).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}\$?\Z")


def check_name(value: Any, what: str, op: str) -> str:
    """``value`` as a user or group name, or an OperationValueError saying what is wrong."""
    if not isinstance(value, str) or not _NAME.match(value) or value.isdigit():
        raise OperationValueError(
            f"{op}: {what} {value!r} is not a valid name: use at most 32 letters, digits, '_', '.' "
            "or '-' (not first), optionally ending in '$', and not only digits"
        )
    return value
