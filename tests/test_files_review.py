"""Bugs a hostile review found in the file operations (and ``server.sysctl``/``server.mount``,
which edit files and paths), each reproduced on real files under a temporary directory through
``@local``: the first run does what is asked, the second changes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy


def deploy(tmp_path: Path, source: str) -> Path:
    return write_deploy(tmp_path, "from oxinfra.operations import files, server\n" + textwrap.dedent(source))


def twice(tmp_path: Path, source: str) -> None:
    """Run the deploy: "op" changes; again: it does not."""
    path = deploy(tmp_path, source)
    first = run_deploy("@local", path)
    assert first.code == 0, first.describe()
    assert first.statuses("@local") == {"op": "changed"}, first.describe()
    second = run_deploy("@local", path)
    assert second.code == 0, second.describe()
    assert second.statuses("@local") == {"op": "unchanged"}, second.describe()


# -- 1. server.sysctl(persist=True): every assignment of the key, indented or not ------------


def test_sysctl_persist_rewrites_every_assignment_of_the_key(tmp_path: Path) -> None:
    # kernel.ostype is "Linux" already: sysctl -w is never run, only the file is edited
    if subprocess.run(["sysctl", "-n", "kernel.ostype"], capture_output=True, text=True).stdout.strip() != "Linux":
        pytest.skip("kernel.ostype is not Linux here")
    conf = tmp_path / "99-test.conf"
    conf.write_text(
        "# kernel.ostype = Commented\nkernel.ostype = Foo\n  kernel.ostype = Bar\n\t-kernel.ostype=Baz\nx = 1\n"
    )
    twice(
        tmp_path,
        f"""
        server.sysctl(name="op", key="kernel.ostype", value="Linux", persist=True, persist_file={str(conf)!r})
        """,
    )
    assert conf.read_text() == (
        "# kernel.ostype = Commented\nkernel.ostype = Linux\nkernel.ostype = Linux\nkernel.ostype = Linux\nx = 1\n"
    )


# -- 2. files.sync(delete=True) through a dest that is a link --------------------------------


def test_sync_delete_through_a_dest_link(tmp_path: Path) -> None:
    src, real, dest = tmp_path / "src", tmp_path / "real", tmp_path / "dest"
    src.mkdir()
    (src / "keep.txt").write_text("keep\n")
    (real / "sub").mkdir(parents=True)
    (real / "keep.txt").write_text("keep\n")
    (real / "extra.txt").write_text("extra\n")
    (real / "sub" / "deep.txt").write_text("deep\n")
    dest.symlink_to(real)
    twice(tmp_path, f"files.sync(name='op', src={str(src)!r}, dest={str(dest)!r}, delete=True)\n")
    assert dest.is_symlink() and os.readlink(dest) == str(real)
    assert sorted(p.name for p in real.rglob("*")) == ["keep.txt", "sub"]


# -- 3. files.sync(delete=True): a remote name that is not UTF-8 -----------------------------


def test_sync_delete_removes_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.mkdir()
    (src / "keep.txt").write_text("keep\n")
    dest.mkdir()
    (dest / "keep.txt").write_text("keep\n")
    odd = os.path.join(os.fsencode(dest), b"x\xffy")
    with open(odd, "wb") as handle:
        handle.write(b"odd\n")
    os.symlink(b"/nowhere\xfe", os.path.join(os.fsencode(dest), b"l\xfe"))
    twice(tmp_path, f"files.sync(name='op', src={str(src)!r}, dest={str(dest)!r}, delete=True)\n")
    assert os.listdir(os.fsencode(dest)) == [b"keep.txt"]


# -- 4. files.link: a target that is not UTF-8 -----------------------------------------------


def test_link_to_a_target_that_is_not_utf8_converges(tmp_path: Path) -> None:
    link = tmp_path / "l"
    target = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"t\xff"))
    twice(tmp_path, f"files.link(name='op', path={str(link)!r}, target={target!r})\n")
    assert os.readlink(os.fsencode(link)) == os.fsencode(target)


# -- 5. files.template: jinja_env_kwargs with unhashable values ------------------------------


def test_template_with_a_list_of_extensions(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{% set items = [] %}{% do items.append(greeting) %}{{ items | join(',') }}\n")
    dest = tmp_path / "out"
    twice(
        tmp_path,
        f"""
        files.template(name="op", src={str(tmp_path / "t.j2")!r}, dest={str(dest)!r},
                       jinja_env_kwargs={{"extensions": ["jinja2.ext.do"]}}, greeting="hi")
        """,
    )
    assert dest.read_text() == "hi\n"


def test_template_cache_keys_options_by_value(tmp_path: Path) -> None:
    from oxinfra.operations.files.templates import _load_template

    path = tmp_path / "t.j2"
    path.write_text("x\n")
    mtime = path.stat().st_mtime
    one = _load_template(str(path), mtime, {"extensions": ["jinja2.ext.do"]})
    assert _load_template(str(path), mtime, {"extensions": ["jinja2.ext.do"]}) is one  # cached
    assert _load_template(str(path), mtime, {"extensions": ("jinja2.ext.do",)}) is not one
    assert "jinja2.ext.ExprStmtExtension" in one.environment.extensions

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, value: object) -> object:
            return value

    finalize = Unhashable()
    loaded = _load_template(str(path), mtime, {"finalize": finalize})  # not cached, still loaded
    assert loaded.environment.finalize is finalize and loaded.render() == "x\n"


# -- 6. files.replace(flags=["I"]): the check honours the flag -------------------------------


@pytest.mark.parametrize("flag", ["I", "i"])
def test_replace_case_insensitive(tmp_path: Path, flag: str) -> None:
    path = tmp_path / "f"
    path.write_text("Hello World\nnothing\n")
    twice(tmp_path, f"files.replace(name='op', path={str(path)!r}, text='hello', replace='bye', flags=[{flag!r}])\n")
    assert path.read_text() == "bye World\nnothing\n"


# -- 7. files.get: the local file's mode, and a link at dest ---------------------------------


@pytest.fixture
def umask_027() -> object:
    old = os.umask(0o027)
    try:
        yield None
    finally:
        os.umask(old)


def get_twice(tmp_path: Path, remote: Path, local: Path) -> None:
    twice(tmp_path, f"files.get(name='op', src={str(remote)!r}, dest={str(local)!r})\n")
    assert local.read_text() == "remote\n"


def test_get_new_file_gets_the_umask_mode(tmp_path: Path, umask_027: object) -> None:
    remote, local = tmp_path / "remote", tmp_path / "local"
    remote.write_text("remote\n")
    get_twice(tmp_path, remote, local)
    assert oct(local.stat().st_mode & 0o7777) == oct(0o640)


def test_get_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    remote, local = tmp_path / "remote", tmp_path / "local"
    remote.write_text("remote\n")
    local.write_text("old\n")
    local.chmod(0o664)
    get_twice(tmp_path, remote, local)
    assert oct(local.stat().st_mode & 0o7777) == oct(0o664)


def test_get_writes_where_a_local_link_leads(tmp_path: Path) -> None:
    remote, local, real = tmp_path / "remote", tmp_path / "local", tmp_path / "real"
    remote.write_text("remote\n")
    real.write_text("old\n")
    real.chmod(0o604)
    local.symlink_to("real")
    get_twice(tmp_path, remote, local)
    assert local.is_symlink() and os.readlink(local) == "real"
    assert real.read_text() == "remote\n" and oct(real.stat().st_mode & 0o7777) == oct(0o604)
    assert sorted(os.listdir(tmp_path)) == ["deploy.py", "local", "real", "remote"]


# -- 8. server.mount through a link to the mount point ---------------------------------------


def test_mount_through_a_link_mounts_once(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1)")
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real)
    path = deploy(tmp_path, f"server.mount(name='op', path={str(link)!r}, device='tmpfs', fs_type='tmpfs')\n")
    oxinfra = [sys.executable, "-m", "oxinfra", "--json", "@local", str(path), "-y"]
    # both runs in one private mount namespace: nothing is mounted on the machine itself
    script = " && ".join(
        [" ".join(oxinfra), "echo ===", " ".join(oxinfra), "echo ===", f"grep -c ' {real} ' /proc/self/mountinfo"]
    )
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m does not work here: {probe.stderr.decode().strip()}")
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first, second, count = done.stdout.split("===\n")
    assert '"status": "changed"' in first, first
    assert '"status": "unchanged"' in second, second
    assert count.strip() == "1"
