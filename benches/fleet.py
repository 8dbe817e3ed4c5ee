#!/usr/bin/env python3
"""Fleet benchmark: standard-10 on N loopback hosts, floor vs oxinfra vs pyinfra, side by side.

One :class:`~oxinfra.testing.sshd.LoopbackFleet` of ``max(N)`` hosts is started and reused for
every N (the first N hosts of it).  For each N and each tool:

* the tool's target tree ``/tmp/fleet-target/<tool>/<run id>/`` is removed (a per-run subdirectory,
  so a test or another benchmark writing the standard ``/tmp/fleet-target/<tool>/<host>`` paths at
  the same time cannot disturb this run, nor be disturbed by it);
* run 1 (clean hosts), then the end state is verified over SSH on the first and last host;
* run 2 (the same deploy again: only ``server.shell`` changes).

Every tool runs as a subprocess of this script, so all of them pay interpreter start-up and imports
the same way; for each run we record:

* ``wall_s``: from spawning the tool to reaping it;
* ``cpu_s``: the controller's CPU (user + system) from ``os.wait4`` of that subprocess, i.e. the
  process and every child it reaped;
* ``sshd_cpu_s``: CPU of the fleet's sshd during the run: ``LoopbackFleet.server_cpu_seconds()``
  (the listener and the ``[priv]`` monitors: key exchanges, logins) plus the post-auth session
  processes with the shells and commands they ran, which that misses (they are orphaned by
  sshd; the CLI adopts them as a subreaper and reaps them: see :class:`SessionReaper`);
* ``ratio``: ``wall_s`` / the floor's ``wall_s`` for the same N and run (floor run 2 = the floor
  script run again);
* ``other_cpu_s``: busy CPU of the whole machine during the run (/proc/stat) minus the two above:
  what other jobs took from the shared CPUs -- the noise indicator (load average is not one: the
  fleet's own sshd processes drive it up); ``steal_s`` is what the hypervisor gave other VMs.

Tools:

* ``floor``: ``benches/floor.py``'s ``run_floor`` (asyncssh, one script per host), in a child
  process of this file (``--floor-child``);
* ``oxinfra``: ``python -m oxinfra INVENTORY.py deploy.py -y --json``; the exit code must be 0, the
  JSON summary must show every host succeeded, and the per-operation events must show the ten
  operations changed (run 1; "env replace" may be unchanged, see ``RUN1_ALSO_OK``) / only the
  shell probe changed (run 2);
* ``pyinfra`` (if importable): ``pyinfra INVENTORY.py deploy.py -y --parallel N`` on a copy of the
  deploy with ``oxinfra`` imports changed to ``pyinfra`` (``--parallel``: pyinfra's default is
  20 x CPUs, 40 here, which would throttle it below N); exit code 0 and its results table must
  agree with the expected statuses.

For every tool the end state after run 1 is checked over SSH on the first and last host.

Before anything is timed, oxinfra's modules are compiled to bytecode (``compileall``), as
``pip install`` does for an installed package: from a source checkout run with
``PYTHONDONTWRITEBYTECODE=1`` (set on this machine), every ``python -m oxinfra`` would
otherwise compile ~100 modules again, ~0.2 s per invocation that no installed copy pays.

CLI::

    python benches/fleet.py --hosts 10 200 [--tools floor,oxinfra,pyinfra] [--runs 2]
                            [--repeat 3] [--out results.json] [--profile DIR] [--workdir DIR]

Importable: :func:`run_bench` takes a started fleet (a test can pass a 3-host one).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
BENCHES = REPO / "benches"
WORKLOAD_DIR = BENCHES / "workloads" / "standard-10"
TARGET_BASE = Path("/tmp/fleet-target")
ALL_TOOLS = ("floor", "oxinfra", "pyinfra")
#: ``--baseline DIR``: another checkout of oxinfra (e.g. the last main), run as the tool
#: ``baseline`` beside ``oxinfra`` in the same invocation, interleaved, to tell a regression
#: from the machine's mood. None: not asked for.
BASELINE: Path | None = None
#: The tools that run oxinfra (from this checkout, or from BASELINE's).
OXINFRA_TOOLS = ("oxinfra", "baseline")
# The deploy's root line; every tool's copy replaces it with its own per-run root.
ROOT_LINE = 'root = f"/tmp/fleet-target/oxinfra/{host.name}"'
RUN_TIMEOUT = 1800.0

if str(BENCHES) not in sys.path:
    sys.path.insert(0, str(BENCHES))
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

import floor  # noqa: E402  (benches/floor.py)


class BenchError(RuntimeError):
    """A tool's run failed or left a wrong end state: no timing is reported for it."""


# --------------------------------------------------------------------------- small helpers


def pyinfra_available() -> bool:
    return importlib.util.find_spec("pyinfra") is not None and shutil.which("pyinfra") is not None


def compile_package(repo: Path = REPO) -> None:
    """Write the bytecode of oxinfra's modules (see the module's docstring): the timed runs
    then import as an installed copy does."""
    import compileall

    if not compileall.compile_dir(str(repo / "python" / "oxinfra"), quiet=1):
        raise BenchError(f"compileall failed on {repo}/python/oxinfra")


def _child_env(tool: str = "oxinfra") -> dict[str, str]:
    env = dict(os.environ)
    py = str((BASELINE if tool == "baseline" and BASELINE is not None else REPO) / "python")
    env["PYTHONPATH"] = py + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class SessionReaper:
    """Make this process a child subreaper and account the CPU of the orphans it adopts.

    Why: when an asyncssh client hangs up (floor, oxinfra), OpenSSH's privileged monitor
    (``sshd: user [priv]``) exits without waiting for its unprivileged post-auth child
    (``sshd: user@notty``), and oxinfra's persistent ``sh`` also outlives its session; those
    orphans -- with every command they ran -- are reaped by init, so their CPU never reaches the
    listener's ``cutime``: ``LoopbackFleet.server_cpu_seconds()`` then counts the key exchanges
    and logins but not the sessions (for pyinfra's paramiko sessions the chain stays intact).  As a subreaper (prctl PR_SET_CHILD_SUBREAPER) this process
    adopts those orphans instead (sshd is its child), reaps them, and adds up their rusage.
    Only for a process that owns its children (the CLI, not a pytest process)."""

    PR_SET_CHILD_SUBREAPER = 36

    def __init__(self, protect: set[int]) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(self.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.protect = protect  # children reaped by their owners (the fleet's sshd)
        self.cpu: dict[str, float] = {}

    def reap_ready(self, target: int | None = None) -> Any:
        """Reap every exited child now; return ``(status, rusage)`` of ``target`` if it was one."""
        found = None
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return found
            if info is None or info.si_pid == 0:
                return found
            pid = info.si_pid
            if pid in self.protect:
                raise BenchError(f"process {pid} (the fleet's sshd) exited during the benchmark")
            comm = _comm(pid)
            _, status, usage = os.wait4(pid, 0)
            if pid == target:
                found = (status, usage)
            else:
                self.cpu[comm] = self.cpu.get(comm, 0.0) + usage.ru_utime + usage.ru_stime

    def take(self) -> dict[str, float]:
        cpu, self.cpu = self.cpu, {}
        return cpu

    def drain(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while True:
            self.reap_ready()
            if time.perf_counter() >= end:
                return
            time.sleep(0.01)


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
        return text[text.index("(") + 1 : text.rindex(")")]
    except (OSError, ValueError):
        return "?"


def run_child(
    cmd: list[str],
    cwd: Path,
    log_prefix: Path,
    timeout: float = RUN_TIMEOUT,
    reaper: SessionReaper | None = None,
    tool: str = "oxinfra",
) -> dict[str, Any]:
    """Run ``cmd``; return exit code, wall seconds, CPU seconds (rusage of the child and its reaped
    children, from wait4) and the paths of its captured stdout/stderr.  With ``reaper``, every
    exited child (adopted sshd sessions too) is reaped while waiting."""
    out_path = Path(f"{log_prefix}.stdout")
    err_path = Path(f"{log_prefix}.stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        busy0, steal0 = machine_cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_child_env(tool), start_new_session=True
        )
        deadline = start + timeout
        delay = 0.0005
        while True:
            if reaper is not None:
                done = reaper.reap_ready(proc.pid)
                if done is not None:
                    status, usage = done
                    break
            else:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                raise BenchError(f"{cmd[:4]}... timed out after {timeout:.0f} s (logs: {log_prefix}.*)")
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
        wall = time.perf_counter() - start
        busy1, steal1 = machine_cpu_seconds()
        busy, steal = busy1 - busy0, steal1 - steal0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen quiet
    return {
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "cpu_user_s": usage.ru_utime,
        "cpu_sys_s": usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024.0,
        "machine_busy_s": busy,
        "steal_s": steal,
        "stdout": out_path,
        "stderr": err_path,
    }


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal): CPU seconds all CPUs of the machine have spent busy since boot, and the
    time the hypervisor gave them to someone else (/proc/stat); (0.0, 0.0) if unreadable."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]] + [0] * 8
    except (OSError, ValueError):
        return 0.0, 0.0
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# --------------------------------------------------------------------------- per-tool workdirs


def tool_root(tool: str, run_id: str) -> str:
    """Where a tool's hosts write: ``/tmp/fleet-target/<tool>/<run id>`` (host dirs below it)."""
    return f"{TARGET_BASE}/{tool}/{run_id}"


def deploy_source(tool: str, root: str, workload_dir: Path = WORKLOAD_DIR) -> str:
    """standard-10's deploy.py for ``tool`` (oxinfra or pyinfra) writing under ``root``."""
    text = (Path(workload_dir) / "deploy.py").read_text()
    if ROOT_LINE not in text:
        raise BenchError(f"deploy.py no longer has the line {ROOT_LINE!r}; update benches/fleet.py")
    text = text.replace(ROOT_LINE, f'root = f"{root}/{{host.name}}"')
    if tool == "pyinfra":
        text = text.replace("from oxinfra import", "from pyinfra import")
        text = text.replace("from oxinfra.operations import", "from pyinfra.operations import")
        if "oxinfra" in text.replace(root, ""):
            raise BenchError("deploy.py still mentions oxinfra after the pyinfra conversion")
    return text


def inventory_source(hosts: list[str], ssh_data: dict[str, Any], tool: str) -> str:
    """An inventory file: one group ``fleet`` of the hosts, the SSH settings as its group data.
    oxinfra reads pyinfra's ssh_* names, so the data is the same for both tools; pyinfra also
    gets ``ssh_strict_host_key_checking = "yes"`` (the known_hosts file lists every host) and no
    agent / ~/.ssh key search, so it offers exactly the fleet's key."""
    data = {k: ssh_data[k] for k in ("ssh_port", "ssh_user", "ssh_key", "ssh_known_hosts_file")}
    if ssh_data.get("ssh_password"):
        data["ssh_password"] = ssh_data["ssh_password"]
    if tool == "pyinfra":
        data["ssh_strict_host_key_checking"] = "yes"
        data["ssh_allow_agent"] = False
        data["ssh_look_for_keys"] = False
    lines = ["# generated by benches/fleet.py", "fleet = (["]
    lines += [f"    {h!r}," for h in hosts]
    lines += [f"], {data!r})", ""]
    return "\n".join(lines)


def prepare_workdir(
    base: Path, tool: str, n: int, hosts: list[str], ssh_data: dict[str, Any], root: str, rep: int | str = 1
) -> Path:
    d = base / f"{tool}-N{n}" if rep == 1 else base / f"{tool}-N{n}-rep{rep}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    if tool in (*OXINFRA_TOOLS, "pyinfra"):
        shutil.copytree(WORKLOAD_DIR / "files", d / "files")
        shutil.copytree(WORKLOAD_DIR / "templates", d / "templates")
        (d / "deploy.py").write_text(deploy_source(tool, root))
        (d / "inventory.py").write_text(inventory_source(hosts, ssh_data, tool))
    else:
        (d / "floor.json").write_text(
            json.dumps({"hosts": hosts, "ssh_data": ssh_data, "root": root, "workload": str(WORKLOAD_DIR)})
        )
    return d


def clean_target(root: str, owner: str | None) -> None:
    """Remove ``root`` and recreate it empty, writable by the fleet's login user."""
    path = Path(root)
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        raise BenchError(f"could not remove {root}")
    tool_dir = path.parent
    if not tool_dir.exists():
        tool_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(tool_dir, 0o1777)  # like /tmp/fleet-target: any user may create its subtree
    path.mkdir()
    if owner and os.geteuid() == 0:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)


# --------------------------------------------------------------------------- end-state check


async def verify_hosts(
    hosts: list[str], ssh_data: dict[str, Any], root: str, workload_dir: Path = WORKLOAD_DIR
) -> list[str]:
    """Check standard-10's end state under ``root/<host>`` over SSH; return the problems."""
    return await floor.verify_floor(hosts, ssh_data, workload_dir, root=root, relative_link_ok=True)


def sample_hosts(hosts: list[str]) -> list[str]:
    return list(dict.fromkeys([hosts[0], hosts[-1]]))


# --------------------------------------------------------------------------- result checks


def parse_oxinfra_events(stdout_path: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The JSON summary and, per host, ``{operation name: status}`` from ``oxinfra --json``."""
    summary = None
    statuses: dict[str, dict[str, str]] = {}
    with open(stdout_path, errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "summary":
                summary = event
            elif kind == "operation":
                statuses.setdefault(event["host"], {})[event["op"]] = event["status"]
    if summary is None:
        raise BenchError(f"oxinfra printed no JSON summary (see {stdout_path})")
    return summary, statuses


# standard-10's operations (deploy.py's name= arguments) and the status each must end with.
# Run 1 (clean hosts): everything changes -- except that "env replace" may be reported unchanged:
# on a clean host the file it edits is created by "env line" with MODE=production, so there is
# no MODE=staging to replace.  (pyinfra plans it from the facts read before anything ran, and
# runs the sed anyway.)  Run 2: only the shell probe changes.
STANDARD10_OPS = (
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
RUN1_ALSO_OK = {"env replace": ("unchanged",)}


def expected_statuses(op: str, run: int) -> tuple[str, ...]:
    if run == 1:
        return ("changed",) + RUN1_ALSO_OK.get(op, ())
    return ("changed",) if op == "probe" else ("unchanged",)


def check_oxinfra_result(
    summary: dict[str, Any], statuses: dict[str, dict[str, str]], hosts: list[str], run: int
) -> dict[str, Any]:
    """Every host succeeded and every operation ended as standard-10 says; return a digest."""
    problems = []
    if not summary.get("success"):
        problems.append("summary success is false")
    got_hosts = summary.get("hosts", {})
    if sorted(got_hosts) != sorted(hosts):
        problems.append(f"summary lists {len(got_hosts)} hosts, expected {len(hosts)}")
    for h in hosts:
        s = got_hosts.get(h)
        if s is None:
            continue
        if s.get("status") != "success" or s.get("failed"):
            problems.append(f"{h}: {s}")
        ops = statuses.get(h, {})
        if sorted(ops) != sorted(STANDARD10_OPS):
            problems.append(f"{h}: operations reported {sorted(ops)}")
        for op, status in ops.items():
            if status not in expected_statuses(op, run):
                problems.append(f"{h}: {op}: {status}, want {'/'.join(expected_statuses(op, run))}")
    if problems:
        raise BenchError(
            f"oxinfra run {run}: "
            + "; ".join(problems[:5])
            + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
    changed = sorted({s.get("changed") for s in got_hosts.values()})
    rts = sorted({s.get("round_trips", 0) for s in got_hosts.values()})
    secs = [s.get("seconds", 0.0) for s in got_hosts.values()]
    return {
        "changed_per_host": changed,
        "unchanged_ops_run1": sorted({op for ops in statuses.values() for op, st in ops.items() if st == "unchanged"})
        if run == 1
        else None,
        "round_trips_per_host": rts,
        "host_seconds_max": round(max(secs), 3) if secs else 0.0,
        "host_seconds_mean": round(sum(secs) / len(secs), 3) if secs else 0.0,
    }


def add_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set each row's ``ratio`` = wall_s / the floor's wall_s for the same N, run and repetition
    (``rep``, 1 when absent); None when there is no such floor row."""
    floors = {(r["n"], r["run"], r.get("rep", 1)): r["wall_s"] for r in results if r["tool"] == "floor"}
    for r in results:
        fw = floors.get((r["n"], r["run"], r.get("rep", 1)))
        r["ratio"] = round(r["wall_s"] / fw, 3) if fw else None
    return results


def _median(values: list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def summarize(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (N, tool, run), in first-seen order: medians over the repetitions, and the ratio of the
    median wall to the floor's median wall for the same N and run."""
    groups: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["n"], r["tool"], r["run"]), []).append(r)
    out = []
    for (n, tool, run), rows in groups.items():
        out.append(
            {
                "n": n,
                "tool": tool,
                "run": run,
                "reps": len(rows),
                **{
                    k: round(_median([r[k] for r in rows]), 3)
                    for k in ("wall_s", "cpu_s", "sshd_cpu_s", "other_cpu_s")
                    if all(k in r for r in rows)
                },
                "wall_min_s": round(min(r["wall_s"] for r in rows), 3),
                "wall_max_s": round(max(r["wall_s"] for r in rows), 3),
            }
        )
    floors = {(s["n"], s["run"]): s["wall_s"] for s in out if s["tool"] == "floor"}
    for s in out:
        fw = floors.get((s["n"], s["run"]))
        s["ratio"] = round(s["wall_s"] / fw, 3) if fw else None
    return out


# --------------------------------------------------------------------------- running one tool


def _tool_command(tool: str, workdir: Path, n: int, profile: Path | None = None) -> list[str]:
    py = sys.executable
    if tool == "floor":
        return [py, str(Path(__file__).resolve()), "--floor-child", str(workdir / "floor.json")]
    if tool in OXINFRA_TOOLS:
        prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
        return [py, *prof, "-m", "oxinfra", "inventory.py", "deploy.py", "-y", "--json"]
    if tool == "pyinfra":
        exe = shutil.which("pyinfra") or "pyinfra"
        if profile:
            return [
                py,
                "-m",
                "cProfile",
                "-o",
                str(profile),
                exe,
                "inventory.py",
                "deploy.py",
                "-y",
                "--parallel",
                str(n),
            ]
        return [exe, "inventory.py", "deploy.py", "-y", "--parallel", str(n)]
    raise ValueError(tool)


def run_tool(
    fleet: Any,
    tool: str,
    workdir: Path,
    hosts: list[str],
    run: int,
    profile: Path | None = None,
    reaper: SessionReaper | None = None,
) -> dict[str, Any]:
    """One timed run of ``tool`` on ``hosts``; raises BenchError when it did not succeed."""
    cmd = _tool_command(tool, workdir, len(hosts), profile)
    load = os.getloadavg()
    if reaper is not None:
        reaper.drain(0.0)
        reaper.take()  # whatever exited before this run is not this run's
    srv0 = fleet.server_cpu_seconds()
    res = run_child(cmd, workdir, workdir / f"run{run}{'-prof' if profile else ''}", reaper=reaper, tool=tool)
    # let sshd reap the finished connection processes (and us the orphaned sessions)
    if reaper is not None:
        reaper.drain(0.5)
    else:
        time.sleep(0.3)
    srv_master = fleet.server_cpu_seconds() - srv0
    adopted = reaper.take() if reaper is not None else {}
    sessions = sum(adopted.values())
    srv = srv_master + sessions
    if res["rc"] != 0:
        raise BenchError(
            f"{tool} N={len(hosts)} run {run} exited {res['rc']}:\n"
            f"stderr: {_tail(res['stderr'])}\nstdout: {_tail(res['stdout'])}"
        )
    row: dict[str, Any] = {
        "n": len(hosts),
        "tool": tool,
        "run": run,
        "wall_s": round(res["wall_s"], 3),
        "cpu_s": round(res["cpu_s"], 3),
        "cpu_user_s": round(res["cpu_user_s"], 3),
        "cpu_sys_s": round(res["cpu_sys_s"], 3),
        "sshd_cpu_s": round(srv, 3),
        "sshd_listener_cpu_s": round(srv_master, 3),  # fleet.server_cpu_seconds() alone
        "sshd_session_cpu_s": round(sessions, 3) if reaper is not None else None,
        "adopted_cpu_by_comm": {k: round(v, 3) for k, v in sorted(adopted.items())},
        "maxrss_mb": round(res["maxrss_mb"], 1),
        # everything else the machine did meanwhile (other jobs; noise indicator, +-0.1 s)
        "other_cpu_s": round(max(0.0, res["machine_busy_s"] - res["cpu_s"] - srv), 3),
        "machine_busy_s": round(res["machine_busy_s"], 3),
        "steal_s": round(res["steal_s"], 3),  # CPU the hypervisor gave to other VMs meanwhile
        "loadavg_before": [round(x, 2) for x in load],
    }
    if tool in OXINFRA_TOOLS:
        row["oxinfra"] = check_oxinfra_result(*parse_oxinfra_events(res["stdout"]), hosts, run)
    elif tool == "floor":
        try:
            row["inner_wall_s"] = round(json.loads(Path(res["stdout"]).read_text())["wall_s"], 3)
        except (OSError, ValueError, KeyError):
            raise BenchError(f"floor child printed no result: {_tail(res['stdout'])}") from None
    elif tool == "pyinfra":
        row["pyinfra"] = check_pyinfra_result(
            _tail(res["stdout"], 10**7) + _tail(res["stderr"], 10**7), len(hosts), run
        )
    return row


def parse_pyinfra_results(text: str) -> dict[str, dict[str, int]]:
    """pyinfra's ``--> Results:`` table: ``{operation: {hosts, success, error, no_change}}``."""
    rows: dict[str, dict[str, int]] = {}
    lines = text.splitlines()
    try:
        start = max(i for i, ln in enumerate(lines) if ln.strip() == "--> Results:")
    except ValueError:
        return rows
    for ln in lines[start + 2 :]:
        parts = ln.split()
        if len(parts) < 5 or not all(p == "-" or p.isdigit() for p in parts[-4:]):
            break
        name = " ".join(parts[:-4])
        nums = [0 if p == "-" else int(p) for p in parts[-4:]]
        rows[name] = dict(zip(("hosts", "success", "error", "no_change"), nums))
    return rows


def check_pyinfra_result(text: str, n: int, run: int) -> dict[str, Any]:
    """pyinfra's own results table agrees with standard-10 (the end state is checked separately)."""
    rows = parse_pyinfra_results(text)
    problems = []
    if sorted(k for k in rows if k != "Grand total") != sorted(STANDARD10_OPS):
        problems.append(f"results table lists {sorted(rows)}")
    for op in STANDARD10_OPS:
        row = rows.get(op)
        if row is None:
            continue
        want = expected_statuses(op, run)
        ok = (
            row["hosts"] == n
            and row["error"] == 0
            and (("changed" in want and row["success"] == n) or ("unchanged" in want and row["no_change"] == n))
        )
        if not ok:
            problems.append(f"{op}: {row}, want {'/'.join(want)} on {n} hosts")
    if problems:
        raise BenchError(f"pyinfra run {run}: " + "; ".join(problems[:5]))
    total = rows.get("Grand total", {})
    return {
        "changed_total": total.get("success"),
        "no_change_total": total.get("no_change"),
        "unchanged_ops": sorted(op for op in STANDARD10_OPS if rows[op]["no_change"]),
    }


# --------------------------------------------------------------------------- the benchmark


def run_bench(
    fleet: Any,
    sizes: list[int],
    tools: list[str] | tuple[str, ...] = ALL_TOOLS,
    runs: int = 2,
    workdir: Path | None = None,
    profile_dir: Path | None = None,
    verify: bool = True,
    log: Callable[[str], None] = print,
    keep: bool = False,
    repeat: int = 1,
    adopt_sessions: bool = False,
) -> dict[str, Any]:
    """Run the benchmark on a started fleet; return ``{"meta": ..., "results": [rows],
    "summary": [medians per N, tool, run]}``.  With ``repeat`` > 1 every N is measured that many
    times, the tools interleaved (floor, oxinfra, pyinfra, floor, ...), so a burst of load from
    other jobs hits one repetition of every tool rather than all runs of one tool.
    ``adopt_sessions``: make this process a subreaper so sshd's session processes are counted in
    ``sshd_cpu_s`` (see :class:`SessionReaper`; for the CLI -- it reaps *every* exited child).
    Any failed run or wrong end state raises :class:`BenchError`."""
    reaper = SessionReaper({fleet.pid}) if adopt_sessions else None
    tools = [t for t in tools if t != "pyinfra" or pyinfra_available()]
    skipped = [t for t in ALL_TOOLS if t not in tools]
    if max(sizes) > len(fleet.hosts):
        raise ValueError(f"fleet has {len(fleet.hosts)} hosts, N={max(sizes)} asked for")
    run_id = f"fleet-{os.getpid()}-{int(time.time())}"
    own_tmp = workdir is None
    base = Path(tempfile.mkdtemp(prefix="oxinfra-fleet-bench-")) if own_tmp else Path(workdir)
    base.mkdir(parents=True, exist_ok=True)
    ssh_data = fleet.ssh_data()
    results: list[dict[str, Any]] = []
    profiles: list[str] = []
    roots: list[str] = []
    try:
        for n in sizes:
            hosts = fleet.hosts[:n]
            for rep in range(1, repeat + 1):
                for tool in tools:
                    # A new tree for every repetition, and none removed until the end: on ext4
                    # without a journal (this project's machines) every file or directory
                    # created scans past the inodes freed in the last minute, so removing one
                    # tool's tree right before another tool's run 1 charged that run for it
                    # (docs/benchmarks.md, "Trees").
                    root = tool_root(tool, f"{run_id}-n{n}-r{rep}")
                    roots.append(root)
                    wd = prepare_workdir(base, tool, n, hosts, ssh_data, root, rep)
                    clean_target(root, fleet.user)
                    for run in range(1, runs + 1):
                        row = run_tool(fleet, tool, wd, hosts, run, reaper=reaper)
                        row["rep"] = rep
                        if verify and run == 1:
                            problems = asyncio.run(verify_hosts(sample_hosts(hosts), ssh_data, root))
                            if problems:
                                raise BenchError(f"{tool} N={n} run 1 end state wrong: " + "; ".join(problems[:6]))
                            row["verified_hosts"] = sample_hosts(hosts)
                            if reaper is not None:
                                reaper.drain(0.3)  # the check's own sessions
                        results.append(row)
                        log(
                            f"  N={n:<5} {tool:<8} run {run}"
                            + (f" rep {rep}" if repeat > 1 else "")
                            + f": wall {row['wall_s']:8.3f} s  cpu {row['cpu_s']:8.3f} s  "
                            f"sshd {row['sshd_cpu_s']:7.3f} s  other {row['other_cpu_s']:7.3f} s  "
                            f"load {row['loadavg_before'][0]:.2f}"
                        )
                    if profile_dir is not None and tool in (*OXINFRA_TOOLS, "pyinfra") and rep == 1:
                        profile_dir.mkdir(parents=True, exist_ok=True)
                        # a tree of their own too: removing this one would charge the next run
                        proot = tool_root(tool, f"{run_id}-n{n}-profile")
                        roots.append(proot)
                        profile_wd = prepare_workdir(base, tool, n, hosts, ssh_data, proot, "profile")
                        clean_target(proot, fleet.user)
                        for run in range(1, runs + 1):
                            prof = profile_dir / f"{tool}-N{n}-run{run}.prof"
                            row = run_tool(fleet, tool, profile_wd, hosts, run, profile=prof.resolve(), reaper=reaper)
                            profiles.append(str(prof))
                            log(
                                f"  N={n:<5} {tool:<8} run {run} (cProfile, untimed): wall {row['wall_s']:.3f} s "
                                f"-> {prof}"
                            )
    finally:
        if not keep:
            for root in set(roots):
                shutil.rmtree(root, ignore_errors=True)
            if own_tmp:
                shutil.rmtree(base, ignore_errors=True)
    add_ratios(results)
    return {
        "meta": {
            "workload": "standard-10",
            "sizes": list(sizes),
            "tools": list(tools),
            "skipped_tools": skipped,
            "runs": runs,
            "repeat": repeat,
            "adopt_sessions": adopt_sessions,
            "cpus": os.cpu_count(),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0],
            "pyinfra_version": _pyinfra_version() if "pyinfra" in tools else None,
            "started_fleet_hosts": len(fleet.hosts),
            "oxinfra_shards": int(os.environ.get("OXINFRA_SHARDS") or 1),
            "profiles": profiles,
            "columns": {
                "wall_s": "spawn to reap of the tool's process",
                "cpu_s": "controller CPU: user+sys of the tool's process and its reaped children (wait4)",
                "sshd_cpu_s": "sshd during the run: listener + [priv] monitors (server_cpu_seconds) "
                "+ adopted post-auth sessions with their shells/commands (when adopt_sessions)",
                "ratio": "wall_s / floor wall_s, same N and run",
                "other_cpu_s": "machine busy CPU (/proc/stat) during the run minus cpu_s and sshd_cpu_s",
            },
        },
        "results": results,
        "summary": summarize(results),
    }


def _pyinfra_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("pyinfra")
    except Exception:
        return None


def format_table(rows: list[dict[str, Any]], show_rep: bool = False, median: bool = False) -> str:
    """The table: N, tool, run, wall s, controller CPU s, sshd CPU s, ratio to floor, other CPU s
    (rows of ``results``, or of ``summary`` with ``median=True``: then also min..max wall)."""
    rep_head = f"{'rep':>3}  " if show_rep else ""
    extra = f"  {'wall min..max':>17}" if median else ""
    head = (
        f"{'N':>5}  {'tool':<8} {'run':>3}  {rep_head}{'wall s':>8}  {'ctl CPU s':>9}  {'sshd CPU s':>10}  "
        f"{'ratio':>6}  {'other CPU s':>11}{extra}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        rep_col = f"{r.get('rep', 1):>3}  " if show_rep else ""
        tail = f"  {r['wall_min_s']:>8.3f}..{r['wall_max_s']:<7.3f}" if median else ""
        lines.append(
            f"{r['n']:>5}  {r['tool']:<8} {r['run']:>3}  {rep_col}{r['wall_s']:>8.3f}  {r['cpu_s']:>9.3f}  "
            f"{r['sshd_cpu_s']:>10.3f}  {ratio:>6}  {r.get('other_cpu_s', 0.0):>11.3f}{tail}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- floor child


def _floor_child(config_path: str) -> int:
    cfg = json.loads(Path(config_path).read_text())
    floor.TARGET_ROOT = cfg["root"]  # host_root() reads it at call time
    wall = asyncio.run(floor.run_floor(cfg["hosts"], cfg["ssh_data"], Path(cfg["workload"])))
    print(json.dumps({"wall_s": wall}))
    return 0


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10], help="fleet sizes N (default 10)")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma list of floor,oxinfra,pyinfra")
    ap.add_argument("--runs", type=int, default=2, help="runs per tool and N (run 1 on clean hosts)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure every N this many times, tools interleaved; the table then shows medians",
    )
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="after the timed runs, run oxinfra/pyinfra again under cProfile into DIR",
    )
    ap.add_argument("--workdir", type=Path, help="keep generated inventories/deploys/logs here")
    ap.add_argument("--keep", action="store_true", help="leave the target trees in place")
    ap.add_argument(
        "--no-adopt",
        action="store_true",
        help="don't become a subreaper: sshd CPU is then only fleet.server_cpu_seconds(), "
        "which misses the session processes",
    )
    ap.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run oxinfra from this checkout (its python/ with the native module built), as the tool "
        "'baseline', interleaved with the others: a regression check in one run",
    )
    ap.add_argument("--floor-child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.floor_child:
        return _floor_child(args.floor_child)

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(tools) - set(ALL_TOOLS)
    if unknown:
        ap.error(f"unknown tools: {', '.join(sorted(unknown))}")
    if args.baseline is not None:
        global BASELINE
        BASELINE = args.baseline.resolve()
        if not (BASELINE / "python" / "oxinfra" / "__init__.py").is_file():
            ap.error(f"--baseline {args.baseline}: no python/oxinfra there")
        compile_package(BASELINE)
        tools.insert(tools.index("oxinfra") if "oxinfra" in tools else len(tools), "baseline")
    if "pyinfra" in tools and not pyinfra_available():
        print("pyinfra is not importable: skipping it", file=sys.stderr)
    sizes = sorted(set(args.hosts))
    compile_package()
    from oxinfra.testing.sshd import LoopbackFleet

    print(f"fleet: starting {max(sizes)} loopback hosts; load average {os.getloadavg()}", flush=True)
    with LoopbackFleet(max(sizes)) as fleet:
        try:
            report = run_bench(
                fleet,
                sizes,
                tools,
                args.runs,
                workdir=args.workdir,
                profile_dir=args.profile,
                keep=args.keep,
                repeat=args.repeat,
                adopt_sessions=not args.no_adopt,
                log=lambda s: print(s, flush=True),
            )
        except BenchError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print()
    print(format_table(report["results"], show_rep=args.repeat > 1))
    if args.repeat > 1:
        print(f"\nmedians over {args.repeat} repetitions (ratio = median wall / floor median wall):")
        print(format_table(report["summary"], median=True))
    print(f"\nload average at end: {report['meta']['loadavg_end']}  ({report['meta']['cpus']} CPUs)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
