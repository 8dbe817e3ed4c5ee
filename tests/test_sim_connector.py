"""The simulated connector (``@sim/NAME``): the production run, facts, plans and scripts,
answered by an in-memory host. Its answers are checked against a real ``sh`` on real files."""

from __future__ import annotations

import asyncio
import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from oxinfra import _core
from oxinfra.api import load_inventory, run
from oxinfra.api.facts import FactRequest
from oxinfra._engine.script import ScriptBuilder, done_marker, new_nonce, prelude
from oxinfra.testing import sim
from oxinfra.facts.files import Directory, File, FindInFile, Link, Md5File, Sha1File, Sha256File, Socket
from oxinfra.facts.server import Arch, Command, Home, Os, User
from oxinfra.quoting import quote

from e2e_helpers import WORKLOAD_OPS as OPS
from e2e_helpers import WORKLOAD_SRC as WORKLOAD

ROOT_LINE = 'root = f"/tmp/fleet-target/oxinfra/{host.name}"'
RUN1 = [(op, "unchanged" if op == "env replace" else "changed") for op in OPS]
RUN2 = [(op, "changed" if op == "probe" else "unchanged") for op in OPS]


@pytest.fixture(autouse=True)
def fresh_sim() -> Iterator[None]:
    sim.reset()
    old = os.umask(0o022)  # the simulator's defaults; @local comparisons need the same
    try:
        yield
    finally:
        os.umask(old)
        sim.reset()


def _workload(tmp_path: Path, base: Path) -> Path:
    dest = tmp_path / "standard-10"
    shutil.copytree(WORKLOAD, dest)
    deploy = dest / "deploy.py"
    text = deploy.read_text()
    assert ROOT_LINE in text
    deploy.write_text(text.replace(ROOT_LINE, f'root = {str(base)!r} + "/" + host.name.replace("/", "_")'))
    return deploy


def _statuses(result: Any, host: str) -> list[tuple[str, str]]:
    return [(op["op"], op["status"]) for op in result.hosts[host].ops]


def _sim_tree(machine: sim.SimHost, root: str) -> dict[str, Any]:
    out = {}
    for path, node in machine.fs.items():
        if path.startswith(root + "/"):
            extra = node.content() if node.kind == "f" else node.target if node.kind == "l" else None
            out[path[len(root) + 1 :]] = (node.kind, node.mode, extra)
    return out


def _real_tree(root: Path) -> dict[str, Any]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.fsencode(root)).decode("utf-8", "surrogateescape")
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", 0o777, os.readlink(path).decode("utf-8", "surrogateescape"))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode), None)
            else:
                out[rel] = ("f", stat.S_IMODE(st.st_mode), Path(path.decode("utf-8", "surrogateescape")).read_bytes())
    return out


# --------------------------------------------------------------------------------------------
# standard-10 end to end
# --------------------------------------------------------------------------------------------


def test_standard10_on_50_sim_hosts(tmp_path: Path) -> None:
    deploy = _workload(tmp_path, Path("/srv/fleet"))
    names = [f"@sim/web{i:04d}" for i in range(50)]
    inventory = load_inventory(",".join(names))
    first = run(inventory, [str(deploy)])
    assert first.success
    for name in names:
        assert _statuses(first, name) == RUN1
        assert first.hosts[name].round_trips == 2
    second = run(inventory, [str(deploy)])
    for name in names:
        assert _statuses(second, name) == RUN2
        assert second.hosts[name].round_trips == 2
    machine = sim.machine("web0017")
    tree = _sim_tree(machine, "/srv/fleet/@sim_web0017")
    assert tree["app/env"] == ("f", 0o644, b"MODE=production\n")
    assert tree["current"] == ("l", 0o777, "/srv/fleet/@sim_web0017/app")
    assert tree["log"] == ("d", 0o750, None)
    assert tree["app/marker"] == ("f", 0o600, b"")
    assert tree["app/conf/app.conf"][2].startswith(b"# managed file for @sim/web0017\n")
    assert tree["app/blob.txt"][2] == (WORKLOAD / "files" / "blob.txt").read_bytes()
    assert not any(".oxinfra-" in path for path in tree)  # temporary upload files renamed away


def test_dry_run_on_fresh_sim_predicts_run1_and_changes_nothing(tmp_path: Path) -> None:
    deploy = _workload(tmp_path, Path("/srv/fleet"))
    inventory = load_inventory("@sim/a,@sim/b")
    before = sim.machine("a").tree()
    dry = run(inventory, [str(deploy)], dry=True)
    assert sim.machine("a").tree() == before
    real = run(inventory, [str(deploy)])
    for name in ("@sim/a", "@sim/b"):
        assert _statuses(dry, name) == _statuses(real, name) == RUN1
        assert dry.hosts[name].round_trips == 1


def test_sim_equals_a_real_local_run(tmp_path: Path) -> None:
    base = tmp_path / "target"
    base.mkdir()
    deploy = _workload(tmp_path, base)
    local, simulated = load_inventory("@local"), load_inventory("@sim/twin")
    for expected in (RUN1, RUN2):
        real = run(local, [str(deploy)])
        fake = run(simulated, [str(deploy)])
        assert _statuses(real, "@local") == _statuses(fake, "@sim/twin") == expected
        assert real.hosts["@local"].round_trips == fake.hosts["@sim/twin"].round_trips
    real_tree = _real_tree(base / "@local")
    fake_tree = _sim_tree(sim.machine("twin"), f"{base}/@sim_twin")
    conf = "app/conf/app.conf"
    assert real_tree.pop(conf)[2].replace(b"@local", b"X") == fake_tree.pop(conf)[2].replace(b"@sim/twin", b"X")
    link = real_tree.pop("current"), fake_tree.pop("current")
    assert link[0][2].endswith("/@local/app") and link[1][2].endswith("/@sim_twin/app")
    assert real_tree == fake_tree


HOSTILE_NAME = 'it\'s $(echo pwned) `x` "q" \\ ;|&*? ~ é'
HOSTILE_DEPLOY = """
    from oxinfra import host
    from oxinfra.operations import files, server

    base = @BASE@ + "/" + host.name.replace("/", "_")
    name = @NAME@
    files.directory(name="dir", path=f"{base}/{name}", mode="0750")
    files.put(name="binary", src="hostile.bin", dest=f"{base}/{name}/data.bin", mode="640")
    files.put(name="text", src="hostile.txt", dest=f"{base}/{name}/text.txt", mode="600")
    files.line(name="line", path=f"{base}/{name}/lines", line="x='$(id)' \\"y\\" ; | & %s %%")
    files.line(name="line again", path=f"{base}/{name}/lines", line="second $HOME `id`")
    files.replace(name="replace", path=f"{base}/{name}/lines", text="second", replace="2nd & <more>")
    files.link(name="link", path=f"{base}/{name}/ln", target="../it's target")
    files.file(name="newline", path=f"{base}/new\\nline", mode="600")
    files.directory(name="gone", path=f"{base}/{name}/gone")
    files.directory(name="gone again", path=f"{base}/{name}/gone", present=False)
    server.shell(name="user commands", commands=["oxinfra-no-such-program --x 2>/dev/null || true", "date +%s > /dev/null", "test -d /tmp"])
"""


def test_hostile_paths_and_contents_land_literally(tmp_path: Path) -> None:
    base = tmp_path / "target"
    base.mkdir()
    work = tmp_path / "deploy"
    work.mkdir()
    binary = b"\x00\xff\xfe'\"$(id)`x`\\\n%s%%\n" * 3
    text = "quotes ' \" \\ $(id) `id` %s %% ; | & * ~ \n\n trailing spaces   \n".encode() + "é\n".encode()
    (work / "hostile.bin").write_bytes(binary)
    (work / "hostile.txt").write_bytes(text)
    source = textwrap.dedent(HOSTILE_DEPLOY).replace("@BASE@", repr(str(base))).replace("@NAME@", repr(HOSTILE_NAME))
    (work / "deploy.py").write_text(source)
    deploy = str(work / "deploy.py")
    local, simulated = load_inventory("@local"), load_inventory("@sim/hostile")
    for k in range(2):
        real = run(local, [deploy])
        fake = run(simulated, [deploy])
        assert real.success and fake.success, [o for o in fake.hosts["@sim/hostile"].ops if o["status"] == "failed"]
        assert _statuses(real, "@local") == _statuses(fake, "@sim/hostile")
        fake_tree = _sim_tree(sim.machine("hostile"), f"{base}/@sim_hostile")
        assert fake_tree == _real_tree(base / "@local")
        if k == 0:
            assert fake_tree[f"{HOSTILE_NAME}/data.bin"] == ("f", 0o640, binary)
            assert fake_tree[f"{HOSTILE_NAME}/text.txt"] == ("f", 0o600, text)
            # sed's & is the matched text
            assert (
                fake_tree[f"{HOSTILE_NAME}/lines"][2] == b"x='$(id)' \"y\" ; | & %s %%\n2nd second <more> $HOME `id`\n"
            )
            assert fake_tree[f"{HOSTILE_NAME}/ln"] == ("l", 0o777, "../it's target")
            assert fake_tree["new\nline"] == ("f", 0o600, b"")
            assert f"{HOSTILE_NAME}/gone" not in fake_tree
    # unknown commands changed nothing: the host holds what it started with and what the deploy made
    top = f"{base}/@sim_hostile"
    made = {top, *(str(p) for p in Path(top).parents), *(f"{top}/{rel}" for rel in fake_tree)}
    assert set(sim.machine("hostile").fs) == {"/", "/tmp", "/root"} | made


def test_seeded_files_and_user(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra.operations import files
        files.line(name="add", path="/etc/app.conf", line="b=2")
        files.line(name="fix", path="/etc/app.conf", line="^a=.*$", replace="a=10")
        files.directory(name="home", path="/home/deploy/x")
    """)
    )
    inventory = load_inventory("@sim/seeded", {"sim_files": {"/etc/app.conf": "a=1\n"}, "sim_user": "deploy"})
    result = run(inventory, [str(deploy)])
    assert result.success, result.hosts["@sim/seeded"].ops
    machine = sim.machine("seeded")
    assert machine.fs["/etc/app.conf"].content() == b"a=10\nb=2\n"
    assert machine.fs["/home/deploy/x"].user == "deploy"
    assert _statuses(run(inventory, [str(deploy)]), "@sim/seeded") == [
        ("add", "unchanged"),
        ("fix", "unchanged"),
        ("home", "unchanged"),
    ]


def test_failures_stop_the_host_like_a_real_one(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        textwrap.dedent("""
        from oxinfra.operations import files, server
        files.file(name="a file", path="/srv/blocker")
        files.directory(name="under a file", path="/srv/blocker/dir")
        server.shell(name="never", commands=["true"])
    """)
    )
    result = run(load_inventory("@sim/failing"), [str(deploy)])
    ops = result.hosts["@sim/failing"].ops
    assert [op["status"] for op in ops] == ["changed", "failed", "not run"]
    assert "Not a directory" in ops[1]["stderr"] or "File exists" in ops[1]["stderr"]


# --------------------------------------------------------------------------------------------
# Fact scripts: the simulator answers exactly what a real sh answers
# --------------------------------------------------------------------------------------------


def _make_files(root: Path) -> None:
    root.mkdir()
    (root / "plain").write_bytes(b"hello\nMODE=production\nworld")
    (root / "empty").write_bytes(b"")
    (root / "dir").mkdir()
    (root / "dir" / "inner").write_bytes(b"a.b\n[x]\nab\n")
    os.symlink("plain", root / "link")
    os.symlink(str(root / "dir"), root / "dirlink")
    os.symlink("/nonexistent/x", root / "dangling")
    os.symlink("loop", root / "loop")
    (root / 'it\'s $(x) "q"').write_bytes(b"a.b\n[x]\nx=1 # comment\n")
    (root / "ünï").write_bytes("ünï\n".encode() + b"\xff\xfe\nMODE=staging\n")
    os.chmod(root / "empty", 0o600)
    os.chmod(root / "dir", 0o750)
    now = int(time.time())
    # atime after ctime: reading a file must not move atime (relatime), so stat stays stable
    for path in [root, *root.rglob("*")]:
        os.utime(path, (now + 1000, now - 100), follow_symlinks=False)


def _mirror(root: Path, name: str) -> sim.SimHost:
    """A simulated host holding the same objects as the real ``root`` (and its ancestors)."""
    machine = sim.SimHost(name, pwd.getpwuid(os.getuid()).pw_name)
    paths = [*reversed(root.parents), root, *sorted(root.rglob("*"))]
    for path in paths:
        st = os.lstat(path)
        user = pwd.getpwuid(st.st_uid).pw_name
        group = grp.getgrgid(st.st_gid).gr_name
        mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            node = sim.Node("l", mode, user, group, 0, target=os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            node = sim.Node("d", mode, user, group, 0)
        else:
            node = sim.Node("f", mode, user, group, 0, data=path.read_bytes().decode("utf-8", "surrogateescape"))
        node.atime, node.mtime, node.ctime = int(st.st_atime), int(st.st_mtime), int(st.st_ctime)
        machine.fs[str(path)] = node
    return machine


def _fact_table(root: Path) -> list[FactRequest]:
    names = [
        "plain",
        "empty",
        "dir",
        "dir/inner",
        "link",
        "dirlink",
        "dangling",
        'it\'s $(x) "q"',
        "ünï",
        "missing",
        "dir/nested/missing",
        "plain/sub",
        "link/sub",
        "dirlink/inner",
        "missing/",
        "dir/nested/",
        "plain/",
        "dir/",
        "dir/./x",
        "dir/../missing",
        "loop",
        "loop/x",
        "dangling/x",
        "dirlink/missing",
        "pipe|missing",
        "-missing",
    ]
    paths = [str(root / n) for n in names]
    requests = [FactRequest(cls, {"path": p}, ()) for p in paths for cls in (File, Directory, Link, Socket)]
    requests += [FactRequest(cls, {"path": p}, ()) for p in paths for cls in (Sha1File, Sha256File)]
    patterns = [
        "MODE=production",
        "^MODE=production$",
        "^.*MODE=production.*$",
        "world$",
        "^hel",
        "a\\.b",
        "\\[x\\]",
        "o.*d",
        "[0-9]",
        "^$",
        "x=[[:digit:]]",
        "MODE=staging",
        "a*b",
        "h\\(el\\)lo",
    ]
    for p in paths[:10]:
        requests += [FactRequest(FindInFile, {"path": p, "pattern": pat}, ()) for pat in patterns]
    requests.append(FactRequest(FindInFile, {"path": paths[0], "pattern": "(hello|world)", "extended_regex": True}, ()))
    requests.append(FactRequest(FindInFile, {"path": paths[0], "pattern": "l+o", "extended_regex": True}, ()))
    requests.append(FactRequest(Command, {"command": f"cat {quote(paths[0])}"}, ()))
    requests += [FactRequest(User, {}, ()), FactRequest(Os, {}, ()), FactRequest(Arch, {}, ())]
    if os.path.expanduser("~") == sim.SimHost.home(pwd.getpwuid(os.getuid()).pw_name):
        requests.append(FactRequest(Home, {}, ()))
    return requests


_DIR_SIZE = re.compile(rb"(directory\|[^|\n]*\|[^|\n]*\|[0-7]+\|)\d+")


def _sections(out: bytes, nonce: str) -> dict[int, tuple[int | None, bytes]]:
    sections, _, done = _core.demux(out, nonce)
    assert done
    # directory sizes depend on the filesystem; the simulator says 4096
    return {i: (status, _DIR_SIZE.sub(rb"\g<1>D", data)) for i, status, data in sections}


def _through_both(
    builder: ScriptBuilder, nonce: str, machine: sim.SimHost, shell: sim.SimShell | None = None
) -> tuple[dict[int, Any], dict[int, Any], sim.SimShell]:
    script = builder.build()
    # a real sh per script: later scripts need the prelude the shell's first script defined
    prefix = b"" if shell is None else prelude(nonce).encode()
    real = subprocess.run(["sh"], input=prefix + script, capture_output=True, check=True)
    shell = shell or sim.SimShell(machine, machine.name)
    out, err = asyncio.run(shell.run(script, done_marker(nonce)))
    real_sections, fake_sections = _sections(real.stdout, nonce), _sections(out, nonce)
    # stderr carries the same markers (the contents of stderr are not compared)
    assert [i for i, _, _ in _core.demux(real.stderr, nonce)[0]] == [i for i, _, _ in _core.demux(err, nonce)[0]]
    return real_sections, fake_sections, shell


def test_fact_script_answers_equal_a_real_sh(tmp_path: Path) -> None:
    root = tmp_path / "f"
    _make_files(root)
    machine = _mirror(root, os.uname().nodename)
    requests = _fact_table(root)
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    real, fake, shell = _through_both(builder, nonce, machine)
    assert set(real) == set(fake)
    for index in sorted(real):
        assert fake[index] == real[index], (index, builder.sections[index])
    results = builder.fact_results(fake)
    assert len(results) == len(requests)

    # the second script: guards (each fact's own command) that hold, one that does not,
    # operations that fail, and the refetch chain of a stale operation
    values = {id(request): (stdout, rc) for request, stdout, rc in builder.fact_results(real)}
    # (not directories: their size depends on the filesystem, the simulator says 4096)
    guarded = [r for r in requests[:: max(1, len(requests) // 25)] if b"directory|" not in values[id(r)][0]]
    second = ScriptBuilder(nonce)
    second.add_refetch_chain([(0, requests[:3]), (1, requests[3:5])])
    for k, request in enumerate(guarded):
        stdout, rc = values[id(request)]
        second.add_operation(f"op{k}", ":", [(request, stdout, rc)], ignore_errors=True)
    second.add_operation("fails", f"cat {quote(str(root / 'missing'))}", [], ignore_errors=True)
    second.add_operation("stale", "true", [(requests[0], b"not what it was", 0)], False, on_stale="__ox_f0")
    second.add_operation("never", "true", [], False)
    real, fake, _ = _through_both(second, nonce, machine, shell)
    assert fake == real
    statuses = [status for _, (status, _) in sorted(fake.items())]
    assert None in statuses and 1 in statuses  # None: stale


def test_each_stat_fact_command_equals_its_batched_answer(tmp_path: Path) -> None:
    """Guards run a fact's own command and compare it with the batched answer: on a real sh
    and on the simulator, each command prints exactly what the batch split says -- for paths
    that are there, absent, or neither (under a file, a link loop, a dangling link)."""
    root = tmp_path / "f"
    _make_files(root)
    machine = _mirror(root, os.uname().nodename)
    requests = [r for r in _fact_table(root) if r.cls in (File, Directory, Link, Socket, Sha1File, FindInFile)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    for request in requests:
        builder.add_operation(request, request.command, [], ignore_errors=True)
    real, fake, _ = _through_both(builder, nonce, machine)
    assert fake == real
    index_of = {id(owner): k for k, owner in enumerate(builder.sections)}
    rcs = set()
    for request, stdout, rc in builder.fact_results(real):
        assert real[index_of[id(request)]] == (rc, stdout), request
        rcs.add(rc)
    assert rcs >= {0, 1, 2}, rcs  # (the table has paths there, absent, and neither)


def test_hash_batch_answers_equal_a_real_sh(tmp_path: Path) -> None:
    """Hash facts of regular files (one sha1sum, sha256sum, md5sum process each): the
    simulator splits their output as a real sh does."""
    root = tmp_path / "f"
    _make_files(root)
    machine = _mirror(root, os.uname().nodename)
    paths = [str(root / n) for n in ("plain", "empty", "dir/inner", "link", 'it\'s $(x) "q"', "ünï")]
    requests = [FactRequest(cls, {"path": p}, ()) for cls in (Sha1File, Sha256File, Md5File) for p in paths]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    assert "".join(builder.parts).count("sum --") == 3
    real, fake, _ = _through_both(builder, nonce, machine)
    assert fake == real
    assert [stdout for _, stdout, _ in builder.fact_results(fake)] == [
        f"{hashlib.new(r.cls.algorithm, Path(r.kwargs['path']).read_bytes()).hexdigest()}  -\n".encode()
        for r in requests
    ]


@pytest.mark.parametrize(
    "word",
    [
        '${v%%"NL"*}',
        '${v#*"NL"}',
        '${v%"NL"*}',
        '${v##*"NL"}',
        '"${v%% *}"',
        '"${v% *}"',
        "${v#*b}",
        "${v##*b}",
        '${v#"a"\\ }',
        "${v#'a '}",
        '${v#*"$w"}',
        "${v#*$w}",
        '${v%"*"}',
        "${v%[xyz]}",
        "${v%[!xyz]}",
        "${v%?}",
        "${v##*/}",
        "${u#\\\\}",
        '"${u#*"$w"}"',
    ],
)
def test_parameter_expansions_as_a_real_sh(word: str) -> None:
    """``${NAME%WORD}``, ``%%``, ``#`` and ``##``: quoted parts of WORD are literal, unquoted
    ``*``, ``?`` and brackets match, ``$NAME`` in it expands (the hash batch splits its
    output with them; FindInFile and sysvinit use them). NL: a newline."""
    script = "v='a b*\nc/d b\\e\nf g*'\nu='\\x*y'\nw='*'\n" + f"x={word}; printf '[%s]\\n' \"$x\"\n"
    script = script.replace("NL", "\n")
    real = subprocess.run(["sh"], input=script, capture_output=True, text=True)
    assert real.returncode == 0 and not real.stderr, real
    out, _ = asyncio.run(sim.SimShell(sim.machine("expansions"), "@sim/expansions").run(script.encode(), b""))
    assert out.decode() == real.stdout


def test_parse_cache_restores_each_hosts_strings() -> None:
    """Hosts share parsed script templates; each must still see its own nonce and name."""
    shells = {}
    for name in ("@sim/a.example", "@sim/b.example"):
        machine = sim.machine(name.split("/", 1)[1])
        nonce = new_nonce()
        builder = ScriptBuilder(nonce, first=True)
        builder.add_operation("write", f"printf %s {quote(name)} > /tmp/{quote(name.replace('/', '_'))}", [], False)
        out, _ = asyncio.run(sim.SimShell(machine, name).run(builder.build(), done_marker(nonce)))
        assert out.endswith(done_marker(nonce))
        shells[name] = machine
    assert shells["@sim/a.example"].fs["/tmp/@sim_a.example"].content() == b"@sim/a.example"
    assert shells["@sim/b.example"].fs["/tmp/@sim_b.example"].content() == b"@sim/b.example"


@pytest.mark.parametrize(
    "pattern,extended",
    [
        ("a.b", False),
        ("^a", False),
        ("b$", False),
        ("a\\+", False),
        ("a+", False),
        ("a+", True),
        ("\\(ab\\)\\1", False),
        ("(ab)\\1", True),
        ("[]a]", False),
        ("[^[:space:]]x", False),
        ("a{2}", True),
        ("a\\{2\\}", False),
        ("x|y", True),
        ("x\\|y", False),
        ("*a", False),
        ("a$b", False),
        ("a$)", False),
        ("\\(a$\\)", False),
        ("(a$)", True),
    ],
)
def test_posix_regex_agrees_with_grep(tmp_path: Path, pattern: str, extended: bool) -> None:
    lines = ["a.b", "axb", "ab", "aab", "abab", "]", "x y", " x", "a+", "*a", "a$b", "y", "a{2}", ""]
    path = tmp_path / "lines"
    path.write_text("\n".join(lines) + "\n")
    flags = ["-E"] if extended else []
    done = subprocess.run(["grep", *flags, "-e", pattern, "--", str(path)], capture_output=True, text=True)
    expected = done.stdout.splitlines()
    match = sim.line_matcher(pattern, extended)
    assert [line for line in lines if match(line)] == expected


def test_umask_and_noclobber_as_a_real_sh(tmp_path: Path) -> None:
    """What uploads and file creation rely on: the mode a file or directory gets under a
    umask (in a subshell, which does not leak it), and set -C refusing to overwrite."""
    root = tmp_path / "u"
    root.mkdir()
    r = quote(str(root))
    script = (
        f"umask 022\ncd {r}\n"
        "(umask 177 && : > a)\n"
        "(umask 137 && set -C && printf %s hi > b)\n"
        "(umask 137 && set -C && printf %s again > b); echo clobber=$?\n"
        ": > c\nmkdir d\n(umask 027 && mkdir e)\n"
        "umask\nstat -c '%n %a' a b c d e\ncat b; echo\n"
    )
    real = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    machine = sim.machine("umask-test")
    machine._mkdirs(str(root), "root", 0)
    shell = sim.SimShell(machine, "@sim/umask-test")
    out, _ = asyncio.run(shell.run(script.encode(), b""))
    assert out.decode() == real.stdout
    assert "clobber=2" in real.stdout and "a 600" in real.stdout and "b 640" in real.stdout


def test_sed_in_place_on_a_link_as_gnu_sed(tmp_path: Path) -> None:
    """GNU ``sed -i`` writes a new file in a link's place (with the target's mode) and leaves
    the target as it was; the simulator wrote through the link to the target."""
    root = tmp_path / "s"
    root.mkdir()
    r = quote(str(root))
    script = f"cd {r}\nprintf 'a\\n' > t\nchmod 600 t\nln -s t l\nsed -i -e s/a/b/ l\nstat -c '%n %F %a' l t\ncat t l\n"
    real = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    machine = sim.machine("sed-link")
    machine._mkdirs(str(root), "root", 0)
    out, _ = asyncio.run(sim.SimShell(machine, "@sim/sed-link").run(script.encode(), b""))
    assert real.stdout == "l regular file 600\nt regular file 600\na\nb\n"
    assert out.decode() == real.stdout


def test_a_failed_redirection_of_a_special_builtin_ends_the_shell_as_a_real_sh() -> None:
    """A POSIX shell exits when a redirection of a special builtin (``:``, ``export``, ``set``,
    ...) fails; of any other command, or inside a subshell, it goes on."""
    script = (
        "true > /nonexistent/x; echo one\n(: > /nonexistent/x); echo two\n"
        "X=1 > /nonexistent/x; echo three\n: > /nonexistent/x\necho four\n"
    )
    real = subprocess.run(["sh"], input=script, capture_output=True, text=True)
    interpreter = sim.Interpreter(sim.SimHost("redirect-test"))
    with pytest.raises(Exception) as info:
        interpreter.run_script(script)
    assert type(info.value).__name__ == "_Exit" and info.value.status == real.returncode == 2
    assert "".join(interpreter.out or []) == real.stdout == "one\ntwo\nthree\n"


def test_continue_skips_the_rest_of_a_loop_body_as_a_real_sh(tmp_path: Path) -> None:
    """``continue`` in for and while loops (apt.AptSources skips files that do not exist
    with it: the simulator ran the rest of the body and failed on a missing file)."""
    root = tmp_path / "c"
    root.mkdir()
    (root / "b").write_text("B\n")
    r = quote(str(root))
    script = (
        f'cd {r}\nfor f in a b c; do [ -e "$f" ] || continue; echo "have $f"; cat -- "$f" || exit 2; done\n'
        'i=0\nwhile [ $i -lt 4 ]; do i=$((i + 1)); [ $i -eq 2 ] && continue; echo "i=$i"; done\necho end\n'
    )
    real = subprocess.run(["sh", "-c", script], capture_output=True, text=True)
    machine = sim.machine("continue-test")
    machine._mkdirs(str(root), "root", 0)
    shell = sim.SimShell(machine, "@sim/continue-test")
    asyncio.run(shell.run(f"printf 'B\\n' > {r}/b\n".encode(), b""))
    out, _ = asyncio.run(shell.run(script.encode(), b""))
    assert real.stdout == "have b\nB\ni=1\ni=3\ni=4\nend\n", real
    assert out.decode() == real.stdout
