"""Clone and update git repositories, and set git's configuration."""

from __future__ import annotations

import posixpath
import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationValueError
from oxinfra.facts.files import Directory
from oxinfra.facts.git import GitConfig, GitCurrentBranch, GitLocalCommit, GitRemoteBranchCommit, GitTag
from oxinfra.operations import files
from oxinfra.operations.util import check_flags
from oxinfra.operations.util.files import check_owner, check_path, owner_commands
from oxinfra.quoting import command, path_operand

__all__ = ["config", "repo"]

_KEY = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)\.(?:(.+)\.)?([A-Za-z][A-Za-z0-9-]*)", re.S)


def _name(op: str, key: str, value: Any) -> str:
    """A branch, tag or remote name: one line, never read as an option."""
    if not isinstance(value, str) or not value or value.startswith("-") or any(c in value for c in "\n\r\0"):
        raise OperationValueError(f"{op}: {key}= must be a name that does not start with '-', not {value!r}")
    return value


def _canonical_key(key: str) -> str:
    """``Core.autoCRLF`` -> ``core.autocrlf``: git lists section and variable names in lower
    case (a subsection keeps its case)."""
    found = _KEY.fullmatch(key)
    assert found is not None
    section, sub, name = found.groups()
    return ".".join([section.lower(), *([sub] if sub is not None else []), name.lower()])


@operation()
def config(
    key: str, value: str, multi_value: bool = False, repo: str | None = None, system: bool = False
) -> OperationGenerator:
    """Set a git setting in a repository's config, the login user's (``--global``) or the
    system's.

    The setting counts as set when git lists exactly that value for the key (names compared
    as git lists them: section and variable in lower case); with ``multi_value``, when the
    value is among the key's values. The value is an argument of ``git config`` (git takes
    it no other way): keep secrets out of it.

    + key: the setting, ``section.name`` or ``section.subsection.name``
    + value: its value
    + multi_value: add the value to the key's values (``--add``) instead of replacing them
    + repo: the repository (its working tree); default: the login user's settings
    + system: without ``repo``: the system's settings (``--system``)

    Example::

        git.config(name="Prune on fetch", key="fetch.prune", value="true", repo="/srv/app")
    """
    op = "git.config"
    if not isinstance(key, str) or not _KEY.fullmatch(key) or "\n" in key:
        raise OperationValueError(f"{op}: key= must be section.name or section.subsection.name, not {key!r}")
    if not isinstance(value, str) or "\0" in value:
        raise OperationValueError(f"{op}: value= must be a string, not {value!r}")
    check_flags(op, multi_value=multi_value, system=system)
    if repo is not None:
        if not isinstance(repo, str) or not repo:
            raise OperationValueError(f"{op}: repo= must be a directory path, not {repo!r}")
        check_path(repo, "repo")
    (existing,) = get_facts(host, [(GitConfig, {"repo": repo} if repo is not None else {"system": system})])
    if repo is not None:
        touches(posixpath.join(repo, ".git", "config"))
    values = existing.get(_canonical_key(key), [])
    if (values == [value]) if not multi_value else (value in values):
        noop(f"git config {key} is set to {value!r}")
        return
    where = (
        ["-C", path_operand(repo), "config", "--local"]
        if repo is not None
        else ["config", "--system" if system else "--global"]
    )
    yield command("git", *where, *(["--add"] if multi_value else []), "--", key, value)


@operation()
def repo(
    src: str,
    dest: str,
    branch: str | None = None,
    pull: bool = True,
    rebase: bool = False,
    user: str | None = None,
    group: str | None = None,
    ssh_keyscan: bool = False,
    update_submodules: bool = False,
    recursive_submodules: bool = False,
    depth: int | None = None,
    fetch_tags: bool = False,
) -> OperationGenerator:
    """Clone a git repository into a directory, or bring an existing clone to a branch or
    tag and pull its new commits.

    The directory is made first (``files.directory``). Not a clone yet (no ``dest/.git``):
    ``git clone`` into it. A clone: ``origin`` is pointed at ``src`` when it points
    elsewhere; a ``branch`` that is not checked out is fetched and checked out (a tag is
    checked out and never pulled); then, with ``pull``, ``git pull`` runs unless the
    branch's commit is already the one ``origin`` has (``git ls-remote``, read with the
    other facts: without ``branch``, the remote's default branch). Every command is
    ``git -C DEST ...``; with ``user``/``group`` the tree is ``chown -R``'d after any of them.

    + src: the repository's URL (or path)
    + dest: the directory of the working tree
    + branch: the branch or tag to check out
    + pull: pull new commits of the branch
    + rebase: pull with ``--rebase``
    + user: the owner of the tree (a name, not an id: ``user="5"`` is refused, as an owner
      is compared by name; the same for ``group``)
    + group: the group of the tree
    + ssh_keyscan: not supported by oxinfra (an error): add the host key to
      ``known_hosts`` first (``files.line``)
    + update_submodules: ``git submodule update --init``
    + recursive_submodules: ... ``--recursive``
    + depth: clone only this many commits (``--depth``)
    + fetch_tags: fetch the tags too (``fetch --tags``) before checking out ``branch``

    Example::

        git.repo(name="App", src="https://git.example.com/app.git", dest="/srv/app", branch="main")
    """
    op = "git.repo"
    if not isinstance(src, str) or not src or src.startswith("-") or any(c in src for c in "\n\r\0"):
        raise OperationValueError(f"{op}: src= must be a repository URL or path on one line, not {src!r}")
    if not isinstance(dest, str) or not dest:
        raise OperationValueError(f"{op}: dest= must be a directory path, not {dest!r}")
    check_path(dest, "dest")
    if branch is not None:
        _name(op, "branch", branch)
    check_flags(
        op,
        pull=pull,
        rebase=rebase,
        ssh_keyscan=ssh_keyscan,
        update_submodules=update_submodules,
        recursive_submodules=recursive_submodules,
        fetch_tags=fetch_tags,
    )
    if ssh_keyscan:
        raise OperationValueError(
            f"{op}: ssh_keyscan=True is not supported: add the Git server's host key to known_hosts first (files.line)"
        )
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise OperationValueError(f"{op}: depth= must be a number of commits (1 or more), not {depth!r}")
    check_owner(user, group)

    dest = dest.rstrip("/") or "/"
    git_dir = posixpath.join(dest, ".git")
    facts: list[tuple[Any, dict[str, Any]]] = [
        (Directory, {"path": git_dir}),
        (Directory, {"path": dest}),  # files.directory's own fact, read in this batch
        (GitConfig, {"repo": dest}),
        (GitCurrentBranch, {"repo": dest}),
        (GitTag, {"repo": dest}),
        (GitLocalCommit, {"repo": dest, "ref": "HEAD"}),
    ]
    if branch is not None:
        facts.append((GitLocalCommit, {"repo": dest, "ref": branch}))
    if pull:
        facts.append((GitRemoteBranchCommit, {"repo": dest, "branch": branch}))
    is_repo, _dest_info, remote_config, current, tags, head, *rest = get_facts(host, facts)
    local = rest.pop(0) if branch is not None else head
    remote = rest[0] if pull else None
    yield from files.directory._inner(dest)
    touches(dest, ancestors=True, subtree=True)

    git: list[list[str]] = []
    if not is_repo:
        options = (["--depth", str(depth)] if depth is not None else []) + (["--branch", branch] if branch else [])
        git.append(["clone", *options, "--", src, "."])
    else:
        origin = remote_config.get("remote.origin.url")
        moved = origin is not None and origin != [src]
        if moved:
            git.append(["remote", "set-url", "--", "origin", src])
        if branch is not None and branch in (tags or []):
            # a tag is checked out (a detached HEAD at its commit) and never pulled
            if current is not None or head != local:
                git.append(["checkout", branch, "--"])
        else:
            if branch is not None and current != branch:
                git.append(["fetch", *(["--tags"] if fetch_tags else [])])
                git.append(["checkout", branch, "--"])
            if pull:
                if moved or git or local is None or remote != local:
                    git.append(["pull", *(["--rebase"] if rebase else [])])
    if update_submodules and git:
        git.append(["submodule", "update", "--init", *(["--recursive"] if recursive_submodules else [])])
    for args in git:
        yield command("git", "-C", path_operand(dest), *args)
    if git and (user or group):
        yield from owner_commands(dest, user, group, None, recursive=True)
    if not git:
        noop(f"git repository {dest} is up to date" if pull else f"git repository {dest} is cloned")
