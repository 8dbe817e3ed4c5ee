"""A real OpenSSH ``sshd`` on loopback, for tests and benchmarks.

One ``sshd`` process listens on ``0.0.0.0:<port>``; since the whole of 127.0.0.0/8 is local on
Linux, it answers on every loopback address, so host ``i`` of the fleet is
``127.0.<i // 250>.<i % 250 + 1>`` and N "hosts" cost one daemon.  The daemon runs from a private
config in a temporary directory (its own host key, authorized_keys, pid file) and accepts only
key logins for one user, and only from 127.0.0.0/8 (``AllowUsers user@127.0.0.0/8``), so the
wildcard bind lets nothing else in.

Login user:

* as root, a dedicated unprivileged user ``oxinfra-test`` is created (idempotently) with shell
  ``/bin/sh`` (dash on Debian: no rc file is read for ``sh -c``) and an empty home directory;
* otherwise the current user, with sshd running unprivileged.

If sshd cannot be found or does not start, :class:`SshdUnavailable` is raised with the reason
(test fixtures turn it into a skip outside CI).

Usage::

    with LoopbackFleet(3) as fleet:
        conn = await asyncssh.connect(fleet.hosts[0], **fleet.asyncssh_options())
"""

from __future__ import annotations

import atexit
import os
import pwd
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["LoopbackFleet", "SshdUnavailable", "host_address", "MAX_HOSTS", "TEST_USER"]

#: Name of the dedicated login user created when running as root.
TEST_USER = "oxinfra-test"
#: 250 addresses per third octet, third octet 0..255.
MAX_HOSTS = 250 * 256
#: Directory the benchmark workloads write under; made world-writable (sticky) when root.
FLEET_TARGET = Path("/tmp/fleet-target")

_SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")


class SshdUnavailable(RuntimeError):
    """sshd (or ssh-keygen) is missing, or the daemon could not be started."""


def host_address(i: int) -> str:
    """Loopback address of fleet host ``i`` (0-based)."""
    if not 0 <= i < MAX_HOSTS:
        raise ValueError(f"host index {i} out of range 0..{MAX_HOSTS - 1}")
    return f"127.0.{i // 250}.{i % 250 + 1}"


def _find_sshd() -> str:
    found = shutil.which("sshd")
    if found:
        return os.path.abspath(found)
    for cand in _SSHD_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    raise SshdUnavailable("OpenSSH server not installed (no sshd on PATH or in /usr/sbin)")


def _find_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise SshdUnavailable("ssh-keygen not found (install openssh-client)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def _raise_nofile_limit() -> None:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit (a big fleet needs many sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if target == resource.RLIM_INFINITY:
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text().strip())
        except (OSError, ValueError):
            target = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        pass


def _run(cmd: list[str], what: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SshdUnavailable(
            f"{what} failed ({' '.join(cmd)}: exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def _shadow_field(user: str) -> str | None:
    try:
        with open("/etc/shadow", encoding="utf-8") as fh:
            for line in fh:
                parts = line.split(":")
                if parts[0] == user and len(parts) > 1:
                    return parts[1]
    except OSError:
        return None
    return None


def _ensure_test_user(user: str) -> pwd.struct_passwd:
    """Create (idempotently) an unprivileged login user with /bin/sh and an empty home."""
    home = Path("/home") / user
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        if not shutil.which("useradd"):
            raise SshdUnavailable("useradd not found; cannot create the test login user")
        # -M: do not copy /etc/skel (no .bashrc/.profile); -p '*': no password, but NOT locked
        # ('!' would make sshd refuse the account when UsePAM is off).
        proc = subprocess.run(
            ["useradd", "-M", "-d", str(home), "-s", "/bin/sh", "-p", "*", user],
            capture_output=True,
            text=True,
        )
        if proc.returncode not in (0, 9):  # 9: already exists (concurrent creation)
            raise SshdUnavailable(f"useradd {user} failed: {proc.stderr.strip()}")
        pw = pwd.getpwnam(user)
    if pw.pw_shell != "/bin/sh":
        _run(["usermod", "-s", "/bin/sh", user], "usermod -s")
    shadow = _shadow_field(user)
    if shadow is not None and shadow.startswith("!"):
        _run(["usermod", "-p", "*", user], "usermod -p (unlock)")
    pw = pwd.getpwnam(user)
    home = Path(pw.pw_dir)
    if not home.is_dir():
        home.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
    return pw


def _ensure_fleet_target() -> None:
    """Workloads write under /tmp/fleet-target/<tool>/...; let any user create its subtree."""
    try:
        FLEET_TARGET.mkdir(exist_ok=True)
        if FLEET_TARGET.stat().st_uid == 0 and not FLEET_TARGET.is_symlink():
            os.chmod(FLEET_TARGET, 0o1777)
    except OSError:
        pass


def _traversable_by(directory: Path, uid: int, gid: int) -> bool:
    """Whether a process with ``uid``/``gid`` can reach files in ``directory`` (mode bits only)."""
    for d in [directory, *directory.parents]:
        st = d.stat()
        if uid == 0:
            continue
        if st.st_uid == uid:
            bit = 0o100
        elif st.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def _descendants(root_pid: int) -> list[int]:
    """PIDs whose parent chain leads to ``root_pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    stack = [root_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _process_cpu(pid: int) -> float:
    """utime+stime+cutime+cstime of ``pid`` in seconds (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17) -> index n-3
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


class LoopbackFleet:
    """N SSH "hosts" on 127.0.0.0/8 served by one private OpenSSH sshd."""

    def __init__(
        self,
        n_hosts: int,
        workdir: Path | None = None,
        user: str | None = None,
        password: str | None = None,
        start_timeout: float = 15.0,
        allow_tcp_forwarding: bool = False,
    ) -> None:
        if not 1 <= n_hosts <= MAX_HOSTS:
            raise ValueError(f"n_hosts must be in 1..{MAX_HOSTS}, got {n_hosts}")
        self.n_hosts = n_hosts
        self.hosts: list[str] = [host_address(i) for i in range(n_hosts)]
        self._workdir_parent = Path(workdir) if workdir is not None else None
        self._requested_user = user
        self.password = password
        self.start_timeout = start_timeout
        #: Let clients forward TCP to the fleet's own hosts (a jump host for ProxyJump).
        self.allow_tcp_forwarding = allow_tcp_forwarding
        self.port: int = 0
        self.user: str = user or ""
        self.dir: Path | None = None
        self.key_path: Path = Path()
        self.known_hosts: Path = Path()
        self.config_path: Path = Path()
        self.log_path: Path = Path()
        self._ak_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "LoopbackFleet":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> "LoopbackFleet":
        if self._proc is not None:
            return self
        sshd = _find_sshd()
        keygen = _find_keygen()
        is_root = os.geteuid() == 0
        _raise_nofile_limit()

        if is_root:
            login = _ensure_test_user(self._requested_user or TEST_USER)
            if self.password is not None:
                _run(["chpasswd"], "chpasswd", input=f"{login.pw_name}:{self.password}\n")
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
            _ensure_fleet_target()
        else:
            me = pwd.getpwuid(os.geteuid())
            if self._requested_user not in (None, me.pw_name):
                raise SshdUnavailable(
                    f"not root: can only serve the current user {me.pw_name!r}, not {self._requested_user!r}"
                )
            if self.password is not None:
                raise SshdUnavailable("password login needs root (to set the user's password)")
            login = me
        self.user = login.pw_name

        if self._workdir_parent is not None:
            self._workdir_parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="oxinfra-sshd-", dir=self._workdir_parent))
        atexit.register(self.stop)
        try:
            self._prepare_files(keygen, login)
            last_error: Exception | None = None
            for _attempt in range(5):
                self.port = _free_port()
                self._write_config(login.pw_name, is_root)
                try:
                    self._launch(sshd)
                    break
                except SshdUnavailable as exc:
                    last_error = exc
                    if "Address already in use" not in str(exc):
                        raise
            else:
                raise last_error or SshdUnavailable("could not start sshd")
            self._write_known_hosts()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            victims = _descendants(proc.pid) if proc.poll() is None else []
            for pid in [proc.pid, *victims]:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            deadline = time.monotonic() + 2
            for pid in victims:
                while time.monotonic() < deadline:
                    if not _alive(pid):
                        break
                    time.sleep(0.01)
                else:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for attr in ("dir", "_ak_dir"):
            path = getattr(self, attr)
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)
                setattr(self, attr, None)
        try:
            atexit.unregister(self.stop)
        except Exception:
            pass

    # ------------------------------------------------------------------ client-side helpers

    def ssh_data(self) -> dict[str, Any]:
        """Host data (oxinfra names) that lets a deploy log in to any host of the fleet."""
        data: dict[str, Any] = {
            "ssh_port": self.port,
            "ssh_user": self.user,
            "ssh_key": str(self.key_path),
            "ssh_known_hosts_file": str(self.known_hosts),
        }
        if self.password is not None:
            data["ssh_password"] = self.password
        return data

    def asyncssh_options(self) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect(host, **...)`` (key auth, verified host key)."""
        return {
            "port": self.port,
            "username": self.user,
            "client_keys": [str(self.key_path)],
            "known_hosts": str(self.known_hosts),
            "agent_path": None,
        }

    def server_cpu_seconds(self) -> float:
        """CPU seconds used so far by sshd and its reaped children (connections, sessions)."""
        return _process_cpu(self._proc.pid) if self._proc is not None else 0.0

    def server_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------------ internals

    def _prepare_files(self, keygen: str, login: pwd.struct_passwd) -> None:
        assert self.dir is not None
        d = self.dir
        os.chmod(d, 0o755)
        self.host_key = d / "ssh_host_ed25519_key"
        self.key_path = d / "client_ed25519"
        for path, comment in ((self.host_key, "oxinfra-fleet-host"), (self.key_path, "oxinfra-fleet-client")):
            _run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], "ssh-keygen")
            os.chmod(path, 0o600)
        # sshd reads AuthorizedKeysFile as the login user, so its directory must be reachable by
        # that user; a caller's workdir (e.g. pytest's 0700 tmp_path) may not be.
        ak_dir = d
        if not _traversable_by(d, login.pw_uid, login.pw_gid):
            self._ak_dir = Path(tempfile.mkdtemp(prefix="oxinfra-sshd-ak-", dir="/tmp"))
            os.chmod(self._ak_dir, 0o755)
            ak_dir = self._ak_dir
        self.authorized_keys = ak_dir / "authorized_keys"
        self.authorized_keys.write_text((d / "client_ed25519.pub").read_text())
        os.chmod(self.authorized_keys, 0o644)
        self.known_hosts = d / "known_hosts"
        self.config_path = d / "sshd_config"
        self.log_path = d / "sshd.log"
        self.pid_file = d / "sshd.pid"

    def _write_config(self, user: str, is_root: bool) -> None:
        lines = [
            f"Port {self.port}",
            "ListenAddress 0.0.0.0",
            "AddressFamily inet",
            f"HostKey {self.host_key}",
            f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.password is not None else 'no'}",
            "PermitEmptyPasswords no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "UsePAM no",
            "PermitRootLogin no",
            # only this user, only from loopback: the wildcard bind exposes nothing usable
            f"AllowUsers {user}@127.0.0.0/8",
            "MaxStartups 10000:30:10000",
            "MaxSessions 1000",
            "MaxAuthTries 6",
            "LoginGraceTime 300",
            "ClientAliveInterval 0",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "AllowTcpForwarding local" if self.allow_tcp_forwarding else "AllowTcpForwarding no",
            *([f"PermitOpen {' '.join(f'{h}:{self.port}' for h in self.hosts)}"] if self.allow_tcp_forwarding else []),
            "PermitTunnel no",
            "PermitUserEnvironment no",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _launch(self, sshd: str) -> None:
        check = subprocess.run([sshd, "-t", "-f", str(self.config_path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise SshdUnavailable(f"sshd rejected its config: {check.stderr.strip()}")
        log = open(self.log_path, "wb")
        try:
            self._proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                raise SshdUnavailable(f"sshd exited with status {rc}: {self.server_log().strip()}")
            if self._listening():
                return
            if time.monotonic() > deadline:
                self._kill_process()
                raise SshdUnavailable(
                    f"sshd did not accept on 127.0.0.1:{self.port} within {self.start_timeout}s: "
                    f"{self.server_log().strip()}"
                )
            time.sleep(0.02)

    def _kill_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _listening(self) -> bool:
        # Look for the listening socket in /proc/net/tcp rather than connecting: a probe
        # connection that hangs up makes sshd log a kex error on every start.
        want = f"00000000:{self.port:04X}"
        try:
            with open("/proc/net/tcp") as fh:
                next(fh)
                for line in fh:
                    fields = line.split()
                    if fields[1] == want and fields[3] == "0A":
                        return True
            return False
        except OSError:
            pass
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(4) == b"SSH-"
        except OSError:
            return False

    def _write_known_hosts(self) -> None:
        assert self.dir is not None  # started
        key = (self.dir / "ssh_host_ed25519_key.pub").read_text().split()
        entry = f"{key[0]} {key[1]}"
        with open(self.known_hosts, "w") as fh:
            for addr in self.hosts:
                fh.write(f"[{addr}]:{self.port} {entry}\n")
        os.chmod(self.known_hosts, 0o644)
