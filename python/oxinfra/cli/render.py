"""Output of the CLI: human text (styled here, and only here) or JSON events.

Everything printed goes through the run's :class:`~oxinfra._secrets.Redactor` (``redactor``,
set once the inventory is loaded): the text of every known secret -- host data under
secret-looking keys, :class:`~oxinfra.api.Secret` values, the sudo password -- is ``***``
in events, commands, outputs, errors and the summary, at every ``-v`` and in ``--json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

__all__ = ["Renderer"]


def _json_stream() -> Any:
    """stdout for JSON events, with a large buffer; when it is a pipe, a larger pipe too, so a
    consumer that reads slowly does not stall the event loop on every few events."""
    try:
        import fcntl

        fcntl.fcntl(sys.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (OSError, ValueError, AttributeError, ImportError):
        pass
    try:
        return open(sys.stdout.fileno(), "w", buffering=1 << 16, encoding="utf-8", closefd=False)
    except (OSError, ValueError, AttributeError):
        return sys.stdout


_HOST_COLORS = {
    "success": "green",
    "failed": "red",
    "unreachable": "red",
    "error": "red",
    "interrupted": "yellow",
    "stopped": "yellow",
    "not started": "bright_black",
}
_COLORS = {"changed": "yellow", "unchanged": "green", "failed": "red", "skipped": "cyan", "not run": "bright_black"}


class Renderer:
    def __init__(self, as_json: bool, verbose: int) -> None:
        self.as_json = as_json
        self.verbose = verbose
        self.dry = False
        self._out: Any = None
        self.redactor: Any = None  # oxinfra._secrets.Redactor: the run's secrets
        self.reset()

    def reset(self) -> None:
        self.exec_output: dict[str, str] = {}

    def _json(self, event: dict[str, Any]) -> None:
        if self._out is None:
            self._out = _json_stream()
        self._out.write(json.dumps(event, default=str) + "\n")

    def _masked(self, value: Any) -> Any:
        redactor = self.redactor
        return redactor.deep(value) if redactor else value

    def error(self, message: str) -> None:
        message = self._masked(message)
        if self.as_json:
            self._json({"event": "error", "error": message})
            self._out.flush()
        click.echo(click.style("oxinfra: error: ", fg="red", bold=True) + message, err=True)

    def notice(self, message: str) -> None:
        """Something the operator should know that is not an error (stderr; a JSON event too)."""
        if self.as_json:
            self._json({"event": "notice", "message": message})
            self._out.flush()
        click.echo(click.style("oxinfra: ", fg="yellow", bold=True) + message, err=True)

    def event(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        plan = event.pop("_plan", None)
        event = self._masked(event)
        if self.as_json:
            self._json(event)
            return
        if kind == "plan":
            self.dry = event["dry"]
            what = "Dry run" if self.dry else "Running"
            click.echo(
                click.style(f"--> {what}: {len(event['operations'])} operations on {event['hosts']} hosts", bold=True)
            )
        elif kind == "unreachable":
            click.echo(click.style(f"[{event['host']}] unreachable: {event['error']}", fg="red"))
        elif kind == "notice":
            click.echo(click.style(f"[{event['host']}] {event['message']}", fg="yellow"))
        elif kind == "host_failed":
            click.echo(click.style(f"[{event['host']}] failed: {event['error']}", fg="red"))
        elif kind == "operation":
            self._operation(event, plan)
        elif kind == "stopping":
            click.echo(click.style(f"--> stopping: {event['reason']}", fg="yellow", bold=True))
        elif kind == "interrupted":
            if event.get("again"):
                click.echo(click.style(f"--> {event['signal']} again: exiting now", fg="yellow", bold=True), err=True)
            else:
                click.echo(
                    click.style(
                        f"--> interrupted ({event['signal']}): nothing more is sent; ending the "
                        f"work running on {event['running']} hosts",
                        fg="yellow",
                        bold=True,
                    )
                )
        elif kind == "host_done":
            status = event.get("status")
            if status in ("error", "interrupted", "stopped") and event.get("error"):
                color = "red" if status == "error" else "yellow"
                click.echo(click.style(f"[{event['host']}] {status}: {event['error']}", fg=color))
            if self.verbose:
                click.echo(
                    f"[{event['host']}] done: {event['changed']} changed, {event['unchanged']} unchanged, "
                    f"{event['failed']} failed, {event['round_trips']} round trips"
                )

    def _operation(self, event: dict[str, Any], plan: Any) -> None:
        status = event["status"]
        if event["op"] == "exec" and status != "failed":
            out = self._masked(plan.op.meta.stdout) if plan is not None else ""
            click.echo(f"[{event['host']}] " + out.rstrip("\n").replace("\n", f"\n[{event['host']}] "))
            return
        if status == "failed":
            line = f"[{event['host']}] {event['op']} ({event['key']}): failed: {event.get('error', '')}"
            click.echo(click.style(line, fg="red"))
            for stream in ("stderr", "stdout"):
                text = (event.get(stream) or "").rstrip()
                if text:
                    click.echo("    " + text.replace("\n", "\n    "))
            return
        if not self.verbose and not (self.dry and status == "changed"):
            return
        label = "would change" if self.dry and status == "changed" else status
        line = f"[{event['host']}] {event['op']}: " + click.style(label, fg=_COLORS.get(status))
        if event.get("noop") and self.verbose:
            line += f" ({event['noop']})"
        click.echo(line)
        if plan is not None and self.verbose >= 2 or (self.dry and self.verbose and plan is not None):
            for cmd in plan.commands:
                text = self._masked(repr(cmd) if not isinstance(cmd, str) else cmd)
                click.echo("    $ " + text.replace("\n", "\n      "))

    def finish(self, result: Any) -> None:
        totals = {"changed": 0, "unchanged": 0, "failed": 0, "skipped": 0, "not_run": 0}
        hosts = {}
        for name, host in result.hosts.items():
            summary = self._masked(host.summary())
            hosts[name] = summary
            for key in totals:
                totals[key] += summary[key]
        from oxinfra.cli.outcome import exit_code

        code = exit_code(result)
        if self.as_json:
            self._json(
                {
                    "event": "summary",
                    "success": result.success,
                    "dry": result.dry,
                    "exit_code": code,
                    "interrupted": getattr(result, "interrupted", None),
                    "stopped": getattr(result, "stopped", None),
                    "operations": result.order,
                    "hosts": hosts,
                    "totals": totals,
                }
            )
            self._out.flush()
            return
        by_status: dict[str, list[str]] = {}
        for name, h in hosts.items():
            by_status.setdefault(h["status"], []).append(name)
        bad = [n for n, h in hosts.items() if h["status"] != "success"]
        verb = "would change" if result.dry else "changed"
        click.echo(
            click.style(
                f"--> {len(hosts)} hosts: {totals['changed']} operations {verb}, {totals['unchanged']} unchanged, "
                f"{totals['failed']} failed"
                + (f", {len(bad)} hosts with errors: {', '.join(bad[:10])}" if bad else ""),
                bold=True,
                fg="red" if bad else "green",
            )
        )
        if bad:  # where every host ended: done, failed, not started...
            for status in ("success", "failed", "unreachable", "error", "interrupted", "stopped", "not started"):
                names = by_status.get(status)
                if names:
                    more = f" (+{len(names) - 20} more)" if len(names) > 20 else ""
                    label = "done" if status == "success" else status
                    click.echo(
                        click.style(
                            f"    {label} ({len(names)}): {', '.join(names[:20])}{more}", fg=_HOST_COLORS[status]
                        )
                    )
