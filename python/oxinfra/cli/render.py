"""Output of the CLI: human text (styled here, and only here) or JSON events.

Human output, by verbosity (the levels of pyinfra's ``-v``):

- always: a header, every failure as it happens (unreachable hosts, failed operations with
  their output), the recap (:mod:`oxinfra.cli.recap`); ``exec``: each host's output;
- on a terminal, a status line while hosts run (hosts done / total, operations done, hosts
  failed, the time, and the hosts still running by name when few are left); when stdout is
  not a terminal, a plain progress line every :data:`PLAIN_PROGRESS_SECONDS` instead
  (``--> 120/200 hosts done, 3 failed (20 s)``);
- ``--dry``: one line per host and operation that would change when that is at most
  :data:`PREVIEW_LINES` lines, otherwise only the per-operation counts of the recap;
- ``-v``: every operation's outcome on every host (with its no-op reason), each host's end;
- ``-vv``: the commands too (``$ ...``);
- ``-vvv``: what every command printed (stdout and stderr), ``server.shell``'s included;
- ``--quiet``: failures and the host line of the recap only;
- ``--diff`` (any level, ``--quiet`` too): once the run ends, before the recap, what the
  operations changed (dry: would change) in files, one diff per group of hosts with the same
  change (:mod:`oxinfra.cli.diffs`).

Secrets: the text of every known secret -- host data under secret-looking keys,
:class:`~oxinfra.api.Secret` values, the sudo password -- is ``***`` in events, commands,
outputs, errors and the summary, at every ``-v`` and in ``--json``. The engine masks what a run
reports as it makes it (:mod:`oxinfra._engine.masking`): events and results come masked. What
the CLI words itself (errors, notices, ``exec``'s command, the recap and summary) goes through
the run's :class:`~oxinfra._secrets.Redactor` (``redactor``, set once the inventory is loaded).
Colour, the status line and a closed pipe: :mod:`oxinfra.cli.console`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from oxinfra.cli.console import Console
from oxinfra.cli.diffs import DiffLog
from oxinfra.cli.recap import Recap

__all__ = ["Renderer", "PREVIEW_LINES", "PLAIN_PROGRESS_SECONDS", "FEW_LEFT"]

#: A dry run lists "[host] op: would change" lines only up to this many host x operation
#: pairs (``-v``: always); beyond, the recap's per-operation counts are the preview.
PREVIEW_LINES = 60
#: Without a terminal, a progress line at most this often (seconds) while hosts run
#: (``OXINFRA_PROGRESS_SECONDS`` sets it; 0: never).
PLAIN_PROGRESS_SECONDS = 10.0
#: The status line names the hosts still running when at most this many are left.
FEW_LEFT = 5


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


_STATUS_COLORS = {
    "changed": "yellow",
    "unchanged": "green",
    "failed": "red",
    "skipped": "cyan",
    "not run": "bright_black",
}
_BAD_HOST = ("failed", "unreachable", "error", "interrupted", "stopped", "not started")


class Renderer:
    def __init__(
        self,
        as_json: bool,
        verbose: int,
        quiet: bool = False,
        no_color: bool = False,
        progress: bool = True,
        diff: bool = False,
    ) -> None:
        self.as_json = as_json
        #: ``--diff``: the file changes of the run (human output; JSON events carry them).
        self.show_diffs = diff and not as_json
        self.diffs = DiffLog()
        #: The diffs the preview before a confirmation printed (not printed again).
        self.previewed: DiffLog | None = None
        self.verbose = 0 if quiet else verbose
        self.quiet = quiet
        self.dry = False
        self.console = Console(no_color=no_color, live=progress and not as_json and not quiet)
        self._out: Any = None
        self.redactor: Any = None  # oxinfra._secrets.Redactor: the run's secrets
        #: ``exec``'s command, as typed (its dry run names it instead of empty output)
        self.exec_command: str | None = None
        self.reset()

    def reset(self) -> None:
        self.exec_output: dict[str, str] = {}
        self.started = time.monotonic()
        self.total = 0  # hosts in the run (known from the plan event)
        self.operations = 0
        self.hosts_done = 0
        self.ops_done = 0
        self.bad_hosts = 0
        self.running: dict[str, None] = {}  # connected, not done (in order)
        self.list_preview = True
        self.diffs = DiffLog()
        self._plain_at = time.monotonic()
        try:
            self._plain_every = float(os.environ.get("OXINFRA_PROGRESS_SECONDS", PLAIN_PROGRESS_SECONDS))
        except ValueError:
            self._plain_every = PLAIN_PROGRESS_SECONDS

    # -- plumbing ----------------------------------------------------------------------

    def _line(self, text: str = "", err: bool = False) -> None:
        self.console.line(text, err=err)

    def _style(self, text: str, err: bool = False, **styles: Any) -> str:
        return self.console.style(text, err=err, **styles)

    def _json(self, event: dict[str, Any]) -> None:
        if self._out is None:
            self._out = _json_stream()
        self.console.write_raw(self._out, json.dumps(event, default=str) + "\n")

    def _flush(self) -> None:
        if self._out is not None:
            self.console.flush(self._out)
        self.console.flush()

    def masked(self, value: Any) -> Any:
        """``value`` with the texts of the run's secrets masked (strings, dicts, lists)."""
        redactor = self.redactor
        return redactor.deep(value) if redactor else value

    def error(self, message: str, hint: str | None = None) -> None:
        message = self.masked(message)
        if self.as_json:
            self._json({"event": "error", "error": message})
            self._flush()
        self.stop_progress()
        self._line(self._style("oxinfra: error: ", err=True, fg="red", bold=True) + message, err=True)
        if hint:
            self._line(self._style("oxinfra: hint: ", err=True, fg="yellow") + hint, err=True)

    def notice(self, message: str) -> None:
        """Something the operator should know that is not an error (stderr; a JSON event too)."""
        if self.as_json:
            self._json({"event": "notice", "message": message})
            self._flush()
        self._line(self._style("oxinfra: ", err=True, fg="yellow", bold=True) + message, err=True)

    # -- progress ------------------------------------------------------------------------

    def start_progress(self) -> None:
        """The status line (a terminal), from now until :meth:`stop_progress`."""
        if not self.as_json and not self.quiet:
            self.started = time.monotonic()
            self.console.status(self._status_text)

    def stop_progress(self) -> None:
        self.console.status(None)

    def _status_text(self) -> str:
        elapsed = time.monotonic() - self.started
        clock = f"{int(elapsed) // 60}:{int(elapsed) % 60:02d}"
        if not self.total:
            return self._style(f"… evaluating the deploy  {clock}", fg="bright_black")
        parts = [f"{self.hosts_done}/{self.total} hosts done"]
        if self.operations:  # no total: hosts may run different operations, or end early
            parts.append(f"{self.ops_done} operations done")
        if self.bad_hosts:
            parts.append(self._style(f"{self.bad_hosts} failed", fg="red"))
        text = "… " + " · ".join(parts) + f"  {clock}"
        left = self.total - self.hosts_done
        if 0 < left <= FEW_LEFT and self.running:
            names = list(self.running)[:FEW_LEFT]
            text += "  waiting for " + ", ".join(names)
        return text

    def _plain_progress(self) -> None:
        """Without a terminal: a progress line now and then."""
        now = time.monotonic()
        if now - self._plain_at < self._plain_every or self._plain_every <= 0 or self.quiet:
            return
        self._plain_at = now
        line = f"--> {self.hosts_done}/{self.total} hosts done"
        if self.bad_hosts:
            line += f", {self.bad_hosts} failed"
        self._line(line + f" ({int(now - self.started)} s)")

    # -- events --------------------------------------------------------------------------

    def event(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        plan = event.pop("_plan", None)  # events come masked (oxinfra._engine.masking)
        if self.as_json:
            self._json(event)
            return
        if kind == "operation":
            self.ops_done += 1
            self._operation(event, plan)
            if self.show_diffs:
                self.diffs.add(event)
        elif kind == "host_done":
            self._host_done(event)
        elif kind == "connected":
            self.running[event["host"]] = None
        elif kind == "plan":
            self._plan(event)
        elif kind == "unreachable":
            self._line(self._style(f"[{event['host']}] unreachable: {event['error']}", fg="red"))
        elif kind == "notice":
            if not self.quiet:
                self._line(self._style(f"[{event['host']}] {event['message']}", fg="yellow"))
        elif kind == "host_failed":
            self._line(self._style(f"[{event['host']}] failed: {event['error']}", fg="red"))
        elif kind == "stopping":
            self._line(self._style(f"--> stopping: {event['reason']}", fg="yellow", bold=True))
        elif kind == "interrupted":
            if event.get("again"):
                self._line(
                    self._style(f"--> {event['signal']} again: exiting now", err=True, fg="yellow", bold=True), err=True
                )
            else:
                self._line(
                    self._style(
                        f"--> interrupted ({event['signal']}): nothing more is sent; ending the "
                        f"work running on {event['running']} hosts",
                        fg="yellow",
                        bold=True,
                    )
                )
        if not self.console.live and self.total:
            self._plain_progress()

    def _plan(self, event: dict[str, Any]) -> None:
        self.dry = event["dry"]
        self.total = event["hosts"]
        self.operations = len(event["operations"])
        self.list_preview = bool(self.verbose) or self.total * self.operations <= PREVIEW_LINES
        if self.quiet:
            return
        what = "Dry run" if self.dry else "Running"
        if self.exec_command is not None:
            head = f"--> {what}: {self.masked(self.exec_command)} on {self.total} hosts"
            if self.dry:
                head = f"--> Dry run: would run {self.masked(self.exec_command)} on {self.total} hosts"
        else:
            head = f"--> {what}: {self.operations} operations on {self.total} hosts"
        self._line(self._style(head, bold=True))

    def _host_done(self, event: dict[str, Any]) -> None:
        self.hosts_done += 1
        host = event["host"]
        self.running.pop(host, None)
        status = event.get("status")
        if status in _BAD_HOST:
            self.bad_hosts += 1
        if status in ("error", "interrupted", "stopped") and event.get("error"):
            color = "red" if status == "error" else "yellow"
            self._line(self._style(f"[{host}] {status}: {event['error']}", fg=color))
        if self.verbose:
            self._line(
                f"[{host}] done: {event['changed']} changed, {event['unchanged']} unchanged, "
                f"{event['failed']} failed, {event['round_trips']} round trips"
            )

    def _output(self, event: dict[str, Any], indent: str = "    ") -> None:
        for stream in ("stdout", "stderr"):
            text = (event.get(stream) or "").rstrip()
            if text:
                label = "" if stream == "stdout" else self._style("stderr: ", fg="bright_black")
                self._line(indent + label + text.replace("\n", "\n" + indent))

    def _operation(self, event: dict[str, Any], plan: Any) -> None:
        status = event["status"]
        host = event["host"]
        if self.exec_command is not None and event["op"] == "exec" and status != "failed":
            if self.dry:
                return  # the header says what would run; the recap where
            out = (event.get("stdout") or "").rstrip("\n")
            err = (event.get("stderr") or "").rstrip("\n")
            if out:
                self._line(f"[{host}] " + out.replace("\n", f"\n[{host}] "))
            if err and self.verbose >= 1:
                self._line(self._style(f"[{host}] " + err.replace("\n", f"\n[{host}] "), fg="bright_black"))
            if not out and not err and self.verbose:
                self._line(f"[{host}] (no output)")
            return
        if status == "failed":
            what = "" if self.exec_command is not None else f" {event['op']} ({event['key']}):"
            self._line(self._style(f"[{host}]{what} failed: {event.get('error', '')}", fg="red"))
            self._output(event)
            return
        if not self.verbose and not (self.dry and status == "changed" and self.list_preview and not self.quiet):
            return
        label = "would change" if self.dry and status == "changed" else status
        line = f"[{host}] {event['op']}: " + self._style(label, fg=_STATUS_COLORS.get(status))
        if event.get("noop") and self.verbose:
            line += f" ({event['noop']})"
        self._line(line)
        if plan is not None and self.verbose >= 2:
            for cmd in plan.commands:  # masked by the engine
                text = repr(cmd) if not isinstance(cmd, str) else cmd
                self._line("    $ " + text.replace("\n", "\n      "))
        if self.verbose >= 3:
            self._output(event)

    # -- the end -------------------------------------------------------------------------

    def finish(self, result: Any, preview: bool = False) -> Recap:
        """The recap (JSON: the summary event). ``preview``: the dry run before the
        confirmation prompt."""
        self.stop_progress()
        recap = Recap(result, self.masked)
        if self.as_json:
            self._json_summary(result)
            return recap
        seconds = time.monotonic() - self.started
        if self.show_diffs and self.exec_command is None:
            for line in self.diffs.lines(self._style, list(result.order), result.dry, self.previewed):
                self._line(line)
            if preview:
                self.previewed = self.diffs
        show_ops = not self.quiet and self.exec_command is None
        title = "--> Would change (dry run)" if preview else ""
        for line in recap.lines(self._style, seconds, operations=show_ops, title=title):
            self._line(line)
        if recap.failed_hosts and not result.dry:
            self._line(
                self._style("    hint: add --retry-failed to run only the hosts that did not finish", fg="bright_black")
            )
        self._flush()
        return recap

    def _json_summary(self, result: Any) -> None:
        from oxinfra.cli.outcome import exit_code

        totals = {"changed": 0, "unchanged": 0, "failed": 0, "skipped": 0, "not_run": 0}
        hosts = {}
        for name, host in result.hosts.items():
            summary = self.masked(host.summary())
            hosts[name] = summary
            for key in totals:
                totals[key] += summary[key]
        self._json(
            {
                "event": "summary",
                "success": result.success,
                "dry": result.dry,
                "exit_code": exit_code(result),
                "interrupted": getattr(result, "interrupted", None),
                "stopped": getattr(result, "stopped", None),
                "operations": result.order,
                "hosts": hosts,
                "totals": totals,
            }
        )
        self._flush()
