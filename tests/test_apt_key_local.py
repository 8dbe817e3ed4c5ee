"""``apt.key(keyserver=..., keyid=...)`` for real, on ``@local``: a key made here with gpg,
served by a tiny HKP key server on this machine's loopback (what gpg's dirmngr asks a key
server: ``GET /pks/lookup?op=get&options=mr&search=0xKEYID``), fetched by the operation into a
keyring in a private directory (``dest=`` an absolute path: nothing under /etc is touched).

apply -> the keyring holds the key -> apply again: unchanged -> drift (keyring removed) ->
``--dry`` predicts the fetch and changes nothing -> apply restores it; and a key the server
does not have fails the operation and leaves no keyring and no ``.part``. Needs ``gpg`` and
``dirmngr`` on this machine (skipped otherwise)."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import pytest

from e2e_helpers import run_deploy, verbose, write_deploy

pytestmark = pytest.mark.skipif(
    not (shutil.which("gpg") and shutil.which("dirmngr") and shutil.which("gpgconf")),
    reason="needs gpg and dirmngr on this machine",
)


def _gpg(home: Path, *args: str) -> str:
    proc = subprocess.run(
        ["gpg", "--batch", "--no-tty", "--homedir", str(home), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _fingerprints(keyring: Path, scratch: Path) -> list[str]:
    """The primary key fingerprints in a keyring file (read by gpg in a scratch home)."""
    scratch.mkdir(mode=0o700, exist_ok=True)
    out = _gpg(scratch, "--with-colons", "--show-keys", str(keyring))
    lines = out.splitlines()
    return [
        lines[i + 1].split(":")[9]
        for i, line in enumerate(lines)
        if line.startswith("pub:") and i + 1 < len(lines) and lines[i + 1].startswith("fpr:")
    ]


@pytest.fixture(scope="module")
def key_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[str]]]:
    """(server URL, the test key's fingerprint, the request paths the server saw)."""
    home = tmp_path_factory.mktemp("aptkey-gnupg")
    home.chmod(0o700)
    _gpg(
        home,
        "--passphrase",
        "",
        "--quick-gen-key",
        "oxinfra test key <test@oxinfra.invalid>",
        "ed25519",
        "sign",
        "never",
    )
    listing = _gpg(home, "--with-colons", "--list-keys")
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    armored = _gpg(home, "--armor", "--export", fpr).encode()
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, timeout=60)
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.path)
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            search = query.get("search", [""])[0].upper().removeprefix("0X")
            found = url.path == "/pks/lookup" and query.get("op") == ["get"] and len(search) >= 8
            found = found and fpr.endswith(search)
            body = armored if found else b"No results found\n"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/pgp-keys" if found else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"hkp://127.0.0.1:{server.server_address[1]}", fpr, seen
    finally:
        server.shutdown()
        server.server_close()


def _inventory(tmp_path: Path) -> Path:
    inventory = tmp_path / "inventory.py"
    inventory.write_text('local = ["@local"]\n')
    return inventory


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of the test's own (``@local`` inherits it: the operation's ``mktemp -d``
    makes its GNUPGHOME there), to see that nothing is left in it."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def test_fetch_from_key_server_cycle(key_server: tuple[str, str, list[str]], tmp_path: Path, private_tmp: Path) -> None:
    url, fpr, seen = key_server
    keyring = tmp_path / "keyrings" / "vendor.gpg"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import apt
        apt.key(name="vendor key", keyserver={url!r}, keyid="0x{fpr[-16:]}", dest={str(keyring)!r})
        """,
    )
    inventory = _inventory(tmp_path)

    one = run_deploy(inventory, deploy, "--no-host-lock")
    assert one.code == 0, one.describe()
    assert one.statuses("@local") == {"vendor key": "changed"}, one.describe()
    assert _fingerprints(keyring, tmp_path / "scratch") == [fpr]
    assert oct(keyring.stat().st_mode & 0o777) == "0o644"
    assert not keyring.with_name("vendor.gpg.part").exists()
    assert f"/pks/lookup?op=get&options=mr&search=0x{fpr[-16:]}" in seen
    assert os.listdir(private_tmp) == [], "the temporary GNUPGHOME is left"

    asked = len(seen)
    two = run_deploy(inventory, deploy, "--no-host-lock")
    assert two.code == 0, two.describe()
    assert two.statuses("@local") == {"vendor key": "unchanged"}, two.describe()
    assert len(seen) == asked, "an existing keyring was fetched again"

    keyring.unlink()  # drift
    dry = verbose(inventory, deploy, dry=True)
    assert not keyring.exists(), "--dry changed the host"
    status, commands = dry["vendor key"]
    assert status == "changed"
    assert any("--recv-keys" in c for c in commands), commands
    assert len(seen) == asked, "--dry fetched the key"

    three = run_deploy(inventory, deploy, "--no-host-lock")
    assert three.code == 0, three.describe()
    assert three.statuses("@local") == {"vendor key": "changed"}, three.describe()
    assert _fingerprints(keyring, tmp_path / "scratch") == [fpr]


def test_key_the_server_does_not_have_fails_and_leaves_nothing(
    key_server: tuple[str, str, list[str]], tmp_path: Path, private_tmp: Path
) -> None:
    url, fpr, _ = key_server
    keyring = tmp_path / "keyrings" / "missing.gpg"
    # the server's key and one it does not have: the whole operation fails
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import apt
        apt.key(name="two keys", keyserver={url!r}, keyid=["{fpr}", "0123456789ABCDEF"], dest={str(keyring)!r})
        """,
    )
    run = run_deploy(_inventory(tmp_path), deploy, "--no-host-lock")
    assert run.code != 0, run.describe()
    assert run.op("@local", "two keys")["status"] == "failed", run.describe()
    assert sorted(os.listdir(keyring.parent)) == []  # no keyring, no .part
    assert os.listdir(private_tmp) == [], "the temporary GNUPGHOME is left"
