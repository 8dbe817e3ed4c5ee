"""files.download on a real Debian host (a container of the test image, which has curl and no
wget), from an HTTP server this test runs on the fleet network's gateway address (the only
outside address the containers reach), logged in as ``deploy`` with ``_sudo=True``.

The cycle: apply -> the file read back independently (``docker exec sha256sum``/``stat``) ->
apply again: nothing changes -> drift by hand -> ``--dry`` predicts exactly the change ->
apply repairs it. Also: a download whose digest is wrong leaves ``dest`` as it was and no
temporary file; a header's secret is in no process's arguments while curl runs; the server
sees the headers.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import _start_container_fleet
from e2e_helpers import run_cli, run_deploy, write_deploy

pytestmark = pytest.mark.containers

TOKEN = "Bearer s3cret-Token-0x5f"
BODY = b"payload \x00\xff bytes\n" * 100


@pytest.fixture(scope="module")
def fleet() -> Iterator[Any]:
    fleet = _start_container_fleet(1)
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def server(fleet: Any, tmp_path: Path) -> Iterator[tuple[str, Path, list[dict[str, str]]]]:
    """(base URL, served directory, the headers of each request). ``/private/...`` answers
    403 without ``Authorization: TOKEN``; ``/slow/...`` waits 3 s before answering."""
    gateway = subprocess.run(
        ["docker", "network", "inspect", fleet.network, "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    served = tmp_path / "served"
    served.mkdir()
    seen: list[dict[str, str]] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            if self.path.startswith("/slow/"):
                time.sleep(3)
                self.path = self.path[len("/slow") :]
            if self.path.startswith("/private/"):
                if self.headers.get("Authorization") != TOKEN:
                    self.send_error(403)
                    return
                self.path = self.path[len("/private") :]
            super().do_GET()

    httpd = ThreadingHTTPServer((gateway, 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{gateway}:{httpd.server_address[1]}", served, seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _statuses(outcome: Any, host: str) -> dict[str, str]:
    return outcome.statuses(host)


def test_download_cycle(fleet: Any, tmp_path: Path, server: tuple[str, Path, list[dict[str, str]]]) -> None:
    host = fleet.hosts[0]
    base, served, seen = server
    (served / "tool.bin").write_bytes(BODY)
    digest = hashlib.sha256(BODY).hexdigest()
    fleet.sh(host, "rm -rf /opt/dl && mkdir -p /opt/dl")
    source = f"""
        from oxinfra.operations import files
        files.download(
            name="dl", src="{base}/private/tool.bin", dest="/opt/dl/tool.bin",
            sha256sum="{digest}", user="deploy", group="deploy", mode="640",
            headers={{"Authorization": {TOKEN!r}}}, _sudo=True,
        )
    """
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    deploy = write_deploy(tmp_path, source)

    def check() -> None:
        got = fleet.sh(host, "sha256sum /opt/dl/tool.bin; stat -c '%a %U %G' /opt/dl/tool.bin; ls -A /opt/dl")
        assert got == f"{digest}  /opt/dl/tool.bin\n640 deploy deploy\ntool.bin\n"

    one = run_deploy(inventory, deploy)
    assert one.code == 0, one.describe()
    assert _statuses(one, host) == {"dl": "changed"}
    check()
    assert seen[-1]["authorization"] == TOKEN and seen[-1]["path"] == "/private/tool.bin"
    requests = len(seen)
    two = run_deploy(inventory, deploy)
    assert two.code == 0, two.describe()
    assert _statuses(two, host) == {"dl": "unchanged"}, two.describe()
    assert len(seen) == requests  # nothing fetched: the digest matches

    # drift: other bytes, another mode -> --dry says it changes, the apply fetches again
    fleet.sh(host, "echo tampered > /opt/dl/tool.bin && chmod 666 /opt/dl/tool.bin")
    dry = run_deploy(inventory, deploy, dry=True)
    assert dry.code == 0, dry.describe()
    assert _statuses(dry, host) == {"dl": "changed"}, dry.describe()
    assert fleet.sh(host, "cat /opt/dl/tool.bin") == "tampered\n"  # --dry changed nothing
    three = run_deploy(inventory, deploy)
    assert three.code == 0, three.describe()
    assert _statuses(three, host) == {"dl": "changed"}
    check()

    # only the mode drifts: fixed without a download
    fleet.sh(host, "chmod 600 /opt/dl/tool.bin")
    requests = len(seen)
    dry = run_deploy(inventory, deploy, dry=True)
    assert _statuses(dry, host) == {"dl": "changed"}, dry.describe()
    four = run_deploy(inventory, deploy)
    assert _statuses(four, host) == {"dl": "changed"}, four.describe()
    assert len(seen) == requests
    check()


def test_wrong_digest_keeps_dest(fleet: Any, tmp_path: Path, server: tuple[str, Path, list[dict[str, str]]]) -> None:
    host = fleet.hosts[0]
    base, served, _seen = server
    (served / "other.bin").write_bytes(b"not what was asked for\n")
    fleet.sh(host, "rm -rf /opt/dl2 && mkdir -p /opt/dl2 && echo keep > /opt/dl2/f.bin")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.download(name="dl", src="{base}/other.bin", dest="/opt/dl2/f.bin", sha256sum="{"0" * 64}",
                       force=True, _sudo=True)
        """,
    )
    out = run_deploy(fleet.write_inventory(tmp_path / "inventory.py"), deploy)
    assert out.code != 0 and out.op(host, "dl")["status"] == "failed", out.describe()
    assert fleet.sh(host, "cat /opt/dl2/f.bin; ls -A /opt/dl2") == "keep\nf.bin\n"  # no temporary file


def test_missing_url_keeps_dest(fleet: Any, tmp_path: Path, server: tuple[str, Path, list[dict[str, str]]]) -> None:
    host = fleet.hosts[0]
    base, _served, _seen = server
    fleet.sh(host, "rm -rf /opt/dl3 && mkdir -p /opt/dl3")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.download(name="dl", src="{base}/private/nothing", dest="/opt/dl3/f.bin", _sudo=True)
        """,
    )
    out = run_deploy(fleet.write_inventory(tmp_path / "inventory.py"), deploy)
    assert out.code != 0 and out.op(host, "dl")["status"] == "failed", out.describe()
    assert fleet.sh(host, "ls -A /opt/dl3") == ""


def test_header_secret_is_in_no_process_arguments(
    fleet: Any, tmp_path: Path, server: tuple[str, Path, list[dict[str, str]]]
) -> None:
    """While the server holds the request for 3 s, every process's arguments in the
    container (``/proc/*/cmdline``) are read: curl runs, and the token is in none of them.
    (The deploy runs as a child process: the in-process CLI runner is not thread-safe.)"""
    host = fleet.hosts[0]
    base, served, seen = server
    (served / "tool.bin").write_bytes(BODY)
    fleet.sh(host, "rm -rf /opt/dl4 && mkdir -p /opt/dl4")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files
        files.download(name="dl", src="{base}/slow/private/tool.bin", dest="/opt/dl4/tool.bin",
                       headers={{"Authorization": {TOKEN!r}}}, _sudo=True)
        """,
    )
    inventory = fleet.write_inventory(tmp_path / "inventory.py")
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(run_cli("--json", "-y", inventory, deploy)))
    runner.start()
    snapshots = []
    deadline = time.monotonic() + 30
    while runner.is_alive() and time.monotonic() < deadline:
        if any(s["path"].startswith("/slow/") for s in seen):
            snapshots.append(fleet.sh(host, "for f in /proc/[0-9]*/cmdline; do tr '\\000' ' ' < $f; echo; done"))
        time.sleep(0.3)
    runner.join()
    assert result and result[0].code == 0, result[0].describe() if result else "no result"
    assert any("curl" in s for s in snapshots), snapshots  # the snapshots saw curl running
    assert not any("s3cret" in s for s in snapshots)
    assert fleet.sh(host, "sha256sum < /opt/dl4/tool.bin").split()[0] == hashlib.sha256(BODY).hexdigest()
