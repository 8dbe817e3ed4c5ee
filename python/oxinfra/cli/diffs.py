"""``--diff`` on the terminal: what operations changed (or, dry, would change) in files.

The diffs come with the operation events (their ``diff`` text, masked like every event:
:mod:`oxinfra._engine.diff` says what it holds). They are printed once the run ends, before
the recap, in the operations' global order; hosts whose change is the same text share one
diff, printed once and naming them (``[web[01:20]] (20 hosts)``), so a fleet making one change
prints it once. Colour (on a terminal only): ``+`` lines green, ``-`` lines red, ``@@`` cyan,
the file headers bold, summaries (``# PATH: binary file, ...``) yellow. Control characters of
file contents (an escape sequence in a file) are shown as ``\\xNN``, never sent to the terminal.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from oxinfra.cli.recap import compress_names

__all__ = ["DiffLog", "MAX_NAMES"]

#: Host names (or ranges) named above a shared diff; past this, "and N more".
MAX_NAMES = 8
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _visible(line: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", line)


class DiffLog:
    """The diffs of one run, grouped by operation and text."""

    def __init__(self) -> None:
        #: operation key -> diff text -> [operation name, host names]
        self.groups: dict[str, dict[str, tuple[str, list[str]]]] = {}

    def add(self, event: dict[str, Any]) -> None:
        text = event.get("diff")
        if not text or event.get("status") != "changed":
            return
        by_text = self.groups.setdefault(event["key"], {})
        found = by_text.get(text)
        if found is None:
            by_text[text] = (event["op"], [event["host"]])
        else:
            found[1].append(event["host"])

    def __len__(self) -> int:
        return sum(len(by_text) for by_text in self.groups.values())

    def lines(
        self,
        style: Callable[..., str],
        order: list[str],
        dry: bool,
        shown_before: "DiffLog | None" = None,
    ) -> list[str]:
        """The diffs as text lines, in ``order`` (operation keys; others after). Groups that
        ``shown_before`` printed already (the preview before a confirmation) are left out
        and counted."""
        keys = [k for k in order if k in self.groups] + [k for k in self.groups if k not in order]
        out: list[str] = []
        repeated = 0
        for key in keys:
            for text, (op, hosts) in self.groups[key].items():
                if shown_before is not None and _same(shown_before, key, text, hosts):
                    repeated += 1
                    continue
                out.append(self._head(style, key, op, hosts))
                out.extend("    " + self._styled(style, line) for line in text.rstrip("\n").split("\n"))
        title = "--> File changes" + (" (dry run)" if dry else "")
        if not out:
            if repeated:
                return [style(f"{title}: as shown before the confirmation ({repeated})", bold=True)]
            return [style(f"{title}: none", bold=True)]
        head = [style(title, bold=True)]
        if repeated:
            head.append(style(f"    ({repeated} more as shown before the confirmation)", fg="bright_black"))
        return head + out

    @staticmethod
    def _head(style: Callable[..., str], key: str, op: str, hosts: list[str]) -> str:
        names = compress_names(hosts)
        more = ""
        if len(names) > MAX_NAMES:
            more = f" and {len(names) - MAX_NAMES} more"
            names = names[:MAX_NAMES]
        count = f" ({len(hosts)} hosts)" if len(hosts) > 1 else ""
        label = op if op == key else f"{op} ({key})"
        return style(f"[{', '.join(names)}{more}]{count} {_visible(label)}", bold=True)

    @staticmethod
    def _styled(style: Callable[..., str], line: str) -> str:
        line = _visible(line)
        if line.startswith(("--- ", "+++ ")):
            return style(line, bold=True)
        if line.startswith("@@"):
            return style(line, fg="cyan")
        if line.startswith("+"):
            return style(line, fg="green")
        if line.startswith("-"):
            return style(line, fg="red")
        if line.startswith("# "):
            return style(line, fg="yellow")
        return line


def _same(log: DiffLog, key: str, text: str, hosts: list[str]) -> bool:
    found = log.groups.get(key, {}).get(text)
    return found is not None and sorted(found[1]) == sorted(hosts)
