"""The SSH connector sends what asyncssh writes in one event-loop turn as one write to the
socket (connectors/ssh.py, ``_CoalescingTransport``): asyncssh precedes every packet with an
``SSH_MSG_IGNORE`` written on its own. Checked on a real connection to the loopback fleet by
counting the writes that reach the connection's real TCP transport."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from e2e_helpers import write_inventory

from oxinfra.api import load_inventory
from oxinfra.connectors.base import ConnectSettings
from oxinfra.connectors.registry import connect


def _counting(transport: Any) -> list[int]:
    """Record the size of every write that reaches ``transport`` (and still make it)."""
    sizes: list[int] = []
    write = transport.write

    def counted(data: bytes) -> None:
        sizes.append(len(data))
        write(data)

    transport.write = counted
    return sizes


def test_one_round_trip_is_one_write(tmp_path: Path, sshd_fleet: Any) -> None:
    host = load_inventory(str(write_inventory(tmp_path, sshd_fleet))).hosts[0]

    async def go() -> tuple[list[int], bytes, list[int], bytes]:
        conn = await connect(host, ConnectSettings())
        try:
            shell = await conn.open_shell()
            sizes = _counting(conn.conn._transport._transport)
            out, _ = await shell.run(b"echo hello; echo DONE; echo DONE >&2\n", b"DONE\n", 10)
            one = list(sizes)
            # 1 MiB in one script: the channel splits it into packets, sent as the window allows.
            big = b"x" * (1 << 20)
            sizes.clear()
            out2, _ = await shell.run(b"wc -c <<'EOF'\n" + big + b"\nEOF\necho DONE; echo DONE >&2\n", b"DONE\n", 30)
            return one, out, list(sizes), out2
        finally:
            await conn.close()

    one, out, many, out2 = asyncio.run(go())
    assert out == b"hello\nDONE\n"
    assert len(one) == 1, one  # the IGNORE and the data packet together
    assert out2.split() == [str((1 << 20) + 1).encode(), b"DONE"]
    assert sum(many) > 1 << 20
    # Without joining, every data packet (at most 32 KiB) would be two writes.
    assert len(many) < (1 << 20) // (32 << 10), len(many)


def test_closing_sends_what_was_written_first(tmp_path: Path, sshd_fleet: Any) -> None:
    """asyncssh writes its disconnect packet and closes in the same turn: the packet must go
    out before the transport closes (sshd then logs a clean disconnect, not a reset)."""
    host = load_inventory(str(write_inventory(tmp_path, sshd_fleet))).hosts[1]

    async def go() -> list[int]:
        conn = await connect(host, ConnectSettings())
        shell = await conn.open_shell()
        await shell.run(b"echo DONE; echo DONE >&2\n", b"DONE\n", 10)
        sizes = _counting(conn.conn._transport._transport)
        await conn.close()
        return sizes

    sizes = asyncio.run(go())
    assert sizes, "nothing was written when closing: the EOF and disconnect packets were lost"
