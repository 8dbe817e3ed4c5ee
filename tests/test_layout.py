"""The package layout holds: no import cycles, the author API does not pull in the engine,
operations and facts import only the author contract (docs/architecture.md, "Where the code
is").

The import graph is read from the source with ``ast``, so the tests see every import, run
or not. Its rules:

* an edge goes from a module to the module it names (``from oxinfra.api import host`` to
  ``oxinfra.api``, ``from oxinfra import _core`` to ``oxinfra._core``), and also to every
  package above that module the importer is not inside of -- importing
  ``oxinfra.api.context`` from ``oxinfra.inventory.host`` runs ``oxinfra/api/__init__.py``
  first. The root package ``oxinfra`` is left out of those: every module is inside it;
* imports at module level and imports inside functions ("deferred") are told apart.
  **Module-level cycles fail, and so do cycles through deferred imports**: deferring an
  import is for loading less at startup (asyncssh, yaml, a connector nobody uses), never for
  hiding a cycle -- each of the three cycles this layout replaced went through a deferred
  import;
* imports under ``if TYPE_CHECKING:`` never run and are not edges; names resolved by
  ``importlib`` from a string (``oxinfra.api``'s lazy ``run``, the connector table) are
  not imports either.
"""

from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "python"
PACKAGE = SOURCE / "oxinfra"
ROOT = "oxinfra"

# Modules that exist only compiled (the Rust core): leaves.
COMPILED = {"oxinfra._core"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()
KNOWN = set(MODULES) | COMPILED


def _is_package(name: str) -> bool:
    return name in MODULES and MODULES[name].name == "__init__.py"


def _resolve(name: str) -> str | None:
    """The deepest known module ``name`` refers to (an attribute's module for ``a.b.attr``)."""
    while name and name not in KNOWN:
        name = name.rpartition(".")[0]
    return name or None


@functools.lru_cache(maxsize=None)
def _bound_names(package: str) -> frozenset[str]:
    """The names a package's ``__init__`` binds at module level."""
    names: set[str] = set()
    for node in ast.parse(MODULES[package].read_text()).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> Iterator[tuple[str, bool, int]]:
    """``(imported module, deferred, line)`` for every oxinfra import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if _is_package(module) else module.rpartition(".")[0]

    def walk(node: ast.AST, deferred: bool) -> Iterator[tuple[str, bool, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, True)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    yield from walk(other, deferred)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    target = _resolve(alias.name) if alias.name.split(".")[0] == ROOT else None
                    if target:
                        yield target, deferred, child.lineno
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                if source.split(".")[0] != ROOT:
                    continue
                for alias in child.names:
                    # `from package import name` gets the package's own `name` if its
                    # __init__ binds one (oxinfra.api's `operation` is the decorator, not
                    # the module of that name), else the submodule.
                    full = f"{source}.{alias.name}"
                    own = _is_package(source) and alias.name in _bound_names(source)
                    target = full if full in KNOWN and not own else _resolve(source)
                    if target:
                        yield target, deferred, child.lineno
            else:
                yield from walk(child, deferred)

    yield from walk(tree, False)


def _edges(importer: str, target: str) -> Iterator[str]:
    """The imported module and the packages above it that importing it initialises."""
    yield target
    parts = target.split(".")
    for depth in range(2, len(parts)):
        parent = ".".join(parts[:depth])
        if not (importer == parent or importer.startswith(parent + ".")):
            yield parent


def import_graph(with_deferred: bool) -> dict[str, dict[str, int]]:
    """``module -> {imported module: line}``."""
    graph: dict[str, dict[str, int]] = {name: {} for name in KNOWN}
    for module in MODULES:
        for target, deferred, line in _imports(module):
            if deferred and not with_deferred:
                continue
            for edge in _edges(module, target):
                if edge != module:
                    graph[module].setdefault(edge, line)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_the_graph_sees_the_package() -> None:
    graph = import_graph(with_deferred=True)
    assert {
        "oxinfra.api",
        "oxinfra.api.context",
        "oxinfra._engine.evaluate",
        "oxinfra.inventory.model",
        "oxinfra.connectors.registry",
        "oxinfra.testing.sim",
    } <= set(graph)
    # Edges the layout is built on, each of one kind: module-level, implied package, deferred.
    assert "oxinfra.api.context" in graph["oxinfra._engine.plan"]
    assert "oxinfra.api" in graph["oxinfra.inventory.host"]  # importing api.context runs api/__init__
    assert "oxinfra._engine.script" in graph["oxinfra.testing.sim.interp"]
    assert "oxinfra._engine.script" not in import_graph(with_deferred=False)["oxinfra.testing.sim.interp"]


def test_find_cycle_finds_one() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


@pytest.mark.parametrize("with_deferred", [False, True], ids=["module-level", "with-deferred"])
def test_no_import_cycles(with_deferred: bool) -> None:
    graph = import_graph(with_deferred)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + _describe(cycle, graph)


def _closure(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _package_modules(package: str) -> list[str]:
    return [m for m in MODULES if m == package or m.startswith(package + ".")]


@pytest.mark.parametrize(
    "package, forbidden",
    [
        (
            "oxinfra.api",
            ("oxinfra._engine", "oxinfra.inventory", "oxinfra.connectors", "oxinfra.cli", "oxinfra.testing"),
        ),
        ("oxinfra.operations", ("oxinfra._engine", "oxinfra.inventory", "oxinfra.connectors", "oxinfra.cli")),
        ("oxinfra.facts", ("oxinfra._engine", "oxinfra.inventory", "oxinfra.connectors", "oxinfra.cli")),
        ("oxinfra.inventory", ("oxinfra._engine", "oxinfra.cli", "oxinfra.testing")),
        ("oxinfra.connectors", ("oxinfra._engine", "oxinfra.inventory", "oxinfra.cli")),
    ],
)
def test_imports_go_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    """The author API, operations and facts, the inventory and the connectors never reach
    the engine (nor each other where the layout says so), not even through deferred imports."""
    graph = import_graph(with_deferred=True)
    for module in _package_modules(package):
        reached = _closure(graph, module)
        bad = sorted(m for m in reached if m.startswith(forbidden))
        assert not bad, f"{module} reaches {bad}"


# What operation and fact modules may import of oxinfra: the author contract, quoting, the
# errors, facts, the operations' shared helpers. Fact modules may also import the Rust core:
# a built-in fact is the thin Python face of its parser in rust/parse/ (the parsers
# `cargo test` checks against the same fixtures), and `_core` imports nothing of oxinfra, so
# it opens no path to the engine. Operations have no parsers of their own.
# Operations compose other operations (``files.link._inner``, ``server.service`` dispatching
# to ``systemd.service``) and a family may be a package of submodules: oxinfra.operations.*.
ALLOWED = ("oxinfra.api", "oxinfra.quoting", "oxinfra.exceptions", "oxinfra.facts", "oxinfra.operations")
ALLOWED_FOR_FACTS = ALLOWED + ("oxinfra._core",)


def _allowed(target: str, allowed: tuple[str, ...]) -> bool:
    for name in allowed:
        if target == name:
            return True
        if name in ("oxinfra.facts", "oxinfra.operations") and target.startswith(name + "."):
            return True
    return False


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith(("oxinfra.operations.", "oxinfra.facts."))])
def test_operations_and_facts_import_only_the_author_contract(module: str) -> None:
    allowed = ALLOWED_FOR_FACTS if module.startswith("oxinfra.facts.") else ALLOWED
    bad = [(target, line) for target, _, line in _imports(module) if not _allowed(target, allowed)]
    assert not bad, f"{MODULES[module].relative_to(SOURCE)} imports {bad}: use oxinfra.api instead"


def test_operations_and_facts_are_checked() -> None:
    checked = [m for m in MODULES if m.startswith(("oxinfra.operations.", "oxinfra.facts."))]
    assert {
        "oxinfra.operations.files",
        "oxinfra.operations.server",
        "oxinfra.operations.util.files",
        "oxinfra.facts.files",
        "oxinfra.facts.server",
    } <= set(checked)


_PROBE = """
import json, sys
{statement}
loaded = sorted(m for m in sys.modules if m == "asyncssh" or m.startswith(("asyncssh.", "oxinfra._engine",
                "oxinfra.connectors", "oxinfra.inventory", "oxinfra.testing", "oxinfra.cli")))
print(json.dumps(loaded))
"""


@pytest.mark.parametrize(
    "statement",
    [
        "import oxinfra",
        "from oxinfra import host",
        "import oxinfra.api",
        "from oxinfra.api import deploy, operation, FactBase, get_facts, host, FileUpload, noop, touches",
        "from oxinfra.operations import files, server",
        "from oxinfra.facts.files import File, Sha1File",
    ],
)
def test_the_author_api_loads_without_the_engine(statement: str) -> None:
    """In a fresh interpreter: what deploys, operations and facts import loads neither the
    engine, the inventory, the connectors nor the SSH library."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(statement=statement)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_run_is_resolved_on_first_use() -> None:
    probe = """
import sys
import oxinfra.api as api
assert "oxinfra._engine.run" not in sys.modules
from oxinfra.api import run, run_async, load_inventory, Inventory, RunResult, HostResult
from oxinfra._engine import embed as driver
from oxinfra.api.results import HostResult as H, RunResult as R
from oxinfra.inventory import Inventory as I, load_inventory as L
assert (run, run_async, RunResult, HostResult, Inventory, load_inventory) == (driver.run, driver.run_async, R, H, I, L)
assert "run" in dir(api) and "load_inventory" in api.__all__
try:
    api.nothing_here
except AttributeError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "module 'oxinfra.api' has no attribute 'nothing_here'"


def test_modules_stay_under_800_lines() -> None:
    long = {
        str(path.relative_to(SOURCE)): n for path in MODULES.values() if (n := len(path.read_text().splitlines())) > 800
    }
    assert not long, f"split these by concept: {long}"


def test_every_context_variable_lives_in_api_context() -> None:
    """One module owns the context (set only through its scope()); a ContextVar elsewhere
    would be state that scope() does not restore."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "ContextVar"
            ):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    assert found and all(where.startswith("oxinfra/api/context.py:") for where in found), found
