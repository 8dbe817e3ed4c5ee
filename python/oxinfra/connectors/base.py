"""The persistent shell every connector provides, and the round trip over it."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Protocol

from oxinfra.exceptions import ConnectError

__all__ = ["Collect", "Connection", "ConnectSettings", "Shell", "ShellLike"]


class _Reader(Protocol):
    async def read(self, n: int = -1) -> Any: ...


class _Writer(Protocol):
    def write(self, data: Any) -> Any: ...


class Shell:
    """One ``sh`` process on the host, fed scripts on stdin.

    :meth:`run` writes one script and reads stdout and stderr until both end with the
    script's DONE marker: one round trip, no new channel.
    """

    def __init__(self, stdin: Any, stdout: Any, stderr: Any, name: str) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr
        self.name = name
        self.round_trips = 0

    async def _drain(self) -> None:
        drain = getattr(self._stdin, "drain", None)
        if drain is not None:
            await drain()

    async def run(
        self, script: bytes, done: bytes, timeout: float | None = None, out: Any = None, err: Any = None
    ) -> tuple[bytes, bytes]:
        """One round trip. Any failure of the transport (the connection lost, the channel
        closed, the shell gone, no answer in time) is a :class:`ConnectError` of this host
        (``timed_out`` set when no answer came in time, ``partial``: the stdout read before).

        ``out`` and ``err`` take each stream's chunks as they arrive (``feed(chunk)`` returns
        True once the stream ends with ``done``; ``value()`` is what they kept): by default
        everything is kept (:class:`Collect`); the engine keeps bounded parts of each
        operation's output (:mod:`oxinfra._engine.capture`)."""
        self.round_trips += 1
        out = out if out is not None else Collect(done)
        err = err if err is not None else Collect(done)
        try:
            self._stdin.write(script)
            await self._drain()
            await asyncio.wait_for(
                asyncio.gather(self._read_until(self._stdout, out), self._read_until(self._stderr, err)),
                timeout,
            )
        except ConnectError as exc:
            error = exc
        except asyncio.TimeoutError:
            error = ConnectError(f"{self.name}: no answer within {timeout:g} s")
            error.timed_out = True
        except Exception as exc:  # the transport's own errors (asyncssh, OS): this host only
            reason = str(exc) or type(exc).__name__
            error = ConnectError(f"{self.name}: connection lost: {reason}")
        else:
            return out.value(), err.value()
        error.partial = out.value()  # what came before
        error.reader = out
        raise error

    async def _read_until(self, stream: Any, sink: Any) -> None:
        while True:
            chunk = await stream.read(1 << 16)
            if not chunk:
                raise ConnectError(f"{self.name}: the remote shell exited unexpectedly")
            if sink.feed(chunk):
                return

    async def close(self) -> None:
        try:
            write_eof = getattr(self._stdin, "write_eof", None)
            if write_eof is not None:
                write_eof()
            else:
                self._stdin.close()
        except (OSError, RuntimeError, BrokenPipeError):
            pass


class Collect:
    """A stream of a round trip kept whole, read until it ends with ``done``."""

    __slots__ = ("done", "chunks", "tail")

    def __init__(self, done: bytes) -> None:
        self.done = done
        self.chunks: list[bytes] = []
        self.tail = b""

    def feed(self, chunk: bytes) -> bool:
        self.chunks.append(chunk)
        self.tail = (self.tail + chunk)[-len(self.done) :]
        return self.tail == self.done

    def value(self) -> bytes:
        return b"".join(self.chunks)


class ShellLike(Protocol):
    """What a connection's shell offers the engine: :class:`Shell` does, and so does a
    stand-in that runs no process (``oxinfra.testing.sim``'s)."""

    name: str
    round_trips: int

    async def run(
        self, script: bytes, done: bytes, timeout: float | None = None, out: Any = None, err: Any = None
    ) -> tuple[bytes, bytes]: ...

    async def close(self) -> None: ...


class Connection:
    """A connected host: open the shell, then close."""

    name = ""

    async def open_shell(self) -> ShellLike:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def abort(self) -> None:
        """End the connection of a host that did not finish (a timeout, an interrupt, a lost
        connection): the shell and everything it started (its process group) are killed where
        the connector can, then the connection is closed. Closing alone would leave a running
        command (``sleep 1000``) running on the host."""
        await self.close()


class ConnectSettings:
    """What the connections of one run share: the handshake slots, and what connectors
    load once per run (``cache``: the SSH connector keeps known hosts files and keys there)."""

    #: Handshakes in flight at once. Past this, key exchanges queue up in sshd and on the
    #: controller and start to miss their timeout (measured: 1,000 at once on 2 cores lose
    #: hundreds of hosts to TimeoutError); connected hosts are not limited by it.
    DEFAULT_CONNECT_LIMIT = 200

    def __init__(self, connect_limit: int | None = None) -> None:
        self.connect_slots = asyncio.Semaphore(connect_limit or self.DEFAULT_CONNECT_LIMIT)
        self.cache: dict[Any, Any] = {}
        #: An OpenSSH client config for hosts without ``ssh_config_file`` data (``--ssh-config``;
        #: None: ``~/.ssh/config`` when there is one).
        self.ssh_config: str | None = os.environ.get("OXINFRA_SSH_CONFIG") or None
