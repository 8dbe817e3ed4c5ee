"""The simulator's trimming expansions (``${NAME%WORD}``, ``%%``, ``#``, ``##``) against
a real sh. Each case below gives the same answer in dash, bash and busybox sh; the simulator
answered some of them otherwise, silently."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from oxinfra.testing import sim

SETUP = "v='a*b?c[d]e\\\\f-g.h'\nbs='\\\\'\nst='\\*'\nw='*'\ncl='[[:alpha:]]'\nr='a}b}c'\n"


@pytest.mark.parametrize(
    "word",
    [
        "${v#[[:alpha:]]}",  # a character class in a bracket expression
        "${v#$cl}",  # the same, from a variable
        "${v#*$bs}",  # a backslash from an unquoted variable escapes the next character
        "${v#*$st}",  # ... so \* from a variable is a literal *
        "${v#a${w}}",  # a braced variable inside WORD (the simulator ends WORD at its first })
        "${v#*[$w]}",  # a variable inside a bracket expression
        "${r%\\}*}",  # an escaped } in WORD (the simulator ends WORD there)
    ],
)
def test_trim_expansions_as_a_real_sh(word: str) -> None:
    script = SETUP + f"x={word}; printf '[%s]\\n' \"$x\"\n"
    real = subprocess.run(["sh"], input=script, capture_output=True, text=True)
    assert real.returncode == 0 and not real.stderr, real
    out, _ = asyncio.run(
        sim.SimShell(sim.machine("review-expansions"), "@sim/review-expansions").run(script.encode(), b"")
    )
    assert out.decode() == real.stdout
