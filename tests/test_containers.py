"""Deploys on real Debian hosts: containers of the test image (``oxinfra.testing.containers``)
on a private Docker network, reached over SSH as ``deploy`` (passwordless sudo) or ``pwuser``
(sudo asks for a password), and through the ``@docker/NAME`` connector.

What a deploy did is read back independently, with ``docker exec`` (a tar of the tree, parsed
here), never through oxinfra.

The standard-10 workload (``benches/workloads/standard-10``) runs unchanged: it writes under
``/tmp/fleet-target/oxinfra/<host name>/`` on each host. Run 1 on clean hosts: 9 changed and
1 unchanged per host (the replace finds nothing to replace: ``files.line`` has just written
``MODE=production``; see tests/test_e2e_workload.py); run 2: only the shell probe changes.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import REPO, WORKLOAD_OPS, WORKLOAD_SRC, Outcome, run_deploy, write_deploy

pytestmark = pytest.mark.containers

RUN1 = {name: "changed" for name in WORKLOAD_OPS} | {"env replace": "unchanged"}
RUN2 = {name: "unchanged" for name in WORKLOAD_OPS} | {"probe": "changed"}
WORKLOAD_ROOT = "/tmp/fleet-target/oxinfra"
#: What a path is: kind, permission bits, owner, content (files) or target (links).
Entry = tuple[str, int, str, Any]


def remote_tree(fleet: Any, container: str, base: str) -> dict[str, tuple[Entry, str]]:
    """Everything under ``base`` in ``container`` (read with ``docker exec ... tar``):
    relative path -> ((kind, mode, owner, content or link target), "mtime ctime"), the times
    to the nanosecond (pax headers): a file rewritten or re-chmodded shows."""
    proc = subprocess.run(
        ["docker", "exec", container, "tar", "--format=posix", "-C", base, "-cf", "-", "."],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out: dict[str, tuple[Entry, str]] = {}
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        for member in tar.getmembers():
            rel = os.path.normpath(member.name)
            if rel == ".":
                continue
            if member.isdir():
                entry: Entry = ("dir", member.mode, member.uname, None)
            elif member.issym():
                entry = ("link", member.mode, member.uname, member.linkname)
            else:
                data = tar.extractfile(member)
                entry = ("file", member.mode, member.uname, data.read() if data else None)
            out[rel] = (entry, f"{member.pax_headers['mtime']} {member.pax_headers['ctime']}")
    return out


def expected_tree(host: str, owner: str) -> dict[str, Entry]:
    """The end state the workload's README names, for host ``host`` written by ``owner``."""
    base = f"{WORKLOAD_ROOT}/{host}"
    conf = (f"# managed file for {host}\n[app]\nname = demo\nworkers = 4\npeer = a\npeer = b\npeer = c\n\n").encode()
    return {
        "app": ("dir", 0o755, owner, None),
        "app/conf": ("dir", 0o755, owner, None),
        "app/conf/app.conf": ("file", 0o644, owner, conf),
        "app/blob.txt": ("file", 0o644, owner, (WORKLOAD_SRC / "files" / "blob.txt").read_bytes()),
        "app/env": ("file", 0o644, owner, b"MODE=production\n"),
        "app/marker": ("file", 0o600, owner, b""),
        "current": ("link", 0o777, owner, f"{base}/app"),
        "log": ("dir", 0o750, owner, None),
    }


def entries(tree: dict[str, tuple[Entry, str]]) -> dict[str, Entry]:
    return {rel: entry for rel, (entry, _mtime) in tree.items()}


class Runs:
    """Run 1 and run 2 of standard-10 on some hosts, with the trees read after each."""

    hosts: list[tuple[str, str]]  # (host name in the inventory, container)
    run1: Outcome
    after_run1: dict[str, dict[str, tuple[Entry, str]]]
    run2: Outcome
    after_run2: dict[str, dict[str, tuple[Entry, str]]]


def run_workload_twice(fleet: Any, inventory: Path, hosts: list[tuple[str, str]]) -> Runs:
    def read() -> dict[str, dict[str, tuple[Entry, str]]]:
        return {name: remote_tree(fleet, container, f"{WORKLOAD_ROOT}/{name}") for name, container in hosts}

    r = Runs()
    r.hosts = hosts
    deploy = WORKLOAD_SRC / "deploy.py"
    r.run1 = run_deploy(inventory, deploy)
    r.after_run1 = read()
    r.run2 = run_deploy(inventory, deploy)
    r.after_run2 = read()
    return r


def check_runs(r: Runs, owner: str) -> None:
    assert r.run1.code == 0, r.run1.describe()
    assert r.run2.code == 0, r.run2.describe()
    for name, _container in r.hosts:
        assert r.run1.statuses(name) == RUN1, name
        c = r.run1.host(name)
        assert (c["status"], c["changed"], c["unchanged"], c["failed"]) == ("success", 9, 1, 0), name
        assert entries(r.after_run1[name]) == expected_tree(name, owner), name
        assert r.run2.statuses(name) == RUN2, name
        c = r.run2.host(name)
        assert (c["status"], c["changed"], c["unchanged"], c["failed"]) == ("success", 1, 9, 0), name
    # run 2 rewrote nothing: same contents, modes, owners, mtimes and ctimes
    assert r.after_run2 == r.after_run1


@pytest.fixture(scope="module")
def ssh_runs(container_fleet: Any, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    inventory = container_fleet.write_inventory(tmp_path_factory.mktemp("ssh") / "inventory.py")
    return run_workload_twice(container_fleet, inventory, [(h, h) for h in container_fleet.hosts])


def test_standard10_over_ssh(ssh_runs: Runs) -> None:
    check_runs(ssh_runs, owner="deploy")
    assert len(ssh_runs.hosts) == 4


def test_standard10_through_docker_exec(container_fleet: Any, tmp_path: Path) -> None:
    """``@docker/NAME``: ``docker exec -i NAME sh``, as the image's user (root)."""
    hosts = [(f"@docker/{c}", c) for c in container_fleet.hosts]
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"fleet = {[name for name, _c in hosts]!r}\n")
    check_runs(run_workload_twice(container_fleet, inventory, hosts), owner="root")


SUDO_DEPLOY = """
    from oxinfra.operations import files, server
    files.file(name="etc file", path="/etc/oxinfra-test", _sudo=True)
    server.shell(name="whoami", commands=["id -un > /etc/oxinfra-test-whoami"], _sudo=True)
"""


def test_sudo_as_deploy_runs_as_root(container_fleet: Any, tmp_path: Path) -> None:
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(tmp_path, SUDO_DEPLOY)
    first = run_deploy(inventory, deploy)
    assert first.code == 0, first.describe()
    second = run_deploy(inventory, deploy)
    assert second.code == 0, second.describe()
    for h in container_fleet.hosts:
        assert first.statuses(h) == {"etc file": "changed", "whoami": "changed"}
        assert second.statuses(h) == {"etc file": "unchanged", "whoami": "changed"}
        made = container_fleet.sh(h, "stat -c '%U:%G %s' /etc/oxinfra-test; cat /etc/oxinfra-test-whoami")
        assert made == "root:root 0\nroot\n", h
    # without _sudo the same kind of write is refused, and says why
    plain = run_deploy(
        inventory,
        write_deploy(
            tmp_path,
            """
        from oxinfra.operations import files
        files.file(name="etc file", path="/etc/oxinfra-test-plain")
    """,
            name="plain.py",
        ),
    )
    assert plain.code != 0
    for h in container_fleet.hosts:
        op = plain.op(h, "etc file")
        assert op["status"] == "failed" and "Permission denied" in op["error"] + op["stderr"], op
        assert container_fleet.exec(h, "test", "-e", "/etc/oxinfra-test-plain", check=False).returncode == 1


def test_sudo_with_a_password_on_container_hosts(container_fleet: Any, tmp_path: Path) -> None:
    """``pwuser``'s sudo asks for a password: given with ``--sudo-password`` it works on every
    host (a file owned by root, a privileged fact reads root); a wrong one fails every host
    with sudo's own refusal and writes nothing."""
    from oxinfra.testing.containers import TEST_PASSWORD

    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", user="pwuser")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra import host
        from oxinfra.facts.server import User
        from oxinfra.operations import files
        who = host.get_fact(User, _sudo=True)
        files.file(name="etc file", path=f"/etc/oxinfra-test-pw-{who}", _sudo=True)
    """,
        name="pw.py",
    )
    wrong = run_deploy(inventory, deploy, "--sudo-password", "not-" + TEST_PASSWORD)
    assert wrong.code == 1, wrong.describe()
    assert TEST_PASSWORD not in wrong.stdout + wrong.stderr
    for h in container_fleet.hosts:
        assert wrong.host(h)["status"] == "failed" and "sudo" in wrong.host(h)["error"], wrong.describe()
        assert container_fleet.exec(h, "test", "-e", "/etc/oxinfra-test-pw-root", check=False).returncode == 1
    right = run_deploy(inventory, deploy, "--sudo-password", TEST_PASSWORD)
    assert right.code == 0, right.describe()
    assert TEST_PASSWORD not in right.stdout + right.stderr
    for h in container_fleet.hosts:
        assert container_fleet.sh(h, "stat -c '%U:%G' /etc/oxinfra-test-pw-root") == "root:root\n", h


def test_sudo_without_password_fails_the_host_clearly(container_fleet: Any, tmp_path: Path) -> None:
    """``pwuser``'s sudo asks for a password; without one (no ``--sudo-password``) every host
    fails, naming sudo's own message, and nothing is written."""
    inventory = container_fleet.write_inventory(tmp_path / "inventory.py", user="pwuser")
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files
        files.file(name="etc file", path="/etc/oxinfra-test-pw", _sudo=True)
    """,
    )
    out = run_deploy(inventory, deploy)
    assert out.code == 1, out.describe()
    assert out.summary["success"] is False
    for h in container_fleet.hosts:
        assert out.host(h)["status"] == "failed"
        error = out.op(h, "etc file")["error"]
        assert "sudo" in error and "a password is required" in error, error
        assert "\n" not in error.strip()
        assert container_fleet.exec(h, "test", "-e", "/etc/oxinfra-test-pw", check=False).returncode == 1


def test_fleet_hosts(container_fleet: Any, tmp_path: Path) -> None:
    """What the fixture promises: its own host key per container, checked strictly; users with
    bash and an empty home; an internal network."""
    fleet = container_fleet
    keys = [line.split()[2] for line in fleet.known_hosts.read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4
    for h in fleet.hosts:
        assert fleet.sh(h, "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[1] in keys
        for user in ("deploy", "pwuser"):
            assert (
                fleet.sh(h, f"getent passwd {user} | cut -d: -f6,7; ls -A /home/{user}") == f"/home/{user}:/bin/bash\n"
            )
    internal = subprocess.run(
        ["docker", "network", "inspect", "--format", "{{.Internal}}", fleet.network], capture_output=True, text=True
    )
    assert internal.stdout.strip() == "true"
    # a host whose key is not the one recorded is refused
    wrong = tmp_path / "known_hosts"
    first, second = fleet.hosts[:2]
    wrong.write_text(f"{fleet.addresses[first]} ssh-ed25519 {keys[list(fleet.addresses).index(second)]}\n")
    entries = fleet.inventory()[:1]
    entries[0][1]["ssh_known_hosts_file"] = str(wrong)
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"fleet = {entries!r}\n")
    deploy = write_deploy(tmp_path, "from oxinfra.operations import server\nserver.shell(commands=['true'])\n")
    out = run_deploy(inventory, deploy)
    assert out.code == 4 and out.host(first)["status"] == "unreachable", out.describe()
    assert "does not match" in out.host(first)["error"], out.describe()


def test_fleet_removed_on_stop_and_on_failed_start(container_fleet_factory: Any) -> None:
    from oxinfra.testing.containers import ContainerFleet, ContainersUnavailable

    fleet = container_fleet_factory(2)
    names, network = list(fleet.hosts), fleet.network
    assert fleet.sh(names[1], "echo up") == "up\n"
    fleet.stop()
    ps = subprocess.run(["docker", "ps", "-aq", "--filter", f"name={fleet.prefix}"], capture_output=True, text=True)
    assert ps.returncode == 0 and ps.stdout == ""
    assert subprocess.run(["docker", "network", "inspect", network], capture_output=True).returncode != 0
    # an image that is not there: the network made before is removed again, nothing is pulled
    broken = ContainerFleet(1, image="oxinfra-test-debian:no-such-tag")
    with pytest.raises(ContainersUnavailable, match="no-such-tag|No such image"):
        broken.start()
    nets = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"name={broken.prefix}"], capture_output=True, text=True
    )
    assert nets.returncode == 0 and nets.stdout == ""


def test_image_tag_follows_the_recipe(monkeypatch: pytest.MonkeyPatch, container_fleet: Any) -> None:
    from oxinfra.testing import containers

    tag = containers.image_tag()
    assert containers.image_tag() == tag
    label = subprocess.run(
        ["docker", "image", "inspect", "--format", '{{index .Config.Labels "' + containers.RECIPE_LABEL + '"}}', tag],
        capture_output=True,
        text=True,
    )
    assert label.stdout.strip() == tag.split(":")[1]
    monkeypatch.setattr(containers, "PACKAGES", (*containers.PACKAGES, "curl"))
    assert containers.image_tag() != tag
    monkeypatch.undo()
    monkeypatch.setattr(containers, "SETUP_SCRIPT", containers.SETUP_SCRIPT + "true\n")
    assert containers.image_tag() != tag


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_docker_skips_in_one_line_or_fails_on_ci(ci: str, tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env.update(PATH=str(empty), CI=ci, PYTHONPATH=str(REPO / "python"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", f"{Path(__file__)}::test_fleet_hosts"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if "containers unavailable" in line]
    assert len(lines) == 1 and "docker not found" in lines[0], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    if ci:
        assert proc.returncode == 1 and "containers unavailable on CI" in lines[0], proc.stdout
    else:
        assert proc.returncode == 0 and lines[0].startswith("SKIPPED"), proc.stdout


FAILING_TEST = """
def test_fails(container_fleet, container_fleet_factory):
    own = container_fleet_factory(1)
    made = [*container_fleet.hosts, *own.hosts, container_fleet.network, own.network]
    open(@OUT@, "w").write(" ".join(made))
    assert False, "deliberately"
"""


def test_everything_removed_when_a_test_fails(container_fleet: Any, tmp_path: Path) -> None:
    """A failing test (in a pytest of its own) leaves no container and no network behind."""
    made_file = tmp_path / "made"
    (tmp_path / "test_failing.py").write_text(FAILING_TEST.replace("@OUT@", repr(str(made_file))))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "python"), str(REPO / "tests")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "test_failing.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 1 and "deliberately" in proc.stdout, proc.stdout + proc.stderr
    made = made_file.read_text().split()
    assert len(made) == 7
    for name in made[:5]:
        assert subprocess.run(["docker", "container", "inspect", name], capture_output=True).returncode != 0, name
    for name in made[5:]:
        assert subprocess.run(["docker", "network", "inspect", name], capture_output=True).returncode != 0, name


def test_reap_removes_what_dead_runs_left_and_nothing_live(container_fleet: Any) -> None:
    from oxinfra.testing.containers import reap_stale

    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\nfrom oxinfra.testing.containers import ContainerFleet\n"
            "f = ContainerFleet(2).start()\nprint(' '.join([*f.hosts, f.network, str(f.dir)]))\n"
            "sys.stdout.flush()\nos._exit(0)",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO / "python")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    left = killed.stdout.split()
    assert killed.returncode == 0 and len(left) == 4, killed.stderr
    shutil.rmtree(left.pop(), ignore_errors=True)  # its key and known hosts (a killed run's are left)
    assert subprocess.run(["docker", "container", "inspect", left[0]], capture_output=True).returncode == 0
    assert reap_stale() >= 3
    for kind, name in [("container", left[0]), ("container", left[1]), ("network", left[2])]:
        assert subprocess.run(["docker", kind, "inspect", name], capture_output=True).returncode != 0, name
    # this run's fleet is untouched
    for h in container_fleet.hosts:
        assert container_fleet.sh(h, "echo up") == "up\n"
    assert (
        subprocess.run(["docker", "network", "inspect", container_fleet.network], capture_output=True).returncode == 0
    )
