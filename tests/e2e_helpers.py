"""Helpers for the end-to-end tests: real deploys against the loopback sshd fleet.

Every host of the fleet is this machine, and the test process is (usually) root while the
deploys log in as the unprivileged ``oxinfra-test`` user. So:

* a deploy writes under ``<target>/<host name>/...``, where ``target`` is a fresh directory
  under /tmp that anyone may create entries in (mode 1777), removed when the test ends;
* what a deploy made is checked directly on disk by the test.

Runs go through the real CLI: in-process with click's ``CliRunner`` (fast; ``run_deploy``) or
as a child process ``python -m oxinfra`` (``run_cli``) where exit codes, stderr and the absence
of tracebacks are what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON_DIR = REPO / "python"
WORKLOAD_SRC = REPO / "benches" / "workloads" / "standard-10"
#: The operation names of standard-10, in order.
WORKLOAD_OPS = (
    "app dir",
    "conf dir",
    "static blob",
    "app config",
    "env line",
    "current link",
    "marker",
    "env replace",
    "probe",
    "log dir",
)


@pytest.fixture
def target() -> Iterator[Path]:
    """A fresh directory under /tmp that the SSH login user can create entries in."""
    path = Path(tempfile.mkdtemp(prefix="oxinfra-e2e-", dir="/tmp"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def serve_directory(address: str, directory: Path) -> Iterator[str]:
    """An HTTP server on ``address`` (port chosen by the system) serving ``directory``, quiet,
    for the time of the ``with``: its base URL."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((address, 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def write_inventory(
    directory: Path, fleet: Any, name: str = "inventory.py", groups: dict[str, list[str]] | None = None, extra: str = ""
) -> Path:
    """A Python inventory file for ``fleet``: by default group ``web`` = the first two hosts,
    ``db`` = the third; every host gets the fleet's SSH settings as data."""
    if groups is None:
        groups = {"web": fleet.hosts[:2], "db": fleet.hosts[2:3]}
    lines = [f"_ssh = {fleet.ssh_data()!r}"]
    for group, hosts in groups.items():
        lines.append(f"{group} = ([{', '.join(repr(h) for h in hosts)}], dict(_ssh))")
    path = directory / name
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@pytest.fixture
def inventory(tmp_path: Path, sshd_fleet: Any) -> Path:
    """An inventory of the 3 session fleet hosts (groups ``web``: 2 hosts, ``db``: 1 host)."""
    return write_inventory(tmp_path, sshd_fleet)


def write_deploy(directory: Path, source: str, root: Path | str | None = None, name: str = "deploy.py") -> Path:
    """Write a deploy file; ``@ROOT@`` in ``source`` becomes ``root``."""
    text = textwrap.dedent(source)
    if root is not None:
        text = text.replace("@ROOT@", str(root))
    path = directory / name
    path.write_text(text)
    return path


#: A deploy that makes the file ``<root>/<host name>`` (``write_deploy(..., root=...)``).
MARK_DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import files
    files.file(name="mark", path=f"@ROOT@/{host.name}")
"""


def hosts_inventory(directory: Path, hosts: dict[str, dict[str, Any]], name: str = "inventory.py") -> Path:
    """A Python inventory file of one group ``hosts``: {host name: its data}."""
    path = directory / name
    entries = ", ".join(f"({h!r}, {d!r})" for h, d in hosts.items())
    path.write_text(f"hosts = [{entries}]\n")
    return path


def ssh_config_file(directory: Path, fleet: Any, body: str) -> Path:
    """``directory/ssh_config``: ``body`` with ``@PORT@``, ``@USER@``, ``@KEY@``, ``@KNOWN@``
    (the loopback ``fleet``'s) and ``@DIR@`` (``directory``) filled in."""
    path = directory / "ssh_config"
    path.write_text(
        body.replace("@PORT@", str(fleet.port))
        .replace("@USER@", fleet.user)
        .replace("@KEY@", str(fleet.key_path))
        .replace("@KNOWN@", str(fleet.known_hosts))
        .replace("@DIR@", str(directory))
    )
    return path


@dataclass
class Outcome:
    """One CLI run: exit code, output, and (with --json) the parsed events."""

    code: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        assert self.events and self.events[-1]["event"] == "summary", self.describe()
        return self.events[-1]

    def host(self, name: str) -> dict[str, Any]:
        return self.summary["hosts"][name]

    def statuses(self, host: str) -> dict[str, str]:
        """Operation name (or call site when unnamed) -> status, for one host."""
        return {e["op"]: e["status"] for e in self.events if e["event"] == "operation" and e["host"] == host}

    def op(self, host: str, name: str) -> dict[str, Any]:
        found = [e for e in self.events if e["event"] == "operation" and e["host"] == host and e["op"] == name]
        assert len(found) == 1, f"{name!r} on {host}: {found}\n{self.describe()}"
        return found[0]

    def describe(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _parse_events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events


def invoke(*args: Any, json_events: bool = True, input: str | None = None) -> Outcome:
    """Run the CLI in-process (click's CliRunner)."""
    from click.testing import CliRunner

    from oxinfra.cli import main

    argv = [str(a) for a in args]
    if json_events and "--json" not in argv:
        argv.insert(0, "--json")
    result = CliRunner().invoke(main, argv, input=input, catch_exceptions=False)
    stdout, stderr = result.stdout, result.stderr
    out = Outcome(result.exit_code, stdout, stderr)
    if json_events:
        out.events = _parse_events(stdout)
    return out


def run_deploy(inventory: Path | str, *deploys_and_flags: Any, dry: bool = False) -> Outcome:
    """``oxinfra --json -y INVENTORY DEPLOY... [FLAGS]`` in-process (``--dry`` instead of -y)."""
    flags = ["--dry"] if dry else ["-y"]
    return invoke(*flags, inventory, *deploys_and_flags)


def commands_by_op(out: str) -> dict[str, tuple[str, list[str]]]:
    """``-vv`` output -> {operation name: (status, [commands as shown])}; ``--dry``'s
    "would change" is "changed"."""
    found: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in out.splitlines():
        head = re.match(r"\[[^\]]+\] ([^:]+): (would change|changed|unchanged|failed)", line)
        if head:
            current = head.group(1).split(" (")[0]
            found[current] = (head.group(2).replace("would change", "changed"), [])
        elif current and line.startswith("    $ "):
            found[current][1].append(line[6:])
    return found


def verbose(inventory: Path, deploy: Path, dry: bool = False) -> dict[str, tuple[str, list[str]]]:
    """Run the deploy with ``-vv`` (or ``--dry -vv``): each operation's status and commands."""
    out = invoke("--dry" if dry else "-y", "-vv", inventory, deploy, json_events=False)
    assert out.code == 0, out.describe()
    return commands_by_op(out.stdout + out.stderr)


def apply_cycle(
    fleet: Any,
    host: str,
    inventory: Path,
    deploy: Path,
    *,
    read: Callable[[], Any],
    want: Any,
    drift: str,
    first: dict[str, str] | None = None,
    after_drift: dict[str, str] | None = None,
    dry_commands: dict[str, list[str]] | None = None,
) -> None:
    """The container test of operations (``fleet``: an ``oxinfra.testing.containers`` fleet):

    apply (statuses ``first``; default every operation changed) -> ``read()`` (the state,
    read independently: docker exec) gives ``want`` -> apply again: nothing changes ->
    ``drift`` by hand (a shell script run as root with docker exec; ``read()`` no longer
    gives ``want``) -> ``--dry`` changes nothing (``read()`` as drifted) and shows the
    statuses ``after_drift`` (default: every operation of ``dry_commands`` changed, the
    others unchanged) and, when given, exactly ``dry_commands`` for the operations that
    would change -> apply sends exactly the commands ``--dry`` showed -> ``read()`` gives
    ``want`` -> nothing left to change."""
    one = run_deploy(inventory, deploy)
    assert one.code == 0, one.describe()
    ops = list(one.statuses(host))
    assert one.statuses(host) == (first or {op: "changed" for op in ops}), one.describe()
    assert read() == want
    two = run_deploy(inventory, deploy)
    assert two.code == 0, two.describe()
    assert two.statuses(host) == {op: "unchanged" for op in ops}, two.describe()
    fleet.sh(host, drift)
    drifted = read()
    assert drifted != want, "the drift changed nothing that read() shows"
    dry = verbose(inventory, deploy, dry=True)
    assert read() == drifted, "--dry changed the host"
    if after_drift is None:
        assert dry_commands is not None, "give after_drift or dry_commands"
        after_drift = {op: "changed" if op in dry_commands else "unchanged" for op in ops}
    assert {op: status for op, (status, _) in dry.items()} == after_drift
    changing = {op: cmds for op, (status, cmds) in dry.items() if status == "changed"}
    if dry_commands is not None:
        assert changing == dry_commands
    repair = verbose(inventory, deploy)
    assert {op: cmds for op, (status, cmds) in repair.items() if status == "changed"} == changing
    assert read() == want
    assert run_deploy(inventory, deploy).statuses(host) == {op: "unchanged" for op in ops}


def deploy_cycle(
    fleet: Any,
    directory: Path,
    source: str,
    read: Callable[[], Any] | str,
    *,
    inventory: Path | None = None,
    **kwargs: Any,
) -> None:
    """:func:`apply_cycle` of the deploy ``source`` (written in ``directory``) on the fleet's
    first host. ``read``: a callable, or a shell script whose output (docker exec, as root) is
    the state; ``inventory``: by default one of the fleet, written in ``directory``;
    ``kwargs``: ``want``, ``drift`` and the rest of :func:`apply_cycle`'s."""
    host = fleet.hosts[0]
    reader = read if callable(read) else (lambda: fleet.sh(host, read))
    inventory = inventory or fleet.write_inventory(directory / "inventory.py")
    apply_cycle(fleet, host, inventory, write_deploy(directory, source), read=reader, **kwargs)


def deploy_cycles(
    fleet: Any,
    directory: Path,
    source: str,
    read: Callable[[], Any] | str,
    want: Any,
    *drifts: tuple[str, dict[str, list[str]]],
    inventory: Path | None = None,
) -> None:
    """One :func:`deploy_cycle` per ``(drift, the commands --dry must show)``: the first
    from the state the test set up (every operation changes), each later one from ``want``
    (its first apply changes nothing)."""
    for i, (drift, dry_commands) in enumerate(drifts):
        first = {op: "unchanged" for op in dry_commands} if i else None
        deploy_cycle(
            fleet, directory, source, read, inventory=inventory, want=want, first=first, drift=drift,
            dry_commands=dry_commands,
        )  # fmt: skip


def in_ci() -> bool:
    """Whether ``CI`` is set to true: there, what a test needs and lacks is a failure."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(what: str, reason: object) -> NoReturn:
    """Skip the test, ``what`` being unavailable here -- fail it under CI, so a broken CI
    machine cannot pass silently."""
    if in_ci():
        pytest.fail(f"{what} unavailable on CI: {reason}", pytrace=False)
    pytest.skip(f"{what} unavailable: {reason}")


def stopped_after(fleet: Any) -> Iterator[Any]:
    """A fixture's body: yields the started ``fleet``, stops it afterwards."""
    try:
        yield fleet
    finally:
        fleet.stop()


def stopped_after_all(start: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A fixture's body: yields ``make(*args, **kwargs)``, which starts a fleet with
    ``start``; every one is stopped afterwards."""
    fleets: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        fleet = start(*args, **kwargs)
        fleets.append(fleet)
        return fleet

    try:
        yield make
    finally:
        for fleet in fleets:
            fleet.stop()


def init_fleet(fleet_class: Any, what: str) -> Iterator[Any]:
    """A fixture's body: one started ``oxinfra.testing.containers.InitFleet`` of
    ``fleet_class``, stopped afterwards (``what`` unavailable: see :func:`unavailable`)."""
    from oxinfra.testing.containers import ContainersUnavailable

    try:
        fleet = fleet_class().start()
    except ContainersUnavailable as exc:
        unavailable(f"{what} container", exc)
    yield from stopped_after(fleet)


async def run_async_ticking(inventory: Any, deploy: Any) -> tuple[Any, list[float], list[Any], set[int]]:
    """``run_async`` in an asyncio application with a ticker (every 5 ms): the result, the
    ticks between the call and its return, the events, and the threads they came on."""
    from oxinfra.api import run_async

    ticks: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    events: list[Any] = []
    threads: set[int] = set()

    def on_event(event: Any) -> None:
        threads.add(threading.get_ident())
        events.append(event)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    result = await run_async(inventory, deploy, on_event=on_event)
    ended = time.perf_counter()
    stop.set()
    await task
    return result, [t for t in ticks if started <= t <= ended], events, threads


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(PYTHON_DIR)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("CI", None)
    return env


def run_cli(
    *args: Any,
    cwd: Path | str | None = None,
    input: str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> Outcome:
    """``python -m oxinfra ARGS...`` as a child process (stdin not a terminal); ``env`` is
    added to the environment."""
    argv = [sys.executable, "-m", "oxinfra", *(str(a) for a in args)]
    proc = subprocess.run(
        argv,
        cwd=cwd,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env={**cli_env(), **(env or {})},
        timeout=timeout,
    )
    out = Outcome(proc.returncode, proc.stdout, proc.stderr)
    if "--json" in argv:
        out.events = _parse_events(proc.stdout)
    return out


def assert_no_traceback(outcome: Outcome) -> None:
    text = outcome.stdout + outcome.stderr
    assert "Traceback" not in text, outcome.describe()
    assert 'File "' not in text, outcome.describe()


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` (relative) -> its kind: 'dir', 'file' or 'link -> TARGET'."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = f"link -> {os.readlink(full)}"
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "file"
    return out


def mode(path: Path) -> int:
    """Permission bits as pyinfra writes them: 0o755 -> 755."""
    return int(oct(path.lstat().st_mode & 0o7777)[2:])


def snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Kind, mode, mtime (ns) and content/target of everything under ``root``."""
    out: dict[str, tuple[Any, ...]] = {}
    for rel, kind in tree(root).items():
        full = root / rel
        st = full.lstat()
        if kind == "file":
            content: Any = full.read_bytes()
        elif kind.startswith("link"):
            content = os.readlink(full)
        else:
            content = None
        out[rel] = (kind, st.st_mode, st.st_mtime_ns, st.st_uid, content)
    return out


#: pyinfra 3.10's python, in the venv .ci/install makes (the fact comparisons run it).
DEFAULT_PYINFRA_PYTHON = str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "oxinfra", "pyinfra-3.10", "bin", "python")
)
#: pyinfra 3.10's command line in that venv (``OXINFRA_PYINFRA`` names another).
PYINFRA_CLI = os.environ.get("OXINFRA_PYINFRA") or str(Path(DEFAULT_PYINFRA_PYTHON).with_name("pyinfra"))


def require_pyinfra() -> str:
    """pyinfra 3.10's command line, for a test that runs it: the test is skipped when it is
    not installed, except under CI (``CI`` true), where .ci/install puts it -- there it
    fails, so a comparison with pyinfra never passes by not running."""
    if os.path.exists(PYINFRA_CLI) or shutil.which(PYINFRA_CLI):
        return PYINFRA_CLI
    why = f"pyinfra 3.10 is not installed at {PYINFRA_CLI} (set OXINFRA_PYINFRA)"
    if in_ci():
        pytest.fail(why + " on CI: .ci/install puts it there", pytrace=False)
    pytest.skip(why)
