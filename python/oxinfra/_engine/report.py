"""Run reports (``--report FILE.json``): where the time of a run went.

Run phases (wall seconds, one after the other): ``inventory``, ``compile``, ``evaluate``,
``order``, ``hosts`` (every host's pipeline, concurrently). Host phases (seconds per host,
overlapping across hosts): ``connect_wait`` (waiting for a handshake slot), ``connect``,
``shell`` (opening the one exec channel), ``facts``, ``plan`` (controller CPU planning),
``execute`` (operation scripts, facts read after them included), ``disconnect``.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

__all__ = ["Timings", "build_report", "write_report", "HOST_PHASES", "RUN_PHASES"]

RUN_PHASES = ("inventory", "compile", "evaluate", "order", "hosts")
HOST_PHASES = ("connect_wait", "connect", "shell", "facts", "plan", "execute", "disconnect")


class _Phase:
    """``with timings.phase(name):`` (a class, not a generator: hosts time several phases
    each, and a fleet has many hosts)."""

    __slots__ = ("timings", "name", "started")

    def __init__(self, timings: "Timings", name: str) -> None:
        self.timings = timings
        self.name = name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        timings, name = self.timings, self.name
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - self.started


class Timings(dict[str, float]):
    """Seconds per phase; :meth:`phase` adds the time a block takes."""

    def phase(self, name: str) -> _Phase:
        return _Phase(self, name)


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"sum": 0.0, "mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]

    return {
        "sum": round(sum(ordered), 6),
        "mean": round(sum(ordered) / len(ordered), 6),
        "p50": round(pick(0.5), 6),
        "p95": round(pick(0.95), 6),
        "max": round(ordered[-1], 6),
    }


def build_report(result: Any, slowest: int = 10) -> dict[str, Any]:
    """A JSON-ready report of a :class:`~oxinfra._engine.hostrun.RunResult`."""
    hosts = list(result.hosts.values())
    per_host = {}
    for h in hosts:
        counts = h.counts()
        per_host[h.name] = {
            "status": h.status,
            "seconds": round(h.seconds, 6),
            "round_trips": h.round_trips,
            "phases": {k: round(v, 6) for k, v in h.timings.items()},
            "changed": counts["changed"],
            "unchanged": counts["unchanged"],
            "failed": counts["failed"],
            **({"error": h.error} if h.error else {}),
        }
    trips = [h.round_trips for h in hosts if h.status != "unreachable"]
    histogram: dict[str, int] = {}
    for n in trips:
        histogram[str(n)] = histogram.get(str(n), 0) + 1
    ranked = sorted(hosts, key=lambda h: h.seconds, reverse=True)[:slowest]
    return {
        "oxinfra_report": 1,
        "dry": result.dry,
        "success": result.success,
        "hosts": len(hosts),
        "operations": len(result.order),
        "run_phases": {k: round(result.timings.get(k, 0.0), 6) for k in RUN_PHASES},
        "total_seconds": round(sum(result.timings.get(k, 0.0) for k in RUN_PHASES), 6),
        "host_phases": {k: _stats([h.timings.get(k, 0.0) for h in hosts]) for k in HOST_PHASES},
        "host_seconds": _stats([h.seconds for h in hosts]),
        "round_trips": {
            "mean": round(sum(trips) / len(trips), 3) if trips else 0,
            "max": max(trips, default=0),
            "histogram": histogram,
        },
        "status_counts": {s: sum(1 for h in hosts if h.status == s) for s in sorted({h.status for h in hosts})},
        "slowest_hosts": [{"host": h.name, **per_host[h.name]} for h in ranked],
        "per_host": per_host,
    }


def write_report(result: Any, path: str, redactor: Any = None) -> None:
    """Write the report; a path that cannot be written is an error naming it. ``redactor``
    (an :class:`oxinfra._secrets.Redactor`) masks the text of the run's secrets (in hosts'
    errors)."""
    from oxinfra.exceptions import OxinfraError

    report = build_report(result)
    if redactor:
        report = redactor.deep(report)
    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=1)
            handle.write("\n")
    except OSError as exc:
        raise OxinfraError(f"cannot write the report to {path}: {exc.strerror}") from None
