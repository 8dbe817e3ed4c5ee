"""What a run shows of its secrets: every record, event, result and error the engine hands
out is masked here, once, where it is made -- so the CLI, ``--json``, ``--report``, the
library's results and ``on_event`` all get the same masked values.

- The run's :class:`~oxinfra._secrets.Redactor` (:func:`run_redactor`, on
  ``RunControl.redactor``): the texts of the inventory's secrets (``Secret`` values and values
  under secret-looking keys), of the run's global arguments' (the sudo password), and of every
  ``Secret`` given to an operation (registered as calls are recorded). It replaces each text by
  ``***`` in an operation's record (commands count aside: no-op texts, errors, outputs, the
  exact bytes ``*_b64``, diffs, its name), in the commands and outputs the library's results
  keep, in host errors and in every other event. A run with no secret does no masking work
  per operation (one truth test of the empty redactor).
- ``_sensitive=True``: its commands, no-op texts, outputs and messages are ``***`` in every
  event (so on the terminal at any ``-v``, in ``--json``, in ``--report``); its name, status
  and the engine's own words (``exit code 2``, ``stale``, ``could not run as sudo: ...``)
  stay. The operation's return value (:class:`~oxinfra.api.OperationMeta`) keeps the real
  output for the deploy code that asked for it.
- ``_sudo_password``: the password's text is masked wherever it would appear (it never
  should: it is not part of the commands).

Only what is shown is masked: the commands sent to the host keep the real values.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Callable, Iterable, Mapping

from oxinfra._secrets import MASK, Redactor, Secret, secret_values
from oxinfra.api.commands import FunctionCommand

__all__ = [
    "conceal",
    "must_conceal",
    "shown_output",
    "run_redactor",
    "masked_sink",
    "mask_host_errors",
    "mask_exception",
]

#: Errors the engine itself words: they name no argument, command or output.
_ENGINE_ERROR = re.compile(
    r"exit code \d+|stale|could not run as [^:]+: sudo: [^\n]*|could not run as [^:]+: su: [^\n]*"
)
#: The fields of events other than operations' that may hold a text from a host or a deploy.
_EVENT_TEXTS = ("error", "message", "reason")


def run_redactor(inventory: Any, global_args: Mapping[str, Any] | None, more: Iterable[str] = ()) -> Redactor:
    """The run's redactor: the texts of the inventory's secrets (``inventory.secret_values()``,
    when it has them), of the run's global arguments (``_sudo_password``), ``more``, and of
    every secret registered in operations' arguments (now and later in the run)."""
    found: set[str] = set(more)
    read = getattr(inventory, "secret_values", None)
    if read is not None:
        found |= read()
    if global_args:
        secret_values(dict(global_args), found)
    return Redactor(found, registered=True)


def masked_sink(sink: Callable[[dict[str, Any]], None] | None, redactor: Redactor) -> Any:
    """``sink`` with the texts of events other than operations' masked (operations' records
    are masked as they are made: :func:`conceal`)."""
    if sink is None:
        return None

    def masked(event: dict[str, Any]) -> None:
        if event.get("event") != "operation" and redactor:
            for name in _EVENT_TEXTS:
                text = event.get(name)
                if isinstance(text, str) and text:
                    event[name] = redactor.text(text)
        sink(event)

    return masked


def mask_host_errors(results: Mapping[str, Any], redactor: Redactor | None) -> None:
    """Mask the errors of hosts' results (:class:`~oxinfra._engine.results.HostResult`)."""
    if not redactor:
        return
    for result in results.values():
        if result.error:
            result.error = redactor.text(result.error)


def mask_exception(exc: BaseException, redactor: Redactor | None) -> None:
    """Mask the message of an error raised to the run's caller, and of the errors it was
    raised from (an error whose message is its one argument, as oxinfra's are); one it was
    raised from that would still show a secret (its text is not its argument) is dropped
    from the chain: a traceback would show it."""
    if not redactor:
        return
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        _mask_args(current, redactor)
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [redactor.text(n) if isinstance(n, str) else n for n in notes]
        for link in ("__cause__", "__context__"):
            inner = getattr(current, link)
            if inner is not None:
                _mask_args(inner, redactor)
                if _shows_secret(inner, redactor):
                    setattr(current, link, None)
                    current.__suppress_context__ = True
        current = current.__cause__ or current.__context__


def _mask_args(exc: BaseException, redactor: Redactor) -> None:
    args = exc.args
    if len(args) == 1 and isinstance(args[0], str):
        masked = redactor.text(str.__str__(args[0]))
        if masked != args[0]:
            exc.args = (masked,)


def _shows_secret(exc: BaseException, redactor: Redactor) -> bool:
    try:
        text = str(exc)
    except Exception:  # a broken __str__: drop it rather than guess
        return True
    return redactor.text(text) != text


@lru_cache(maxsize=64)
def _redactor(password: str) -> Redactor:
    return Redactor([password])


def must_conceal(op: Any, redactor: Redactor | None = None) -> bool:
    """Whether what ``op``'s outcome shows must be masked: ``_sensitive``, a sudo password,
    or a run with secrets (``redactor`` not empty)."""
    args = op.globals
    return bool(args.sensitive) or args.sudo_password is not None or bool(redactor)


def _command(command: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(command, Secret):
        return MASK
    if isinstance(command, str):
        return mask(str.__str__(command))
    if isinstance(command, FunctionCommand):
        return command  # a callback: results leave it out
    text = repr(command)  # a file upload: what the CLI and the results show of it
    masked = mask(text)
    return command if masked == text else masked


#: The fields of an operation's record that hold texts (``key`` is its ``file:line``).
_RECORD_TEXTS = ("op", "noop", "error", "stdout", "stderr", "diff")


def _record(record: dict[str, Any], mask: Callable[[str], str]) -> dict[str, Any]:
    """``record`` with its texts masked: itself when none holds a secret (a copy else)."""
    shown = record
    for name in _RECORD_TEXTS:
        value = record.get(name)
        if value and isinstance(value, str):
            masked = mask(value)
            if masked != value:
                if shown is record:
                    shown = dict(record)
                shown[name] = masked
    for stream in ("stdout_b64", "stderr_b64"):  # the exact bytes of output that is not UTF-8
        raw = record.get(stream)
        if raw:
            text = base64.b64decode(raw).decode("utf-8", "surrogateescape")
            masked = mask(text)
            if masked != text:
                if shown is record:
                    shown = dict(record)
                shown[stream] = base64.b64encode(masked.encode("utf-8", "surrogateescape")).decode("ascii")
    return shown


def conceal(record: dict[str, Any], plan: Any, op: Any, redactor: Redactor | None = None) -> tuple[dict[str, Any], Any]:
    """The record and the plan as events and results show them for ``op`` (see the module
    docs). ``redactor``: the run's (see :func:`run_redactor`)."""
    args = op.globals
    if not args.sensitive:
        if not redactor:  # a sudo password only (no run redactor): its text masked
            redactor = _redactor(str(args.sudo_password))
        mask = redactor.masker()
        shown = _record(record, mask)
        if plan is None:
            return shown, None
        commands = [_command(c, mask) for c in plan.commands]
        noops = [mask(n) for n in plan.noops] if plan.noops else plan.noops
        stdout = op.meta.stdout
        stdout = mask(stdout) if stdout else stdout
        if (
            stdout == op.meta.stdout
            and all(a is b for a, b in zip(commands, plan.commands))
            and all(a == b for a, b in zip(noops, plan.noops))
        ):
            return shown, plan  # nothing of the plan holds a secret
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
    if redactor:  # its name (the rest is hidden)
        shown = _record(shown, redactor.masker())
    if plan is None:
        return shown, None
    return shown, SimpleNamespace(
        commands=[MASK for _ in plan.commands],
        noops=[MASK for _ in plan.noops],
        op=SimpleNamespace(meta=SimpleNamespace(stdout=MASK if op.meta.stdout else "")),
    )


def shown_output(op: Any, stdout: bytes, stderr: bytes, redactor: Redactor | None = None) -> dict[str, Any] | None:
    """The output fields of an outcome that did not fail (its record has none), as they may
    be shown (masked as :func:`conceal` masks a record); None when it printed nothing."""
    if not stdout and not stderr:
        return None
    from oxinfra._engine.capture import output_fields

    fields = {**output_fields("stdout", stdout), **output_fields("stderr", stderr)}
    return conceal(fields, None, op, redactor)[0] if must_conceal(op, redactor) else fields
