"""``_timeout``, ``_sudo``, ``_sudo_user`` and ``_su_user`` run the operation in its own shell
that reads its script on stdin: no operation text, file content or fact command is ever a
process argument (every user can read ``/proc/*/cmdline``; the kernel refuses an argument over
128 KiB). Checked on real hosts (``@local``, a loopback sshd) while a thread reads the command
line of every process on the machine.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import time
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e_helpers import run_deploy, write_deploy, write_inventory
from oxinfra._engine.script import wrap_privilege

IS_ROOT = os.geteuid() == 0
HAS_SUDO = shutil.which("sudo") is not None
TEST_USER = "oxinfra-test"


class CmdlineWatch:
    """Reads ``/proc/*/cmdline`` of every process, over and over, until stopped; remembers
    which of ``needles`` it saw."""

    def __init__(self, needles: list[bytes]) -> None:
        self.needles = needles
        self.seen: set[bytes] = set()
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for name in os.listdir("/proc"):
                if not name.isdigit() or name == me:
                    continue
                try:
                    with open(f"/proc/{name}/cmdline", "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                for needle in self.needles:
                    if needle in data:
                        self.seen.add(needle)
            self.sweeps += 1

    def __enter__(self) -> "CmdlineWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


SECRET_DEPLOY = """
    from oxinfra import host
    from oxinfra.api import operation
    from oxinfra.api import FileUpload
    from oxinfra.facts.server import Command
    from oxinfra.operations import files, server

    @operation()
    def put_then_wait(dest, data):
        # the wrapping process lives while the sleep runs: long enough to be seen
        yield FileUpload(data, dest)
        yield "sleep 0.55"

    put_then_wait(name="small", dest="@ROOT@/small", data=b"@FILE_MARK@\\n" * 200, @ARGS@)
    server.shell(name="shell", commands=[": @SHELL_MARK@; sleep 0.55; echo done > @ROOT@/shell"], @ARGS@)
    files.put(name="big", src=@BIG@, dest="@ROOT@/big", mode="600", @ARGS@)
    if @FACT@:
        who = host.get_fact(Command, command=": @FACT_MARK@; sleep 0.55; id -un", @ARGS@)
        server.shell(name="fact", commands=[f"echo {who} > @ROOT@/fact"])
"""


def _secret_run(tmp_path: Path, target: Path, inventory: str | Path, args: str, fact: bool) -> tuple[Any, CmdlineWatch]:
    marks = {k: f"{k}-{secrets.token_hex(8)}" for k in ("FILE_MARK", "SHELL_MARK", "FACT_MARK", "BIG_MARK")}
    big = tmp_path / "big.bin"
    line = f'{marks["BIG_MARK"]} it\'s "quoted" $(not run) `nor this` \\ %s\n'.encode()
    big.write_bytes((line * (1024 * 1024 // len(line) + 1))[: 1024 * 1024])
    source = SECRET_DEPLOY.replace("@BIG@", repr(str(big))).replace("@ARGS@", args).replace("@FACT@", repr(fact))
    for key, value in marks.items():
        source = source.replace(f"@{key}@", value)
    deploy = write_deploy(tmp_path, source, target)
    needles = [m.encode() for m in marks.values()] + [b"sleep\x000.55"]
    with CmdlineWatch(needles) as watch:
        out = run_deploy(inventory, deploy)
    # the watch works: it saw the argument of a program the operations ran...
    assert b"sleep\x000.55" in watch.seen, (watch.sweeps, out.describe())
    # ... and never the text of an operation, a file's bytes or a fact's command
    assert watch.seen == {b"sleep\x000.55"}, watch.seen
    assert out.code == 0, out.describe()
    assert (target / "big").read_bytes() == big.read_bytes()
    assert oct((target / "big").stat().st_mode & 0o777) == "0o600"
    assert (target / "small").read_bytes() == f"{marks['FILE_MARK']}\n".encode() * 200
    assert (target / "shell").read_text() == "done\n"
    return out, watch


@pytest.fixture
def target() -> Iterator[Path]:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="oxinfra-priv-", dir="/tmp"))
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_timeout_on_local_keeps_texts_out_of_arguments(tmp_path: Path, target: Path) -> None:
    _secret_run(tmp_path, target, "@local", "_timeout=60", fact=False)


def test_timeout_over_ssh_keeps_texts_out_of_arguments(tmp_path: Path, target: Path, sshd_fleet: Any) -> None:
    inventory = write_inventory(tmp_path, sshd_fleet, name="one.py", groups={"one": sshd_fleet.hosts[:1]})
    _secret_run(tmp_path, target, inventory, "_timeout=60", fact=False)


needs_root_sudo = pytest.mark.skipif(not (IS_ROOT and HAS_SUDO), reason="needs root and sudo (apt-get install sudo)")


@needs_root_sudo
def test_sudo_on_local_keeps_texts_out_of_arguments(tmp_path: Path, target: Path) -> None:
    _secret_run(tmp_path, target, "@local", "_sudo=True, _timeout=60", fact=True)
    assert (target / "fact").read_text() == "root\n"


def _test_user() -> str:
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        if not IS_ROOT:
            pytest.skip(f"no user {TEST_USER} and not root to create one")
        subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--no-create-home", TEST_USER], check=True)
    return TEST_USER


@pytest.mark.skipif(not IS_ROOT, reason="su to another user without a password needs root")
def test_su_user_on_local_keeps_texts_out_of_arguments(tmp_path: Path, target: Path) -> None:
    user = _test_user()
    _secret_run(tmp_path, target, "@local", f"_su_user={user!r}", fact=True)
    assert (target / "fact").read_text() == f"{user}\n"
    assert (target / "big").stat().st_uid == pwd.getpwnam(user).pw_uid


@pytest.mark.skipif(not IS_ROOT, reason="su to another user without a password needs root")
def test_su_user_with_timeout(tmp_path: Path, target: Path) -> None:
    user = _test_user()
    _secret_run(tmp_path, target, "@local", f"_su_user={user!r}, _timeout=60", fact=True)
    assert (target / "small").stat().st_uid == pwd.getpwnam(user).pw_uid


@needs_root_sudo
def test_sudo_user(tmp_path: Path, target: Path) -> None:
    user = _test_user()
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files, server
        server.shell(name="who", commands=["id -un > @ROOT@/who", 'printf %s "$HOME" > @ROOT@/home', "cat > @ROOT@/stdin"],
                     _sudo=True, _sudo_user={user!r}, _env={{"A": "it's"}}, _chdir="/")
        files.put(name="put", src="data", dest="@ROOT@/put", _sudo=True, _sudo_user={user!r})
    """,
        target,
    )
    (tmp_path / "data").write_bytes(b"data\n")
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    assert (target / "who").read_text() == f"{user}\n"
    assert (target / "home").read_text() == pwd.getpwnam(user).pw_dir  # sudo -H
    assert (target / "stdin").read_bytes() == b""  # commands read /dev/null, not the script
    assert (target / "put").stat().st_uid == pwd.getpwnam(user).pw_uid
    again = run_deploy("@local", deploy)
    assert again.statuses("@local") == {"who": "changed", "put": "unchanged"}


def test_timeout_still_kills_and_the_host_goes_on(tmp_path: Path, target: Path) -> None:
    deploy = write_deploy(
        tmp_path,
        """
        from oxinfra.operations import files, server
        server.shell(name="slow", commands=["sleep 30.0417", "touch @ROOT@/finished"], _timeout=1, _ignore_errors=True)
        server.shell(name="next", commands=["cat > @ROOT@/next"], _timeout=10, _ignore_errors=True)
        files.file(name="after", path="@ROOT@/after")
    """,
        target,
    )
    out = run_deploy("@local", deploy)
    assert out.statuses("@local") == {"slow": "failed", "next": "changed", "after": "changed"}, out.describe()
    assert out.op("@local", "slow")["error"] == "exit code 124"
    assert not (target / "finished").exists()
    assert (target / "next").read_bytes() == b""  # the next operation read /dev/null, not the script
    assert (target / "after").exists()
    # the sleep was killed with its shell, not left behind (the signal may take a moment to
    # land on a busy machine: wait up to 5 s, far less than the sleep's 30)
    for _ in range(50):
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        if "sleep 30.0417" not in ps.splitlines():
            break
        time.sleep(0.1)
    assert "sleep 30.0417" not in ps.splitlines()


# -- the wrapped text itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("privilege", "timeout"),
    [
        ((), 5),
        ((True, None, None), None),
        ((True, "u", None), 5),
        ((False, None, "u"), None),
        ((False, None, "u"), 5),
        ((True, None, "u"), 5),
    ],
)
def test_wrapped_text_is_only_in_a_here_document(privilege: tuple[Any, ...], timeout: float | None) -> None:
    inner = "printf '%s\\n' 'secret text' > /tmp/x\nexit 3"
    text = wrap_privilege(inner, privilege, timeout)
    first, _, rest = text.partition("\n")
    assert "secret" not in first and first.endswith("'") and "<<'__OX_P_" in first
    if privilege[2:] == ("u",) and timeout:
        assert " -s /bin/sh -c 'timeout 5 sh -s' u <<" in first  # only fixed text after -c, then the user
    end = first.rsplit("<<'", 1)[1].rstrip("'")
    body, _, after = rest.partition(f"\n{end}\n")
    assert inner in body and after == "}"
    assert wrap_privilege(inner, privilege, timeout) == text  # the same text for the same input


def test_delimiter_never_occurs_in_the_text() -> None:
    plain = wrap_privilege("true", (), 5)
    end = plain.split("<<'", 1)[1].split("'", 1)[0]
    hostile = f"echo '{end}'\n{end}\ntrue"
    text = wrap_privilege(hostile, (), 5)
    end2 = text.split("<<'", 1)[1].split("'", 1)[0]
    assert end2 not in hostile
    proc = subprocess.run(["sh"], input=text + "\necho rc=$?\n", capture_output=True, text=True, timeout=30)
    assert proc.stdout == f"{end}\nrc=0\n", proc


def test_inner_shell_never_reads_the_outer_script() -> None:
    """The persistent shell reads its script on stdin: what follows the wrapped operation
    must still run, whatever the operation's commands read."""
    wrapped = wrap_privilege("cat; read x; echo inner", (), 10)
    script = f"{wrapped} </dev/null\necho after=$?\n" + "echo later\n" * 3
    proc = subprocess.run(["sh"], input=script, capture_output=True, text=True, timeout=30)
    assert proc.stdout == "inner\nafter=0\n" + "later\n" * 3, proc


SIM_DEPLOY = """
    from oxinfra import host
    from oxinfra.facts.files import File
    from oxinfra.operations import files, server

    base = @BASE@ + "/" + host.name.replace("/", "_")
    files.directory(name="dir", path=base)
    files.put(name="put", src=@SRC@, dest=f"{base}/put", mode="600", _timeout=60)
    server.shell(name="shell", commands=[f"cat > {base}/stdin", f"echo $A > {base}/env"], _timeout=60,
                 _env={"A": "it's"}, _chdir="/")
    files.line(name="line", path=f"{base}/env", line="more", @PRIV@)
    info = host.get_fact(File, path=f"{base}/put", @PRIV@)
    server.shell(name="fact", commands=[f"echo {info and info['mode']} > {base}/fact"])
"""


@pytest.mark.parametrize(
    "priv",
    ["_timeout=30", "_sudo=True", '_sudo=True, _sudo_password="it\'s a pw"', "_su_user='root', _timeout=30"]
    if IS_ROOT and HAS_SUDO
    else ["_timeout=30"],
)
def test_simulator_runs_wrapped_operations_like_a_real_sh(tmp_path: Path, priv: str) -> None:
    import textwrap

    from oxinfra.api import load_inventory, run
    from oxinfra.testing import sim

    base = tmp_path / "target"
    base.mkdir()
    src = tmp_path / "src"
    src.write_bytes(b'it\'s "here" $(x) \\\n' * 5000)
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent(SIM_DEPLOY)
        .replace("@BASE@", repr(str(base)))
        .replace("@SRC@", repr(str(src)))
        .replace("@PRIV@", priv)
    )
    sim.reset()
    try:
        local, simulated = load_inventory("@local"), load_inventory("@sim/priv")
        for _ in range(2):
            real = run(local, [str(deploy)])
            fake = run(simulated, [str(deploy)])
            assert real.success and fake.success, fake.hosts["@sim/priv"].ops
            assert [(o["op"], o["status"]) for o in real.hosts["@local"].ops] == [
                (o["op"], o["status"]) for o in fake.hosts["@sim/priv"].ops
            ]
            machine = sim.machine("priv")
            for name in ("put", "stdin", "env", "fact"):
                node = machine.fs[f"{base}/@sim_priv/{name}"]
                assert node.content() == (base / "@local" / name).read_bytes(), name
    finally:
        sim.reset()


@pytest.mark.parametrize("size", [10, 2_000_000])
def test_the_hosts_sh_passes_here_documents_through_a_pipe(size: int) -> None:
    """What wrap_privilege relies on: ``sh`` (dash on Debian) hands a here-document to the
    command through a pipe, even a large one, never through a file on disk (bash would use
    a temporary file for the large one)."""
    script = "{ sh -s <<'E'\nreadlink /proc/$$/fd/0\n: " + "x" * size + "\nE\n}\n"
    proc = subprocess.run(["sh"], input=script, capture_output=True, text=True, timeout=30)
    assert proc.stdout.startswith("pipe:"), proc


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to su without a password")
def test_su_options_hold_where_posixly_correct_is_set() -> None:
    """With POSIXLY_CORRECT in the environment su stops reading options at the user name: an
    -s after it went to the user's login shell (nobody's is nologin), with the timeout's -c."""

    if not pwd.getpwnam("nobody").pw_shell.endswith("nologin"):
        pytest.skip("nobody has a login shell here")
    text = wrap_privilege("id -un", (False, None, "nobody"), 5)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "POSIXLY_CORRECT": "1"}
    done = subprocess.run(["sh"], input=text.encode(), capture_output=True, cwd="/tmp", env=env, timeout=60)
    assert done.returncode == 0 and done.stdout.decode().split()[-1] == "nobody", done
