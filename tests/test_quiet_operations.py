"""Quiet operations (``@operation(quiet=True)``: their commands print nothing when they
succeed) run with their stderr joined to their stdout and mark their end on stdout only, so
a host's changes round writes one marker per quiet operation instead of two. What they print
is reported as their stderr, and every other operation's stdout and stderr stay exactly its
own: these tests put quiet operations that print (a failure, a tool's warning) between loud
ones that print on both streams, on a real shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2e_helpers import run_deploy, write_deploy

FIXTURES = Path(__file__).resolve().parent / "operations"


def test_each_operation_keeps_its_own_output_around_quiet_ones(tmp_path: Path) -> None:
    # /proc takes no new directory, for root too: mkdir fails with its own words on stderr
    failing = "/proc/oxinfra-quiet-test"
    deploy = write_deploy(
        tmp_path,
        f"""
        from oxinfra.operations import files, server
        server.shell(name="loud 1", commands=["echo out-1; echo err-1 >&2"])
        files.directory(name="quiet ok", path={str(tmp_path / "made")!r})
        server.shell(name="loud 2", commands=["echo out-2; echo err-2 >&2"])
        files.directory(name="quiet fails", path={failing!r}, _ignore_errors=True)
        server.shell(name="loud 3", commands=["echo out-3; echo err-3 >&2"])
        """,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    loud = {n: out.op("@local", f"loud {n}") for n in (1, 2, 3)}
    for n, event in loud.items():
        assert event["status"] == "changed", out.describe()
        assert event["stdout"] == f"out-{n}\n" and event["stderr"] == f"err-{n}\n", event
    ok = out.op("@local", "quiet ok")
    assert ok["status"] == "changed" and not ok.get("stdout") and not ok.get("stderr"), ok
    failed = out.op("@local", "quiet fails")
    assert failed["status"] == "failed", failed
    assert "cannot create directory" in failed["stderr"] and not failed.get("stdout"), failed
    assert (tmp_path / "made").is_dir()


def test_what_a_quiet_operation_prints_on_stdout_is_reported_as_its_stderr(tmp_path: Path) -> None:
    """A user operation that breaks its promise (prints on success): nothing is lost or given
    to another operation, it is shown as its stderr."""
    (tmp_path / "chatty_ops.py").write_text(
        "from oxinfra.api import operation\n"
        "@operation(quiet=True)\n"
        "def chatty():\n"
        "    yield 'echo said-on-stdout; echo said-on-stderr >&2'\n"
    )
    deploy = write_deploy(
        tmp_path,
        """
        import chatty_ops
        from oxinfra.operations import server
        chatty_ops.chatty(name="chatty")
        server.shell(name="loud", commands=["echo out; echo err >&2"])
        """,
    )
    out = run_deploy("@local", deploy)
    assert out.code == 0, out.describe()
    chatty = out.op("@local", "chatty")
    assert chatty["stderr"] == "said-on-stdout\nsaid-on-stderr\n" and not chatty.get("stdout"), chatty
    loud = out.op("@local", "loud")
    assert loud["stdout"] == "out\n" and loud["stderr"] == "err\n", loud


def _quiet_operations() -> list[str]:
    from oxinfra.testing.plan import discover_operations

    return [name for name, func in discover_operations().items() if getattr(func.__wrapped__, "_oxinfra_quiet", False)]


QUIET = sorted(_quiet_operations())


def test_the_quiet_operations_are_found() -> None:
    # discovered, not listed: this names what the audit below runs today
    assert {"files.directory", "files.file", "files.put", "files.template", "files.line", "files.replace"} <= set(
        QUIET
    ), QUIET


@pytest.mark.parametrize("op", QUIET)
def test_a_quiet_operation_prints_nothing_when_it_succeeds(tmp_path: Path, op: str) -> None:
    """Every quiet operation, with each of its fixtures' arguments, applied on a real shell in
    a fresh directory, then again: no output either time (else it is not quiet)."""
    folder = FIXTURES / op
    cases = sorted(folder.glob("*.json"))
    assert cases, f"{op} has no fixture to take a call from"
    calls = []
    for k, case in enumerate(cases):
        args = dict(json.loads(case.read_text())["args"])
        root = tmp_path / f"case{k}"
        root.mkdir()
        for key, value in list(args.items()):
            if isinstance(value, str) and (
                value.startswith("/srv/") or key in ("path", "dest") and value.startswith("/")
            ):
                args[key] = str(root) + value  # moved into a fresh directory
            elif key == "src" and isinstance(value, str):
                args[key] = str(folder / value)
        others = [v for key, v in args.items() if key != "src" and isinstance(v, str)]
        if any(v.startswith("/") and not v.startswith(str(root)) for v in others) or (
            "src" in args and not Path(args["src"]).exists()
        ):
            continue  # names another place on the host (a link's target, a backup directory)
        for key in ("user", "group"):
            args.pop(key, None)
        calls.append((case.stem, args))
    assert calls, f"{op}: no fixture call could be placed in a directory"
    module, name = op.split(".")
    spoke = []
    for stem, args in calls:
        deploy = write_deploy(
            tmp_path, f"from oxinfra.operations import {module}\n{module}.{name}(name={stem!r}, **{args!r})\n"
        )
        for _ in range(2):
            out = run_deploy("@local", deploy)
            if out.code == 2:  # a fixture of a call refused before anything runs
                break
            event = out.op("@local", stem)
            if event["status"] != "failed" and (event.get("stdout") or event.get("stderr")):
                spoke.append((stem, event))
    assert not spoke, (op, spoke)
