"""Test and benchmark helpers for oxinfra.

`oxinfra.testing.sshd.LoopbackFleet` starts a real OpenSSH ``sshd`` on loopback so tests and
benchmarks can drive many "hosts" (127.0.0.0/8 addresses) on one machine.
"""

from .sshd import LoopbackFleet, SshdUnavailable, host_address

__all__ = ["LoopbackFleet", "SshdUnavailable", "host_address"]
