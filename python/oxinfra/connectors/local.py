"""``@local`` and ``@docker/CONTAINER``: a shell in a local child process."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from oxinfra.connectors.base import Connection, Shell
from oxinfra.exceptions import ConnectError

__all__ = ["LocalConnection", "open_local", "open_docker"]


class LocalConnection(Connection):
    def __init__(self, argv: list[str], what: str) -> None:
        self.argv = argv
        self.name = what
        self.process: asyncio.subprocess.Process | None = None

    @classmethod
    async def open(cls, argv: list[str], what: str = "@local") -> "LocalConnection":
        return cls(argv, what)

    async def open_shell(self) -> Shell:
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: abort() kills it whole
            )
        except OSError as exc:
            raise ConnectError(f"{self.name}: cannot start {self.argv[0]}: {exc.strerror}") from None
        proc = self.process
        return Shell(proc.stdin, proc.stdout, proc.stderr, self.name)

    async def abort(self) -> None:
        """Kill the shell's process group (what it runs with it), then close. For ``@docker``
        this ends the ``docker exec`` client; the shell in the container runs on until it
        next writes or reads."""
        proc = self.process
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        await self.close()

    async def close(self) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()


async def open_local(host: Any, settings: Any = None) -> LocalConnection:
    """``@local``: ``sh`` on this machine."""
    return await LocalConnection.open(["sh"])


async def open_docker(host: Any, settings: Any = None) -> LocalConnection:
    """``@docker/CONTAINER``: ``sh`` in a running container, through ``docker exec``."""
    return await LocalConnection.open(["docker", "exec", "-i", host.target, "sh"], what=host.name)
