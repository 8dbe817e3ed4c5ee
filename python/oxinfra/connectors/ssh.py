"""SSH through asyncssh: one connection and one exec channel (a persistent ``sh``) per host.

It behaves as ``ssh`` does on the same machine: the OpenSSH client config (``~/.ssh/config``,
or ``ssh_config_file`` host data, or ``--ssh-config``) gives ``HostName``, ``User``, ``Port``,
``IdentityFile``, ``IdentitiesOnly``, ``ProxyJump``, ``ServerAliveInterval``,
``UserKnownHostsFile`` and ``StrictHostKeyChecking`` for the host's name, and host data wins
over the file as ``-o`` does. No user anywhere: the local user name; the agent is used when
``SSH_AUTH_SOCK`` is set.

Host data read here (pyinfra's names): ``ssh_hostname``, ``ssh_user``, ``ssh_port``,
``ssh_key``, ``ssh_key_password``, ``ssh_password``, ``ssh_known_hosts_file``,
``ssh_strict_host_key_checking`` (``accept-new`` by default, ``yes``, ``no``/``off``),
``ssh_connect_timeout``, ``ssh_proxy_jump``, ``ssh_config_file``. Each is checked before the
host is contacted; a bad value fails that host alone, naming the key.

Host keys as OpenSSH checks them: ``@revoked`` keys are refused, ``@cert-authority`` lines
trusted; under ``accept-new`` a host seen for the first time has its key appended to the
known hosts file (and the run says so), a host whose key CHANGED is refused, naming the
known hosts lines to fix. Errors of asyncssh and the OS become :class:`ConnectError` here
and nowhere else.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import os
import warnings
from typing import Any

with warnings.catch_warnings():
    # asyncssh (2.24) names DSA key types at import; cryptography 51 deprecates DSA with a
    # warning there, printed on every run and about nothing oxinfra does (it offers no DSA
    # key). Only that warning, only from asyncssh's modules, only while it is imported.
    warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
    import asyncssh
    from asyncssh.config import SSHClientConfig

from oxinfra._secrets import is_secret_key
from oxinfra.connectors.base import Connection, ConnectSettings, Shell
from oxinfra.exceptions import ConnectError

__all__ = ["SSHConnection", "PREFERRED_CIPHERS", "ssh_options"]


#: Ciphers offered first: AES-GCM runs on the CPU's AES instructions on both ends and costs
#: the controller less per packet than asyncssh's default ChaCha20-Poly1305; the rest of
#: asyncssh's defaults follow, so any server still finds one it speaks.
PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)

#: What sshd runs with the login shell (``$SHELL -c ...``): a POSIX sh that runs each script
#: as it arrives on stdin. A login shell that is dash (Debian's and Ubuntu's ``/bin/sh``) is
#: that shell already: it runs stdin itself (``. /dev/stdin``: dash runs a file as it reads
#: it), one program start less per host. Any other becomes ``sh`` (``exec``): bash would read
#: all of stdin before running any of it, fish and csh speak another language. The running
#: shell is told by what it is, not by ``$SHELL`` (an environment file may set that):
#: ``test`` is a builtin of dash, so ``/proc/self`` is the shell itself; in csh ``test`` is a
#: program of its own, never dash. Nothing after ``exec sh`` runs in a shell that took it.
#: tests/test_login_shells.py feeds every shell found two scripts in turn (fish needs 3.0 or
#: later for ``&&`` and ``||``).
LOGIN_COMMAND = "test /proc/self/exe -ef /bin/dash && test -p /dev/stdin || exec sh; . /dev/stdin"

#: Keepalive unless the config says otherwise: a host that stops answering (paused, cut
#: off) is unreachable after about 45 s instead of hanging the run.
KEEPALIVE_INTERVAL = 15
KEEPALIVE_COUNT_MAX = 3

#: StrictHostKeyChecking as ssh reads it (any case); ``ask`` has no terminal to ask on here,
#: so it refuses unknown keys as ``yes`` does (ssh in batch mode does the same).
_STRICT = {
    "yes": "yes",
    "true": "yes",
    "ask": "yes",
    "no": "no",
    "false": "no",
    "off": "no",
    "accept-new": "accept-new",
}


class _ClientConfig(SSHClientConfig):
    """asyncssh's reader of OpenSSH client configs, also keeping ``StrictHostKeyChecking``
    (asyncssh has no use for it, oxinfra checks host keys itself)."""

    _handlers = {
        **SSHClientConfig._handlers,
        "stricthostkeychecking": ("StrictHostKeyChecking", SSHClientConfig._set_string),
    }


def _fail(host: Any, key: str, value: Any, want: str) -> ConnectError:
    shown = "***" if is_secret_key(key) else repr(value)
    return ConnectError(f"{host.name}: host data {key}={shown} is not valid: {want}")


def _port(host: Any, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise _fail(host, key, value, "a port number from 1 to 65535")
    port = int(value)
    if not 1 <= port <= 65535:
        raise _fail(host, key, value, "a port number from 1 to 65535")
    return port


def _seconds(host: Any, key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0 < number < 1e6:
        raise _fail(host, key, value, "a number of seconds above 0")
    return number


def _strict(host: Any, key: str, value: Any) -> str:
    mode = _STRICT.get(value.lower()) if isinstance(value, str) else None
    if mode is None:
        raise _fail(host, key, value, "yes, no, accept-new or off")
    return mode


def _text(host: Any, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise _fail(host, key, value, "a non-empty string")
    return value


class _Plan:
    """Everything needed to connect one host, from its data and the config file."""

    __slots__ = ("connect_to", "address", "port", "kwargs", "known_path", "mode", "known_files", "key_name")

    def __init__(
        self,
        connect_to: str,
        address: str,
        port: int,
        kwargs: dict[str, Any],
        known_path: str,
        mode: str,
        known_files: list[str] | None = None,
        key_name: str | None = None,
    ) -> None:
        #: The name given to asyncssh, which applies the config's Host blocks to it.
        self.connect_to = connect_to
        #: Where that leads (HostName): what known hosts and messages name.
        self.address = address
        self.port = port
        self.kwargs = kwargs
        #: Where a key accepted on first contact is written (the first user known hosts file).
        self.known_path = known_path
        self.mode = mode
        #: Every known hosts file ssh would read for this host (user files, then global).
        self.known_files = known_files if known_files is not None else [known_path]
        #: The name keys are filed under: HostKeyAlias, else the address.
        self.key_name = key_name or address


def _config_paths(data: Any, settings: ConnectSettings, host: Any) -> list[str]:
    path = data.get("ssh_config_file")
    if path is not None:
        path = os.path.expanduser(_text(host, "ssh_config_file", path))
        if not os.access(path, os.R_OK):
            raise ConnectError(f"{host.name}: cannot read SSH config file {path} (host data ssh_config_file)")
        return [path]
    path = getattr(settings, "ssh_config", None)
    if path:
        return [os.path.expanduser(path)]
    default = os.path.expanduser("~/.ssh/config")
    return [default] if os.access(default, os.R_OK) else []


def _read_config(settings: ConnectSettings, paths: list[str], host_name: str, user: str, port: Any) -> Any:
    cache = settings.cache
    key = ("ssh config", tuple(paths), host_name, user, port)
    found = cache.get(key)
    if found is None:
        try:
            found = cache[key] = _ClientConfig.load(
                None, paths, False, False, True, _local_user(), user, host_name, port
            )
        except (OSError, asyncssh.ConfigParseError) as exc:
            raise ConnectError(f"cannot read SSH config {', '.join(paths)}: {exc}") from None
    return found


@functools.lru_cache(maxsize=1)
def _local_user() -> str:
    """This process's user name (asked once: getpwuid reads the passwd database each time)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name for this uid: what ssh says too
        return str(os.getuid())


def ssh_options(host: Any, settings: ConnectSettings) -> _Plan:
    """Check the host's SSH data and work out how to connect (no network)."""
    data = host.data
    name = host.target
    user = data.get("ssh_user")
    if user is not None:
        user = _text(host, "ssh_user", user)
    port = data.get("ssh_port")
    if port is not None:
        port = _port(host, "ssh_port", port)
    paths = _config_paths(data, settings, host)
    local_user = _local_user()
    config = _read_config(settings, paths, name, user or local_user, port or ()) if paths else None

    def conf(option: str, default: Any = None) -> Any:
        return config.get(option, default) if config is not None else default

    address = data.get("ssh_hostname")
    if address is not None:
        connect_to = address = _text(host, "ssh_hostname", address)
    else:
        connect_to, address = name, conf("Hostname", name)
    port = port or conf("Port") or 22
    kwargs: dict[str, Any] = {"encryption_algs": list(PREFERRED_CIPHERS), "config": paths or None}
    if data.get("ssh_port") is not None:
        kwargs["port"] = port
    if user is not None:
        kwargs["username"] = user
    timeout = data.get("ssh_connect_timeout")
    kwargs["connect_timeout"] = (
        _seconds(host, "ssh_connect_timeout", timeout) if timeout is not None else conf("ConnectTimeout", 10)
    )
    if conf("ServerAliveInterval") is None:
        kwargs["keepalive_interval"] = KEEPALIVE_INTERVAL
        kwargs["keepalive_count_max"] = KEEPALIVE_COUNT_MAX
    key_path = data.get("ssh_key")
    if key_path is not None:
        key_path = _text(host, "ssh_key", key_path)
        kwargs["client_keys"] = [_client_key(settings, key_path, data.get("ssh_key_password"))]
    password = data.get("ssh_password")
    if password:
        kwargs["password"] = password
    jump = data.get("ssh_proxy_jump")
    if jump is not None:
        kwargs["tunnel"] = _text(host, "ssh_proxy_jump", jump)
    alias = conf("HostKeyAlias")
    tokens = {
        "h": address,
        "p": str(port),
        "r": user or conf("User") or local_user,
        "u": local_user,
        "d": os.path.expanduser("~"),
        "k": alias or name,
        "n": name,
        "%": "%",
    }
    known = data.get("ssh_known_hosts_file")
    if known is not None:
        user_files = [os.path.expanduser(_text(host, "ssh_known_hosts_file", known))]
    else:
        user_files = _known_files(conf("UserKnownHostsFile"), ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"], tokens)
    global_files = _known_files(
        conf("GlobalKnownHostsFile"), ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"], tokens
    )
    strict = data.get("ssh_strict_host_key_checking")
    if strict is None:
        where = f"StrictHostKeyChecking in {', '.join(paths)}" if paths else "StrictHostKeyChecking"
        mode = _strict(host, where, conf("StrictHostKeyChecking", "accept-new"))
    else:
        mode = _strict(host, "ssh_strict_host_key_checking", strict)
    write_to = user_files[0] if user_files else os.path.expanduser("~/.ssh/known_hosts")
    return _Plan(connect_to, address, port, kwargs, write_to, mode, user_files + global_files, alias)


def _known_files(value: Any, default: list[str], tokens: dict[str, str]) -> list[str]:
    """Known hosts files as ssh reads ``UserKnownHostsFile``/``GlobalKnownHostsFile``: a
    list, ``none`` for no file, ``~`` and ``%`` tokens expanded."""
    names = value if value else default
    if isinstance(names, str):
        names = names.split()
    if [n.lower() for n in names] == ["none"]:
        return []
    out = []
    for raw in names:
        if "%" not in raw:
            out.append(os.path.expanduser(raw))
            continue
        text, i = [], 0
        while i < len(raw):
            if raw[i] == "%" and i + 1 < len(raw):
                text.append(tokens.get(raw[i + 1], raw[i : i + 2]))
                i += 2
            else:
                text.append(raw[i])
                i += 1
        out.append(os.path.expanduser("".join(text)))
    return out


def _known_hosts(settings: ConnectSettings, path: str, host_name: str = "") -> Any:
    """The known hosts file at ``path``, read once per run (None if there is none)."""
    cache = settings.cache
    key = ("ssh known hosts", path)
    if key not in cache:
        try:
            cache[key] = asyncssh.read_known_hosts(path) if os.path.exists(path) else None
        except (OSError, ValueError) as exc:
            who = f"{host_name}: " if host_name else ""
            raise ConnectError(f"{who}cannot read known hosts file {path}: {exc}") from None
    return cache[key]


def _client_key(settings: ConnectSettings, path: str, passphrase: str | None) -> Any:
    """The private key at ``path``, read once per run."""
    cache = settings.cache
    key = ("ssh key", path, passphrase)
    if key not in cache:
        try:
            cache[key] = asyncssh.read_private_key(os.path.expanduser(path), passphrase)
        except (OSError, asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            raise ConnectError(f"cannot load SSH key {path}: {exc}") from None
    return cache[key]


class _HostKeys(asyncssh.SSHClient):
    """Asked by asyncssh about a host key that known hosts does not trust: a ``@revoked``
    key is refused (and said so); under ``accept-new`` a host with no key in known hosts at
    all is trusted on first contact (its key remembered); a host that HAS known keys, none
    of them this one, is refused (its key changed)."""

    def __init__(self, accept_new: bool, first_contact: bool, revoked: list[Any]) -> None:
        self.accept_new = accept_new
        self.first_contact = first_contact
        self.revoked_keys = revoked
        self.revoked = False
        self.accepted: Any = None
        #: asyncssh asked about this host's key: a refusal is this host's, not a jump host's.
        self.asked = False

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        self.asked = True
        if key in self.revoked_keys:
            self.revoked = True
            return False
        if self.accept_new and self.first_contact:
            self.accepted = key
            return True
        return False


class SSHConnection(Connection):
    def __init__(self, conn: asyncssh.SSHClientConnection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.process: Any = None
        #: What the run should tell the operator about this connection (a key accepted).
        self.notices: list[str] = []

    @classmethod
    async def open(cls, host: Any, settings: ConnectSettings | None) -> "SSHConnection":
        settings = settings or ConnectSettings()
        plan = ssh_options(host, settings)
        kwargs = dict(plan.kwargs)
        address, port, known_path = plan.address, plan.port, plan.known_path
        client: _HostKeys | None = None
        if plan.mode == "no":
            kwargs["known_hosts"] = None
        else:
            # The keys ssh would trust, take as CAs or refuse for this host, from every file it
            # reads, looked up as ssh does (HostKeyAlias, else the address; [host]:port exactly,
            # no fallback to the bare name). asyncssh gets these lists, not the files, so its
            # view and this one cannot differ.
            trusted, cas, revoked = [], [], []
            key_port = 22 if plan.key_name != address else port  # a HostKeyAlias stands for host and port
            for path in plan.known_files:
                found = _known_for(_known_hosts(settings, path, host.name), plan.key_name, key_port)
                trusted += found[0]
                cas += found[1]
                revoked += found[2]
            kwargs["known_hosts"] = (trusted, cas, revoked)
            client = _HostKeys(plan.mode == "accept-new", not trusted and not cas, revoked)
            kwargs["client_factory"] = lambda: client
        try:
            conn = await asyncssh.connect(plan.connect_to, **kwargs)
        except asyncssh.PermissionDenied:
            user = kwargs.get("username") or "(from ssh config or the local user)"
            raise ConnectError(f"{host.name}: authentication failed for user {user}") from None
        except asyncssh.HostKeyNotVerifiable as exc:
            jump = kwargs.get("tunnel")
            if jump is not None and (client is None or not client.asked):
                # refused before this host's own key was looked at: the jump host's, which
                # asyncssh checks against ~/.ssh/known_hosts (and the ssh config) only
                raise ConnectError(
                    f"{host.name}: the host key of the ProxyJump host {jump} is not trusted "
                    f"({exc.reason}); it is checked against ~/.ssh/known_hosts and the ssh config, "
                    f"not ssh_known_hosts_file: add it there (ssh-keyscan). {host.name}'s own key was not checked"
                ) from None
            reason = str(exc.reason)
            if "revoked" in reason.lower() or (client is not None and client.revoked):
                reason = "revoked"
            elif client is not None and client.first_contact:
                reason = "unknown"
            raise ConnectError(
                _host_key_error(host.name, reason, plan, address, 22 if plan.key_name != address else port)
            ) from None
        except asyncssh.DisconnectError as exc:
            raise ConnectError(f"{host.name}: disconnected: {exc.reason}") from None
        except asyncssh.Error as exc:
            raise ConnectError(f"{host.name}: SSH error: {exc}") from None
        except (OSError, asyncio.TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConnectError(f"{host.name}: cannot connect to {address}:{port}: {reason}") from None
        connection = cls(conn, host.name)
        if client is not None and client.accepted is not None:
            fingerprint = client.accepted.get_fingerprint()
            if _remember_host_key(client.accepted, known_path, plan.key_name, key_port):
                connection.notices.append(f"first contact: accepted host key {fingerprint} into {known_path}")
            else:
                connection.notices.append(
                    f"first contact: accepted host key {fingerprint}, but could not add it to {known_path}"
                )
            settings.cache.pop(("ssh known hosts", known_path), None)
        return connection

    async def open_shell(self) -> Shell:
        try:
            self.process = await self.conn.create_process(LOGIN_COMMAND, encoding=None)
        except (asyncssh.Error, OSError) as exc:
            raise ConnectError(f"{self.name}: cannot open a shell: {exc}") from None
        proc = self.process
        return Shell(proc.stdin, proc.stdout, proc.stderr, self.name)

    async def abort(self) -> None:
        """Kill the host's shell and its process group, then close. OpenSSH's sshd (7.9 and
        later) answers a ``signal`` channel request with ``killpg`` of the session's process
        group, and the shell (``LOGIN_COMMAND``) leads that group, so a command it runs goes too
        (tests/test_run_control.py checks with ps). Closing alone would not: sshd closes the
        pipes of a session without a terminal and signals nothing."""
        if self.process is not None:
            try:
                self.process.send_signal("KILL")
            except (OSError, asyncssh.Error, BrokenPipeError, ValueError):
                pass
        await self.close()

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


def _known_for(known: Any, name: str, port: int) -> tuple[list[Any], list[Any], list[Any]]:
    """The trusted host keys, CA keys and revoked keys one known hosts file has for a host,
    looked up as ssh does: ``[name]:port`` exactly when the port is not 22 (asyncssh's public
    ``match`` falls back to the bare name, and drops a port's ``@revoked`` lines when that
    port has no trusted key; its exact lookup is used)."""
    if known is None:
        return [], [], []
    lookup = port if port != 22 else None
    exact = getattr(known, "_match", None)
    found = exact(name, "", lookup) if exact is not None else known.match(name, "", lookup)
    return list(found[0]), list(found[1]), list(found[2])


def _host_key_error(name: str, reason: str, plan: Any, address: str, port: int) -> str:
    files = ", ".join(plan.known_files) or "(no known hosts file)"
    key_name = plan.key_name
    if "revoked" in reason.lower():
        return f"{name}: the host key of {address} is marked @revoked in {files}: refused"
    if reason == "unknown":
        return (
            f"{name}: the host key of {address} is not in {files} and host key checking is strict: "
            f"add it (ssh-keyscan) or set ssh_strict_host_key_checking=accept-new"
        )
    entry = key_name if port == 22 else f"[{key_name}]:{port}"
    found = [(path, _matching_lines(path, key_name, port)) for path in plan.known_files]
    where = "; ".join(f"{path} line {', '.join(map(str, lines))}" for path, lines in found if lines) or files
    path = next((p for p, lines in found if lines), plan.known_path)
    return (
        f"{name}: the host key of {address} does not match {where}: it changed, or this is another "
        f"host; if the change is expected, remove that line (ssh-keygen -R '{entry}' -f '{path}')"
    )


def _matching_lines(path: str, address: str, port: int) -> list[int]:
    """Line numbers of ``path`` whose host patterns name this host (plain or hashed)."""
    name = address if port == 22 else f"[{address}]:{port}"
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                fields = line.split()
                if fields and fields[0].startswith("@"):
                    fields = fields[1:]
                if fields and _names_host(fields[0], name):
                    out.append(number)
    except OSError:
        return []
    return out


def _names_host(patterns: str, name: str) -> bool:
    if patterns.startswith("|1|"):
        try:
            salt, digest = (base64.b64decode(p) for p in patterns[3:].split("|", 1))
        except (ValueError, TypeError):
            return False
        return hmac.compare_digest(hmac.new(salt, name.encode(), hashlib.sha1).digest(), digest)
    return name in patterns.split(",")


def _remember_host_key(key: Any, path: str, address: str, port: int) -> bool:
    """accept-new: append the key of a host seen for the first time to the known hosts file
    (its directory made 0700, as ssh does; a last line without a newline is kept whole).
    Returns whether it was written."""
    name = address if port == 22 else f"[{address}]:{port}"
    line = f"{name} {key.export_public_key('openssh').decode().strip()}\n"
    try:
        directory = os.path.dirname(path) or "."
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
        with open(path, "a+b") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell():
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    line = "\n" + line
            handle.write(line.encode("ascii"))
    except OSError:
        return False
    return True
