"""Facts about git repositories and git's configuration, shaped as pyinfra 3.10's.

Each fact about a repository (``repo``: the working tree's directory) is absent (its
default, ``None`` or ``{}``) when that directory is not there (proven, as the file facts
prove it) or the host has no ``git`` (pyinfra's facts need the command too); git's own
failures (not a repository, an unreadable one, an unreachable remote) fail the fact.
"""

from __future__ import annotations

import re
from typing import Any

from oxinfra.api import FactBase, FactFailed
from oxinfra.exceptions import FactError
from oxinfra.facts.files import absent_proof
from oxinfra.quoting import quote

__all__ = [
    "GitCurrentBranch",
    "GitBranch",
    "GitTag",
    "GitConfig",
    "GitTrackingBranch",
    "GitLocalCommit",
    "GitRemoteBranchCommit",
]

_P = '"$__ox_a"'
#: The status of "no such directory" / "no git" (git itself exits 1, 128 or 129).
_ABSENT = 10
_CONFIG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*(\..*)?\.[A-Za-z][A-Za-z0-9-]*", re.S)
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _in_repo(repo: str, git_args: str) -> str:
    """``git -C REPO ARGS`` when the directory and git are there; else exit 10 when the
    directory is proven absent or git is missing, 2 when it cannot be proven."""
    return (
        f"__ox_a={quote(repo)}; if ! command -v git >/dev/null 2>&1; then (exit {_ABSENT}); "
        f"elif [ -d {_P} ]; then git -C {_P} {git_args}; "
        f"elif [ -e {_P} ] || [ -L {_P} ]; then (exit {_ABSENT}); elif {absent_proof('__ox_a')}; then (exit {_ABSENT}); "
        "else echo 'not provably absent: the nearest existing path above it is no directory we may search' >&2; "
        "(exit 2); fi"
    )


def _word(fact: str, key: str, value: str) -> str:
    """A ref or remote name git must not read as an option."""
    if not isinstance(value, str) or not value or value.startswith("-") or "\n" in value:
        raise FactError(f"{fact}: {key}= must be a name that does not start with '-', not {value!r}")
    return quote(value)


class GitBranch(FactBase[Any]):
    """What ``git describe --all`` names the checked-out commit: the branch (``main``), the
    tag (``v1.0``, ``heads/``/``tags/`` taken off as pyinfra does), or ``remotes/...``."""

    shell_safe = True
    absent_status = frozenset({_ABSENT})

    def command(self, repo: str) -> str:
        return _in_repo(repo, "describe --all")

    def process(self, output: list[str]) -> Any:
        return re.sub(r"(heads|tags)/", "", "\n".join(output))


class GitCurrentBranch(FactBase[Any]):
    """The name of the checked-out branch (``main``), or ``None`` when none is (a detached
    ``HEAD``: a tag or commit checked out). An oxinfra addition: ``GitBranch`` names a tag
    at the same commit instead of the branch (``git describe --all`` prefers tags)."""

    shell_safe = True
    #: 1: ``symbolic-ref --quiet`` found HEAD detached (its other failures exit 128)
    absent_status = frozenset({1, _ABSENT})

    def command(self, repo: str) -> str:
        return _in_repo(repo, "symbolic-ref --quiet --short HEAD")


class GitTag(FactBase[Any]):
    """The repository's tags, a list of names."""

    shell_safe = True
    absent_status = frozenset({_ABSENT})

    def command(self, repo: str) -> str:
        return _in_repo(repo, "tag")

    def process(self, output: list[str]) -> Any:
        return list(output)


class GitConfig(FactBase[Any]):
    """git's settings, ``{"user.name": ["Anon"], "remote.origin.url": [...]}`` (a key set
    more than once has each value): a repository's own (``repo``), else the login user's
    (``--global``) or, with ``system``, the system's. ``{}`` when there is no such file."""

    shell_safe = True
    absent_status = frozenset({_ABSENT})

    def default(self) -> Any:
        return {}

    def command(self, repo: str | None = None, system: bool = False) -> str:
        if repo is not None:
            return _in_repo(repo, "config --local --list")
        level = "--system" if system else "--global"
        # git exits 128 when the file is missing: read it only where it is (GIT_CONFIG_*
        # from the environment, the XDG file, ~/.gitconfig; the system file's place is git's
        # own: `git var`, else /etc/gitconfig)
        if system:
            where = (
                "__ox_g=${GIT_CONFIG_SYSTEM:-$(git var GIT_CONFIG_SYSTEM 2>/dev/null || echo /etc/gitconfig)}; "
                '[ -z "${GIT_CONFIG_NOSYSTEM:-}" ] && [ -e "$__ox_g" ]'
            )
        else:
            where = (
                '{ [ -n "${GIT_CONFIG_GLOBAL:-}" ] && [ -e "$GIT_CONFIG_GLOBAL" ]; } || [ -e "$HOME/.gitconfig" ] '
                '|| [ -e "${XDG_CONFIG_HOME:-$HOME/.config}/git/config" ]'
            )
        return (
            f"if ! command -v git >/dev/null 2>&1; then (exit {_ABSENT}); elif {where}; "
            f"then git config {level} --list; else (exit {_ABSENT}); fi"
        )

    def process(self, output: list[str]) -> Any:
        # one ``key=value`` a line (a value holding a newline continues on the next line,
        # which has no key: it is joined back)
        items: dict[str, list[str]] = {}
        last: list[str] | None = None
        for line in output:
            key, sep, value = line.partition("=")
            if last is not None and (not sep or not _CONFIG_KEY.fullmatch(key)):
                last[-1] += "\n" + line
                continue
            last = items.setdefault(key, [])
            last.append(value)
        return items


class GitTrackingBranch(FactBase[Any]):
    """The branch the checked-out one tracks (``origin/main``), or ``None``."""

    shell_safe = True
    absent_status = frozenset({_ABSENT})

    def command(self, repo: str) -> str:
        return _in_repo(repo, "status --branch --porcelain")

    def process(self, output: list[str]) -> Any:
        if not output:
            return None
        found = re.search(r"\.{3}(\S+)\b", output[0])
        return found.group(1) if found else None


class GitLocalCommit(FactBase[Any]):
    """The commit (its full hash) ``ref`` names in the repository, default ``HEAD``; ``None``
    when the repository or the ref is not there."""

    shell_safe = True
    #: 1: ``rev-parse --verify --quiet`` found no such ref (its other failures exit 128)
    absent_status = frozenset({1, _ABSENT})

    def command(self, repo: str, ref: str = "HEAD") -> str:
        return _in_repo(repo, "rev-parse --verify --quiet " + _word("git.GitLocalCommit", "ref", ref) + "^{commit}")

    def process(self, output: list[str]) -> Any:
        line = output[0].strip() if output else ""
        if not _SHA.fullmatch(line):
            raise FactFailed(0, f"rev-parse printed {line[:60]!r}, not a commit hash")
        return line


class GitRemoteBranchCommit(FactBase[Any]):
    """The commit at ``branch`` (default: ``HEAD``, the remote's default branch) on
    ``remote`` (default ``origin``), as ``git ls-remote`` reads it from there; ``None``
    when the repository is not there or the remote has no such branch. An unreachable
    remote fails the fact (pyinfra gives ``None``)."""

    shell_safe = True
    #: 2: ``ls-remote --exit-code`` found no matching ref
    absent_status = frozenset({2, _ABSENT})
    _ref = "HEAD"  # the ref asked for (command() sets it; process() picks its line)

    def command(self, repo: str, remote: str = "origin", branch: str | None = None) -> str:
        ref = branch if branch else "HEAD"
        self._ref = ref
        return _in_repo(
            repo,
            "ls-remote --exit-code "
            + _word("git.GitRemoteBranchCommit", "remote", remote)
            + " "
            + _word("git.GitRemoteBranchCommit", "branch", ref),
        )

    def process(self, output: list[str]) -> Any:
        # ls-remote matches the end of a ref's name (``main`` also finds ``refs/heads/archive/
        # main``, listed first): the ref of exactly that name, a branch before a tag
        ref = getattr(self, "_ref", "HEAD")
        names = (
            [ref]
            if ref == "HEAD" or ref.startswith("refs/")
            else [f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"]
        )
        found: dict[str, str] = {}
        for line in output:
            sha, _, name = line.partition("\t")
            found.setdefault(name.strip(), sha)
        for name in names:
            sha = found.get(name, "")
            if _SHA.fullmatch(sha):
                return sha
        return None
