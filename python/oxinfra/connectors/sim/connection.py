"""The connector: :class:`SimConnection` and its :class:`SimShell` over an interpreter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from oxinfra.connectors.base import Connection
from oxinfra.connectors.sim.fs import _ENC, _ERRORS, SimHost, machine
from oxinfra.connectors.sim.interp import Interpreter, _Exit
from oxinfra.connectors.sim.parse import _NONCE_LINE, ShellSyntaxError, substitutions
from oxinfra.exceptions import ConnectError


# --------------------------------------------------------------------------------------------
# The connector
# --------------------------------------------------------------------------------------------


#: Totals over every simulated shell of this process: scripts answered and the seconds
#: spent answering them (so a benchmark can tell the simulator's share from oxinfra's).
stats = {"scripts": 0, "seconds": 0.0}


class SimShell:
    """The :class:`~oxinfra.connectors.base.Shell` interface over an :class:`Interpreter`."""

    def __init__(self, host: SimHost, name: str, latency: float = 0.0) -> None:
        self.interpreter = Interpreter(host)
        self.name = name
        self.latency = latency
        self.round_trips = 0
        self.closed = False
        self.nonce: str | None = None
        self.subs: tuple[tuple[str, str], ...] = substitutions(None, name)

    async def run(self, script: bytes, done: bytes, timeout: float | None = None) -> tuple[bytes, bytes]:
        if self.closed:
            raise ConnectError(f"{self.name}: the remote shell exited unexpectedly")
        self.round_trips += 1
        started = time.perf_counter()
        text = script.decode(_ENC, _ERRORS)
        if self.nonce is None:
            m = _NONCE_LINE.match(text)
            if m is not None:
                self.nonce = m.group(1)
                self.subs = substitutions(self.nonce, self.name)
        try:
            out, err = self.interpreter.run_script(text, self.subs)
        except ShellSyntaxError as exc:
            self.closed = True
            raise ConnectError(f"{self.name}: the simulated shell cannot run the script: {exc}") from None
        except _Exit:
            self.closed = True
            raise ConnectError(f"{self.name}: the remote shell exited unexpectedly") from None
        finally:
            stats["scripts"] += 1
            stats["seconds"] += time.perf_counter() - started
        if self.latency:
            await asyncio.sleep(self.latency)
        return out.encode(_ENC, _ERRORS), err.encode(_ENC, _ERRORS)

    async def close(self) -> None:
        self.closed = True


class SimConnection(Connection):
    """A connected simulated host (``@sim/NAME``)."""

    def __init__(self, host: SimHost, name: str, latency: float = 0.0) -> None:
        self.machine = host
        self.name = name
        self.latency = latency

    @classmethod
    async def open(cls, host: Any) -> "SimConnection":
        data = host.data
        latency = float(data.get("sim_latency") or 0.0)
        return cls(machine(host.target, data), host.name, latency)

    async def open_shell(self) -> SimShell:
        return SimShell(self.machine, self.name, self.latency)

    async def close(self) -> None:
        return None
