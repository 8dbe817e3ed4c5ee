"""benches/embed.py's ticker: a loop blocked for a known time is seen as a stall at least
that long (the bench reports the caller's worst stall; it is never asserted on)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

from embed import beside  # noqa: E402


def test_the_ticker_sees_a_blocked_loop() -> None:
    async def block() -> str:
        await asyncio.sleep(0.02)
        time.sleep(0.2)  # holds the loop: no tick can run
        await asyncio.sleep(0.02)
        return "done"

    result, stats = asyncio.run(beside(block, 0.002))
    assert result == "done"
    assert stats["max_stall_ms"] >= 190, stats
    assert stats["ticks"] >= 3 and stats["wall_s"] >= 0.24


def test_the_ticker_counts_ticks_while_work_awaits() -> None:
    async def wait() -> None:
        await asyncio.sleep(0.1)

    _, stats = asyncio.run(beside(wait, 0.002))
    assert stats["ticks"] >= 5 and stats["max_stall_ms"] is not None
