"""The package tools' commands in the operation fixtures follow each tool's documented syntax.

No pacman, dnf, yum, apk or zypper host can be built here, so those families are proven by
fixtures; this test reads every command of every fixture of the package families (apt too)
and checks each simple command that runs a package tool against the tool's grammar as its
manual page gives it (the table below: apk(8), pacman(8), dnf(8), yum(8), zypper(8), rpm(8),
apt-get(8)): global options, then the command (verb) and its options, then ``--`` and the
operands; every option one the manual documents for that place, every option that takes a
value followed by one, operands only after ``--`` (each a package name of the tool's naming
rules, optionally joined to a version the way the tool reads a version, or a path/URL where
the command takes files).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "operations"
FAMILIES = ("apk", "pacman", "dnf", "yum", "zypper", "apt", "server")

NAME = r"[A-Za-z0-9@_+][A-Za-z0-9@._+:-]*"
VERSION = r"[A-Za-z0-9.+~:_-]+"
PATH_OR_URL = r"(/|\./|https?://|ftp://)\S+"


@dataclass
class Tool:
    """One tool's grammar: ``PROGRAM [GLOBAL...] VERB [OPTION...] [-- OPERAND...]``."""

    #: global options (before the verb); name -> takes a value
    global_options: dict[str, bool]
    #: verb -> (its options: name -> takes a value, what its operands are: a regex or None)
    verbs: dict[str, tuple[dict[str, bool], str | None]]
    #: pacman and rpm have no verb word: an operation flag is the verb
    flag_verbs: bool = False
    options_anywhere: dict[str, bool] = field(default_factory=dict)


def _pkgs(join: str | None) -> str:
    return NAME if join is None else f"{NAME}({re.escape(join)}{VERSION})?"


TOOLS: dict[str, Tool] = {
    # apk(8): apk [<global options>] COMMAND [<options>] [<arguments>]; add/del take
    # "constraints" name[=version]; upgrade -a/--available
    "apk": Tool(
        {},
        {
            "add": ({}, _pkgs("=")),
            "del": ({}, NAME),
            "update": ({}, None),
            "upgrade": ({"--available": False, "-a": False}, NAME),
        },
    ),
    # pacman(8): pacman <operation> [options] [targets]; -S (--sync) with -y (--refresh)
    # and -u (--sysupgrade); -R (--remove); --noconfirm; targets are names (no versions)
    "pacman": Tool(
        {"--noconfirm": False},
        {"-S": ({}, NAME), "-R": ({}, NAME), "-Sy": ({}, None), "-Su": ({}, None), "-Q": ({}, None)},
        flag_verbs=True,
    ),
    # dnf(8): dnf [options] <command> [<args>...]; -y/--assumeyes, --nobest, --setopt=K=V,
    # --noautoremove; install/remove/update(=upgrade) take package specs NAME[-VERSION[-RELEASE]]
    "dnf": Tool(
        {},
        {
            "install": ({"-y": False, "--nobest": False}, _pkgs("-")),
            "remove": ({"-y": False, "--noautoremove": False}, _pkgs("-")),
            "update": ({"-y": False}, _pkgs("-")),
            "clean": ({}, "all"),
            # dnf(8) MODULE COMMAND: dnf [options] module enable|disable <module-spec>...,
            # a spec NAME[:STREAM]
            "module enable": ({"-y": False}, NAME + r"(:[A-Za-z0-9._+-]+)?"),
            "module disable": ({"-y": False}, NAME),
        },
        options_anywhere={"--setopt=install_weak_deps=False": False},
    ),
    # yum(8): yum [options] [command] [package ...]; the same specs and options as dnf
    "yum": Tool(
        {},
        {
            "install": ({"-y": False, "--nobest": False}, _pkgs("-")),
            "remove": ({"-y": False, "--noautoremove": False}, _pkgs("-")),
            "update": ({"-y": False}, _pkgs("-")),
            "clean": ({}, "all"),
        },
        options_anywhere={"--setopt=install_weak_deps=False": False},
    ),
    # zypper(8): zypper [--global-opts] command [--command-opts] [command-arguments];
    # global -n/--non-interactive, --gpg-auto-import-keys, --no-refresh, -q/--quiet;
    # install (-y/--no-confirm, --no-recommends) takes capabilities NAME[OP EDITION];
    # remove (-y, -u/--clean-deps) takes capabilities too; update (-y); clean (-a/--all)
    "zypper": Tool(
        {"--non-interactive": False, "--gpg-auto-import-keys": False, "--no-refresh": False, "--quiet": False},
        {
            "install": ({"-y": False, "--no-recommends": False}, _pkgs("=")),
            "remove": ({"-y": False, "--clean-deps": False}, _pkgs("=")),
            "update": ({"-y": False}, NAME),
            "clean": ({"--all": False}, None),
        },
    ),
    # rpm(8): rpm {-i|--install} PACKAGE_FILE; rpm --import PUBKEY; rpm {-q|--query}
    # [--queryformat QUERYFMT] [-p PACKAGE_FILE] NAME; popt reads -- as the end of options
    "rpm": Tool(
        {"--queryformat": True},
        {
            "-i": ({}, PATH_OR_URL),
            "--import": ({}, PATH_OR_URL),
            "-q": ({"--queryformat": True}, NAME),
            "-qp": ({"--queryformat": True}, PATH_OR_URL),
        },
        flag_verbs=True,
    ),
    # apt-get(8): apt-get [-y] [-o CONFIG=VALUE...] {install|remove|purge|update|upgrade|
    # dist-upgrade} [options] [pkg[=version] | /path/to.deb ...]
    "apt-get": Tool(
        {"-y": False, "-o": True, "--force-yes": False},
        {
            "install": (
                {
                    "--no-install-recommends": False,
                    "--allow-downgrades": False,
                    "-o": True,
                    "--no-install-suggests": False,
                },
                f"({_pkgs('=')}|{PATH_OR_URL})",
            ),
            "remove": ({"--auto-remove": False}, NAME),
            "purge": ({"--auto-remove": False}, NAME),
            "update": ({}, None),
            "upgrade": ({"--autoremove": False}, None),
            "dist-upgrade": ({"--autoremove": False}, None),
        },
    ),
    # apt-add-repository(1): apt-add-repository [-y] [--remove] REPOSITORY
    "apt-add-repository": Tool({"-y": False, "--remove": False}, {}, flag_verbs=False),
}


def simple_commands(text: str) -> list[list[str]]:
    """The simple commands of a command line (split on ``|``, ``||``, ``&&``, ``;``, ``$(``,
    parentheses and the words of ``if``/``while``), each as its words; redirections and
    ``[env] VAR=...`` prefixes dropped."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    out: list[list[str]] = [[]]
    redirect = False
    for word in lexer:
        if redirect:  # the target of a redirection
            redirect = False
        elif re.fullmatch(r"[<>&]+", word) and re.search(r"[<>]", word):
            redirect = True
            if out[-1] and out[-1][-1].isdigit():
                out[-1].pop()  # the descriptor of 2>&1
        elif re.fullmatch(r"[();|&]+", word) or word in ("if", "then", "fi", "else", "{", "}", "while", "do"):
            out.append([])
        elif word.endswith("=$") or word == "$":
            out.append([])  # out=$( ... ): the command substitution's words follow
        else:
            out[-1].append(word)
    cleaned = []
    for words in out:
        if words[:1] == ["env"]:
            words = words[1:]
        while words and re.fullmatch(r"[A-Za-z_]+=\S*", words[0]):
            words = words[1:]  # assignments before the program (env's or the shell's)
        if words:
            cleaned.append(words)
    return cleaned


def check(words: list[str]) -> list[str]:
    """Why ``words`` is not a command of its tool's grammar (empty: it is)."""
    tool = TOOLS[words[0]]
    problems: list[str] = []
    rest = words[1:]
    if words[0] == "apt-add-repository":
        operands = rest[rest.index("--") + 1 :] if "--" in rest else []
        options = rest[: rest.index("--")] if "--" in rest else rest
        problems += [f"unknown option {o}" for o in options if o not in tool.global_options]
        if len(operands) != 1 or not re.fullmatch(r"ppa:\S+/\S+", operands[0]):
            problems.append(f"operand {operands}")
        return problems
    i = 0
    verb = None
    while i < len(rest):
        word = rest[i]
        if word == "--":
            break
        if verb is None and (tool.flag_verbs and word in tool.verbs or not word.startswith("-")):
            verb = word
            if i + 1 < len(rest) and f"{word} {rest[i + 1]}" in tool.verbs:  # dnf module enable
                verb = f"{word} {rest[i + 1]}"
                i += 1
            if verb not in tool.verbs:
                problems.append(f"unknown command {verb!r}")
                return problems
            i += 1
            continue
        options = tool.verbs[verb][0] if verb is not None else tool.global_options
        takes = options.get(word, tool.options_anywhere.get(word))
        if takes is None:
            if verb is not None and not word.startswith("-") and tool.verbs[verb][1] is not None:
                break  # an operand without -- (clean all)
            problems.append(f"option {word!r} is not documented {'for ' + verb if verb else 'before the command'}")
        i += 2 if takes else 1
    if verb is None:
        problems.append("no command")
        return problems
    operands = rest[i + 1 :] if i < len(rest) and rest[i] == "--" else rest[i:]
    pattern = tool.verbs[verb][1]
    if operands and pattern is None:
        problems.append(f"{verb} takes no operands: {operands}")
    for operand in operands:
        if pattern is not None and not re.fullmatch(pattern, operand):
            problems.append(f"operand {operand!r} is not what {words[0]} {verb} takes")
    if pattern is not None and pattern not in ("all",) and operands and "--" not in rest:
        problems.append("operands not after --")
    return problems


def _commands() -> list[tuple[str, str]]:
    found = []
    for case in sorted(FIXTURES.glob("*/*.json")):
        if not case.parent.name.startswith(tuple(f + "." for f in FAMILIES)):
            continue
        spec = json.loads(case.read_text())
        for command in spec.get("commands", []):
            if isinstance(command, str):
                found.append((f"{case.parent.name}/{case.stem}", command))
    return found


COMMANDS = _commands()


@pytest.mark.parametrize(("case", "command"), COMMANDS, ids=[f"{c}:{i}" for i, (c, _) in enumerate(COMMANDS)])
def test_package_tool_commands_follow_the_manual(case: str, command: str) -> None:
    problems = [
        f"{' '.join(words)}: {p}" for words in simple_commands(command) if words[0] in TOOLS for p in check(words)
    ]
    assert not problems, problems


def test_every_tool_is_exercised() -> None:
    seen = {words[0] for _, command in COMMANDS for words in simple_commands(command)}
    assert set(TOOLS) <= seen, sorted(set(TOOLS) - seen)


@pytest.mark.parametrize(
    "bad",
    [
        "apk add curl",  # names before --: not how the operations write them
        "apk add --allow-untrusted -- curl",  # an option the table does not document for add
        "pacman --noconfirm -S -- curl=8.7",  # pacman takes no versions
        "dnf install -y -- curl=8.6.0",  # dnf's version spec is name-version
        "zypper install --non-interactive -y -- curl",  # a global option after the command
        "apt-get -y frobnicate -- x",
        "rpm -i -- relative.rpm",
    ],
)
def test_the_grammar_refuses_what_the_manuals_do_not_document(bad: str) -> None:
    assert any(check(words) for words in simple_commands(bad))
