"""The recap at the end of a run (and of a preview): per operation, how many hosts it
changed, left unchanged, failed on, skipped, or never ran on; per host status, how many hosts
ended ok / changed / failed / unreachable (and interrupted, stopped, not started, error), with
the time; then every host that did not succeed, named, grouped by error when several share
one (the host's own name in an error is what differs between them), names of a numbered
series written as a range (``web[001:120]``, which ``--limit`` reads back).

Its size does not grow with the fleet except for the names of the hosts that did not succeed.
"""

from __future__ import annotations

import re
from typing import Any, Callable

__all__ = ["Recap", "compress_names"]

_NUMBERED = re.compile(r"^(.*?)(\d+)$")

#: A host's end -> how the recap names it (success splits into ok / changed).
_HOST_STATES = ("ok", "changed", "failed", "unreachable", "error", "interrupted", "stopped", "not started")
_OP_STATES = ("changed", "unchanged", "failed", "skipped", "not run")


def compress_names(names: list[str]) -> list[str]:
    """``["web01", "web02", "web03", "db1"]`` -> ``["web[01:03]", "db1"]``: runs of three or
    more names that differ only in a trailing number of the same width become a range."""
    series: dict[tuple[str, int], list[tuple[int, str]]] = {}
    out: list[tuple[str, str]] = []  # (sort key, text)
    for name in names:
        match = _NUMBERED.match(name)
        if match is None:
            out.append((name, name))
            continue
        prefix, digits = match.groups()
        series.setdefault((prefix, len(digits)), []).append((int(digits), name))
    for (prefix, width), members in series.items():
        members.sort()
        run: list[tuple[int, str]] = []

        def flush() -> None:
            if len(run) >= 3:
                first, last = run[0][0], run[-1][0]
                text = f"{prefix}[{first:0{width}d}:{last:0{width}d}]"
                if "[" in prefix or "]" in prefix:  # a range of such names would not read back
                    out.extend((n, n) for _, n in run)
                else:
                    out.append((run[0][1], text))
            else:
                out.extend((n, n) for _, n in run)

        for number, name in members:
            if run and number != run[-1][0] + 1:
                flush()
                run = []
            run.append((number, name))
        flush()
    out.sort()
    return [text for _, text in out]


def _pattern(error: str, host: str) -> str:
    """An error with the host's own name taken out (where it stands as a name, not inside
    a word), so hosts that failed alike group."""
    if not host or host not in error:
        return error
    return re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", "<host>", error)


class Recap:
    """Counts of a finished run (a :class:`~oxinfra._engine.hostrun.RunResult`)."""

    def __init__(self, result: Any, masked: Callable[[Any], Any] = lambda v: v) -> None:
        self.dry = result.dry
        self.order: list[str] = list(result.order)
        self.names: dict[str, str] = {}  # operation key -> name
        self.ops: dict[str, dict[str, int]] = {}
        self.hosts: dict[str, list[str]] = {state: [] for state in _HOST_STATES}
        self.errors: dict[str, dict[str, list[str]]] = {}  # host state -> error -> hosts
        self.not_run = 0  # operations x hosts that never ran
        self.not_run_hosts = 0
        self.ran_nothing = 0  # hosts that ended before any operation had an outcome
        seen_records: dict[int, tuple[str, str, str]] = {}
        for name, host in result.hosts.items():
            changed = False
            missed = 0
            for record in host.ops:
                cached = seen_records.get(id(record))  # hosts share equal records
                if cached is None:
                    cached = seen_records[id(record)] = (record["key"], record["op"], record["status"])
                key, op, status = cached
                counts = self.ops.get(key)
                if counts is None:
                    counts = self.ops[key] = dict.fromkeys(_OP_STATES, 0)
                    self.names[key] = op
                counts[status] += 1
                changed = changed or status == "changed"
                missed += status == "not run"
            if missed:
                self.not_run += missed
                self.not_run_hosts += 1
            elif not host.ops and host.status != "success":
                self.ran_nothing += 1
            state = host.status
            if state == "success":
                state = "changed" if changed else "ok"
            elif state == "pending":
                state = "not started"
            self.hosts.setdefault(state, []).append(name)
            if state not in ("ok", "changed"):
                error = masked(host.error or _first_failure(host) or state)
                self.errors.setdefault(state, {}).setdefault(_pattern(error, name), []).append(name)
        for key in self.ops:
            if key not in self.order:
                self.order.append(key)
        self.total = len(result.hosts)

    @property
    def failed_hosts(self) -> int:
        return sum(len(self.hosts[s]) for s in _HOST_STATES if s not in ("ok", "changed"))

    @property
    def would_change(self) -> int:
        return sum(counts["changed"] for counts in self.ops.values())

    def lines(
        self,
        style: Callable[..., str],
        seconds: float | None,
        operations: bool = True,
        title: str = "",
        limit_names: int | None = None,
    ) -> list[str]:
        """The recap as text lines; ``style(text, **click_styles)`` colours them."""
        out: list[str] = []
        changed = "would change" if self.dry else "changed"
        if operations and self.ops:
            label_width = min(60, max(len(self._label(k)) for k in self.order if k in self.ops))
            cols = [("changed", changed), ("unchanged", "unchanged"), ("failed", "failed")]
            if any(c["skipped"] for c in self.ops.values()):
                cols.append(("skipped", "skipped"))
            cols.append(("not run", "not run"))
            out.append(style(title or ("--> Operations" + (" (dry run)" if self.dry else "")), bold=True))
            head = (
                "    " + "operation".ljust(label_width) + "".join(f"  {name:>{max(len(name), 5)}}" for _, name in cols)
            )
            out.append(head)
            colors = {"changed": "yellow", "failed": "red", "not run": "bright_black"}
            for key in self.order:
                counts = self.ops.get(key)
                if counts is None:
                    continue
                label = self._label(key)
                if len(label) > label_width:
                    label = label[: label_width - 1] + "…"
                row = "    " + label.ljust(label_width)
                for state, name in cols:
                    cell = f"  {counts[state]:>{max(len(name), 5)}}"
                    row += style(cell, fg=colors.get(state)) if counts[state] and state in colors else cell
                out.append(row)
            if len(self.ops) > 1:
                row = "    " + "total".ljust(label_width)
                for state, name in cols:
                    row += f"  {sum(c[state] for c in self.ops.values()):>{max(len(name), 5)}}"
                out.append(style(row, bold=True))
        parts = []
        colors = {"ok": "green", "changed": "yellow"}
        for state in _HOST_STATES:
            n = len(self.hosts.get(state, ()))
            if n or state in ("ok", "changed", "failed", "unreachable"):
                text = f"{n} {'would change' if state == 'changed' and self.dry else state}"
                parts.append(style(text, fg=colors.get(state, "red")) if n else text)
        took = f" in {_seconds(seconds)}" if seconds is not None else ""
        bad = self.failed_hosts
        out.append(style(f"--> {self.total} hosts{took}: ", bold=True, fg="red" if bad else "green") + ", ".join(parts))
        if self.not_run:
            out.append(
                style(
                    f"    not run: {self.not_run} operation{'s' if self.not_run != 1 else ''} on "
                    f"{self.not_run_hosts} host{'s' if self.not_run_hosts != 1 else ''} "
                    "(after a failure, or the host ended first)",
                    fg="bright_black",
                )
            )
        if self.ran_nothing:
            out.append(
                style(
                    f"    {self.ran_nothing} host{'s' if self.ran_nothing != 1 else ''} ran no operation "
                    "(unreachable, or ended before the first)",
                    fg="bright_black",
                )
            )
        for state in _HOST_STATES:
            groups = self.errors.get(state)
            if not groups:
                continue
            hosts = sum(len(names) for names in groups.values())
            out.append(style(f"    {state} ({hosts}):", fg="yellow" if state in ("interrupted", "stopped") else "red"))
            for error, names in sorted(groups.items(), key=lambda item: -len(item[1])):
                shown = compress_names(names)
                more = ""
                if limit_names is not None and len(shown) > limit_names:
                    more = f" and {len(shown) - limit_names} more"
                    shown = shown[:limit_names]
                if error.startswith("<host>: "):
                    error = error[len("<host>: ") :]
                if len(names) == 1:
                    out.append(f"      {names[0]}: {error.replace('<host>', names[0])}")
                else:
                    out.append(f"      {len(names)} hosts: {error}")
                    out.append(f"        {', '.join(shown)}{more}")
        return out

    def _label(self, key: str) -> str:
        name = self.names.get(key, key)
        return name if name == key else f"{name} ({key})"


def _first_failure(host: Any) -> str:
    for record in host.ops:
        if record["status"] == "failed":
            if record["key"].startswith("<exec>"):
                return str(record.get("error", "failed"))
            return f"{record['op']} ({record['key']}): {record.get('error', 'failed')}"
    return ""


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes} min {rest:02d} s"
