"""What the operation audits share: every operation found in ``oxinfra.operations`` (none
listed by hand), its string arguments and what kind of value each one is, base calls taken
from the operation fixtures, hostile values, and planning against fixture facts.

An argument's kind says where its value lands, so what "stays data" means for it:

* ``remote_path``: a path on the host -- the result must be exactly the result of the same
  call with a plain name, under the hostile name;
* ``local_path``: a file on the controller (``src``);
* ``literal``: text that lands as is (a link's target, the line ``files.line`` writes);
* ``pattern`` / ``sed_replacement``: a regular expression or sed replacement: what it
  matches is up to it, but it never runs anything or breaks out of its word;
* ``owner``: a user or group name the host may not know;
* ``validated``: checked before anything runs (a mode, sed flags);
* ``init_script``: a service name that ``sysvinit`` runs as ``/etc/init.d/NAME``: it may be
  the command word (one quoted word under the fixed directory), otherwise as ``opaque``;
* ``url``: a URL the host fetches (``files.download``'s ``src``): the hostile text is its
  path, after ``https://audit.invalid/``; it must stay one word and nothing may run;
* ``program``: the program to run (``pip.virtualenv``'s ``python``, ``pip.packages``' ``pip``):
  a plain name on PATH or an absolute path (quoted); it may be the command word, otherwise as
  ``opaque``;
* ``code``: shell code by definition (``server.shell``'s ``commands``): not audited;
* ``unsupported``: refused whatever its value (an argument oxinfra does not support; none
  today): not audited;
* ``opaque``: any other string argument (a new operation's): it must stay one word, and
  nothing may run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

from oxinfra.api.commands import FileUpload, FunctionCommand
from oxinfra.api.context import scope
from oxinfra.api.effects import PlanContext
from oxinfra.api.facts import FactRequest
from oxinfra._engine.script import render_upload
from oxinfra.inventory.host import Host
from oxinfra.testing.plan import fixture_value

FIXTURES = Path(__file__).parent / "operations"
#: Examples per hypothesis test; raise it for a deeper run (``OXINFRA_AUDIT_EXAMPLES=2000``).
EXAMPLES = int(os.environ.get("OXINFRA_AUDIT_EXAMPLES", "0")) or None
NONCE = "0" * 24

#: Kinds by argument name, and by "module.op.argument" where one name means two things.
KINDS: dict[str, str] = {
    "path": "remote_path",
    "dest": "remote_path",
    "force_backup_dir": "remote_path",
    "src": "local_path",
    "target": "literal",
    "user": "owner",
    "uid": "validated",
    "gid": "validated",
    "home": "remote_path",
    "server.user.shell": "remote_path",
    "authorized_key_directory": "remote_path",
    "persist_file": "remote_path",
    "hostname_file": "remote_path",
    "limit_type": "validated",
    "special_time": "validated",
    "server.kill.signal": "validated",
    # a number, given as an int or as digits: checked before anything runs
    "server.kill.pid": "validated",
    "server.wait.port": "validated",
    "server.etc_hosts.ip": "validated",
    "group": "owner",
    "mode": "validated",
    "dir_mode": "validated",
    "flags": "validated",
    "line": "pattern",
    "text": "pattern",
    "match": "pattern",
    "files.line.replace": "literal",
    "files.replace.replace": "sed_replacement",
    "server.shell.commands": "code",
    "sysvinit.service.service": "init_script",
    # checked before anything runs (letters, digits, _ . -), then part of --machine=...
    "systemd.service.machine": "validated",
    "systemd.service.user_name": "validated",
    "systemd.daemon_reload.machine": "validated",
    "systemd.daemon_reload.user_name": "validated",
    "server.service.service": "init_script",
    "apt.deb.sha256sum": "validated",
    "files.download.src": "url",
    "git.config.key": "validated",
    # a local directory, read here and never part of a command (the files' paths under dest are)
    "files.sync.src": "validated",
    "pip.virtualenv.python": "program",
    "pip.venv.python": "program",
    "pip.packages.pip": "program",
    "pip.packages.virtualenv": "remote_path",
    "pip.packages.extra_install_args": "validated",  # section.name: checked before anything runs, after --
    # must hold {mark} (else begin and end markers are the same, refused): begin/end carry the text
    "files.block.marker": "validated",
    "files.download.temp_dir": "remote_path",
    "files.download.sha384sum": "validated",
    "files.download.sha256sum": "validated",
    "files.download.sha1sum": "validated",
    "files.download.md5sum": "validated",
    "files.download.limit_rate": "validated",
    "apt.ppa.src": "validated",
    # a hkp/hkps/http/https URL or host name, and hex key IDs: checked before anything runs
    "apt.key.keyserver": "validated",
    "apt.key.keyid": "validated",
    "apt.packages.extra_install_args": "validated",
    "apt.packages.extra_uninstall_args": "validated",
    "dnf.packages.extra_install_args": "validated",
    "dnf.packages.extra_uninstall_args": "validated",
    "yum.packages.extra_install_args": "validated",
    "yum.packages.extra_uninstall_args": "validated",
    "zypper.packages.extra_global_install_args": "validated",
    "zypper.packages.extra_install_args": "validated",
    "zypper.packages.extra_global_uninstall_args": "validated",
    "zypper.packages.extra_uninstall_args": "validated",
    # glob patterns matched on the controller (fnmatch): they choose which files are synced
    # or deleted, and never reach a shell
    "files.sync.exclude": "validated",
    "files.sync.exclude_dir": "validated",
}
#: Paths under which an operation runs a fixed program, as ``init_script`` does: the quoted
#: path may be the command word (``pip.packages`` runs ``VIRTUALENV/bin/pip``).
RUNS_UNDER = frozenset({"pip.packages.virtualenv"})
#: Why a kind is not audited.
NOT_AUDITED = {
    "code": "shell code by definition: it runs as written",
    "unsupported": "refused whatever its value (not supported): nothing is planned",
}
STRICT = frozenset({"remote_path", "local_path", "literal"})


@dataclass(frozen=True)
class Operation:
    name: str  # "files.put"
    func: Callable[..., Any]

    @property
    def generator(self) -> Callable[..., Any]:
        return self.func.__wrapped__  # type: ignore[attr-defined, no-any-return]

    @property
    def shell_safe(self) -> bool:
        return bool(getattr(self.generator, "_oxinfra_shell_safe", False))

    @property
    def module(self) -> str:
        return self.name.split(".")[0]


def discover_operations() -> list[Operation]:
    """Every ``@operation`` of ``oxinfra.operations`` (:func:`oxinfra.testing.plan.discover_operations`)."""
    from oxinfra.testing import plan

    return [Operation(name, func) for name, func in sorted(plan.discover_operations().items())]


OPERATIONS = discover_operations()


def _takes_str(annotation: Any) -> str | None:
    """ "str" or "list" when the annotation admits a string or a list of strings."""
    if annotation is str:
        return "str"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds = {_takes_str(a) for a in typing.get_args(annotation)} - {None}
        return "str" if "str" in kinds else "list" if kinds else None
    if origin in (list, tuple) and str in typing.get_args(annotation):
        return "list"
    return None


def string_arguments(op: Operation) -> list[tuple[str, str]]:
    """(argument name, "str" or "list") for every argument that takes strings."""
    hints = typing.get_type_hints(op.generator)
    out = []
    for name, param in inspect.signature(op.generator).parameters.items():
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        shape = _takes_str(hints.get(name, param.annotation))
        if shape:
            out.append((name, shape))
    return out


def kind_of(op: Operation, arg: str) -> str:
    return KINDS.get(f"{op.name}.{arg}", KINDS.get(arg, "opaque"))


# --------------------------------------------------------------------------------------------
# Base calls: the operation fixtures
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    op: Operation
    name: str
    args: dict[str, Any]
    facts: list[dict[str, Any]]
    commands: list[Any]
    directory: Path
    noop: bool = field(default=False)

    @property
    def facts_by_name(self) -> dict[Any, Any]:
        """Each fact's value by its name, and by ``(name, arguments)``: a fact read with the
        fixture's own arguments gets its own value (``server.Which`` of several programs)."""
        values: dict[Any, Any] = {f["fact"]: fixture_value(f["value"]) for f in self.facts}
        values.update(
            {(f["fact"], json.dumps(f["args"], sort_keys=True)): fixture_value(f["value"]) for f in self.facts}
        )
        return values


def fixture_cases(op: Operation) -> list[Case]:
    """The fixtures of ``op`` that plan (no error), with or without commands."""
    out = []
    for path in sorted((FIXTURES / op.name).glob("*.json")):
        spec = json.loads(path.read_text())
        if "error" in spec:
            continue
        out.append(
            Case(
                op,
                path.stem,
                spec["args"],
                spec.get("facts", []),
                spec.get("commands", []),
                path.parent,
                noop=not spec.get("commands"),
            )
        )
    return out


def planning_cases(op: Operation) -> list[Case]:
    """The fixtures of ``op`` whose plan has commands."""
    return [c for c in fixture_cases(op) if not c.noop]


# --------------------------------------------------------------------------------------------
# Planning against fixture facts
# --------------------------------------------------------------------------------------------


class UnknownFact(LookupError):
    pass


@dataclass
class Planned:
    commands: list[str]  # shell text, uploads rendered as the script writes them
    facts: list[FactRequest]  # the facts the plan read, in order
    noops: list[str]
    context: PlanContext


def render(command: Any) -> str:
    if isinstance(command, FileUpload):
        return render_upload(command, NONCE)
    if isinstance(command, FunctionCommand):  # runs on the controller: its values reach no shell
        return "true"
    if not isinstance(command, str):
        raise TypeError(f"not a shell command: {command!r}")
    return command


def plan(op: Operation, args: dict[str, Any], facts_by_name: dict[Any, Any], local_dir: str | None) -> Planned:
    """Plan ``op`` with each fact it reads answered by the fixture's value for that fact
    (by the fact's name and arguments where the fixture gives them, else by the name alone,
    whatever the arguments: a hostile value changes them)."""
    read: list[FactRequest] = []

    def lookup(host: Any, request: FactRequest) -> Any:
        try:
            exact: Any = (request.cls.name, json.dumps(request.kwargs, sort_keys=True))
        except TypeError:
            exact = None
        if exact in facts_by_name:
            read.append(request)
            return facts_by_name[exact]
        if request.cls.name not in facts_by_name:
            raise UnknownFact(f"{op.name} read {request.cls.name}, which its fixture does not give")
        read.append(request)
        return facts_by_name[request.cls.name]

    ctx = PlanContext()
    with scope(facts=lookup, privilege=(), plan=ctx, deploy_dir=local_dir, host=Host("audit", {})):
        commands = [render(c) for c in op.generator(**args)]
    return Planned(commands, read, ctx.noops, ctx)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


# --------------------------------------------------------------------------------------------
# Hostile values
# --------------------------------------------------------------------------------------------

CANARY = "OXCANARY"
#: What a hostile value is made of: shell syntax that would run something, quotes, escapes,
#: separators, option-looking words, regular-expression and printf syntax, non-ASCII.
PIECES = [
    "'",
    '"',
    "\\",
    "\\/",
    "/",
    "\n",
    "*",
    "?",
    "-",
    "--",
    "-rf",
    "-e",
    "--reference=x",
    "-R",
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"; touch {CANARY}",
    f"&& touch {CANARY}",
    f"| touch {CANARY}",
    f"\ntouch {CANARY}\n",
    "$HOME",
    "${x}",
    "$((1+1))",
    "~",
    "#",
    "!",
    "&",
    ";",
    "|",
    "<",
    ">",
    "(",
    ")",
    "{",
    "}",
    "%",
    "%s",
    "%n",
    "\\n",
    "\\\\",
    "\t",
    " ",
    "\r",
    "é",
    "日本",
    "\u202e",
    "\x01",
    "\x7f",
    ".",
    "[",
    "]",
    "^",
    "$",
    "+",
    "{1,",
    "\\(",
    "\\1",
    "&&",
    "=",
    "a=b",
    ":",
]
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_PIECE = st.one_of(st.sampled_from(PIECES), st.text(_CHARS, min_size=1, max_size=3))


def hostile_text() -> st.SearchStrategy[str]:
    """A non-empty hostile string."""
    return st.lists(_PIECE, min_size=1, max_size=6).map("".join)


def _component_ok(text: str) -> bool:
    return text not in ("", ".", "..") and "/" not in text and len(text.encode("utf-8")) <= 120


def hostile_component() -> st.SearchStrategy[str]:
    """One hostile file name (no ``/``, not ``.`` or ``..``)."""
    return st.lists(_PIECE.map(lambda p: p.replace("/", "")), min_size=1, max_size=5).map("".join).filter(_component_ok)


def hostile_path() -> st.SearchStrategy[list[str]]:
    """A relative path as its components."""
    return st.lists(hostile_component(), min_size=1, max_size=3)


def twin_components(components: list[str], tag: str) -> list[str]:
    """Plain names standing in for ``components`` (one each: the same depth)."""
    return [f"QzT{tag}n{k}" for k in range(len(components))]
