"""What the ``oxinfra`` command shows a person: the recap, the progress, colours, the
confirmation prompt, ``-v`` levels, a closed pipe, ``exec``.

Every test runs the real command as a child process (``python -m oxinfra``) against
simulated hosts (``@sim/NAME``), unreachable addresses or the loopback sshd fleet. Terminal
behaviour runs under a real pseudo-terminal (python's :mod:`pty`): stdin, stdout and stderr
are its slave side, the test reads the master side (and answers the prompt there).
"""

from __future__ import annotations

import json
import os
import fcntl
import pty
import re
import select
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import assert_no_traceback, cli_env, inventory, run_cli, target, tree, write_deploy

__all__ = ["inventory", "target"]  # fixtures used here

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COLOR = re.compile(r"\x1b\[[0-9;]*m")


def _take_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def run_pty(
    *args: Any,
    cwd: Path,
    env: dict[str, str] | None = None,
    answer: str | list[str] | None = None,
    timeout: float = 60,
    controlling: bool = False,
    command: list[str] | None = None,
) -> tuple[int, str]:
    """``python -m oxinfra ARGS`` (or ``command``) on a pseudo-terminal; ``answer`` is typed
    once the confirmation prompt shows (a list: one answer each time a prompt shows, in
    turn). Returns the exit code and everything the terminal got (stdout and stderr, with
    ``\\r\\n`` line ends). ``controlling``: the terminal is the process's controlling
    terminal (its own session), so a typed Ctrl-C is a SIGINT."""
    answers = [answer] if isinstance(answer, str) else list(answer or ())
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    proc = subprocess.Popen(
        command if command is not None else [sys.executable, "-m", "oxinfra", *(str(a) for a in args)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={**cli_env(), "TERM": "xterm", "COLUMNS": "200", **(env or {})},
        close_fds=True,
        preexec_fn=_take_terminal if controlling else None,
    )
    os.close(slave)
    chunks: list[bytes] = []
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    data = b""
                if not data and proc.poll() is not None:
                    break
                chunks.append(data)
                if answered < len(answers) and b"".join(chunks).count(b"[y/N]") > answered:
                    os.write(master, answers[answered].encode())
                    answered += 1
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError("timed out:\n" + b"".join(chunks).decode("utf-8", "replace"))
        return proc.wait(timeout=10), b"".join(chunks).decode("utf-8", "replace")
    finally:
        os.close(master)


def screen(raw: str) -> list[str]:
    """The lines as a person reads them: no status line (what a ``\\r`` + erase wiped), no
    escape sequences."""
    lines = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        line = line.split("\r\x1b[2K")[-1]  # what was drawn over a status line
        lines.append(ANSI.sub("", line))
    return lines


def sim_inventory(tmp_path: Path, hosts: int, latency: float = 0.0, dead: int = 0) -> Path:
    """``hosts`` simulated hosts ``@sim/hNNN`` (and ``dead`` hosts nothing listens for)."""
    path = tmp_path / "inventory.py"
    data = f"{{'sim_latency': {latency}}}" if latency else "{}"
    path.write_text(
        f"hosts = [(f'@sim/h{{i:03d}}', {data}) for i in range(1, {hosts + 1})]"
        f" + [(f'dead{{i}}', {{'ssh_hostname': '127.0.0.1', 'ssh_port': 1}}) for i in range(1, {dead + 1})]\n"
    )
    return path


# The first 15 hosts fail the shell operation (and never run "file"); the others change all.
FAILING = """
from oxinfra import host
from oxinfra.operations import files, server
files.directory(name="dir", path="/srv/x")
n = int(host.name[-3:]) if host.name.startswith("@sim/") else 0
server.shell(name="maybe fail", commands=["echo bad >&2; exit 3"] if n <= 15 else ["echo out-$((40 + 2))"])
files.file(name="file", path="/srv/x/f", mode="600")
"""

# Changes nothing on a fresh simulated host.
NOTHING = """
from oxinfra.operations import files
files.file(name="gone", path="/srv/nothing-here", present=False)
"""


def _deploy(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "deploy.py"
    path.write_text(textwrap.dedent(source))
    return path


# -- (2) the recap ---------------------------------------------------------------------


def test_recap_counts_operations_and_hosts_and_names_every_failed_host(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 40, dead=2)
    deploy = _deploy(tmp_path, FAILING)
    out = run_cli("-y", inv, deploy, cwd=tmp_path)
    assert out.code == 1, out.describe()  # failed wins over unreachable
    assert_no_traceback(out)
    lines = out.stdout.splitlines()
    assert "\x1b" not in out.stdout  # piped: no escape sequences at all
    table = lines[lines.index("--> Operations") + 1 :]
    assert re.fullmatch(r"    operation +changed +unchanged +failed +not run", table[0]), out.describe()
    rows = {re.split(r"  +", row.strip())[0]: [int(n) for n in row.split()[-4:]] for row in table[1:5]}
    assert rows == {
        "dir (deploy.py:4)": [40, 0, 0, 0],
        "maybe fail (deploy.py:6)": [25, 0, 15, 0],
        "file (deploy.py:7)": [25, 0, 0, 15],
        "total": [90, 0, 15, 15],
    }, out.describe()
    assert re.search(r"\n--> 42 hosts in [0-9.]+ s: 0 ok, 25 changed, 15 failed, 2 unreachable\n", out.stdout)
    assert "    not run: 15 operations on 15 hosts" in out.stdout
    assert "    2 hosts ran no operation (unreachable, or ended before the first)" in out.stdout
    # every failed host named: one group (same error), the numbered series as a range
    assert (
        "    failed (15):\n      15 hosts: maybe fail (deploy.py:6): exit code 3\n        @sim/h[001:015]\n"
        in out.stdout
    )
    assert "    unreachable (2):\n      2 hosts: cannot connect to 127.0.0.1:1" in out.stdout
    assert out.stdout.endswith(
        "        dead1, dead2\n    hint: add --retry-failed to run only the hosts that did not finish\n"
    )
    # the failures as they happened, with what the command printed
    assert "[@sim/h007] maybe fail (deploy.py:6): failed: exit code 3\n    stderr: bad\n" in out.stdout


def test_recap_is_compact_for_a_big_fleet(tmp_path: Path) -> None:
    """200 hosts: the same few lines as 2 (one per operation, not per host x operation)."""
    inv = sim_inventory(tmp_path, 200)
    deploy = _deploy(tmp_path, FAILING.replace("n <= 15", "n == 0"))
    out = run_cli("-y", inv, deploy, cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert len(out.stdout.splitlines()) == 8, out.describe()  # header, title, table (1 + 3 + total), hosts
    assert re.search(r"\n--> 200 hosts in [0-9.]+ s: 0 ok, 200 changed, 0 failed, 0 unreachable\n$", out.stdout)


def test_quiet_prints_failures_and_the_hosts_line_only(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 20)
    out = run_cli("-y", "--quiet", inv, _deploy(tmp_path, FAILING), cwd=tmp_path)
    assert out.code == 1, out.describe()
    assert "--> Running" not in out.stdout and "operation" not in out.stdout.split("-->")[0]
    assert "--> Operations" not in out.stdout
    assert re.search(r"--> 20 hosts in [0-9.]+ s: 0 ok, 5 changed, 15 failed, 0 unreachable\n", out.stdout)
    assert "@sim/h[001:015]" in out.stdout


# -- (1) closed pipes, colours ----------------------------------------------------------


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, env=cli_env(), timeout=120)


def test_a_closed_pipe_ends_the_output_not_the_run(tmp_path: Path, target: Path, inventory: Path) -> None:
    """``oxinfra ... | head -1``: one line, no traceback, every host still done, the run's
    own exit code."""
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.operations import files, server
        server.shell(name="talk", commands=["seq 1 20000"])
        files.file(name="file", path=f"@ROOT@/{host.name}.txt")
        """,
        target,
    )
    py = sys.executable
    proc = _shell(f'{py} -m oxinfra -y -vvv {inventory} {deploy} | head -1; echo "rc=${{PIPESTATUS[0]}}"', tmp_path)
    assert proc.stdout.splitlines() == ["--> Running: 2 operations on 3 hosts", "rc=0"], proc
    assert proc.stderr == "", proc.stderr
    assert tree(target) == {f"{h}.txt": "file" for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3")}


def test_a_closed_pipe_with_json_and_with_a_big_dry_run(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 300)
    deploy = _deploy(tmp_path, FAILING.replace("n <= 15", "n == 0"))
    py = sys.executable
    for flags in ("--json --dry", "--dry -v", "--json -y"):
        proc = _shell(f'{py} -m oxinfra {flags} {inv} {deploy} | head -1; echo "rc=${{PIPESTATUS[0]}}"', tmp_path)
        first, rc = proc.stdout.splitlines()
        assert rc == "rc=0" and proc.stderr == "", (flags, proc)
        assert "plan" in first or "Dry run" in first


def test_a_closed_pipe_while_printing_the_inventory_exits_141(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 3000)
    proc = _shell(
        f'{sys.executable} -m oxinfra {inv} debug-inventory | head -1; echo "rc=${{PIPESTATUS[0]}}"', tmp_path
    )
    assert proc.stdout.splitlines()[-1] == "rc=141", proc
    assert proc.stderr == "", proc.stderr


@pytest.mark.parametrize(
    ("env", "flags", "colored"),
    [({}, [], True), ({"NO_COLOR": "1"}, [], False), ({}, ["--no-color"], False), ({"NO_COLOR": ""}, [], True)],
)
def test_colours_on_a_terminal_unless_no_color(
    tmp_path: Path, env: dict[str, str], flags: list[str], colored: bool
) -> None:
    inv = sim_inventory(tmp_path, 20)
    code, raw = run_pty("-y", *flags, inv, _deploy(tmp_path, FAILING), cwd=tmp_path, env=env)
    assert code == 1, raw
    assert bool(COLOR.search(raw)) is colored, raw
    lines = screen(raw)
    assert "    failed (15):" in lines, raw


def test_no_escape_sequence_when_piped_even_with_colors_forced_off_or_on(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 20)
    out = run_cli("-y", inv, _deploy(tmp_path, FAILING), cwd=tmp_path, env={"TERM": "xterm-256color"})
    assert "\x1b" not in out.stdout + out.stderr, out.describe()
    facts = run_cli(inv, "--limit", "@sim/h001", "debug-inventory", cwd=tmp_path)
    assert "\x1b" not in facts.stdout and "HOST" in facts.stdout


# -- (3) the confirmation prompt --------------------------------------------------------


def test_no_prompt_when_nothing_would_change(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 5)
    code, raw = run_pty(inv, _deploy(tmp_path, NOTHING), cwd=tmp_path)
    assert code == 0, raw
    assert "[y/N]" not in raw and "Execute" not in raw, raw
    lines = screen(raw)
    assert "oxinfra: nothing would change: not asking to execute" in lines, raw


def test_a_big_preview_is_per_operation_counts_then_the_prompt(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 200)
    deploy = _deploy(tmp_path, FAILING.replace("n <= 15", "n == 0"))
    code, raw = run_pty(inv, deploy, cwd=tmp_path, answer="n\n")
    assert code == 0, raw
    lines = [line for line in screen(raw) if line.strip()]
    prompt = next(i for i, line in enumerate(lines) if "[y/N]" in line)
    assert prompt <= 8, raw  # was 1,002 lines: one per host x operation
    assert lines[prompt].startswith("Execute these changes (600 operations on 200 hosts)? [y/N]"), raw
    assert "--> Would change (dry run)" in lines and not any(line.startswith("[@sim/") for line in lines), raw
    assert not any(line.startswith("--> Running") for line in lines), raw  # answered no: nothing ran
    # -v: the full list
    code, raw = run_pty("-v", inv, deploy, cwd=tmp_path, answer="n\n")
    assert code == 0
    assert sum(1 for line in screen(raw) if line.endswith(": would change")) == 600, raw


def test_a_small_preview_lists_each_change_and_yes_runs_it(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 3)
    deploy = _deploy(tmp_path, FAILING.replace("n <= 15", "n == 0"))
    code, raw = run_pty(inv, deploy, cwd=tmp_path, answer="y\n")
    assert code == 0, raw
    lines = screen(raw)
    assert "[@sim/h002] file: would change" in lines, raw
    assert any(line.startswith("--> Running: 3 operations on 3 hosts") for line in lines), raw
    assert any(re.match(r"--> 3 hosts in [0-9.]+ s: 0 ok, 3 changed", line) for line in lines), raw


def test_ctrl_c_or_ctrl_d_at_the_prompt_changes_nothing_and_says_so(tmp_path: Path) -> None:
    """Ctrl-C at the prompt: exit 130 (interrupted), Ctrl-D: no answer, taken as no (exit 0);
    either way one line saying nothing changed, no "Aborted!", and nothing written."""
    made = tmp_path / "made"
    deploy = _deploy(tmp_path, f"from oxinfra.operations import files\nfiles.file(path={str(made)!r})\n")
    for keys, code_wanted, said in (("\x03", 130, "interrupted at the prompt"), ("\x04", 0, "no answer")):
        code, raw = run_pty("--no-host-lock", "@local", deploy, cwd=tmp_path, answer=keys, controlling=True)
        text = "\n".join(screen(raw))
        assert code == code_wanted, raw
        assert f"{said}: nothing changed" in text, raw
        assert "Aborted" not in text and "Traceback" not in text, raw
        assert not made.exists()


PROMPT_CHILD = """
import signal, sys, threading
from oxinfra.cli.console import ask_yes_no
# a thread that is alive while the prompt waits, and the only one the kernel may hand a
# SIGINT to: the main thread blocks it. Python runs the handler in the main thread all the
# same, but no system call of the main thread is interrupted: the prompt must notice.
threading.Thread(target=threading.Event().wait, daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
for _ in range(3):
    try:
        print("ANSWER", ask_yes_no("Go?"), flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    except EOFError:
        print("EOF", flush=True)
"""


def test_ctrl_c_at_the_prompt_interrupts_even_when_no_read_is_woken(tmp_path: Path) -> None:
    """A Ctrl-C whose signal does not interrupt the prompt's own wait (it came a moment
    before the wait began, or it went to another thread) still ends the prompt at once: the
    CLI used to hang there for good (the signal's flag set, the process blocked in a read).
    Then an answer that is neither yes nor no is asked again, ``y`` is yes, Ctrl-D no answer."""
    code, raw = run_pty(
        cwd=tmp_path,
        answer=["\x03", "maybe\n", "y\n", "\x04"],
        timeout=20,
        controlling=True,
        command=[sys.executable, "-c", PROMPT_CHILD],
    )
    assert code == 0, raw
    assert re.findall(r"INTERRUPTED|ANSWER \w+|EOF", raw) == ["INTERRUPTED", "ANSWER True", "EOF"], raw
    assert raw.count("Error: invalid input") == 1, raw  # "maybe" is no answer: asked again


def test_ctrl_c_and_ctrl_d_end_the_prompt_on_a_terminal_left_in_raw_mode(tmp_path: Path) -> None:
    """A terminal that a crashed program left raw sends Ctrl-C and Ctrl-D as bytes, not as a
    signal and an end of input: they end the prompt all the same (and Enter's carriage
    return ends a line)."""
    child = "import tty; tty.setraw(0)\n" + PROMPT_CHILD
    code, raw = run_pty(cwd=tmp_path, answer=["\x03", "y\r", "\x04"], timeout=20, command=[sys.executable, "-c", child])
    assert code == 0, raw
    assert re.findall(r"INTERRUPTED|ANSWER \w+|EOF", raw) == ["INTERRUPTED", "ANSWER True", "EOF"], raw


# -- (4) progress -----------------------------------------------------------------------


def test_status_line_on_a_terminal(tmp_path: Path) -> None:
    """Hosts done / total, operations, failures, the clock; the last hosts named."""
    inv = tmp_path / "inventory.py"
    inv.write_text(
        "hosts = [(f'@sim/h{i:03d}', {'sim_latency': 0.05}) for i in range(1, 21)]"
        " + [('@sim/h999', {'sim_latency': 1.5})]\n"
    )
    code, raw = run_pty("-y", inv, _deploy(tmp_path, FAILING), cwd=tmp_path)
    assert code == 1, raw
    statuses = [part.split("\r")[0] for part in raw.split("\r\x1b[2K") if "hosts done" in part.split("\r")[0]]
    assert statuses, raw
    plain = [ANSI.sub("", s) for s in statuses]
    assert any(re.match(r"… \d+/21 hosts done · \d+ operations done · 15 failed  0:0\d", s) for s in plain), plain
    assert any(s.endswith("waiting for @sim/h999") for s in plain), plain
    assert screen(raw)[-2].startswith("    failed (15):") or "    failed (15):" in screen(raw), raw
    # the status line is gone at the end: the last thing shown is the recap
    assert (
        ANSI.sub("", raw)
        .rstrip()
        .endswith("@sim/h[001:015]\r\n    hint: add --retry-failed to run only the hosts that did not finish")
    ), repr(raw[-300:])


def test_plain_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 10, latency=0.3)
    out = run_cli("-y", inv, _deploy(tmp_path, NOTHING), cwd=tmp_path, env={"OXINFRA_PROGRESS_SECONDS": "0.2"})
    assert out.code == 0, out.describe()
    progress = [line for line in out.stdout.splitlines() if re.fullmatch(r"--> \d+/10 hosts done \(\d+ s\)", line)]
    assert progress, out.describe()
    assert "\r" not in out.stdout and "\x1b" not in out.stdout


# -- (5) verbosity, --debug -------------------------------------------------------------


def test_verbosity_levels_as_pyinfra(tmp_path: Path) -> None:
    """-v outcomes, -vv commands, -vvv what they printed (server.shell's output)."""
    inv = sim_inventory(tmp_path, 1)
    deploy = _deploy(tmp_path, FAILING.replace("n <= 15", "n == 0"))
    plain = run_cli("-y", inv, deploy, cwd=tmp_path)
    v1 = run_cli("-y", "-v", inv, deploy, cwd=tmp_path)
    v2 = run_cli("-y", "-vv", inv, deploy, cwd=tmp_path)
    v3 = run_cli("-y", "-vvv", inv, deploy, cwd=tmp_path)
    for out in (plain, v1, v2, v3):
        assert out.code == 0, out.describe()
    assert "[@sim/h001] maybe fail: changed" not in plain.stdout
    assert "[@sim/h001] maybe fail: changed" in v1.stdout and "$ echo" not in v1.stdout
    assert "    $ echo out-$((40 + 2))" in v2.stdout and "out-42" not in v2.stdout.replace("$((40 + 2))", "")
    assert "    $ echo out-$((40 + 2))" in v3.stdout and "\n    out-42\n" in v3.stdout, v3.describe()


def test_debug_prints_the_traceback_otherwise_one_line(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 1)
    deploy = _deploy(tmp_path, "from oxinfra.operations import files\nfiles.file(path='/x', mode='bad mode')\n")
    out = run_cli("-y", inv, deploy, cwd=tmp_path)
    assert out.code == 2 and out.stderr.count("\n") == 1 and out.stderr.startswith("oxinfra: error: "), out.describe()
    assert_no_traceback(out)
    debug = run_cli("-y", "--debug", inv, deploy, cwd=tmp_path)
    assert debug.code == 2 and "Traceback (most recent call last)" in debug.stderr, debug.describe()
    assert debug.stderr.splitlines()[-1] == out.stderr.strip()


# -- (6) exec ---------------------------------------------------------------------------


def test_exec_keeps_each_argument_and_json_keeps_stdout(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 2)
    out = run_cli(inv, "exec", "--", "echo", "a  b", cwd=tmp_path)
    assert out.code == 0, out.describe()
    assert "[@sim/h001] a  b" in out.stdout.splitlines() and "[@sim/h002] a  b" in out.stdout.splitlines()
    shell = run_cli(inv, "exec", "--", "echo one; echo two", cwd=tmp_path)  # one word: a command line
    assert "[@sim/h001] one\n[@sim/h001] two" in shell.stdout, shell.describe()
    events = run_cli("--json", inv, "exec", "--", "echo", "a  b", cwd=tmp_path).events
    ops = [e for e in events if e["event"] == "operation"]
    assert [(e["status"], e["stdout"]) for e in ops] == [("changed", "a  b\n")] * 2, events


def test_exec_dry_says_what_would_run_and_prints_no_empty_lines(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 3)
    out = run_cli(inv, "exec", "--dry", "--", "echo", "a  b", cwd=tmp_path)
    assert out.code == 0, out.describe()
    lines = out.stdout.splitlines()
    assert lines[0] == "--> Dry run: would run echo 'a  b' on 3 hosts", out.describe()
    assert not any(re.fullmatch(r"\[[^]]*\] ?", line) for line in lines), out.describe()
    assert re.fullmatch(r"--> 3 hosts in [0-9.]+ s: 0 ok, 3 would change, 0 failed, 0 unreachable", lines[-1])


def test_json_output_is_unchanged_by_terminal_options(tmp_path: Path) -> None:
    inv = sim_inventory(tmp_path, 3)
    out = run_cli("--json", "--no-color", "-y", inv, _deploy(tmp_path, NOTHING), cwd=tmp_path)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["event"] == "plan" and events[-1]["event"] == "summary", out.describe()
    assert "hosts done" not in out.stdout


def test_host_names_compress_to_ranges_limit_reads_back(tmp_path: Path) -> None:
    from oxinfra.cli.recap import compress_names
    from oxinfra.inventory import load_inventory

    names = ["web01", "web02", "web03", "web05", "db1", "db2", "web10", "web11", "web12", "web13", "a"]
    shown = compress_names(names)
    assert shown == ["a", "db1", "db2", "web[01:03]", "web05", "web[10:13]"]
    # what the recap prints selects exactly those hosts again
    inv = tmp_path / "inventory.py"
    inv.write_text(f"hosts = {names + ['web04', 'web06']!r}\n")
    limited = load_inventory(str(inv), {}, ()).limit(shown)
    assert sorted(h.name for h in limited.hosts) == sorted(names)


def test_failures_group_by_error_with_the_host_name_taken_out(tmp_path: Path) -> None:
    """Errors naming their host group together; a short host name inside a word is no name."""
    inv = tmp_path / "inventory.py"
    dead = {"ssh_hostname": "127.0.0.1", "ssh_port": 1}
    inv.write_text(f"hosts = [(name, {dead!r}) for name in ['a', 'c', 'n1', 'n2', 'n3']] + ['@sim/ok']\n")
    out = run_cli("-y", inv, _deploy(tmp_path, NOTHING), cwd=tmp_path)
    assert out.code == 4, out.describe()
    assert "[a] unreachable: a: cannot connect to 127.0.0.1:1" in out.stdout, out.describe()
    assert (
        "    unreachable (5):\n      5 hosts: cannot connect to 127.0.0.1:1: Connect call failed ('127.0.0.1', 1)\n"
        "        a, c, n[1:3]\n"
    ) in out.stdout, out.describe()
    assert re.search(r"--> 6 hosts in [0-9.]+ s: 1 ok, 0 changed, 0 failed, 5 unreachable\n", out.stdout)
