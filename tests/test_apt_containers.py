"""apt, deb and server.packages on real Debian hosts: containers of the test image, whose only
apt source is a local repository of tiny test packages (``oxinfra.testing.containers``:
``TEST_PACKAGES``; no network), reached over SSH as ``deploy`` with ``_sudo=True``.

Each operation goes through the same cycle: apply -> the state read back independently
(``docker exec dpkg-query`` / ``cat``) -> apply again: nothing changes -> drift made by hand
in the container (``apt-get remove``...) -> ``--dry`` predicts exactly the operations that
change, and how many commands each runs -> apply repairs it, read back again.

``apt.deb`` and ``apt.key`` from a URL download from an HTTP server the tests run on this
machine, on the fleet network's gateway address; ``apt.key`` from a key server fetches from
an HKP server the test runs there. Not run here (fixtures only): ``apt.ppa``
(no ``apt-add-repository``, no network to Launchpad).

The facts are compared with pyinfra 3.10's (the venv .ci/install makes, or
``OXINFRA_PYINFRA``: ``e2e_helpers.require_pyinfra``), run against the same container through its ``@docker`` connector).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import _start_container_fleet
from e2e_helpers import PYINFRA_CLI, require_pyinfra, run_deploy, serve_directory, stopped_after, write_deploy
from e2e_helpers import deploy_cycle as cycle

pytestmark = pytest.mark.containers

DEBS = "/srv/oxinfra-debs"
PYINFRA = PYINFRA_CLI


@pytest.fixture(scope="module")
def apt_host() -> Iterator[Any]:
    """One container of its own (the tests change its dpkg database): the fleet."""
    yield from stopped_after(_start_container_fleet(1))


def installed(fleet: Any, *names: str) -> dict[str, str]:
    """name -> version of the packages dpkg lists as installed, of ``names`` (docker exec)."""
    out = fleet.exec(
        fleet.hosts[0], "dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package} ${Version}\n", check=False
    ).stdout
    found = {}
    for line in out.splitlines():
        status, name, version = (line.split() + ["", ""])[:3]
        if status == "ii" and name in names:
            found[name] = version
    return found


def reset(fleet: Any, script: str = "") -> None:
    """Remove every test package, then run ``script`` (docker exec, as root)."""
    fleet.sh(
        fleet.hosts[0],
        "export DEBIAN_FRONTEND=noninteractive; "
        "apt-get purge -y -q $(dpkg-query -W -f '${Package}\\n' 'oxtest-*' 2>/dev/null) >/dev/null 2>&1; "
        + (script or "true"),
    )


def install_cycle(fleet: Any, tmp_path: Path, source: str, op: str, want: dict[str, str]) -> None:
    """The full cycle of a deploy whose operation ``op`` installs the packages ``want`` (name
    -> version; the first is the one asked for, the others come with it): read back with
    :func:`installed`; drift: the first removed by hand."""
    first = next(iter(want))
    cycle(
        fleet, tmp_path, source, read=lambda: installed(fleet, *want), want=want, drift=removed(first),
        after_drift={op: "changed"},
    )  # fmt: skip


def output(fleet: Any, script: str) -> str:
    """What ``sh -c SCRIPT`` prints on the apt host (docker exec), whatever its status."""
    return str(fleet.exec(fleet.hosts[0], "sh", "-c", script, check=False).stdout)


def removed(*packages: str) -> str:
    """A drift: ``packages`` removed with apt-get."""
    return "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q " + " ".join(packages) + " >/dev/null 2>&1"


def test_packages_pin_no_recommends_and_remove(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host)
    source = """
        from oxinfra.operations import apt
        apt.packages(name="install", packages=["oxtest-hello=1.0", "oxtest-tool"], no_recommends=True, _sudo=True)
        apt.packages(name="remove", packages=["oxtest-lib"], present=False, _sudo=True)
    """

    # pinned 1.0 though 2.0 is in the repository; tool's Recommends (oxtest-lib) left out
    cycle(
        apt_host,
        tmp_path,
        source,
        read=lambda: installed(apt_host, "oxtest-hello", "oxtest-tool", "oxtest-lib", "oxtest-conflict"),
        want={"oxtest-hello": "1.0", "oxtest-tool": "1.0"},
        drift="export DEBIAN_FRONTEND=noninteractive; apt-get remove -y -q oxtest-tool >/dev/null 2>&1 && "
        "apt-get install -y -q oxtest-lib >/dev/null 2>&1",
        after_drift={"install": "changed", "remove": "changed"},
        first={"install": "changed", "remove": "unchanged"},
    )


def test_packages_dependency_and_conflict(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host, "apt-get install -y -q oxtest-hello >/dev/null 2>&1")
    source = """
        from oxinfra.operations import apt
        apt.packages(name="app", packages="oxtest-app", _sudo=True)
        apt.packages(name="conflict", packages=["oxtest-conflict"], _sudo=True)
    """

    # the dependency comes along; the conflicting package goes
    cycle(
        apt_host,
        tmp_path,
        source,
        read=lambda: installed(apt_host, "oxtest-app", "oxtest-lib", "oxtest-conflict", "oxtest-hello"),
        want={"oxtest-app": "1.0", "oxtest-lib": "1.0", "oxtest-conflict": "1.0"},
        drift=removed("oxtest-lib"),
        after_drift={"app": "changed", "conflict": "unchanged"},
        first={"app": "changed", "conflict": "changed"},
    )


def test_packages_latest_upgrades(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host, "apt-get install -y -q oxtest-hello=1.0 >/dev/null 2>&1")
    source = """
        from oxinfra.operations import apt
        apt.packages(name="latest", packages=["oxtest-hello"], latest=True, _sudo=True)
    """
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, write_deploy(tmp_path, source))
    assert out.code == 0, out.describe()
    assert out.statuses(apt_host.hosts[0]) == {"latest": "changed"}
    assert installed(apt_host, "oxtest-hello") == {"oxtest-hello": "2.0"}


def test_update_with_cache_time(apt_host: Any, tmp_path: Path) -> None:
    stamp = "/var/lib/apt/periodic/update-success-stamp"
    apt_host.sh(apt_host.hosts[0], f"rm -f {stamp}")
    source = """
        from oxinfra.operations import apt
        apt.update(name="update", cache_time=3600, _sudo=True)
    """

    fresh = f"age=$(( $(date +%s) - $(stat -c %Y {stamp}) )) && [ $age -ge 0 ] && [ $age -lt 600 ] && echo fresh"

    cycle(
        apt_host,
        tmp_path,
        source,
        read=lambda: output(apt_host, fresh),
        want="fresh\n",
        drift=f"rm -f {stamp}",
        after_drift={"update": "changed"},
    )
    # an old stamp is an update due
    apt_host.sh(apt_host.hosts[0], f"touch -d '2 hours ago' {stamp}")
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    again = run_deploy(inventory, tmp_path / "deploy.py")
    assert again.statuses(apt_host.hosts[0]) == {"update": "changed"}, again.describe()
    assert output(apt_host, fresh) == "fresh\n"


@pytest.mark.parametrize("op", ["upgrade", "dist_upgrade"])
def test_upgrade(apt_host: Any, tmp_path: Path, op: str) -> None:
    downgrade = (
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades oxtest-hello=1.0 >/dev/null 2>&1"
    )
    reset(apt_host, downgrade)
    assert installed(apt_host, "oxtest-hello") == {"oxtest-hello": "1.0"}
    source = f"""
        from oxinfra.operations import apt
        apt.{op}(name="upgrade", _sudo=True)
    """

    cycle(
        apt_host,
        tmp_path,
        source,
        read=lambda: installed(apt_host, "oxtest-hello"),
        want={"oxtest-hello": "2.0"},
        drift=downgrade,
        after_drift={"upgrade": "changed"},
    )


def test_deb_local_file_with_checksum(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host)
    path = f"{DEBS}/oxtest-localdep_1.0_all.deb"
    digest = apt_host.sh(apt_host.hosts[0], f"sha256sum {path}").split()[0]
    source = f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src={path!r}, sha256sum={digest!r}, _sudo=True)
    """

    # its dependency comes from the apt sources
    install_cycle(apt_host, tmp_path, source, "deb", {"oxtest-localdep": "1.0", "oxtest-lib": "1.0"})
    # another version of the archive: installed over the one there
    newer = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src="{DEBS}/oxtest-local_2.0_all.deb", _sudo=True)
        apt.deb(name="remove", src="{path}", present=False, _sudo=True)
        """,
        name="newer.py",
    )
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, newer)
    assert out.code == 0, out.describe()
    assert installed(apt_host, "oxtest-local", "oxtest-localdep") == {"oxtest-local": "2.0"}


def test_a_name_that_is_no_package_installs_nothing(apt_host: Any, tmp_path: Path) -> None:
    """apt-get reads a name it cannot find as a regular expression: ``est.app`` installed
    ``oxtest-app`` (and its dependency), and did again on every run. Only exact names now."""
    reset(apt_host)
    source = """
        from oxinfra.operations import apt
        apt.packages(name="regex", packages=["est.app"], _sudo=True)
    """
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, write_deploy(tmp_path, source))
    assert out.code != 0 and out.op(apt_host.hosts[0], "regex")["status"] == "failed", out.describe()
    assert installed(apt_host, "oxtest-app", "oxtest-lib") == {}


def test_deb_relative_path_with_a_directory(apt_host: Any, tmp_path: Path) -> None:
    """A relative ``src`` with a slash (``debs/x.deb``) was read by apt-get as
    ``PACKAGE/RELEASE`` ("Unable to locate package debs"): it is a file, as pyinfra reads it."""
    reset(apt_host, f"mkdir -p ~deploy/debs && cp {DEBS}/oxtest-local_1.0_all.deb ~deploy/debs/")
    source = """
        from oxinfra.operations import apt
        apt.deb(name="deb", src="debs/oxtest-local_1.0_all.deb", _sudo=True)
    """
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, write_deploy(tmp_path, source))
    assert out.code == 0, out.describe()
    assert installed(apt_host, "oxtest-local") == {"oxtest-local": "1.0"}
    again = run_deploy(inventory, write_deploy(tmp_path, source))
    assert again.code == 0 and again.statuses(apt_host.hosts[0]) == {"deb": "unchanged"}, again.describe()


def test_deb_wrong_checksum_installs_nothing(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host)
    source = f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src="{DEBS}/oxtest-local_1.0_all.deb", sha256sum="{"0" * 64}", _sudo=True)
    """
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, write_deploy(tmp_path, source))
    assert out.code != 0
    assert out.op(apt_host.hosts[0], "deb")["status"] == "failed"
    assert installed(apt_host, "oxtest-local") == {}
    # the local file is the user's: left where it is
    apt_host.exec(apt_host.hosts[0], "test", "-f", f"{DEBS}/oxtest-local_1.0_all.deb")


def test_repo_then_install_from_it(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host, "rm -f /etc/apt/sources.list.d/extra.list /var/lib/apt/periodic/update-success-stamp")
    source = """
        from oxinfra.operations import apt
        apt.repo(name="repo", src="deb [trusted=yes] file:/srv/oxinfra-apt-extra ./", filename="extra", _sudo=True)
        apt.update(name="update", cache_time=3600, _sudo=True)
        apt.packages(name="extra", packages=["oxtest-extra"], _sudo=True)
    """

    cycle(
        apt_host,
        tmp_path,
        source,
        read=lambda: (output(apt_host, "cat /etc/apt/sources.list.d/extra.list"), installed(apt_host, "oxtest-extra")),
        want=("deb [trusted=yes] file:/srv/oxinfra-apt-extra ./\n", {"oxtest-extra": "1.0"}),
        drift="rm /etc/apt/sources.list.d/extra.list && " + removed("oxtest-extra"),
        after_drift={"repo": "changed", "update": "unchanged", "extra": "changed"},
    )
    # and away again
    gone = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import apt
        apt.repo(name="repo", src="deb [trusted=yes] file:/srv/oxinfra-apt-extra ./", filename="extra",
                 present=False, _sudo=True)
        """,
        name="gone.py",
    )
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, gone)
    assert out.statuses(apt_host.hosts[0]) == {"repo": "changed"}, out.describe()
    assert apt_host.sh(apt_host.hosts[0], "cat /etc/apt/sources.list.d/extra.list") == ""


def test_sources_file(apt_host: Any, tmp_path: Path) -> None:
    dest = "/etc/apt/sources.list.d/extra822.sources"
    apt_host.sh(apt_host.hosts[0], f"rm -f {dest}")
    source = """
        from oxinfra.operations import apt
        apt.sources_file(name="sources", filename="extra822", uris="file:/srv/oxinfra-apt-extra", suites="./",
                         architectures=["amd64"], signed_by="/etc/apt/keyrings/extra.gpg", _sudo=True)
    """
    want = (
        "Types: deb\nURIs: file:/srv/oxinfra-apt-extra\nSuites: ./\nArchitectures: amd64\n"
        "Signed-By: /etc/apt/keyrings/extra.gpg\n"
    )

    try:
        cycle(
            apt_host,
            tmp_path,
            source,
            read=lambda: output(apt_host, f"cat {dest}; stat -c %a {dest}"),
            want=want + "644\n",
            drift=f"rm {dest}",
            after_drift={"sources": "changed"},
        )
    finally:
        apt_host.sh(apt_host.hosts[0], f"rm -f {dest}")


def test_server_packages_dispatches_to_apt(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host)
    source = """
        from oxinfra.operations import server
        server.packages(name="pkgs", packages=["oxtest-app"], _sudo=True)
    """

    install_cycle(apt_host, tmp_path, source, "pkgs", {"oxtest-app": "1.0", "oxtest-lib": "1.0"})


#: Holds the lock file LOCK the way apt does (an fcntl write lock) for SECONDS, then exits.
HOLD_LOCK = (
    "perl -MFcntl -e '$| = 1; open(my $f, q{>>}, q{LOCK}) or die; "
    "my $l = pack(q{s s x4 q q i x4}, F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLK, $l) or die qq{lock: $!}; "
    "print qq{locked\\n}; sleep SECONDS'"
)


@contextlib.contextmanager
def lock_held(host: str, lock: str, seconds: int) -> Iterator[None]:
    """``lock`` held on the apt host (:data:`HOLD_LOCK`) for ``seconds`` from the start of
    the block; at its end, the holder's exit is waited for."""
    hold = HOLD_LOCK.replace("SECONDS", str(seconds)).replace("LOCK", lock)
    holder = subprocess.Popen(
        ["docker", "exec", host, "sh", "-c", hold], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.wait(timeout=60)
        assert holder.stdout is not None
        holder.stdout.close()


def test_dpkg_lock_is_waited_for(apt_host: Any, tmp_path: Path) -> None:
    reset(apt_host)
    host = apt_host.hosts[0]
    with lock_held(host, "/var/lib/dpkg/lock-frontend", 6):
        # apt-get itself, without waiting, refuses while the lock is held
        refused = apt_host.exec(host, "apt-get", "install", "-y", "-q", "oxtest-hello", check=False)
        assert refused.returncode != 0 and "lock" in refused.stderr, refused.stderr
        started = time.monotonic()
        inventory = apt_host.write_inventory(tmp_path / "inventory.py")
        source = """
            from oxinfra.operations import apt
            apt.packages(name="hello", packages=["oxtest-hello"], _sudo=True)
        """
        out = run_deploy(inventory, write_deploy(tmp_path, source))
        waited = time.monotonic() - started
    assert out.code == 0, out.describe()
    assert out.statuses(host) == {"hello": "changed"}
    assert waited >= 3, f"the install did not wait for the lock ({waited:.1f}s)"
    assert installed(apt_host, "oxtest-hello") == {"oxtest-hello": "2.0"}


# -- facts equal pyinfra's ------------------------------------------------------------------

FACTS = [
    ("deb.DebArch", {}),
    ("deb.DebPackages", {}),
    ("deb.DebPackage", {"package": "oxtest-app"}),
    ("deb.DebPackage", {"package": "oxtest-nosuch"}),
    ("deb.DebPackage", {"package": f"{DEBS}/oxtest-local_2.0_all.deb"}),
    ("apt.AptSources", {}),
    ("apt.AptPackages", {}),
]


def pyinfra_facts(container: str) -> dict[str, Any]:
    """pyinfra's value of each of :data:`FACTS` for ``@docker/CONTAINER``, keyed as the
    deploy below keys them."""
    args: list[str] = []
    for name, kwargs in FACTS:
        args += [name, *(f"{k}={v}" for k, v in kwargs.items())]
    proc = subprocess.run([PYINFRA, f"@docker/{container}", "fact", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = proc.stdout + proc.stderr
    values: dict[str, Any] = {}
    decoder = json.JSONDecoder()
    for chunk in text.split("--> Fact data for: ")[1:]:
        header, _, body = chunk.partition("\n")
        value, _ = decoder.raw_decode(body.lstrip())
        values[header.strip()] = value[f"@docker/{container}"]
    return values


def _label(name: str, kwargs: dict[str, str]) -> str:
    return name + (" (" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")" if kwargs else "")


#: Sources in both formats for the comparison (written for it, removed after): options with
#: lists, a deb822 file of several types, URIs and suites, a disabled stanza, comments.
PARITY_SOURCES = {
    "/etc/apt/sources.list.d/parity.list": (
        "# a comment\n"
        "deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/x.gpg] http://deb.example.org/debian bookworm main contrib\n"
        "deb-src http://deb.example.org/debian bookworm-updates main\n"
        "deb http://flat.example.org/repo /\n"
    ),
    "/etc/apt/sources.list.d/parity.sources": (
        "Types: deb deb-src\nURIs: https://a.example.org/debian https://b.example.org/debian\n"
        "Suites: bookworm bookworm-backports\nComponents: main non-free-firmware\n"
        "Architectures: amd64\nSigned-By: /etc/apt/keyrings/a.gpg\n\n"
        "# disabled\nTypes: deb\nURIs: https://c.example.org/\nSuites: ./\nEnabled: no\n"
    ),
}


def test_facts_equal_pyinfras(apt_host: Any, tmp_path: Path) -> None:
    require_pyinfra()
    reset(apt_host, "apt-get install -y -q oxtest-app oxtest-hello=1.0 >/dev/null 2>&1")
    host = apt_host.hosts[0]
    for path, text in PARITY_SOURCES.items():
        apt_host.exec(host, "sh", "-c", 'printf "%s" "$1" > "$2"', "sh", text, path)
    try:
        _compare_facts(apt_host, tmp_path, host)
    finally:
        apt_host.exec(host, "rm", "-f", *PARITY_SOURCES)


def _compare_facts(apt_host: Any, tmp_path: Path, host: str) -> None:
    out = tmp_path / "facts.json"
    reads = ", ".join(f"({name.split('.')[1]}, {kwargs!r})" for name, kwargs in FACTS)
    deploy = write_deploy(
        tmp_path,
        f"""
        import json
        from oxinfra import host
        from oxinfra.facts.apt import AptPackages, AptSources
        from oxinfra.facts.deb import DebArch, DebPackage, DebPackages
        values = [host.get_fact(cls, **kwargs) for cls, kwargs in [{reads}]]
        with open({str(out)!r}, "w") as fh:
            json.dump(values, fh)
        """,
    )
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"fleet = [{'@docker/' + host!r}]\n")
    run = run_deploy(inventory, deploy)
    assert run.code == 0, run.describe()
    ours = dict(zip((_label(n, k) for n, k in FACTS), json.loads(out.read_text())))
    theirs = pyinfra_facts(host)

    def canonical(value: Any) -> Any:  # pyinfra's versions are sets, printed in any order
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sorted(value)
        return value

    assert ours.keys() == theirs.keys()
    for label in ours:
        assert canonical(ours[label]) == canonical(theirs[label]), label
    assert ours["deb.DebPackages"]["oxtest-hello"] == ["1.0"]
    assert "oxtest-lib" in ours["apt.AptPackages"]
    assert len(ours["apt.AptSources"]) == 1 + 3 + 8  # the local repository, the .list, the .sources


def test_apt_keys_equal_pyinfras(apt_host: Any, tmp_path: Path) -> None:
    require_pyinfra()
    host = apt_host.hosts[0]
    out = tmp_path / "keys.json"
    deploy = write_deploy(
        tmp_path,
        f"""
        import json
        from oxinfra import host
        from oxinfra.facts.apt import AptKeys
        with open({str(out)!r}, "w") as fh:
            json.dump(host.get_fact(AptKeys), fh)
        """,
    )
    inventory = tmp_path / "inventory.py"
    inventory.write_text(f"fleet = [{'@docker/' + host!r}]\n")
    run = run_deploy(inventory, deploy)
    assert run.code == 0, run.describe()
    ours = json.loads(out.read_text())
    proc = subprocess.run(
        [PYINFRA, f"@docker/{host}", "fact", "apt.AptKeys"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = (proc.stdout + proc.stderr).split("--> Fact data for: ")[1].partition("\n")[2]
    theirs = json.JSONDecoder().raw_decode(body.lstrip())[0][f"@docker/{host}"]
    assert ours == theirs
    assert len(ours) >= 5  # Debian's archive keys


def test_key_from_an_armored_file(apt_host: Any, tmp_path: Path) -> None:
    host = apt_host.hosts[0]
    stable = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg"
    apt_host.sh(
        host,
        "rm -f /etc/apt/keyrings/oxtest.gpg; gpg --batch -q --export --armor --no-default-keyring "
        f"--keyring {stable} > /srv/oxtest-key.asc",
    )
    source = """
        from oxinfra.operations import apt
        apt.key(name="key", src="/srv/oxtest-key.asc", dest="oxtest.gpg", _sudo=True)
    """

    try:
        # dearmored (binary, the same key as the keyring it came from), mode 644
        cycle(
            apt_host,
            tmp_path,
            source,
            read=lambda: output(
                apt_host, f"stat -c %a /etc/apt/keyrings/oxtest.gpg; cmp /etc/apt/keyrings/oxtest.gpg {stable}"
            ),
            want="644\n",
            drift="rm /etc/apt/keyrings/oxtest.gpg",
            after_drift={"key": "changed"},
        )
    finally:
        apt_host.sh(host, "rm -f /etc/apt/keyrings/oxtest.gpg /srv/oxtest-key.asc")


def _gateway(fleet: Any) -> str:
    """The fleet network's gateway address: this machine, as the containers reach it."""
    return subprocess.run(
        ["docker", "network", "inspect", fleet.network, "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def http_files(apt_host: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on this machine, on the fleet network's gateway address (the only
    outside address the containers reach): (base URL, the directory it serves)."""
    served = tmp_path / "served"
    served.mkdir()
    with serve_directory(_gateway(apt_host), served) as base:
        yield base, served


def serve_deb(fleet: Any, served: Path, name: str) -> bytes:
    """oxtest-local 2.0's package, read from the apt host, put in the served directory as
    ``name``; its bytes."""
    deb = subprocess.run(
        ["docker", "exec", fleet.hosts[0], "cat", f"{DEBS}/oxtest-local_2.0_all.deb"], capture_output=True, check=True
    ).stdout
    (served / name).write_bytes(deb)
    return deb


def test_deb_from_a_url_with_checksum(apt_host: Any, tmp_path: Path, http_files: tuple[str, Path]) -> None:
    reset(apt_host)
    host = apt_host.hosts[0]
    base, served = http_files
    deb = serve_deb(apt_host, served, "oxtest-local_2.0_all.deb")
    import hashlib

    url = f"{base}/oxtest-local_2.0_all.deb"
    source = f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src={url!r}, sha256sum={hashlib.sha256(deb).hexdigest()!r}, _sudo=True)
    """

    install_cycle(apt_host, tmp_path, source, "deb", {"oxtest-local": "2.0"})
    # a file whose digest is not the one asked for is removed, and nothing is installed
    (served / "other.deb").write_bytes(deb)
    bad = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src="{base}/other.deb", sha256sum="{"0" * 64}", _sudo=True)
        """,
        name="bad.py",
    )
    apt_host.sh(host, "DEBIAN_FRONTEND=noninteractive apt-get remove -y -q oxtest-local >/dev/null 2>&1")
    out = run_deploy(apt_host.write_inventory(tmp_path / "inventory.py"), bad)
    assert out.code != 0 and out.op(host, "deb")["status"] == "failed", out.describe()
    assert installed(apt_host, "oxtest-local") == {}
    # only the good one, in root's private cache
    assert apt_host.sh(host, "ls /var/cache/oxinfra | grep -c '^deb-' || true").strip() == "1"
    assert apt_host.sh(host, "ls /tmp | grep -c '^oxinfra-deb-' || true").strip() == "0"


def test_deb_from_a_url_never_installs_a_planted_file(
    apt_host: Any, tmp_path: Path, http_files: tuple[str, Path]
) -> None:
    """A local user (``deploy``, no sudo here: docker exec) plants another package's file
    where a download of the URL would be looked for -- the old predictable ``/tmp`` name --
    and, in a second round, inside a cache directory that is not root's private one: the
    served package is installed, or the operation fails; the planted one never is."""
    import hashlib

    reset(apt_host, "rm -rf /var/cache/oxinfra /tmp/oxinfra-deb-*")
    host = apt_host.hosts[0]
    base, served = http_files
    serve_deb(apt_host, served, "served.deb")
    url = f"{base}/served.deb"
    planted = "/tmp/oxinfra-deb-" + hashlib.sha256(url.encode()).hexdigest()[:16] + ".deb"
    apt_host.sh(host, f"su deploy -s /bin/sh -c 'cp {DEBS}/oxtest-local_1.0_all.deb {planted}'")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import apt
        apt.deb(name="deb", src={url!r}, _sudo=True)
        """,
    )
    inventory = apt_host.write_inventory(tmp_path / "inventory.py")
    out = run_deploy(inventory, deploy)
    assert out.code == 0, out.describe()
    assert installed(apt_host, "oxtest-local") == {"oxtest-local": "2.0"}
    assert apt_host.sh(host, "stat -c '%U %a' /var/cache/oxinfra") == "root 700\n"

    # a cache directory that another user owns, or that is a link, is refused: nothing installed
    for setup in (
        "rm -rf /var/cache/oxinfra && mkdir -m 700 /var/cache/oxinfra && chown deploy /var/cache/oxinfra",
        "rm -rf /var/cache/oxinfra /tmp/evil && su deploy -s /bin/sh -c 'mkdir -m 700 /tmp/evil'"
        " && ln -s /tmp/evil /var/cache/oxinfra",
    ):
        reset(apt_host, setup)
        name = "/var/cache/oxinfra/" + "deb-" + hashlib.sha256(url.encode()).hexdigest()[:32] + ".deb"
        apt_host.sh(host, f"su deploy -s /bin/sh -c 'cp {DEBS}/oxtest-local_1.0_all.deb {name}'")
        out = run_deploy(inventory, deploy)
        assert out.code != 0 and out.op(host, "deb")["status"] == "failed", out.describe()
        assert "must be a directory of root's with mode 0700" in out.op(host, "deb")["stderr"], out.describe()
        assert installed(apt_host, "oxtest-local") == {}
    reset(apt_host, "rm -rf /var/cache/oxinfra /tmp/evil")


def test_key_from_a_url(apt_host: Any, tmp_path: Path, http_files: tuple[str, Path]) -> None:
    host = apt_host.hosts[0]
    base, served = http_files
    stable = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg"
    armored = apt_host.sh(host, f"gpg --batch -q --export --armor --no-default-keyring --keyring {stable}")
    (served / "vendor.asc").write_text(armored)
    source = f"""
        from oxinfra.operations import apt
        apt.key(name="key", src="{base}/vendor.asc", dest="urlkey.gpg", _sudo=True)
    """

    key = "/etc/apt/keyrings/urlkey.gpg"
    try:
        cycle(  # and no download left behind in /etc/apt/keyrings
            apt_host,
            tmp_path,
            source,
            read=lambda: output(apt_host, f"stat -c %a {key}; cmp {key} {stable}; ls /etc/apt/keyrings"),
            want="644\nurlkey.gpg\n",
            drift=f"rm {key}",
            after_drift={"key": "changed"},
        )
    finally:
        apt_host.sh(host, "rm -f /etc/apt/keyrings/urlkey.gpg")


def test_key_from_a_key_server(apt_host: Any, tmp_path: Path) -> None:
    """``keyserver=``/``keyid=``: gpg's dirmngr asks an HKP server this test runs on the
    gateway address (``/pks/lookup?op=get&search=0xID``) for Debian's bookworm key; a key the
    server does not have fails the operation, with no keyring, ``.part`` or GNUPGHOME left."""
    host = apt_host.hosts[0]
    stable = "/usr/share/keyrings/debian-archive-bookworm-stable.gpg"
    armored = apt_host.sh(host, f"gpg --batch -q --export --armor --no-default-keyring --keyring {stable}").encode()
    fprs = (  # a GNUPGHOME of the test's own, out of /tmp (where leftovers are counted)
        "mkdir -p -m 700 /root/.oxtest-gnupg && gpg --batch -q --homedir /root/.oxtest-gnupg --with-colons "
        "--show-keys {} | grep ^fpr: | cut -d: -f10"
    )
    want_fprs = apt_host.sh(host, fprs.format(stable))
    fpr = want_fprs.split()[0]

    class Hkp(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            search = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("search", [""])[0]
            wanted = search.upper().removeprefix("0X")
            found = self.path.startswith("/pks/lookup?op=get") and len(wanted) >= 8 and fpr.endswith(wanted)
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(armored if found else b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((_gateway(apt_host), 0), Hkp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # by name: dirmngr looks an IP address up in the DNS too, which this network does not have
    apt_host.sh(host, f"cp /etc/hosts /root/hosts.orig && echo '{server.server_address[0]} oxkeys.test' >> /etc/hosts")
    url = f"hkp://oxkeys.test:{server.server_address[1]}"
    key = "/etc/apt/keyrings/keyserver-0x" + fpr[-16:].lower() + ".gpg"  # pyinfra's default name
    source = f"""
        from oxinfra.operations import apt
        apt.key(name="key", keyserver={url!r}, keyid="0x{fpr[-16:]}", _sudo=True)
    """
    left = "ls /etc/apt/keyrings | grep -e keyserver- -e two; ls /tmp | grep -c '^tmp[.]'; pgrep -c -x dirmngr"
    try:
        cycle(
            apt_host,
            tmp_path,
            source,
            read=lambda: output(apt_host, f"stat -c %a {key}; {fprs.format(key)}; {left}"),
            want="644\n" + want_fprs + key.rsplit("/", 1)[1] + "\n0\n0\n",
            drift=f"rm {key}",
            after_drift={"key": "changed"},
        )
        bad = write_deploy(
            tmp_path,
            f"""
            from oxinfra.operations import apt
            apt.key(name="key", keyserver={url!r}, keyid=["{fpr}", "0123456789ABCDEF"], dest="two.gpg", _sudo=True)
            """,
            name="bad.py",
        )
        out = run_deploy(apt_host.write_inventory(tmp_path / "inventory.py"), bad)
        assert out.code != 0 and out.op(host, "key")["status"] == "failed", out.describe()
        assert output(apt_host, left) == key.rsplit("/", 1)[1] + "\n0\n0\n"
    finally:
        server.shutdown()
        server.server_close()
        apt_host.sh(
            host, f"cat /root/hosts.orig > /etc/hosts; rm -rf {key} /etc/apt/keyrings/two.gpg* /root/.oxtest-gnupg"
        )


def test_update_waits_for_the_lists_lock(apt_host: Any, tmp_path: Path) -> None:
    """apt-get does not wait for /var/lib/apt/lists/lock (only for dpkg's): apt.update tries
    again while another process holds it."""
    host = apt_host.hosts[0]
    with lock_held(host, "/var/lib/apt/lists/lock", 5):
        refused = apt_host.exec(host, "apt-get", "-o", "DPkg::Lock::Timeout=60", "update", check=False)
        assert refused.returncode != 0 and "Could not get lock" in refused.stderr, refused.stderr
        started = time.monotonic()
        source = """
            from oxinfra.operations import apt
            apt.update(name="update", _sudo=True)
        """
        out = run_deploy(apt_host.write_inventory(tmp_path / "inventory.py"), write_deploy(tmp_path, source))
        waited = time.monotonic() - started
    assert out.code == 0, out.describe()
    assert out.statuses(host) == {"update": "changed"}
    assert waited >= 2, f"apt.update did not wait for the lists lock ({waited:.1f}s)"
