"""What an operation's outcome shows when it must hide something.

- ``_sensitive=True``: its commands, no-op texts, outputs and messages are ``***`` in every
  event (so on the terminal at any ``-v``, in ``--json``, in ``--report``); its name, status
  and the engine's own words (``exit code 2``, ``stale``, ``could not run as sudo: ...``)
  stay. The operation's return value (:class:`~oxinfra.api.OperationMeta`) keeps the real
  output for the deploy code that asked for it.
- ``_sudo_password``: the password's text is masked wherever it would appear (it never
  should: it is not part of the commands).

The CLI masks the text of every other known secret (host data) in what it prints.
"""

from __future__ import annotations

import base64

import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from oxinfra._secrets import MASK, Redactor

__all__ = ["conceal", "must_conceal", "shown_output"]

#: Errors the engine itself words: they name no argument, command or output.
_ENGINE_ERROR = re.compile(
    r"exit code \d+|stale|could not run as [^:]+: sudo: [^\n]*|could not run as [^:]+: su: [^\n]*"
)


@lru_cache(maxsize=64)
def _redactor(password: str) -> Redactor:
    return Redactor([password])


def must_conceal(op: Any) -> bool:
    args = op.globals
    return bool(args.sensitive) or args.sudo_password is not None


def conceal(record: dict[str, Any], plan: Any, op: Any) -> tuple[dict[str, Any], Any]:
    """The record and the plan as events show them for ``op`` (see the module docs)."""
    args = op.globals
    if not args.sensitive:  # a sudo password only: its text masked, the rest as it is
        redactor = _redactor(str(args.sudo_password))
        shown = redactor.deep(record)
        for stream in ("stdout", "stderr"):  # exact bytes of output that is not UTF-8
            raw = shown.get(f"{stream}_b64")
            if raw:
                text = base64.b64decode(raw).decode("utf-8", "surrogateescape")
                masked = redactor.deep(text)
                if masked is not text:
                    shown = dict(shown) if shown is record else shown
                    shown[f"{stream}_b64"] = base64.b64encode(masked.encode("utf-8", "surrogateescape")).decode("ascii")
        if plan is None:
            return shown, None
        commands, noops = redactor.deep(plan.commands), redactor.deep(plan.noops)
        stdout = redactor.deep(op.meta.stdout)
        if commands is plan.commands and noops is plan.noops and stdout is op.meta.stdout:
            return shown, plan  # the usual case: the password is nowhere
        return shown, SimpleNamespace(
            commands=commands, noops=noops, op=SimpleNamespace(meta=SimpleNamespace(stdout=stdout))
        )
    shown = dict(record)
    if "noop" in shown:
        shown["noop"] = MASK
    if shown.get("error") and not _ENGINE_ERROR.fullmatch(shown["error"]):
        shown["error"] = MASK
    for stream in ("stdout", "stderr"):
        if shown.get(stream):
            shown[stream] = MASK
        shown.pop(f"{stream}_b64", None)  # the exact bytes of output that is not UTF-8
    if plan is None:
        return shown, None
    return shown, SimpleNamespace(
        commands=[MASK for _ in plan.commands],
        noops=[MASK for _ in plan.noops],
        op=SimpleNamespace(meta=SimpleNamespace(stdout=MASK if op.meta.stdout else "")),
    )


def shown_output(op: Any, stdout: bytes, stderr: bytes) -> dict[str, Any] | None:
    """The output fields of an outcome that did not fail (its record has none), as they may
    be shown (masked as :func:`conceal` masks a record); None when it printed nothing."""
    if not stdout and not stderr:
        return None
    from oxinfra._engine.capture import output_fields

    fields = {**output_fields("stdout", stdout), **output_fields("stderr", stderr)}
    return conceal(fields, None, op)[0] if must_conceal(op) else fields
