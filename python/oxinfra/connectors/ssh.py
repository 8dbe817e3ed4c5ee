"""SSH through asyncssh: one connection and one exec channel (a persistent ``sh``) per host.

Host data read here (pyinfra's names): ``ssh_hostname``, ``ssh_user``, ``ssh_port``,
``ssh_key``, ``ssh_key_password``, ``ssh_password``, ``ssh_known_hosts_file``,
``ssh_strict_host_key_checking`` (``accept-new`` by default, ``yes``, or ``no``),
``ssh_connect_timeout``. Errors of asyncssh and the OS become :class:`ConnectError` here
and nowhere else.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import asyncssh

from oxinfra.connectors.base import Connection, ConnectSettings, Shell
from oxinfra.exceptions import ConnectError

__all__ = ["SSHConnection", "PREFERRED_CIPHERS"]


#: Ciphers offered first: AES-GCM runs on the CPU's AES instructions on both ends and costs
#: the controller less per packet than asyncssh's default ChaCha20-Poly1305; the rest of
#: asyncssh's defaults follow, so any server still finds one it speaks.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
    "aes128-ctr", "aes192-ctr", "aes256-ctr",
)


def _known_hosts(settings: ConnectSettings, path: str) -> Any:
    """The known hosts file at ``path``, read once per run (None if there is none)."""
    cache = settings.cache
    key = ("ssh known hosts", path)
    if key not in cache:
        try:
            cache[key] = asyncssh.read_known_hosts(path) if os.path.exists(path) else None
        except (OSError, ValueError) as exc:
            raise ConnectError(f"cannot read known hosts file {path}: {exc}") from None
    return cache[key]


def _client_key(settings: ConnectSettings, path: str, passphrase: str | None) -> Any:
    """The private key at ``path``, read once per run."""
    cache = settings.cache
    key = ("ssh key", path, passphrase)
    if key not in cache:
        try:
            cache[key] = asyncssh.read_private_key(os.path.expanduser(path), passphrase)
        except (OSError, asyncssh.KeyImportError) as exc:
            raise ConnectError(f"cannot load SSH key {path}: {exc}") from None
    return cache[key]


def _strict_mode(value: Any) -> str:
    if value in (False, "no", "off", "false"):
        return "no"
    if value in (True, "yes", "on", "true"):
        return "yes"
    return "accept-new"


class SSHConnection(Connection):
    def __init__(self, conn: asyncssh.SSHClientConnection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.process: Any = None

    @classmethod
    async def open(cls, host: Any, settings: ConnectSettings | None) -> "SSHConnection":
        settings = settings or ConnectSettings()
        data = host.data
        address = data.get("ssh_hostname") or host.target
        port = int(data.get("ssh_port") or 22)
        kwargs: dict[str, Any] = {
            "port": port,
            "username": data.get("ssh_user") or None,
            "connect_timeout": data.get("ssh_connect_timeout", 10),
            "config": None,
            "encryption_algs": list(PREFERRED_CIPHERS),
        }
        key_path = data.get("ssh_key")
        if key_path:
            kwargs["client_keys"] = [_client_key(settings, key_path, data.get("ssh_key_password"))]
        password = data.get("ssh_password")
        if password:
            kwargs["password"] = password
        known_path = os.path.expanduser(data.get("ssh_known_hosts_file") or "~/.ssh/known_hosts")
        mode = _strict_mode(data.get("ssh_strict_host_key_checking", "accept-new"))
        known = _known_hosts(settings, known_path) if mode != "no" else None
        learn = False
        if mode == "no":
            kwargs["known_hosts"] = None
        elif mode == "yes":
            if known is None:
                raise ConnectError(f"{host.name}: no known hosts file at {known_path} (strict host key checking)")
            kwargs["known_hosts"] = known
        else:
            matched = known is not None and bool(known.match(address, "", port)[0])
            if matched:
                kwargs["known_hosts"] = known
            else:
                kwargs["known_hosts"] = None
                learn = True
        try:
            conn = await asyncssh.connect(address, **kwargs)
        except asyncssh.PermissionDenied:
            raise ConnectError(f"{host.name}: authentication failed for user {kwargs['username'] or '(default)'}") from None
        except asyncssh.HostKeyNotVerifiable as exc:
            raise ConnectError(f"{host.name}: host key not verifiable ({exc.reason}); check {known_path}") from None
        except asyncssh.DisconnectError as exc:
            raise ConnectError(f"{host.name}: disconnected: {exc.reason}") from None
        except (OSError, asyncio.TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConnectError(f"{host.name}: cannot connect to {address}:{port}: {reason}") from None
        if learn:
            _remember_host_key(conn, known_path, address, port)
        return cls(conn, host.name)

    async def open_shell(self) -> Shell:
        try:
            # exec: the login shell becomes sh instead of waiting for it (one process less).
            self.process = await self.conn.create_process("exec sh", encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(f"{self.name}: cannot open a shell: {exc}") from None
        proc = self.process
        return Shell(proc.stdin, proc.stdout, proc.stderr, self.name)

    async def close(self) -> None:
        if self.process is not None:
            try:
                self.process.stdin.write_eof()
            except (OSError, asyncssh.Error, BrokenPipeError):
                pass
        self.conn.close()
        try:
            await asyncio.wait_for(self.conn.wait_closed(), 5)
        except (asyncio.TimeoutError, asyncssh.Error, OSError):
            pass


def _remember_host_key(conn: Any, path: str, address: str, port: int) -> None:
    """accept-new: append the key of a host seen for the first time to the known hosts file."""
    key = conn.get_server_host_key()
    if key is None:
        return
    name = address if port == 22 else f"[{address}]:{port}"
    line = f"{name} {key.export_public_key('openssh').decode().strip()}\n"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "a", encoding="ascii") as handle:
            handle.write(line)
    except OSError:
        pass
