"""Operations' output is capped as it arrives: head and tail kept, the rest counted; facts
are never cut; bytes that are not UTF-8 stay recoverable in JSON; a host printing 100 MB
leaves the controller's memory where it was."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from e2e_helpers import assert_no_traceback, cli_env, run_cli, write_deploy, write_inventory
from oxinfra import _core
from oxinfra._engine.capture import HEAD, TAIL, CappedStream, apply_cuts

NONCE = "0123456789abcdef01234567"


def marker(index: int, status: str) -> bytes:
    return f"\n@@OX-{NONCE}:E:{index}:{status}\n".encode()


DONE = f"\n@@OX-{NONCE}:DONE\n".encode()


def feed_in(stream: CappedStream, data: bytes, cuts: list[int]) -> bool:
    """Feed ``data`` split at ``cuts``; True if the last feed said the stream is done."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    finished = False
    for a, b in zip(bounds, bounds[1:]):
        if b > a:
            finished = stream.feed(data[a:b])
    return finished


outputs = st.binary(max_size=300) | st.sampled_from([b"", b"\n", b"@@OX-", b"\n@@OX-x:E:1:0\n", b"\xff\xfe"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(outputs, st.sampled_from(["0", "1", "stale"])), max_size=6),
    st.integers(0, 6),
    st.lists(st.integers(0, 4000), max_size=12),
    st.integers(1, 40),
)
def test_stream_equals_whole_demux_wherever_chunks_split(
    sections: list[tuple[bytes, str]], capped: int, cuts: list[int], cap: int
) -> None:
    """Sections arrive in any chunking: uncapped ones come out byte for byte as the whole
    stream demultiplexes; capped ones as head + note + tail, with the count dropped."""
    data = b"".join(out + marker(i, status) for i, (out, status) in enumerate(sections)) + DONE
    stream = CappedStream(NONCE, capped, head=cap, tail=cap)
    assert feed_in(stream, data, cuts)
    whole, _, _ = _core.demux(data, NONCE)
    got, _, _ = _core.demux(stream.value(), NONCE)
    got = apply_cuts(got, stream.cuts)
    assert [(i, s) for i, s, _ in got] == [(i, s) for i, s, _ in whole]
    stale_seen = False
    for n, ((i, _, want), (_, _, have)) in enumerate(zip(whole, got)):
        if n < capped and not stale_seen and len(want) > 2 * cap:
            dropped = getattr(have, "dropped", 0)
            assert dropped >= len(want) - 2 * cap and dropped <= len(want) - 2 * cap + 6
            assert want.startswith(have.split(b"\n[... ")[0]) and want.endswith(have.rsplit(b" dropped ...]\n")[1])
        else:
            assert have == want
        stale_seen = stale_seen or sections[n][1] == "stale"


def test_stream_is_not_done_until_it_ends_with_done() -> None:
    stream = CappedStream(NONCE, 1)
    assert not stream.feed(b"out" + marker(0, "0") + DONE[:-3])
    assert stream.feed(DONE[-3:])
    assert not CappedStream(NONCE, 0).feed(DONE + b"more")


def test_big_section_is_cut_in_the_middle() -> None:
    body = b"a" * HEAD + b"b" * 10_000_000 + b"c" * TAIL
    stream = CappedStream(NONCE, 1)
    for at in range(0, len(body), 65536):
        assert not stream.feed(body[at : at + 65536])
    assert stream.feed(marker(0, "1") + DONE)
    [(index, status, data)] = apply_cuts(_core.demux(stream.value(), NONCE)[0], stream.cuts)
    assert (index, status) == (0, 1)
    assert data == b"a" * HEAD + b"\n[... 10,000,000 bytes dropped ...]\n" + b"c" * TAIL
    assert data.dropped == 10_000_000


def test_utf8_is_cut_between_characters() -> None:
    body = "é".encode() * (HEAD + TAIL)  # two bytes each: cuts fall inside a character unless moved
    stream = CappedStream(NONCE, 1, head=HEAD + 1, tail=TAIL + 1)
    stream.feed(body + marker(0, "0") + DONE)
    [(_, _, data)] = apply_cuts(_core.demux(stream.value(), NONCE)[0], stream.cuts)
    head, tail = bytes(data).split(f"\n[... {data.dropped:,} bytes dropped ...]\n".encode())
    head.decode("utf-8"), tail.decode("utf-8")  # no broken character at either cut
    assert len(head) == HEAD and len(tail) == TAIL and data.dropped == len(body) - HEAD - TAIL


def test_failed_operation_output_capped_and_bytes_recoverable(tmp_path: Path) -> None:
    """Through the CLI on @local: the JSON record keeps head and tail with the count dropped
    (also on the terminal), and bytes that are not UTF-8 exactly, in base64."""
    deploy = write_deploy(
        tmp_path,
        r"""
        from oxinfra.operations import server
        server.shell(name="loud", commands=["head -c 1000000 /dev/zero | tr '\\0' x; printf 'END'; "
                                            "printf '\\377\\376' >&2; exit 3"])
    """,
    )
    out = run_cli("--json", "-y", "@local", deploy)
    assert out.code == 1, out.describe()
    op = out.op("@local", "loud")
    assert op["stdout_dropped"] == 1_000_003 - HEAD - TAIL
    assert (
        op["stdout"] == "x" * HEAD + f"\n[... {op['stdout_dropped']:,} bytes dropped ...]\n" + "x" * (TAIL - 3) + "END"
    )
    assert "stdout_b64" not in op
    assert base64.b64decode(op["stderr_b64"]) == b"\xff\xfe" and op["stderr"] == "\ufffd\ufffd"
    human = run_cli("-y", "@local", deploy)
    assert human.code == 1 and len(human.stdout) < 2 * (HEAD + TAIL), len(human.stdout)
    assert "bytes dropped" in human.stdout


def _peak_rss_kib(argv: list[str], cwd: Path) -> tuple[int, int, str]:
    """Run the CLI as a child; its peak RSS in KiB (VmHWM read from /proc while it runs, and
    ru_maxrss from wait4 when it ends: the larger), its exit code and output."""
    import threading

    proc = subprocess.Popen(
        argv, cwd=cwd, env=cli_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peak = 0
    # WNOWAIT: see that it ended without reaping it, so that wait4 below gets its usage.
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak = max(peak, int(status.split("VmHWM:")[1].split()[0]))
        except (OSError, IndexError, ValueError):
            pass
        time.sleep(0.02)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    proc.stdout.close()
    return max(peak, usage.ru_maxrss), proc.returncode, b"".join(output).decode(errors="replace")


def test_controller_memory_stays_bounded_when_a_host_prints_100_mb(tmp_path: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet, groups={"one": sshd_fleet.hosts[:1]})
    quiet = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import server
        server.shell(name="quiet", commands=["true"])
    """,
        name="quiet.py",
    )
    loud = write_deploy(
        tmp_path,
        r"""
        from oxinfra.operations import server
        server.shell(name="loud", commands=["head -c 100000000 /dev/zero | tr '\\0' x"])
    """,
        name="loud.py",
    )
    argv = [sys.executable, "-m", "oxinfra", "--json", "-y", str(inventory)]
    base, code, text = _peak_rss_kib(argv + [str(quiet)], tmp_path)
    assert code == 0, text
    peak, code, text = _peak_rss_kib(argv + ["-vv", str(loud)], tmp_path)
    assert code == 0, text
    assert "Traceback" not in text
    growth_mb = (peak - base) / 1024
    print(f"peak RSS {peak / 1024:.1f} MB, a quiet run {base / 1024:.1f} MB: +{growth_mb:.1f} MB for 100 MB of output")
    assert growth_mb < 100, (peak, base)


def test_facts_are_never_cut(tmp_path: Path) -> None:
    """A fact's output larger than the cap is parsed whole (a file found by FindInFile)."""
    big = tmp_path / "big"
    lines = [f"line {i} " + "y" * 100 for i in range(2000)]  # about 220 KB of matches
    big.write_text("\n".join(lines) + "\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra import host
        from oxinfra.facts.files import FindInFile
        from oxinfra.operations import server
        found = host.get_fact(FindInFile, path={str(big)!r}, pattern="^line")
        server.shell(name="count", commands=[f"test {{len(found)}} = 2000"])
    """,
    )
    out = run_cli("--json", "-y", "@local", deploy)
    assert_no_traceback(out)
    assert out.code == 0, out.describe()
