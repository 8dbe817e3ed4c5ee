"""What a run gives back: each host's result and the run's (the engine's own records; the
library's typed results are built from them, see :mod:`oxinfra.api.results`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oxinfra._engine.report import Timings

if TYPE_CHECKING:
    from oxinfra._engine.control import RunControl

__all__ = ["HostResult", "RunResult"]


class HostResult:
    """How one host's run went. ``ops`` holds one dict per operation (``op``, ``key``,
    ``index``, ``status``, and ``commands``, ``noop``, ``error``, ``stdout``, ``stderr`` where
    they apply); hosts with the same outcome may share these dicts: read them, don't change
    them."""

    def __init__(self, name: str) -> None:
        self.name = name
        #: "success" | "failed" | "unreachable" | "error" | "interrupted" | "stopped" |
        #: "not started" (see oxinfra._engine.control and docs/faults.md)
        self.status = "pending"
        self.error: str | None = None
        self.ops: list[dict[str, Any]] = []
        self.round_trips = 0
        self.seconds = 0.0
        self.timings = Timings()
        #: With ``RunControl.keep_details`` (the library's results): operation index ->
        #: (plan as shown, output of an outcome not failed, seconds since the host started).
        self.details: dict[int, tuple[Any, dict[str, Any] | None, float]] | None = None

    def counts(self) -> dict[str, int]:
        """How many operations ended in each status (one pass over the records)."""
        counts = {"changed": 0, "unchanged": 0, "failed": 0, "skipped": 0, "not run": 0}
        for op in self.ops:
            counts[op["status"]] += 1
        return counts

    def count(self, status: str) -> int:
        return self.counts()[status]

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "status": self.status,
            "changed": counts["changed"],
            "unchanged": counts["unchanged"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
            "not_run": counts["not run"],
            "round_trips": self.round_trips,
            "seconds": round(self.seconds, 3),
            **({"error": self.error} if self.error else {}),
        }


class RunResult:
    def __init__(
        self,
        hosts: dict[str, HostResult],
        order: list[str],
        dry: bool,
        timings: Timings,
        control: RunControl | None = None,
    ) -> None:
        self.hosts = hosts
        self.order = order
        self.dry = dry
        self.timings = timings
        #: The signal that interrupted the run (``"SIGINT"``), or None.
        self.interrupted = control.interrupted if control is not None else None
        #: Why the run stopped starting hosts (``--fail-percent``), or None.
        self.stopped = control.stopping if control is not None else None

    @property
    def success(self) -> bool:
        return all(h.status == "success" for h in self.hosts.values())
