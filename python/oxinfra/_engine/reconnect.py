"""Connecting to a host again after it went away on purpose (``server.reboot``)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from oxinfra.api.commands import Reconnect
from oxinfra.connectors.registry import connect
from oxinfra.exceptions import ConnectError
from oxinfra.inventory.host import Host

__all__ = ["reconnect"]


async def reconnect(
    host: Host, settings: Any, item: Reconnect, disconnect: Callable[[Any], Awaitable[None]]
) -> tuple[Any, Any]:
    """Wait ``item.delay`` seconds, then connect and open a shell every ``item.interval``
    seconds until that works, for at most ``item.timeout`` seconds: ``(connection, shell)``.
    Past the timeout: ConnectError naming the last failure (the host is unreachable)."""
    await asyncio.sleep(item.delay)
    give_up = time.monotonic() + item.timeout
    while True:
        conn = None
        try:
            left = max(1.0, give_up - time.monotonic())
            await settings.connect_slots.acquire()  # --parallel counts connections
            try:
                conn = await asyncio.wait_for(connect(host, settings), left)
            finally:
                settings.connect_slots.release()
            shell = await asyncio.wait_for(conn.open_shell(), max(1.0, give_up - time.monotonic()))
            return conn, shell
        except (ConnectError, asyncio.TimeoutError, OSError) as exc:
            if conn is not None:
                await disconnect(conn)
            if time.monotonic() + item.interval > give_up:
                why = str(exc) or type(exc).__name__
                raise ConnectError(
                    f"{host.name}: did not come back within {item.timeout:g}s after the reboot ({why})"
                ) from None
            await asyncio.sleep(item.interval)
