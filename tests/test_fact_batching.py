"""Facts read in a batch must come back exactly as each fact's own command prints them:
guards re-run the fact's own command and compare raw output."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from oxinfra import _core
from oxinfra._engine import hostrun
from oxinfra.api.facts import FactFailed, FactRequest
from oxinfra._engine.run import run
from oxinfra._engine.script import FactScript, ScriptBuilder, StatBatch, new_nonce, prelude
from oxinfra.exceptions import OutputParseError
from oxinfra.inventory import load_inventory
from oxinfra.facts.files import Directory, File, Link, Md5File, Sha1File, Sha256File, Socket
from oxinfra.testing import sim
from oxinfra.testing.sim import interp as sim_interp


def _run_script(builder: ScriptBuilder, nonce: str) -> dict[int, tuple[int | None, bytes]]:
    out = subprocess.run(["sh"], input=builder.build(), capture_output=True, check=True).stdout
    sections, _, done = _core.demux(out, nonce)
    assert done
    return {i: (status, data) for i, status, data in sections}


def _own(request: FactRequest) -> tuple[bytes, int]:
    done = subprocess.run(["sh", "-c", request.command], capture_output=True)
    return done.stdout, done.returncode


def test_stat_batch_equals_each_fact_command(tmp_path: Path) -> None:
    names = ["plain", "with space", "it's", 'dq"x', "pipe|name", "ünï", "-dash", "$(id)"]
    paths = []
    for i, name in enumerate(names):
        path = tmp_path / name
        if i % 3 == 0:
            path.write_text("x")
        elif i % 3 == 1:
            path.mkdir()
        else:
            os.symlink(f"/target/{name}", path)
        paths.append(str(path))
    paths.append(str(tmp_path / "missing"))
    requests = [FactRequest(cls, {"path": p}, ()) for p in paths for cls in (File, Directory, Link, Socket)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    assert sum(isinstance(owner, StatBatch) for owner in builder.sections) == 1
    results = builder.fact_results(_run_script(builder, nonce))
    assert len(results) == len(requests)
    for request, stdout, rc in results:
        assert (stdout, rc) == _own(request), request
        assert request.fact.parse(stdout, rc) == request.fact.parse(*_own(request))


def test_paths_with_newlines_are_read_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "new\nline"
    path.write_text("x")
    request = FactRequest(File, {"path": str(path)}, ())
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts([request])
    assert not any(isinstance(owner, StatBatch) for owner in builder.sections)
    [(got, stdout, rc)] = builder.fact_results(_run_script(builder, nonce))
    assert got is request and (stdout, rc) == _own(request)
    assert request.fact.parse(stdout, rc)["size"] == 1


def _forged_link(tmp_path: Path, nonce: str) -> Path:
    """A link whose target forges the end of its block in a batched stat: readlink prints
    the target, then the real end line follows."""
    path = tmp_path / "forged"
    os.symlink(f"x\n@@R-{nonce}-oops", path)
    return path


def test_forged_link_block_is_an_error_not_absent(tmp_path: Path) -> None:
    """A malformed link section (here: forged by a link target) is an OutputParseError, never
    a path that reads as absent; every fact's own command is unaffected."""
    nonce = new_nonce()
    path = _forged_link(tmp_path, nonce)
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts([FactRequest(Link, {"path": str(path)}, ()), FactRequest(File, {"path": str(tmp_path)}, ())])
    sections = _run_script(builder, nonce)
    with pytest.raises(OutputParseError, match=r'^cannot parse batched stat output: readlink exit status "oops"'):
        builder.fact_results(sections)


def _run_with_nonce(monkeypatch: pytest.MonkeyPatch, nonce: str, deploy: Path, hosts: str) -> Any:
    # Hosts draw their nonce at random; fixed here so that a file on the host can forge one.
    monkeypatch.setattr(hostrun, "new_nonce", lambda: nonce)
    return run(load_inventory(hosts), [str(deploy)])


@pytest.mark.parametrize("when", ["planning", "evaluation"])
def test_malformed_stat_section_fails_that_host_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The forged link read while planning (the host's first fact batch) or while the deploy
    is evaluated (a deploy that reads facts itself): that host ends with status error, the
    link is left alone, the other host finishes."""
    nonce = new_nonce()
    path = _forged_link(tmp_path, nonce)
    read = f"host.get_fact(Link, path={str(path)!r})" if when == "evaluation" else "None"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra import host\n"
        "from oxinfra.facts.files import Link\n"
        "from oxinfra.operations import files\n"
        f"{read}\n"
        f"files.link(name='link', path={str(path)!r} if host.name == '@local' else '/l', target='/t')\n"
    )
    other = f"@sim/stat-{when}"  # simulated machines live as long as the process: one per test
    result = _run_with_nonce(monkeypatch, nonce, deploy, f"@local,{other}")
    bad, good = result.hosts["@local"], result.hosts[other]
    assert bad.status == "error" and bad.error.startswith("cannot parse batched stat output: "), bad.summary()
    assert 'readlink exit status "oops"' in bad.error and "\n" not in bad.error
    if when == "planning":  # (a host whose evaluation failed has no operations)
        assert [op["status"] for op in bad.ops] == ["not run"], bad.ops  # what it did not get to
    assert (good.status, good.counts()["changed"]) == ("success", 1), good.ops
    assert os.readlink(path) == f"x\n@@R-{nonce}-oops"


def test_fact_section_marked_stale_is_an_error() -> None:
    """Fact sections end with an exit status; one marked stale (only a forged marker can do
    that) is an OutputParseError, not a fact that failed."""
    request = FactRequest(File, {"path": "/a\nb"}, ())  # not batchable: its own section
    builder = ScriptBuilder(new_nonce())
    builder.add_facts([request])
    [index] = [i for i, owner in enumerate(builder.sections) if owner is request]
    assert builder.fact_results({index: (0, b"")}) == [(request, b"", 0)]
    with pytest.raises(OutputParseError, match="fact files.File ended as stale"):
        builder.fact_results({index: (None, b"")})


def _run_both(
    builder: ScriptBuilder, nonce: str, env: dict[str, str] | None = None, cwd: Path | None = None, head: bytes = b""
) -> tuple[dict[int, tuple[int | None, bytes]], dict[int, bytes]]:
    """Run the script in a real sh (``head``: text before it, e.g. the prelude of the shell's
    first script); its sections on stdout and on stderr."""
    done = subprocess.run(["/bin/sh"], input=head + builder.build(), capture_output=True, check=True, env=env, cwd=cwd)
    sections, _, finished = _core.demux(done.stdout, nonce)
    err_sections, _, _ = _core.demux(done.stderr, nonce)
    assert finished
    return {i: (status, data) for i, status, data in sections}, {i: data for i, _, data in err_sections}


def _fake_stat(tmp_path: Path, status: int, message: str) -> dict[str, str]:
    """An environment whose ``stat`` logs its arguments, prints ``message`` and exits ``status``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "stat").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/stat.log\necho {message!r} >&2\nexit {status}\n')
    (bin_dir / "stat").chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def _own_in(request: FactRequest, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[bytes, int]:
    done = subprocess.run(["/bin/sh", "-c", request.command], capture_output=True, env=env, cwd=cwd)
    return done.stdout, done.returncode


@pytest.mark.parametrize(
    "status,message", [(1, "stat: illegal option -- c"), (127, "sh: stat: not found")], ids=["bsd-stat", "no-stat"]
)
def test_a_stat_that_cannot_run_fails_every_path_not_proven_absent(tmp_path: Path, status: int, message: str) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    env = _fake_stat(tmp_path, status, message)
    paths = {"file": 2, "dir": 2, "missing": 1, "dir/missing/deeper": 1, "file/under": 2}
    requests = [FactRequest(cls, {"path": str(tmp_path / p)}, ()) for p in paths for cls in (File, Directory)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    sections, errors = _run_both(builder, nonce, env)
    stderr = builder.fact_errors(errors)
    for request, stdout, rc in builder.fact_results(sections):
        want = paths[request.kwargs["path"][len(str(tmp_path)) + 1 :]]
        assert (stdout, rc) == (b"", want) == _own_in(request, env), request
        if rc == 2:  # a failure, with what stat said
            assert message.encode() in stderr[request.key], request
            with pytest.raises(FactFailed):
                request.fact.parse(stdout, rc)
        else:
            assert request.fact.parse(stdout, rc) is None
    # one stat (its format starts with %n) for the paths not proven absent
    batch = [line for line in (tmp_path / "stat.log").read_text().splitlines() if line.startswith("-c %n|")]
    assert len(batch) == 1 and batch[0].endswith(f"-- {tmp_path}/file {tmp_path}/dir {tmp_path}/file/under"), batch


def test_a_batch_of_absent_paths_runs_no_stat(tmp_path: Path) -> None:
    env = _fake_stat(tmp_path, 1, "stat: must not run")
    requests = [FactRequest(File, {"path": str(tmp_path / p)}, ()) for p in ("a", "b/c", "b/c/d/")]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    sections, _ = _run_both(builder, nonce, env)
    assert [(stdout, rc) for _, stdout, rc in builder.fact_results(sections)] == [(b"", 1)] * 3
    assert not (tmp_path / "stat.log").exists()


def test_each_failing_path_gets_the_stat_lines_that_name_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.symlink("loop", tmp_path / "loop")
    under_file, in_loop, fine = str(tmp_path / "file/x"), str(tmp_path / "loop/x"), str(tmp_path / "file")
    requests = [FactRequest(File, {"path": p}, ()) for p in (under_file, in_loop, fine)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    sections, errors = _run_both(builder, nonce)
    stderr = builder.fact_errors(errors)
    results = {r.kwargs["path"]: (stdout, rc) for r, stdout, rc in builder.fact_results(sections)}
    assert results[under_file] == (b"", 2) and results[in_loop] == (b"", 2) and results[fine][1] == 0
    assert b"Not a directory" in stderr[requests[0].key] and b"levels of symbolic links" not in stderr[requests[0].key]
    assert b"levels of symbolic links" in stderr[requests[1].key] and b"Not a directory" not in stderr[requests[1].key]


def test_a_failing_path_does_not_take_the_lines_of_a_longer_one(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    short, long = str(tmp_path / "file/x"), str(tmp_path / "file/x/y")
    requests = [FactRequest(File, {"path": p}, ()) for p in (short, long)]
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    _, errors = _run_both(builder, nonce)
    stderr = builder.fact_errors(errors)
    assert stderr[requests[0].key].count(b"\n") == 1 and b"/x/y'" not in stderr[requests[0].key], stderr
    assert b"/x/y'" in stderr[requests[1].key]


# --------------------------------------------------------------------------------------------
# Hash facts: one sha1sum (sha256sum, ...) per class for all the regular files of a batch
# --------------------------------------------------------------------------------------------

_AWKWARD = ["plain", "with space", "it's", 'dq"x', "$(id)", "-dash", "ünï", "a*b", "pipe|name"]


def _logged_hashers(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose hash programs log their arguments (a line per process) and run
    the real program."""
    bin_dir, log = tmp_path / "bin", tmp_path / "hash.log"
    bin_dir.mkdir()
    for name in ("sha1sum", "sha256sum", "md5sum"):
        real = shutil.which(name)
        assert real
        (bin_dir / name).write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\nexec {real} "$@"\n')
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


def _hash_requests(paths: list[str], classes: tuple[type, ...] = (Sha1File, Sha256File)) -> list[FactRequest]:
    return [FactRequest(cls, {"path": p}, ()) for cls in classes for p in paths]


def _builder(requests: list[FactRequest]) -> tuple[ScriptBuilder, str, str]:
    nonce = new_nonce()
    builder = ScriptBuilder(nonce, first=True)
    builder.add_facts(requests)
    return builder, nonce, "".join(builder.parts)


def test_hash_batch_equals_each_fact_command(tmp_path: Path) -> None:
    """Regular files with awkward names: ONE sha1sum and ONE sha256sum process, and each fact
    gets exactly what its own command prints."""
    files = tmp_path / "files"
    files.mkdir()
    paths, contents = [], {}
    for i, name in enumerate(_AWKWARD):
        data = f"content {i}\n".encode() * i
        (files / name).write_bytes(data)
        paths.append(str(files / name))
        contents[paths[-1]] = data
    env, log = _logged_hashers(tmp_path)
    requests = _hash_requests(paths, (Sha1File, Sha256File, Md5File))
    builder, nonce, text = _builder(requests)
    assert text.count("sha1sum --") == text.count("sha256sum --") == text.count("md5sum --") == 1, text
    sections, errors = _run_both(builder, nonce, env)
    ran = log.read_text().splitlines()
    assert sorted(line.split(" ", 2)[:2] for line in ran) == [["md5sum", "--"], ["sha1sum", "--"], ["sha256sum", "--"]]
    assert not builder.fact_errors(errors)
    results = builder.fact_results(sections)
    assert [r for r, _, _ in results] == requests
    for request, stdout, rc in results:
        assert (stdout, rc) == _own_in(request, env), request
        want = hashlib.new(request.cls.algorithm, contents[request.kwargs["path"]]).hexdigest()
        assert request.fact.parse(stdout, rc) == want


def test_hash_batch_of_files_not_all_regular_runs_each_own_command(tmp_path: Path) -> None:
    """A path proven absent, a directory, a path under a file (not provably absent), a link to
    a file and regular files: the batch is not tried (each fact's own command runs, with its
    own status and stderr)."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").write_text("y")
    (tmp_path / "dir").mkdir()
    os.symlink("file", tmp_path / "link")
    names = {"file": 0, "missing": 0, "dir": 0, "file/under": 2, "link": 0, "other": 0}
    env, log = _logged_hashers(tmp_path)
    requests = _hash_requests([str(tmp_path / n) for n in names])
    builder, nonce, text = _builder(requests)
    assert text.count("sha1sum --") == 1
    sections, errors = _run_both(builder, nonce, env)
    assert all(" -- " not in line for line in log.read_text().splitlines())  # only the own commands ran
    stderr = builder.fact_errors(errors)
    for request, stdout, rc in builder.fact_results(sections):
        own = _own_in(request, env)
        assert (stdout, rc) == own and rc == names[request.kwargs["path"][len(str(tmp_path)) + 1 :]], request
        assert (b"not provably absent" in stderr.get(request.key, b"")) == (rc == 2)


@pytest.mark.skipif(not os.path.isfile("/proc/self/mem"), reason="needs /proc/self/mem")
def test_hash_batch_with_a_file_the_program_cannot_read(tmp_path: Path) -> None:
    """A regular file that the first program fails to read (even as root): the batch fails
    and each fact's own command runs (which goes on to the next program)."""
    (tmp_path / "file").write_text("x")
    requests = _hash_requests([str(tmp_path / "file"), "/proc/self/mem"])
    builder, nonce, _ = _builder(requests)
    sections, _ = _run_both(builder, nonce)
    for request, stdout, rc in builder.fact_results(sections):
        assert (stdout, rc) == _own_in(request), request


@pytest.mark.parametrize("programs", [(), ("shasum",)], ids=["none", "shasum-only"])
def test_hash_batch_without_the_program_gives_each_own_commands_answer(
    tmp_path: Path, programs: tuple[str, ...]
) -> None:
    """No sha1sum/sha256sum on the PATH: the batch fails (127) and each own command runs, with
    today's answer (the next program's digest, or its failure)."""
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in programs:
        real = shutil.which(name)
        assert real
        os.symlink(real, bin_dir / name)
    env = {"PATH": str(bin_dir), "LC_ALL": "C"}
    requests = _hash_requests([str(tmp_path / "a"), str(tmp_path / "b")])
    builder, nonce, text = _builder(requests)
    assert text.count("sha1sum --") == 1
    sections, errors = _run_both(builder, nonce, env)
    stderr = builder.fact_errors(errors)
    for request, stdout, rc in builder.fact_results(sections):
        assert (stdout, rc) == _own_in(request, env), request
        if programs:
            assert rc == 0 and request.fact.parse(stdout, rc)
        else:
            assert rc == 127 and b"not found" in stderr[request.key], request


def test_hash_facts_that_are_not_batched(tmp_path: Path) -> None:
    """Names GNU sha1sum would escape (backslash, CR), ``-`` (stdin to sha1sum), and a class
    with one request: each fact's own command, as before."""
    names = ["back\\slash", "carriage\rreturn", "-"]
    for name in names:
        (tmp_path / name).write_text(name)
    requests = [FactRequest(Sha1File, {"path": name}, ()) for name in names]
    requests.append(FactRequest(Sha256File, {"path": "-"}, ()))
    builder, nonce, text = _builder(requests)
    assert "sum --" not in text and text.count("sha1sum <") == 3
    sections, _ = _run_both(builder, nonce, cwd=tmp_path)
    results = builder.fact_results(sections)
    assert len(results) == len(requests)
    for request, stdout, rc in results:
        assert (stdout, rc) == _own_in(request, cwd=tmp_path), request
        digest = hashlib.new(request.cls.algorithm, request.kwargs["path"].encode()).hexdigest()
        assert request.fact.parse(stdout, rc) == digest


def test_hash_batch_in_shared_fact_scripts_refetch_chains_and_after_blocks(tmp_path: Path) -> None:
    """The batch where _fact_lines goes: a FactScript shared by hosts (no nonce in its text;
    its output collected in the shell), the functions of a refetch chain, the facts read
    after the operations."""
    paths = []
    for name in ("one", "two", "three"):
        (tmp_path / name).write_text(name)
        paths.append(str(tmp_path / name))
    requests = _hash_requests(paths)
    shared = FactScript(requests, first=True)
    assert "0" * 24 not in shared.text and shared.text.count("sha1sum --") == 1 and shared.capture
    nonce = new_nonce()
    first = ScriptBuilder(nonce, first=True)
    shared.add_to(first)
    second = ScriptBuilder(nonce)
    second.add_refetch_chain([(0, requests[:2]), (1, requests[2:])])
    second.add_operation("ok", "true", [], False)
    second.add_after(requests[::-1])
    second.add_operation("stale", "true", [(requests[0], b"not what it was", 0)], False, on_stale="__ox_f0")
    text = "".join(second.parts)
    assert text.count("sha1sum --") == 2 and text.count("sha256sum --") == 2  # (a function's one request: its own)
    for builder, head in ((first, b""), (second, prelude(nonce).encode())):
        sections, errors = _run_both(builder, nonce, head=head)
        results = builder.fact_results(sections)
        assert len(results) == (len(requests) if builder is first else 2 * len(requests))
        assert not builder.fact_errors(errors)
        for request, stdout, rc in results:
            assert (stdout, rc) == _own_in(request), request


def test_hash_batch_on_sim_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files.put on simulated hosts, twice: the second run changes nothing and reads both
    digests with ONE sha1sum per host."""
    names = ["@sim/hash-batch-a", "@sim/hash-batch-b"]
    sim.reset([name.split("/", 1)[1] for name in names])
    (tmp_path / "a.conf").write_text("a = 1\n")
    (tmp_path / "b.conf").write_text("b = 2\n")
    deploy = tmp_path / "deploy.py"
    deploy.write_text(
        "from oxinfra.operations import files\n"
        f"files.put(name='a', src={str(tmp_path / 'a.conf')!r}, dest='/tmp/a.conf')\n"
        f"files.put(name='b', src={str(tmp_path / 'b.conf')!r}, dest=\"/tmp/b it's.conf\")\n"
    )
    calls: list[list[str]] = []
    real = sim_interp._BUILTINS["sha1sum"]

    def sha1sum(sh: Any, argv: list[str]) -> int:
        calls.append(argv)
        return real(sh, argv)

    monkeypatch.setitem(sim_interp._BUILTINS, "sha1sum", sha1sum)
    inventory = load_inventory(",".join(names))
    first = run(inventory, [str(deploy)])
    assert all(first.hosts[n].counts()["changed"] == 2 for n in names), first
    calls.clear()
    second = run(inventory, [str(deploy)])
    for name in names:
        assert [op["status"] for op in second.hosts[name].ops] == ["unchanged", "unchanged"], second.hosts[name].ops
    assert calls == [["sha1sum", "--", "/tmp/a.conf", "/tmp/b it's.conf"]] * 2, calls
