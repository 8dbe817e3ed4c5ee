"""The connector: :class:`SimConnection` and its :class:`SimShell` over an interpreter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from oxinfra.connectors.base import Connection
from oxinfra.exceptions import ConnectError
from oxinfra.testing.sim.fs import _ENC, _ERRORS, SimHost, machine
from oxinfra.testing.sim.interp import Interpreter, _Exit
from oxinfra.testing.sim.parse import _NONCE_LINE, ShellSyntaxError, substitutions


# --------------------------------------------------------------------------------------------
# The connector
# --------------------------------------------------------------------------------------------


#: Totals over every simulated shell of this process: scripts answered and the seconds
#: spent answering them (so a benchmark can tell the simulator's share from oxinfra's).
stats = {"scripts": 0, "seconds": 0.0}

# Answers to first scripts on unchanged machines, by (script with the nonce taken out,
# machine state key); see SimShell._remember. Bounded: per-host scripts do not pile up.
_ANSWERS: dict[tuple[Any, ...], tuple[str, str, tuple[Any, ...]]] = {}
_ANSWERS_MAX = 64
_PLACEHOLDER = "\x00nonce\x00"


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

    async def run(
        self, script: bytes, done: bytes, timeout: float | None = None, out: Any = None, err: Any = None
    ) -> tuple[bytes, bytes]:
        """One round trip; ``out`` and ``err`` (see :meth:`oxinfra.connectors.base.Shell.run`)
        are given each stream whole."""
        stdout, stderr = await self._answer(script)
        if out is None or err is None:
            return stdout, stderr
        out.feed(stdout)
        err.feed(stderr)
        return out.value(), err.value()

    async def _answer(self, script: bytes) -> tuple[bytes, bytes]:
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
        key = None
        machine_state = self.interpreter.host.pristine
        if self.round_trips == 1 and self.nonce and machine_state is not None:
            key = (text.replace(self.nonce, _PLACEHOLDER), machine_state)
            answer = _ANSWERS.get(key)
            if answer is not None:
                out_t, err_t, state = answer
                self.interpreter.restore_state(state)
                nonce = self.nonce
                self.interpreter.vars = {k: v.replace(_PLACEHOLDER, nonce) for k, v in self.interpreter.vars.items()}
                stats["scripts"] += 1
                stats["seconds"] += time.perf_counter() - started
                if self.latency:
                    await asyncio.sleep(self.latency)
                return out_t.replace(_PLACEHOLDER, nonce).encode(_ENC, _ERRORS), err_t.replace(
                    _PLACEHOLDER, nonce
                ).encode(_ENC, _ERRORS)
        try:
            out, err = self.interpreter.run_script(text, self.subs)
            if key is not None:
                self._remember(key, out, err)
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

    def _remember(self, key: tuple[Any, ...], out: str, err: str) -> None:
        """Keep the answer to a fresh shell's first script on a machine nothing has changed,
        when running it changed nothing and printed nothing only this machine has: every
        machine made alike (same user, seeds and second) answers that script alike, with
        its own nonce. The simulator's cost is not oxinfra's; this keeps it small."""
        interp = self.interpreter
        if interp.host.pristine is None or interp.identity_read or _PLACEHOLDER in out or _PLACEHOLDER in err:
            return
        nonce = self.nonce
        assert nonce is not None
        vars_, *rest = interp.state()
        if any(_PLACEHOLDER in v for v in vars_.values()):
            return
        vars_ = {k: v.replace(nonce, _PLACEHOLDER) for k, v in vars_.items()}
        if len(_ANSWERS) >= _ANSWERS_MAX:
            del _ANSWERS[next(iter(_ANSWERS))]
        _ANSWERS[key] = (out.replace(nonce, _PLACEHOLDER), err.replace(nonce, _PLACEHOLDER), (vars_, *rest))

    async def close(self) -> None:
        self.closed = True


class SimConnection(Connection):
    """A connected simulated host (``@sim/NAME``)."""

    def __init__(self, host: SimHost, name: str, latency: float = 0.0) -> None:
        self.machine = host
        self.name = name
        self.latency = latency

    @classmethod
    async def open(cls, host: Any, settings: Any = None) -> "SimConnection":
        data = host.data
        latency = float(data.get("sim_latency") or 0.0)
        return cls(machine(host.target, data), host.name, latency)

    async def open_shell(self) -> SimShell:
        return SimShell(self.machine, self.name, self.latency)

    async def close(self) -> None:
        return None
