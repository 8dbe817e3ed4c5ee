"""git.repo and git.config for real, on ``@local`` (this machine has git; the container test
image does not: it needs the ``git`` package): a local bare repository as ``origin``.

The cycle: apply -> the clone read back with git itself -> apply again: nothing changes ->
drift (a new commit pushed to origin; a setting changed by hand) -> ``--dry`` predicts exactly
the change -> apply brings it in. Then a branch switch and a tag checkout, each idempotent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_helpers import cli_env, require_pyinfra, run_deploy, write_deploy

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed here")

ENV = {
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/local/bin:/usr/bin:/bin",
}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=True).stdout


def _commit(work: Path, name: str) -> str:
    (work / name).write_text(name + "\n")
    git("add", name, cwd=work)
    git("commit", "-q", "-m", name, cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).strip()


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, Path]:
    """(the bare repository, a working clone that pushes to it): main with one commit,
    tag v1.0 on it, branch release one commit ahead."""
    bare = tmp_path / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    work = tmp_path / "author"
    git("clone", "-q", str(bare), str(work))
    git("checkout", "-q", "-b", "main", cwd=work)
    _commit(work, "one")
    git("tag", "v1.0", cwd=work)
    git("push", "-q", "origin", "v1.0", cwd=work)
    git("checkout", "-q", "-b", "release", cwd=work)
    _commit(work, "release-fix")
    git("push", "-q", "-u", "origin", "release", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    return bare, work


def _status(out: object, name: str) -> str:
    return out.statuses("@local")[name]  # type: ignore[attr-defined]


def test_repo_clone_pull_branch_tag(origin: tuple[Path, Path], tmp_path: Path) -> None:
    bare, author = origin
    dest = tmp_path / "deploy" / "app"

    def deploy(**kwargs: object) -> Path:
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return write_deploy(
            tmp_path,
            f"""
            from oxinfra.operations import git
            git.repo(name="app", src={str(bare)!r}, dest={str(dest)!r}{", " + args if args else ""})
            """,
        )

    first = deploy()
    one = run_deploy("@local", first)
    assert one.code == 0 and _status(one, "app") == "changed", one.describe()
    assert git("rev-parse", "HEAD", cwd=dest) == git("rev-parse", "main", cwd=author)
    assert git("symbolic-ref", "--short", "HEAD", cwd=dest) == "main\n"
    two = run_deploy("@local", first)
    assert two.code == 0 and _status(two, "app") == "unchanged", two.describe()

    # drift: origin moves on -> --dry says it changes, the apply pulls the new commit
    new = _commit(author, "two")
    dry = run_deploy("@local", first, dry=True)
    assert dry.code == 0 and _status(dry, "app") == "changed", dry.describe()
    assert git("rev-parse", "HEAD", cwd=dest).strip() != new  # --dry pulled nothing
    three = run_deploy("@local", first)
    assert three.code == 0 and _status(three, "app") == "changed", three.describe()
    assert git("rev-parse", "HEAD", cwd=dest).strip() == new
    assert _status(run_deploy("@local", first), "app") == "unchanged"

    # another branch: fetched, checked out, then nothing to do
    release = deploy(branch="release")
    out = run_deploy("@local", release)
    assert out.code == 0 and _status(out, "app") == "changed", out.describe()
    assert git("symbolic-ref", "--short", "HEAD", cwd=dest) == "release\n"
    assert git("rev-parse", "HEAD", cwd=dest) == git("rev-parse", "release", cwd=author)
    assert _status(run_deploy("@local", release), "app") == "unchanged"

    # a tag: a detached HEAD at its commit, never pulled, then nothing to do
    tag = deploy(branch="v1.0")
    out = run_deploy("@local", tag)
    assert out.code == 0 and _status(out, "app") == "changed", out.describe()
    assert git("rev-parse", "HEAD", cwd=dest) == git("rev-parse", "v1.0^{commit}", cwd=author)
    assert _status(run_deploy("@local", tag), "app") == "unchanged"


def test_repo_follows_a_moved_origin(origin: tuple[Path, Path], tmp_path: Path) -> None:
    bare, author = origin
    dest = tmp_path / "app"
    git("clone", "-q", str(bare), str(dest))
    moved = tmp_path / "moved.git"
    shutil.copytree(bare, moved)
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import git
        git.repo(name="app", src={str(moved)!r}, dest={str(dest)!r})
        """,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0 and _status(out, "app") == "changed", out.describe()
    assert git("config", "--get", "remote.origin.url", cwd=dest) == f"{moved}\n"
    assert _status(run_deploy("@local", deploy), "app") == "unchanged"


def test_config_in_a_repository(origin: tuple[Path, Path], tmp_path: Path) -> None:
    bare, _author = origin
    dest = tmp_path / "app"
    git("clone", "-q", str(bare), str(dest))
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import git
        git.config(name="prune", key="Fetch.Prune", value="true", repo={str(dest)!r})
        git.config(name="tags", key="remote.origin.fetch", value="+refs/tags/*:refs/tags/*",
                   multi_value=True, repo={str(dest)!r})
        """,
    )
    one = run_deploy("@local", deploy)
    assert one.code == 0 and one.statuses("@local") == {"prune": "changed", "tags": "changed"}, one.describe()
    assert git("config", "--get", "fetch.prune", cwd=dest) == "true\n"
    assert git("config", "--get-all", "remote.origin.fetch", cwd=dest).splitlines() == [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/tags/*:refs/tags/*",
    ]
    two = run_deploy("@local", deploy)
    assert two.code == 0 and set(two.statuses("@local").values()) == {"unchanged"}, two.describe()
    git("config", "fetch.prune", "false", cwd=dest)  # drift by hand
    dry = run_deploy("@local", deploy, dry=True)
    assert dry.statuses("@local") == {"prune": "changed", "tags": "unchanged"}, dry.describe()
    three = run_deploy("@local", deploy)
    assert three.statuses("@local") == {"prune": "changed", "tags": "unchanged"}, three.describe()
    assert git("config", "--get", "fetch.prune", cwd=dest) == "true\n"


def test_facts_equal_pyinfras(origin: tuple[Path, Path], tmp_path: Path) -> None:
    """The git facts of a clone (and of a missing directory), read by oxinfra and by pyinfra
    3.10 on @local: the same values (pyinfra where .ci/install puts it; under CI its absence
    fails)."""
    pyinfra = require_pyinfra()
    bare, _author = origin
    dest = tmp_path / "clone"
    git("clone", "-q", str(bare), str(dest))
    facts = [
        ("git.GitBranch", f"repo={dest}"),
        ("git.GitTag", f"repo={dest}"),
        ("git.GitConfig", f"repo={dest}"),
        ("git.GitTrackingBranch", f"repo={dest}"),
        ("git.GitLocalCommit", f"repo={dest}"),
        ("git.GitRemoteBranchCommit", f"repo={dest}"),
        ("git.GitRemoteBranchCommit", f"repo={dest} branch=release"),
        ("git.GitBranch", f"repo={tmp_path / 'none'}"),
        ("git.GitTag", f"repo={tmp_path / 'none'}"),
    ]
    for name, args in facts:
        words = args.split()
        proc = subprocess.run([pyinfra, "@local", "fact", name, *words], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-1000:]
        body = (proc.stdout + proc.stderr).split("--> Fact data for: ", 1)[1].split("\n", 1)[1]
        theirs = json.JSONDecoder().raw_decode(body.lstrip())[0]["@local"]
        ours = subprocess.run(
            [sys.executable, "-m", "oxinfra", "@local", "fact", name, *words, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=cli_env(),
        )
        assert ours.returncode == 0, ours.stderr[-1000:]
        value = list(json.loads(ours.stdout.strip().splitlines()[-1]).values())[0]["@local"]
        assert value == theirs, (name, args, value, theirs)


def test_branch_named_like_a_file_keeps_local_edits(origin: tuple[Path, Path], tmp_path: Path) -> None:
    """``branch="one"`` where no branch is called ``one`` but a file is: git reads
    ``checkout one`` as "restore the file" and throws a local edit away; ``checkout one --``
    fails instead, and the edit stays."""
    bare, _author = origin
    dest = tmp_path / "app"
    git("clone", "-q", str(bare), str(dest))
    (dest / "one").write_text("a local edit\n")
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import git
        git.repo(name="app", src={str(bare)!r}, dest={str(dest)!r}, branch="one")
        """,
    )
    out = run_deploy("@local", deploy)
    assert out.code != 0 and _status(out, "app") == "failed", out.describe()
    assert (dest / "one").read_text() == "a local edit\n"
    assert git("symbolic-ref", "--short", "HEAD", cwd=dest) == "main\n"


def test_a_branch_beside_a_longer_name_that_ends_like_it(origin: tuple[Path, Path], tmp_path: Path) -> None:
    """``git ls-remote origin main`` also lists ``refs/heads/archive/main``, first: its commit
    was taken for main's, which never equals the clone's, so every run pulled and reported a
    change. The fact picks ``refs/heads/main`` itself."""
    bare, author = origin
    git("checkout", "-q", "-b", "archive/main", cwd=author)
    _commit(author, "archived")
    git("push", "-q", "origin", "archive/main", cwd=author)
    git("checkout", "-q", "main", cwd=author)
    dest = tmp_path / "deploy" / "app"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import git
        git.repo(name="app", src={str(bare)!r}, dest={str(dest)!r}, branch="main")
        """,
    )
    assert _status(run_deploy("@local", deploy), "app") == "changed"
    assert git("rev-parse", "HEAD", cwd=dest) == git("rev-parse", "main", cwd=author)
    again = run_deploy("@local", deploy)
    assert again.code == 0 and _status(again, "app") == "unchanged", again.describe()
