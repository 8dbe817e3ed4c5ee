"""Connections opened while the deploy files are evaluated.

Evaluating every host's deploy (and importing the operation modules it uses, compiling its
templates) takes the controller a while before the first script can be sent -- on 200 hosts
about as long as a fifth of a whole run -- and the hosts would sit idle all that time. So when
every host will run at once anyway (no ``--parallel`` below the number of hosts), the SSH hosts
start connecting first: key exchange, login and the shell go on (on the hosts' side and
between two evaluated hosts) while the controller evaluates. Nothing is sent to a host's shell
before its plan exists, and a connection its run does not take (the run ended early: a deploy
error, an interrupt, ``--fail-percent``) is closed with nothing sent.

The host's deadline (``--host-timeout``) starts when it starts connecting, as it does otherwise.
"""

from __future__ import annotations

import asyncio
from typing import Any

from oxinfra._engine.control import RunControl
from oxinfra._engine.report import Timings
from oxinfra.connectors.base import ConnectSettings
from oxinfra.connectors.registry import connect

__all__ = ["Opened", "EarlyConnections", "open_host"]

#: Connectors whose hosts connect early: the network ones, where a connection costs round trips
#: and the host's CPU. A local or docker shell, or a simulated host, starts in no time.
EARLY_CONNECTORS = frozenset({"ssh"})


class Opened:
    """A host's connection and shell, the deadline its run keeps, and the connecting phases'
    seconds (``connect_wait``, ``connect``, ``shell``) for its report."""

    __slots__ = ("conn", "shell", "deadline", "timings")

    def __init__(self, conn: Any, shell: Any, deadline: float | None, timings: Timings) -> None:
        self.conn = conn
        self.shell = shell
        self.deadline = deadline
        self.timings = timings


async def open_host(host: Any, settings: ConnectSettings, control: RunControl) -> Opened:
    """Connect to ``host`` and open its shell, within its deadline (errors: ConnectError)."""
    timings = Timings()
    with timings.phase("connect_wait"):
        await settings.connect_slots.acquire()
    try:
        deadline = control.deadline()
        with timings.phase("connect"):
            conn = await control.within(deadline, connect(host, settings))
    finally:
        settings.connect_slots.release()
    try:
        with timings.phase("shell"):
            shell = await control.within(deadline, conn.open_shell())
    except BaseException:
        await conn.abort()
        raise
    return Opened(conn, shell, deadline, timings)


class EarlyConnections:
    """The hosts' connections being opened while the run evaluates (see the module docs):
    :meth:`take` hands one to the host's run, :meth:`close` ends those nobody took."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[Opened]] = {}

    @classmethod
    def start(
        cls, hosts: list[Any], settings: ConnectSettings, control: RunControl, parallel: int | None
    ) -> "EarlyConnections | None":
        """Start connecting the hosts of an early connector, when all hosts run at once; None
        when there is nothing to start."""
        if parallel is not None and parallel < len(hosts):
            return None
        early = cls()
        for host in hosts:
            if host.connector in EARLY_CONNECTORS and host.name not in early.tasks:
                early.tasks[host.name] = asyncio.ensure_future(open_host(host, settings, control))
        return early if early.tasks else None

    def take(self, name: str) -> "asyncio.Task[Opened] | None":
        return self.tasks.pop(name, None)

    async def close(self) -> None:
        """Cancel the connecting that is still going on and close what was opened; nothing is
        sent to those hosts."""
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        opened = [o for o in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(o, Opened)]
        # (the others were cancelled, or failed: nothing is open there)
        await asyncio.gather(*(o.conn.close() for o in opened), return_exceptions=True)
