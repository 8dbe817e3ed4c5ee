#!/usr/bin/env python3
"""How many deploy files written for pyinfra 3 run under oxinfra with their imports changed.

    python benches/pyinfra_compat.py [--sdist PATH] [--extra DIR]... [--baseline PYINFRA]
                                     [--json OUT] [--keep DIR] [--timeout S]

Nothing of pyinfra's is committed here: at run time this fetches pyinfra 3.10.0's source
distribution from PyPI (``pip download --no-binary :all: --no-deps pyinfra==3.10.0`` into a
temporary directory; ``--sdist`` reuses a downloaded ``.tar.gz`` or an unpacked folder) and
collects its deploy files:

* the test deploys: every ``.py`` under ``tests/test_cli/deploy/`` that is a deploy (not
  ``inventories/``, ``group_data/`` or the helper module ``utils.py``), run from that folder
  on three simulated hosts named ``somehost``, ``anotherhost`` and ``someotherhost``, as
  pyinfra's own CLI tests run them (the deploys branch on those names; ``local.include``
  paths are relative to the folder); ``tests/test_cli/deploy_fails/`` (built to fail, run on
  ``@local --dry`` as pyinfra's tests do: one needs this folder's real files) and
  ``tests/typing/`` (deploys of the typing checks; ``invalid/`` is built to fail);
* the deploys of pyinfra's documentation: every Python code block under ``docs/`` that imports
  ``pyinfra`` (one file per block; a block whose first line is a comment naming a path, such
  as ``# tasks/web.py``, is written to that path next to the others of its page, so a page's
  ``local.include`` finds it). Blocks naming ``group_data/``, ``inventor*`` or ``config.py``
  are data, inventories or controller configuration, not deploys, and are not run. pyinfra
  3.10's sdist has no ``examples/`` folder any more (pyinfra's examples moved to a separate
  repository, which is not on PyPI); ``--extra DIR`` adds every ``.py`` of a folder of
  further deploys (for example a checkout of that repository), run from that folder;
* the examples of pyinfra's operation docstrings (``.. code:: python`` blocks in
  ``src/pyinfra/operations/*.py``): one deploy per operation, its family imported when the
  example does not import it.

Each file is copied to a temporary folder, ``pyinfra`` is rewritten to ``oxinfra`` wherever
it is a Python name (import statements and ``pyinfra.x`` references; strings such as a user
named "pyinfra" stay), and it is run as ``oxinfra @sim/compat FILE --dry`` (a simulated
host: no network, nothing on this machine changes; see ``oxinfra.testing.sim``). When an
operation fails there because the simulated host has no package manager, init system or
``/etc`` (exit status 1: the deploy itself ran), the file is planned again with
``oxinfra @local FILE --dry`` (this machine's real facts, read only) and noted so. A file that
calls ``local.shell`` would run commands on this machine, so it is listed as skipped, not run.

``--baseline PYINFRA`` also runs each original file with real pyinfra
(``PYINFRA @local FILE --dry -y``: reads facts of this machine, changes nothing), so a file
that fails in pyinfra itself (a documentation fragment, a deploy built to fail) is told apart
from one that fails only in oxinfra.

Prints one row per file (file, status, the first error line), then the totals and the
names whose absence stops files most often. Status: ``ran``; ``host`` (the deploy ran and
every call was accepted, but an operation failed on this machine's state as well, e.g.
``systemctl`` with no systemd as PID 1 -- pyinfra's ``--dry`` reads no operation facts, so
it does not see this); ``failed``; ``refused`` (oxinfra refuses the call by design and says
why, e.g. ``apt.key(keyserver=...)``); ``skipped``.
"""

from __future__ import annotations

import argparse
import ast
import collections
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VERSION = "3.10.0"
HOST = "@sim/compat"
TEST_HOSTS = ("somehost", "anotherhost", "someotherhost")
# Documentation pages whose Python is not deploy code: writing a connector, and driving
# pyinfra as a library (Config/State objects) -- listed as skipped, with this reason.
NOT_DEPLOY_PAGES = {
    "api/connectors": "writing a connector (pyinfra's connector API), not a deploy",
    "api/index": "pyinfra used as a Python library (Config, State), not a deploy",
}

# Blocks/files that are not deploys: inventories, group data, controller configuration.
NOT_A_DEPLOY = re.compile(r"(^|/)(group_data/|inventor[^/]*\.py$|config\.py$|utils\.py$)")
# The first line of a documentation block that names the file it shows.
NAMED_BLOCK = re.compile(r"^\s*#\s*([\w./-]+\.py)\s*$")
# oxinfra's refusals by design: the error says so; counted apart from what is missing.
REFUSED = re.compile(r"not supported by oxinfra|oxinfra does not|refuses|deliberately", re.I)


@dataclass
class Deploy:
    name: str  # shown in the table: where it comes from
    path: Path  # the rewritten copy
    cwd: Path  # run from here
    source: Path  # the original (for --baseline)
    expected_failure: str = ""  # why pyinfra itself fails it, when the file says so
    skip: str = ""
    inventory: str = ""  # default: one simulated host


@dataclass
class Result:
    name: str
    status: str  # ran | failed | refused | skipped
    error: str = ""
    missing: list[str] = field(default_factory=list)
    pyinfra: str = ""  # ran | failed | "" (no baseline)
    pyinfra_error: str = ""
    note: str = ""


def fetch_sdist(work: Path, sdist: str | None) -> Path:
    """The unpacked pyinfra sdist folder."""
    if sdist and Path(sdist).is_dir():
        return Path(sdist)
    if sdist:
        archive = Path(sdist)
    else:
        download = work / "download"
        download.mkdir()
        cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(download), f"pyinfra=={VERSION}"]
        subprocess.run(cmd, check=True)
        archive = next(download.glob("pyinfra-*.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(work / "sdist", filter="data")
    return next((work / "sdist").iterdir())


def rewrite(text: str) -> str:
    """``pyinfra`` -> ``oxinfra`` where it is a Python name (never inside strings)."""
    lines = text.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return re.sub(r"^(\s*(?:from|import)\s+)pyinfra\b", r"\1oxinfra", text, flags=re.M)
    # right to left within a line so earlier columns stay valid
    for tok in sorted(tokens, key=lambda t: (t.start[0], -t.start[1])):
        if tok.type == tokenize.NAME and tok.string == "pyinfra":
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col] + "oxinfra" + line[col + len("pyinfra") :]
    return "".join(lines)


def doc_blocks(markdown: str) -> list[str]:
    blocks, current, fence = [], None, False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence:
                if current is not None:
                    blocks.append("\n".join(current) + "\n")
                current, fence = None, False
            else:
                fence = True
                current = [] if stripped[3:].strip().lower() in ("python", "py") else None
            continue
        if fence and current is not None:
            current.append(line)
    return blocks


def rst_code_blocks(doc: str) -> list[str]:
    """The ``.. code:: python`` blocks of a reStructuredText docstring, dedented."""
    blocks, lines = [], doc.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() in (".. code:: python", ".. code-block:: python"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            body, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)).strip("\n") + "\n")
        else:
            i += 1
    return blocks


def collect(sdist: Path, out: Path, extras: list[Path]) -> list[Deploy]:
    deploys: list[Deploy] = []

    def add_tree(src: Path, dest: Path, label: str, pick, expected: str = "", inventory: str = "") -> None:
        shutil.copytree(src, dest)
        shutil.copytree(src, out / "originals" / dest.relative_to(out))  # for --baseline
        for path in sorted(dest.rglob("*.py")):
            rel = path.relative_to(dest).as_posix()
            original = out / "originals" / dest.relative_to(out) / rel
            path.write_text(rewrite(path.read_text()))
            if pick(rel):
                deploys.append(Deploy(f"{label}/{rel}", path, dest, original, expected, inventory=inventory))

    tests = sdist / "tests"
    # pyinfra's CLI tests run these on hosts named somehost, anotherhost and someotherhost
    # (the deploys branch on those names): here, three simulated hosts of those names.
    out.mkdir(parents=True, exist_ok=True)
    inventory = out / "test_cli_inventory.py"
    inventory.write_text("hosts = [" + ", ".join(f'("{n}", {{"connector": "sim"}})' for n in TEST_HOSTS) + "]\n")
    add_tree(
        tests / "test_cli" / "deploy",
        out / "deploy",
        "tests/test_cli/deploy",
        lambda rel: not NOT_A_DEPLOY.search(rel),
        inventory=str(inventory),
    )
    add_tree(
        tests / "test_cli" / "deploy_fails",
        out / "deploy_fails",
        "tests/test_cli/deploy_fails",
        lambda rel: True,
        expected="built to fail: pyinfra's CLI tests expect an error",
        inventory="@local",  # as pyinfra's test: the error needs this folder's real files (--dry reads only)
    )
    add_tree(tests / "typing", out / "typing", "tests/typing", lambda rel: True)
    for d in deploys:
        if d.name.startswith("tests/typing/invalid/"):
            d.expected_failure = "built to fail: pyinfra's typing checks expect an error"

    for page in sorted((sdist / "docs").rglob("*.md")):
        blocks = [b for b in doc_blocks(page.read_text()) if re.search(r"\bpyinfra\b", b)]
        if not blocks:
            continue
        page_rel = page.relative_to(sdist / "docs").with_suffix("").as_posix()
        folder = out / "docs" / page_rel.replace("/", "__")
        folder.mkdir(parents=True)
        for n, block in enumerate(blocks, 1):
            first = block.lstrip("\n").splitlines()[0] if block.strip() else ""
            named = NAMED_BLOCK.match(first)
            rel = named.group(1).lstrip("./") if named else f"block{n:02d}.py"
            if not re.search(r"^\s*(from|import)\s+pyinfra\b", block, re.M):
                continue  # mentions pyinfra in prose/strings only: not a deploy
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rewrite(block))
            original = out / "originals" / page_rel / rel
            original.parent.mkdir(parents=True, exist_ok=True)
            original.write_text(block)
            if NOT_A_DEPLOY.search(rel):
                continue
            deploy = Deploy(f"docs/{page_rel}.md#{n}({rel})", target, folder, original)
            if re.search(r"\blocal\.shell\(", block):
                deploy.skip = "calls local.shell: would run commands on this machine"
            deploy.skip = NOT_DEPLOY_PAGES.get(page_rel, deploy.skip)
            deploys.append(deploy)
    # The examples in pyinfra's operation docstrings (``.. code:: python`` blocks of each
    # operation in src/pyinfra/operations/): one deploy per operation, the family imported
    # when the block does not import it itself.
    for module in sorted((sdist / "src" / "pyinfra" / "operations").glob("*.py")):
        family = module.stem
        if family.startswith("_"):
            continue
        folder = out / "operations" / family
        tree = ast.parse(module.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            blocks = rst_code_blocks(ast.get_docstring(node) or "")
            if not blocks:
                continue
            code = "\n".join(blocks)
            if not re.search(rf"^\s*from pyinfra\.operations import .*\b{family}\b", code, re.M):
                code = f"from pyinfra.operations import {family}\n\n{code}"
            rel = f"{family}.{node.name}.py"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(rewrite(code))
            original = out / "originals" / "operations" / family / rel
            original.parent.mkdir(parents=True, exist_ok=True)
            original.write_text(code)
            deploys.append(Deploy(f"operations/{family}.{node.name}", folder / rel, folder, original))
    for extra in extras:
        add_tree(
            extra,
            out / "extra" / extra.name,
            extra.name,
            lambda rel: not NOT_A_DEPLOY.search(rel),
        )
    return deploys


ERROR_LINE = re.compile(r"(error|exception|traceback|failed)", re.I)


def first_error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("oxinfra: error:") or line.startswith("--> pyinfra error:"):
            return line
    # a Python traceback: its last line is the error
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            tail = [x for x in lines[i:] if not x.startswith(("File ", "^", "~"))]
            return tail[-1] if tail else line
    for line in lines:
        if ERROR_LINE.search(line) and "0 failed" not in line:
            return line
    return lines[-1] if lines else ""


MISSING = [
    (re.compile(r"cannot import name '(\w+)' from '([\w.]+)'"), lambda m: f"{m[2]}.{m[1]}"),
    (re.compile(r"No module named '([\w.]+)'"), lambda m: m[1]),
    (re.compile(r"module '([\w.]+)' has no attribute '(\w+)'"), lambda m: f"{m[1]}.{m[2]}"),
    (re.compile(r"'(\w+)' object has no attribute '(\w+)'"), lambda m: f"{m[1]}.{m[2]}"),
    (re.compile(r"([\w.]+)\(\): unknown (?:global )?argument '(\w+)'"), lambda m: f"{m[1]}({m[2]}=)"),
    (re.compile(r"([\w.]+)\(\) got an unexpected keyword argument '(\w+)'"), lambda m: f"{m[1]}({m[2]}=)"),
    (re.compile(r"name '(\w+)' is not defined"), lambda m: f"(undefined name) {m[1]}"),
]


def missing_names(error: str) -> list[str]:
    names = []
    for pattern, fmt in MISSING:
        for m in pattern.finditer(error):
            names.append(fmt(m).replace("oxinfra.", "", 1) if fmt(m).startswith("oxinfra.") else fmt(m))
    return names


def run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    env = dict(os.environ, NO_COLOR="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("OXINFRA_SHARDS", None)
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f}s"
    return proc.returncode, proc.stderr + "\n" + proc.stdout


def measure(deploys: list[Deploy], oxinfra: list[str], baseline: str | None, timeout: float) -> list[Result]:
    results = []
    for d in deploys:
        if d.skip:
            results.append(Result(d.name, "skipped", d.skip))
            continue
        state = d.cwd / ".oxinfra-compat-state.json"
        cmd = [*oxinfra, d.inventory or HOST, str(d.path.relative_to(d.cwd)), "--dry", "--state-file", str(state)]
        code, output = run(cmd, d.cwd, timeout)
        result: Result | None = None
        if code == 1 and not d.inventory:
            # The deploy ran, but an operation failed on the simulated host, which has no
            # package manager, init system or /etc: planned again on this machine's real
            # facts (@local --dry: reads, changes nothing).
            cmd[cmd.index(HOST)] = "@local"
            code, output = run(cmd, d.cwd, timeout)
            if code == 0:
                result = Result(d.name, "ran", note="on @local: the simulated host lacks what it reads")
            elif code == 1:
                # The deploy ran and every call was accepted; an operation failed on this
                # machine's own state too (e.g. systemctl with no systemd as PID 1).
                result = Result(d.name, "host", first_error(output))
        if result is not None:
            pass
        elif code == 0:
            result = Result(d.name, "ran")
        else:
            error = first_error(output)
            status = "refused" if REFUSED.search(error) else "failed"
            result = Result(d.name, status, error, missing_names(error))
        if d.expected_failure:
            result.note = d.expected_failure
        if baseline and d.inventory and d.name.startswith("tests/"):
            # pyinfra's own CLI tests run these (on a fake connector): not repeated here
            result.pyinfra = "failed" if d.expected_failure else "ran"
            result.pyinfra_error = d.expected_failure
        elif baseline:
            original = d.source
            folder = original.parent
            for _ in Path(d.path.relative_to(d.cwd)).parts[1:]:
                folder = folder.parent  # run from the original's folder of the same level
            code, output = run([baseline, "@local", str(original.relative_to(folder)), "--dry", "-y"], folder, timeout)
            result.pyinfra = "ran" if code == 0 else "failed"
            if code:
                result.pyinfra_error = first_error(output)
        results.append(result)
    return results


def report(results: list[Result], baseline: bool) -> str:
    out = []
    width = max(len(r.name) for r in results)
    head = f"{'file':<{width}}  {'oxinfra':<8}"
    if baseline:
        head += f"  {'pyinfra':<8}"
    out.append(head + "  first error")
    for r in results:
        row = f"{r.name:<{width}}  {r.status:<8}"
        if baseline:
            row += f"  {r.pyinfra or '-':<8}"
        text = r.error or ""
        if r.note:
            text = f"{text}  [{r.note}]" if text else f"[{r.note}]"
        if baseline and r.status != "ran" and r.pyinfra == "failed":
            text += f"  [pyinfra: {r.pyinfra_error[:120]}]"
        out.append(f"{row}  {text[:240]}")
    out.append("")

    def category(r: Result) -> str:
        first = r.name.split("/", 1)[0]
        return {
            "tests": "pyinfra's test deploys",
            "docs": "pyinfra's documentation",
            "operations": "pyinfra's operation docstring examples",
        }.get(first, "--extra " + first)

    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(category(r), []).append(r)
    groups["total"] = results
    for label, rows in groups.items():
        counts = collections.Counter(r.status for r in rows)
        local = sum(1 for r in rows if r.status == "ran" and r.note.startswith("on @local"))
        line = (
            f"{label}: {len(rows)} files: {counts['ran']} ran ({local} of them on @local), "
            f"{counts['host']} failed on this machine's state (every call accepted), {counts['failed']} failed, "
            f"{counts['refused']} refused by design, {counts['skipped']} skipped"
        )
        if baseline:
            both = [r for r in rows if r.status != "skipped" and r.pyinfra == "ran"]
            line += f"; of the {len(both)} that pyinfra {VERSION} runs: {sum(r.status == 'ran' for r in both)} ran"
        out.append(line)
    counted = [r for r in results if not baseline or r.pyinfra == "ran"]
    names = collections.Counter(n for r in counted for n in dict.fromkeys(r.missing))
    if names:
        where = " that pyinfra runs" if baseline else ""
        out.append(f"most frequent missing names (files{where} stopped by each):")
        for name, count in names.most_common():
            out.append(f"  {count:3d}  {name}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", help="pyinfra sdist (.tar.gz or unpacked folder) instead of downloading")
    parser.add_argument("--extra", action="append", default=[], type=Path, help="a folder of more deploys")
    parser.add_argument("--baseline", help="a pyinfra executable: also run each original file with it")
    parser.add_argument("--oxinfra", default=f"{sys.executable} -m oxinfra", help="how to run oxinfra")
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--keep", type=Path, help="copy the rewritten files here (to rerun one by hand)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pyinfra-compat-") as tmp:
        work = Path(tmp)
        sdist = fetch_sdist(work, args.sdist)
        deploys = collect(sdist, work / "deploys", args.extra)
        results = measure(deploys, args.oxinfra.split(), args.baseline, args.timeout)
        if args.keep:
            shutil.copytree(work / "deploys", args.keep, dirs_exist_ok=True)
    print(report(results, bool(args.baseline)))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
