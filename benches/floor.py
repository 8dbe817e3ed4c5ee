#!/usr/bin/env python3
"""The performance floor for the standard-10 workload (see workloads/standard-10/README.md).

What no tool can beat on the same fleet: connect to every host at once with asyncssh and run the
whole workload as ONE shell script per host (one exec round trip), producing the same end state
under ``/tmp/fleet-target/floor/<host>/`` that ``deploy.py`` produces under ``.../oxinfra/<host>/``.

Concurrency: every host gets its own task at once. Only the SSH *handshakes* are bounded, by a
semaphore of ``CONNECT_LIMIT`` (200) in-flight connects: more simultaneous key exchanges than that
buys nothing on a small machine (the controller and sshd share the CPUs) and only risks handshake
timeouts; once a host is connected it runs its script without any further limit.  Files (blob,
template, known_hosts, client key) are read and parsed once per run, not once per host.

CLI::

    python benches/floor.py --hosts 200            # start a LoopbackFleet, run once, print times
    python benches/floor.py --hosts 10 --runs 3 --verify
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2

with warnings.catch_warnings():  # as oxinfra.connectors.ssh does: cryptography 51's DSA warning
    warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
    import asyncssh

REPO = Path(__file__).resolve().parents[1]
WORKLOAD_DIR = REPO / "benches" / "workloads" / "standard-10"
TARGET_ROOT = "/tmp/fleet-target/floor"
CONNECT_LIMIT = 200

# Same template variables as deploy.py's files.template(...) call.
TEMPLATE_VARS: dict[str, Any] = {"app_name": "demo", "workers": 4, "peers": ["a", "b", "c"]}


def host_root(host: str) -> str:
    return f"{TARGET_ROOT}/{host}"


def load_template(workload_dir: Path) -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(workload_dir / "templates")),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    return env.get_template("app.conf.j2")


def render_conf(template: jinja2.Template, host: str) -> str:
    return template.render(host=SimpleNamespace(name=host), **TEMPLATE_VARS)


def host_script(host: str, blob: str, conf: str) -> str:
    """The ten standard-10 operations for one host, as one POSIX sh script."""
    r = shlex.quote(host_root(host))
    return "\n".join(
        [
            "set -e",
            "umask 022",
            f"R={r}",
            'mkdir -p "$R/app"',  # 1 app dir
            'mkdir -p "$R/app/conf" && chmod 755 "$R/app/conf"',  # 2 conf dir
            f'printf %s {shlex.quote(blob)} > "$R/app/blob.txt"',  # 3 static blob
            'chmod 644 "$R/app/blob.txt"',
            f'printf %s {shlex.quote(conf)} > "$R/app/conf/app.conf"',  # 4 app config
            'grep -qxF MODE=production "$R/app/env" 2>/dev/null'  # 5 env line
            ' || echo MODE=production >> "$R/app/env"',
            'ln -sfn "$R/app" "$R/current"',  # 6 current link
            'touch "$R/app/marker" && chmod 600 "$R/app/marker"',  # 7 marker
            'if grep -q MODE=staging "$R/app/env"; then'  # 8 env replace
            ' sed -i "s/MODE=staging/MODE=production/g" "$R/app/env"; fi',
            "test -d /tmp",  # 9 probe
            'mkdir -p "$R/log" && chmod 750 "$R/log"',  # 10 log dir
            "",
        ]
    )


def connect_options(ssh_data: dict[str, Any]) -> dict[str, Any]:
    """asyncssh.connect keyword arguments from oxinfra ssh_* host data (parsed once)."""
    from oxinfra.connectors.ssh import PREFERRED_CIPHERS  # the same transport settings as oxinfra

    opts: dict[str, Any] = {
        "encryption_algs": list(PREFERRED_CIPHERS),
        "port": int(ssh_data.get("ssh_port", 22)),
        "config": None,
        "agent_path": None,
        "known_hosts": None,
    }
    if ssh_data.get("ssh_user"):
        opts["username"] = ssh_data["ssh_user"]
    if ssh_data.get("ssh_key"):
        opts["client_keys"] = [asyncssh.read_private_key(ssh_data["ssh_key"])]
    if ssh_data.get("ssh_known_hosts_file"):
        opts["known_hosts"] = asyncssh.read_known_hosts(ssh_data["ssh_known_hosts_file"])
    if ssh_data.get("ssh_password"):
        opts["password"] = ssh_data["ssh_password"]
    return opts


async def _run_host(host: str, opts: dict[str, Any], script: str, sem: asyncio.Semaphore) -> None:
    async with sem:
        conn = await asyncssh.connect(host, **opts)
    try:
        result = await conn.run(script, check=False)
        if result.exit_status != 0:
            raise RuntimeError(f"{host}: script exited {result.exit_status}: {result.stderr!r}")
    finally:
        conn.close()
        await conn.wait_closed()


async def run_floor(
    hosts: list[str],
    ssh_data: dict[str, Any],
    workload_dir: Path,
    connect_limit: int = CONNECT_LIMIT,
) -> float:
    """Run standard-10 as one script per host on every host at once; return wall seconds."""
    start = time.perf_counter()
    workload_dir = Path(workload_dir)
    blob = (workload_dir / "files" / "blob.txt").read_text()
    template = load_template(workload_dir)
    opts = connect_options(ssh_data)
    sem = asyncio.Semaphore(max(1, connect_limit))
    tasks = [_run_host(h, opts, host_script(h, blob, render_conf(template, h)), sem) for h in hosts]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    wall = time.perf_counter() - start
    errors = [(h, r) for h, r in zip(hosts, results) if isinstance(r, BaseException)]
    if errors:
        host, exc = errors[0]
        raise RuntimeError(f"floor failed on {len(errors)}/{len(hosts)} hosts; first: {host}: {exc!r}") from exc
    return wall


async def verify_floor(
    hosts: list[str],
    ssh_data: dict[str, Any],
    workload_dir: Path,
    root: str | None = None,
    relative_link_ok: bool = False,
) -> list[str]:
    """Check standard-10's end state under ``root/<host>`` (default: the floor's own root) on
    every host, over SSH as the login user; return the problems. ``relative_link_ok`` also
    accepts ``current -> app`` (tools other than the floor may write the link relative)."""
    workload_dir = Path(workload_dir)
    blob = (workload_dir / "files" / "blob.txt").read_text()
    template = load_template(workload_dir)
    opts = connect_options(ssh_data)
    problems: list[str] = []

    async def check(host: str) -> None:
        r = f"{root}/{host}" if root is not None else host_root(host)
        expect_conf = render_conf(template, host)
        async with asyncssh.connect(host, **opts) as conn:
            modes = await conn.run(
                f"cd {shlex.quote(r)} && stat -c '%n %A %a' app app/conf app/blob.txt "
                "app/conf/app.conf app/env app/marker log current && readlink current",
                check=False,
            )
            if modes.exit_status != 0:
                problems.append(f"{host}: stat failed: {modes.stderr!r}")
                return
            lines = str(modes.stdout).splitlines()
            got = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in lines[:-1]}
            # %A's first character is the file type: d directory, - regular, l symlink
            want = {
                "app": ("d", None),
                "app/conf": ("d", "755"),
                "app/blob.txt": ("-", "644"),
                "app/conf/app.conf": ("-", None),
                "app/env": ("-", None),
                "app/marker": ("-", "600"),
                "log": ("d", "750"),
                "current": ("l", None),
            }
            for name, (ftype, mode) in want.items():
                fields = got.get(name, "? ?").split()
                if fields[0][:1] != ftype or (mode is not None and fields[1] != mode):
                    problems.append(f"{host}: {name}: want {ftype} {mode}, got {got.get(name)!r}")
            if lines[-1] != f"{r}/app" and not (relative_link_ok and lines[-1] == "app"):
                problems.append(f"{host}: current -> {lines[-1]!r}, want {r}/app")
            for name, expect in (
                ("app/blob.txt", blob),
                ("app/conf/app.conf", expect_conf),
                ("app/env", "MODE=production\n"),
            ):
                content = await conn.run(f"cat {shlex.quote(r + '/' + name)}", check=False)
                if content.stdout != expect:
                    problems.append(f"{host}: {name} content differs")
            if not expect_conf.startswith(f"# managed file for {host}\n"):
                problems.append(f"{host}: rendered template has an unexpected first line")

    await asyncio.gather(*(check(h) for h in hosts))
    return problems


def clean_target() -> None:
    """Remove the floor's target tree (the fleet is local, so it is removed locally)."""
    shutil.rmtree(TARGET_ROOT, ignore_errors=True)


def _import_fleet() -> Any:
    try:
        from oxinfra.testing.sshd import LoopbackFleet
    except ImportError:  # running from a checkout before oxinfra is installed
        sys.path.insert(0, str(REPO / "python"))
        from oxinfra.testing.sshd import LoopbackFleet
    return LoopbackFleet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=10, help="number of fleet hosts (default 10)")
    ap.add_argument("--runs", type=int, default=1, help="runs on the same fleet (run 1 is clean)")
    ap.add_argument(
        "--connect-limit",
        type=int,
        default=CONNECT_LIMIT,
        help=f"max SSH handshakes in flight (default {CONNECT_LIMIT})",
    )
    ap.add_argument("--workload", type=Path, default=WORKLOAD_DIR)
    ap.add_argument("--verify", action="store_true", help="check the end state after the runs")
    ap.add_argument("--keep", action="store_true", help="leave /tmp/fleet-target/floor in place")
    args = ap.parse_args(argv)

    LoopbackFleet = _import_fleet()
    with LoopbackFleet(args.hosts) as fleet:
        clean_target()
        for run in range(1, args.runs + 1):
            cpu0 = time.process_time()
            srv0 = fleet.server_cpu_seconds()
            wall = asyncio.run(run_floor(fleet.hosts, fleet.ssh_data(), args.workload, args.connect_limit))
            cpu = time.process_time() - cpu0
            time.sleep(0.3)  # let sshd reap the finished connection processes
            srv = fleet.server_cpu_seconds() - srv0
            print(
                f"floor N={args.hosts} run {run}: wall {wall:.3f} s, controller CPU {cpu:.3f} s, sshd CPU {srv:.3f} s",
                flush=True,
            )
        status = 0
        if args.verify:
            problems = asyncio.run(verify_floor(fleet.hosts, fleet.ssh_data(), args.workload))
            for p in problems[:20]:
                print("PROBLEM:", p)
            print(f"verify: {len(fleet.hosts) - len({p.split(':')[0] for p in problems})}/{len(fleet.hosts)} hosts OK")
            status = 1 if problems else 0
        if not args.keep:
            clean_target()
    return status


if __name__ == "__main__":
    sys.exit(main())
