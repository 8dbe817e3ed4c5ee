"""crontab.crontab and server.user on real accounts of this machine (``@local``, as root: each
test makes throwaway users named ``oxfx...`` and removes them, with their crontabs).

Found by a hostile review:

* a ``# pyinfra-name=NAME`` comment left without its entry (``crontab.crontab(command=...,
  present=False)`` removed the entry and kept the comment above it; a named entry removed
  below another comment kept its name comment too) named the next entry, blank lines and all:
  a later run for that name replaced or deleted an unrelated entry;
* ``present=False`` removed only the first of two equal entries (changed on every run);
* a ``crontab.crontab`` for a user ``server.user`` creates earlier in the same deploy failed
  on the crontab fact read before the user existed (``crontab: user '...' unknown``);
* ``server.user(shell=...)`` without ``home=`` on a user whose home field is empty ran
  ``usermod -d /home/NAME``;
* an environment line whose name is no shell identifier (``MY-VAR=1``, which Debian's
  ``crontab`` takes) failed every ``crontab.crontab`` of that user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e_helpers import Outcome, run_deploy, write_deploy

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root: makes throwaway users"),
    pytest.mark.skipif(
        not all(shutil.which(p) for p in ("crontab", "useradd", "userdel", "groupdel", "vipw")),
        reason="needs crontab and shadow-utils (useradd, userdel, groupdel, vipw)",
    ),
]


def _remove_account(name: str) -> None:
    """The user, its group and its crontab; the home a failed run may have made."""
    subprocess.run(["crontab", "-r", "-u", name], capture_output=True)
    subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["groupdel", name], capture_output=True)
    shutil.rmtree(f"/home/{name}", ignore_errors=True)


def _name(tag: str) -> str:
    return f"oxfx{tag}{os.getpid() % 100000}"


@pytest.fixture
def account() -> Iterator[str]:
    """A throwaway user (no home directory made), removed afterwards with its crontab."""
    name = _name("c")
    _remove_account(name)
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        _remove_account(name)


def set_crontab(user: str, text: str) -> None:
    subprocess.run(["crontab", "-u", user, "-"], input=text.encode(), check=True, capture_output=True)


def crontab_of(user: str) -> str:
    out = subprocess.run(["crontab", "-l", "-u", user], capture_output=True)
    return out.stdout.decode() if out.returncode == 0 else ""


def _deploy(tmp_path: Path, body: str, *flags: str) -> Outcome:
    deploy = write_deploy(tmp_path, "from oxinfra.operations import crontab, server\n" + body)
    return run_deploy("@local", deploy, "--no-host-lock", *flags)


def _once(tmp_path: Path, body: str, status: str) -> Outcome:
    out = _deploy(tmp_path, body)
    assert out.code == 0 and out.statuses("@local") == {"c": status}, out.describe()
    return out


# ---------------------------------------------------------------------------- name comments


def test_removing_an_entry_by_command_removes_its_name_comment(tmp_path: Path, account: str) -> None:
    """Deploy A removes the named entry by its command; deploy B adds an entry of that name:
    the ``report`` entry stays (it was replaced: B found the name comment A left above it)."""
    set_crontab(
        account,
        "# pyinfra-name=backup\n0 2 * * * /usr/local/bin/backup\n\n0 5 * * * /usr/local/bin/report\n",
    )
    remove = f'crontab.crontab(name="c", command="/usr/local/bin/backup", user={account!r}, present=False)\n'
    _once(tmp_path, remove, "changed")
    assert crontab_of(account) == "\n0 5 * * * /usr/local/bin/report\n"
    _once(tmp_path, remove, "unchanged")
    add = (
        f'crontab.crontab(name="c", command="/usr/local/bin/backup --v2", cron_name="backup", user={account!r},'
        " hour=2, minute=0)\n"
    )
    _once(tmp_path, add, "changed")
    assert crontab_of(account) == (
        "\n0 5 * * * /usr/local/bin/report\n\n# pyinfra-name=backup\n0 2 * * * /usr/local/bin/backup --v2\n"
    )
    _once(tmp_path, add, "unchanged")


def test_a_name_comment_with_no_entry_under_it_names_nothing(tmp_path: Path, account: str) -> None:
    """A name comment followed by a blank line (as the old removal left it) names nothing."""
    before = "# pyinfra-name=backup\n\n0 5 * * * /usr/local/bin/report\n"
    set_crontab(account, before)
    remove = f'crontab.crontab(name="c", command="x", cron_name="backup", user={account!r}, present=False)\n'
    _once(tmp_path, remove, "unchanged")
    assert crontab_of(account) == before
    add = f'crontab.crontab(name="c", command="/usr/local/bin/backup", cron_name="backup", user={account!r}, hour=2)\n'
    _once(tmp_path, add, "changed")
    assert crontab_of(account) == before + "\n# pyinfra-name=backup\n* 2 * * * /usr/local/bin/backup\n"
    _once(tmp_path, add, "unchanged")


def test_removing_a_named_entry_below_another_comment(tmp_path: Path, account: str) -> None:
    """The name comment is anywhere in the comments right above the entry: removed with it,
    the other comment stays; the second run changes nothing (it deleted the next entry)."""
    set_crontab(
        account,
        "# pyinfra-name=backup\n# nightly backup\n0 2 * * * /usr/local/bin/backup\n\n"
        "0 5 * * * /usr/local/bin/important-other-job\n",
    )
    remove = (
        f'crontab.crontab(name="c", command="/usr/local/bin/backup", cron_name="backup", user={account!r},'
        " present=False)\n"
    )
    _once(tmp_path, remove, "changed")
    assert crontab_of(account) == "# nightly backup\n\n0 5 * * * /usr/local/bin/important-other-job\n"
    _once(tmp_path, remove, "unchanged")
    assert crontab_of(account) == "# nightly backup\n\n0 5 * * * /usr/local/bin/important-other-job\n"


# ---------------------------------------------------------------------------- duplicates


def test_removing_removes_every_matching_entry(tmp_path: Path, account: str) -> None:
    set_crontab(account, "0 1 * * * /bin/echo five\n# keep\n0 3 * * * /bin/true\n*/5 * * * * /bin/echo five\n")
    remove = f'crontab.crontab(name="c", command="/bin/echo five", user={account!r}, present=False)\n'
    _once(tmp_path, remove, "changed")
    assert crontab_of(account) == "# keep\n0 3 * * * /bin/true\n"
    _once(tmp_path, remove, "unchanged")


# ---------------------------------------------------------------------------- env lines


def test_an_environment_line_crontab_takes_is_kept(tmp_path: Path, account: str) -> None:
    set_crontab(account, "MY-VAR=1\n 'MY VAR' = 2\n0 5 * * * /bin/true\n")
    assert crontab_of(account).startswith("MY-VAR=1\n")  # Debian's crontab takes it
    add = f'crontab.crontab(name="c", command="/bin/echo hi", user={account!r}, minute=7)\n'
    _once(tmp_path, add, "changed")
    assert crontab_of(account) == "MY-VAR=1\n 'MY VAR' = 2\n0 5 * * * /bin/true\n\n7 * * * * /bin/echo hi\n"
    _once(tmp_path, add, "unchanged")


# ---------------------------------------------------------------------------- ordering


def _created_then_cron(tmp_path: Path, accounts: str, ops: list[str]) -> Outcome:
    """``accounts`` (operations that make the users ``@F@`` and ``@G@``), then their crontabs:
    the crontab facts read before the users existed failed, and were not read again once the
    users were made (``crontab: user '...' unknown``). Returns the real run's outcome."""
    first, second = _name("f"), _name("g")
    for name in (first, second):
        _remove_account(name)
    body = accounts.replace("@F@", first).replace("@G@", second) + (
        f'crontab.crontab(name="c", command="/bin/echo made", cron_name="made", user={first!r}, hour=4, minute=0)\n'
        f'crontab.crontab(name="c2", command="/bin/echo two", user={second!r}, special_time="@daily")\n'
    )
    ops = [*ops, "c", "c2"]
    try:
        out = _deploy(tmp_path, body)
        assert out.code == 0 and out.statuses("@local") == dict.fromkeys(ops, "changed"), out.describe()
        assert crontab_of(first) == "# pyinfra-name=made\n0 4 * * * /bin/echo made\n"
        assert crontab_of(second) == "@daily /bin/echo two\n"
        again = _deploy(tmp_path, body)
        statuses = {op: status for op, status in again.statuses("@local").items() if op in ("c", "c2")}
        assert again.code == 0 and statuses == {"c": "unchanged", "c2": "unchanged"}, again.describe()
        return out
    finally:
        for name in (first, second):
            _remove_account(name)


def test_the_crontab_of_a_user_the_deploy_creates(tmp_path: Path) -> None:
    accounts = (
        'server.group(name="g", group="@F@")\n'
        'server.user(name="u", user="@F@", group="@F@", create_home=False, ensure_home=False)\n'
        'server.user(name="u2", user="@G@", create_home=False, ensure_home=False)\n'
    )
    name = _name("f")
    _remove_account(name)
    dry_body = accounts.replace("@F@", name) + f'crontab.crontab(name="c", command="/bin/true", user={name!r})\n'
    dry = _deploy(tmp_path, dry_body.replace("@G@", _name("g")), "--dry")  # planned from an empty crontab
    assert dry.code == 0 and dry.statuses("@local") == dict.fromkeys(["g", "u", "u2", "c"], "changed"), dry.describe()
    assert subprocess.run(["id", name], capture_output=True).returncode != 0
    out = _created_then_cron(tmp_path, accounts, ["g", "u", "u2"])
    # facts; u and u2 planned again (each one's accounts changed under it, as always); the
    # crontab facts read again after the accounts: one round trip for both
    assert out.host("@local")["round_trips"] <= 5, out.describe()


def test_crontabs_of_users_a_command_creates_cost_one_round_trip_more(tmp_path: Path) -> None:
    """Both crontab facts failed before the users were made: read again together."""
    accounts = 'server.shell(name="s", commands=["id @F@ || useradd -M @F@", "id @G@ || useradd -M @G@"])\n'
    out = _created_then_cron(tmp_path, accounts, ["s"])
    # the facts; the command and both crontab facts again; the crontabs
    assert out.host("@local")["round_trips"] == 3, out.describe()


# ---------------------------------------------------------------------------- server.user home

_EMPTY_HOME = """
import os, sys
path, user = sys.argv[1], os.environ["OXFX_USER"]
st = os.stat(path)
with open(path, "r+") as handle:
    lines = handle.read().split("\\n")
    for i, line in enumerate(lines):
        fields = line.split(":")
        if fields[0] == user and len(fields) == 7:
            fields[5] = ""
            lines[i] = ":".join(fields)
    handle.seek(0)
    handle.write("\\n".join(lines))
    handle.truncate()
os.utime(path, (st.st_atime, st.st_mtime + 2))  # vipw sees a change by the mtime (seconds)
"""


def test_user_without_home_argument_keeps_an_empty_home(tmp_path: Path, account: str) -> None:
    """pyinfra 3.10 leaves an empty home field as it is when no ``home=`` is given."""
    editor = tmp_path / "empty_home.py"
    editor.write_text(_EMPTY_HOME)
    subprocess.run(
        ["vipw"],
        env={**os.environ, "VISUAL": f"{sys.executable} {editor}", "OXFX_USER": account},
        stdin=subprocess.DEVNULL,
        check=True,
        capture_output=True,
    )
    assert pwd.getpwnam(account).pw_dir == ""
    body = f'server.user(name="c", user={account!r}, shell="/bin/bash")\n'
    out = _once(tmp_path, body, "changed")
    entry = pwd.getpwnam(account)
    assert (entry.pw_dir, entry.pw_shell) == ("", "/bin/bash"), out.describe()
    again = _once(tmp_path, body, "unchanged")
    assert "no home" in again.op("@local", "c").get("noop", ""), again.describe()
    assert pwd.getpwnam(account).pw_dir == ""
