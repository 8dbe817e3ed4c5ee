"""What a run leaves for the next one: the hosts to retry (``--retry-failed``), and host
lists read from files (``--limit @FILE``).

Every run that executes (not ``--dry``) writes ``.oxinfra/last-run.json`` in the working
directory (or ``--state-file``, ``OXINFRA_STATE_FILE``) when it ends, interrupted runs included: its inventory, targets, exit code, and
its hosts that did not succeed, by status (``failed``, ``unreachable``, ``error``,
``interrupted``, ``stopped``, ``not started``). ``--retry-failed`` runs exactly those hosts
(in inventory order, still subject to ``--limit``), and records its own outcome in turn, so
repeating it converges on the hosts that keep failing. The file is replaced atomically; a
working directory that cannot be written is reported and changes no exit code.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from oxinfra.exceptions import InventoryError

__all__ = ["STATE_FILE", "RETRY_STATUSES", "record_run", "hosts_to_retry", "expand_limit"]

#: Where the last run is recorded, relative to the working directory.
STATE_FILE = Path(".oxinfra") / "last-run.json"
#: Host statuses ``--retry-failed`` runs again: every way of not succeeding.
RETRY_STATUSES = ("failed", "unreachable", "error", "interrupted", "stopped", "not started")


def record_run(result: Any, inventory: str, targets: list[str], code: int, path: Path = STATE_FILE) -> str | None:
    """Write the run's outcome to ``path``; returns a warning instead of raising if it cannot."""
    by_status: dict[str, list[str]] = {status: [] for status in RETRY_STATUSES}
    for name, host in result.hosts.items():
        if host.status in by_status:
            by_status[host.status].append(name)
    retry = [name for name, host in result.hosts.items() if host.status in by_status]
    state = {
        "oxinfra_last_run": 1,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "inventory": inventory,
        "targets": targets,
        "exit_code": code,
        "hosts": len(result.hosts),
        "by_status": {status: names for status, names in by_status.items() if names},
        "retry": retry,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".last-run.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=1)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        return f"could not record this run's failed hosts in {path}: {exc.strerror or exc}"
    return None


def hosts_to_retry(path: Path = STATE_FILE) -> tuple[list[str], dict[str, Any]]:
    """The hosts the last run did not finish, and its record. No record, or one that cannot
    be read, is an error saying what to do."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(
            f"--retry-failed: no previous run is recorded in {path} (every run that executes "
            "writes it, see --state-file): run without --retry-failed first"
        ) from None
    except OSError as exc:
        raise InventoryError(f"--retry-failed: cannot read {path}: {exc.strerror}") from None
    try:
        state = json.loads(text)
        retry = state["retry"]
        if not isinstance(retry, list) or not all(isinstance(name, str) for name in retry):
            raise ValueError("retry is not a list of host names")
    except (ValueError, KeyError, TypeError) as exc:
        raise InventoryError(
            f"--retry-failed: {path} is not a record oxinfra wrote ({exc}): remove it and run without --retry-failed"
        ) from None
    return retry, state


def _is_connector_host(item: str) -> bool:
    from oxinfra.connectors.registry import CONNECTORS

    return item[1:].partition("/")[0] in CONNECTORS


def expand_limit(values: tuple[str, ...] | list[str], option: str = "--limit") -> list[str]:
    """``--limit`` (or ``--exclude``) values with each ``@FILE`` item replaced by the patterns FILE lists, one
    per line (blank lines and ``#`` comments skipped). ``@local``, ``@ssh/...``,
    ``@docker/...`` and ``@sim/...`` stay host names."""
    out: list[str] = []
    for value in values:
        if not any(i.strip().startswith("@") and not _is_connector_host(i.strip()) for i in value.split(",")):
            out.append(value)  # nothing to read: passed on exactly as given
            continue
        items = []
        for item in value.split(","):
            item = item.strip()
            if not item.startswith("@") or _is_connector_host(item):
                items.append(item)
                continue
            name = item[1:]
            try:
                lines = Path(name).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise InventoryError(f"{option} @{name}: cannot read {name}: {exc.strerror or exc}") from None
            except UnicodeDecodeError:
                raise InventoryError(f"{option} @{name}: {name} is not UTF-8 text") from None
            found = [line.split("#", 1)[0].strip() for line in lines]
            found = [line for line in found if line]
            if not found:
                raise InventoryError(f"{option} @{name}: {name} names no host (one name or pattern per line)")
            items.extend(found)
        out.append(",".join(items))
    return out
