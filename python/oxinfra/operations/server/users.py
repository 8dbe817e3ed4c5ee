"""Users, groups and their SSH keys: ``server.user``, ``server.group``,
``server.user_authorized_keys``.

Accounts are read from the ``server.Users`` and ``server.Groups`` facts (``/etc/passwd``,
``/etc/group``, ``/etc/shadow``) and changed with shadow-utils (``useradd``, ``usermod``,
``userdel``, ``groupadd``, ``groupdel``, ``chpasswd``): Linux hosts. A password hash reaches
``chpasswd`` on its standard input through the shell's ``printf`` builtin, never in a
process's arguments (``ps`` would show it). Changing accounts may change anything (files
under ``/etc``, homes): these operations declare no paths of their own, so facts read
before them are checked again before later operations use them.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, operation, predict_content, predict_fact, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.crontab import Crontab, CrontabFile
from oxinfra.facts.files import Directory, File, FileBytes
from oxinfra.facts.server.users import Groups, Users
from oxinfra.operations import files
from oxinfra.operations.util.accounts import check_name
from oxinfra.operations.util.files import local_path, parent_dir, temp_beside
from oxinfra.quoting import and_then, command, in_directory, or_else, path_operand, pipe, with_umask, write_to
from oxinfra.quoting import group as group_of

__all__ = ["user", "group", "user_authorized_keys"]


def _field(value: Any, what: str, op: str, absolute: bool = False) -> str | None:
    """A value written to one field of ``/etc/passwd``: one line, no ``:``; a path absolute."""
    if value is None:
        return None
    if not isinstance(value, str) or ":" in value or "\n" in value or "\r" in value:
        raise OperationValueError(f"{op}: {what} {value!r} must be text without ':' or line breaks")
    if absolute and not value.startswith("/"):
        raise OperationValueError(f"{op}: {what} {value!r} must be an absolute path (starting with '/')")
    return value


def _id(value: Any, what: str, op: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,10}", str(value)) or int(str(value)) > 2**32 - 2:
        raise OperationValueError(f"{op}: {what} {value!r} must be a whole number from 0 to 4294967294")
    return int(str(value))


def declare_account_files() -> None:
    """What shadow-utils change: the account files under ``/etc`` (``passwd``, ``shadow``,
    ``group``, ``gshadow``, ``subuid``, ``subgid``, their ``-`` backups and lock files) and
    the records under ``/var`` (``lastlog``, ``faillog``, a mail spool). Declared as the two
    subtrees: a later fact about a path below them is checked again on the host."""
    touches("/etc", subtree=True)
    touches("/var", subtree=True)


def _password_command(name: str, password: str) -> str:
    """Set an encrypted password: ``printf`` is the shell's builtin, so the hash is in no
    process's arguments; ``chpasswd -e`` reads ``name:hash`` lines."""
    return pipe(command("printf", "%s:%s\\n", name, password), command("chpasswd", "-e"))


# -------------------------------------------------------------------------------- group


@operation(shell_safe=True)
def group(group: str, present: bool = True, system: bool = False, gid: int | str | None = None) -> OperationGenerator:
    """Add or remove a group.

    + group: the group's name
    + present: whether it should exist
    + system: create it as a system group (``groupadd -r``)
    + gid: its group id, when it is created (an existing group's id is left as it is, as in
      pyinfra)

    Example::

        server.group(name="Docker group", group="docker", system=True)
    """
    name = check_name(group, "group", "server.group")
    want_gid = _id(gid, "gid", "server.group")
    (groups,) = get_facts(host, [(Groups, {})])
    declare_account_files()
    exists = name in groups
    if not present:
        if exists:
            predict_fact(Groups, {}, [g for g in groups if g != name])
            yield command("groupdel", "--", name)
        else:
            host.noop(f"group {name} does not exist")
        return
    if exists:
        host.noop(f"group {name} exists")
        return
    args = ["-r"] if system else []
    if want_gid is not None:
        args += ["--gid", str(want_gid)]
    predict_fact(Groups, {}, [*groups, name])
    yield command("groupadd", *args, "--", name)


# -------------------------------------------------------------------------------- keys


def _read_keys(public_keys: Any, op: str) -> list[str]:
    """The keys of ``public_keys`` (a key or a list; an entry naming a local file, relative
    to the deploy file's directory, stands for the keys in it, one a line)."""
    if isinstance(public_keys, str):
        public_keys = [public_keys]
    if not isinstance(public_keys, (list, tuple)) or not all(isinstance(k, str) for k in public_keys):
        raise OperationValueError(f"{op}: public_keys must be a key or a list of keys (strings)")
    keys: list[str] = []
    for entry in public_keys:
        path = local_path(entry) if entry and not any(c.isspace() for c in entry) else None
        if path is not None and os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        else:
            if "\n" in entry.strip() or "\r" in entry:
                raise OperationValueError(f"{op}: a public key must be one line: {entry[:40]!r}...")
            if not entry.strip() or entry.strip().startswith("#"):
                raise OperationValueError(f"{op}: {entry[:40]!r} is not a public key (empty, or a # comment)")
            lines = [entry]
        keys += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return keys


def _key_facts(key_file: str) -> list[tuple[type, dict[str, Any]]]:
    """The facts ``_authorized_keys`` reads (with ``delete_keys`` too)."""
    return [
        (Directory, {"path": parent_dir(key_file)}),
        (File, {"path": key_file}),
        (FileBytes, {"path": key_file}),
    ]


def _key_file_data(old: bytes, keys: list[str], delete_keys: bool) -> bytes:
    """What the key file should hold: ``old`` with the missing keys appended (a newline
    first where it lacks one), or with ``delete_keys`` exactly ``keys`` (``old`` itself when
    its keys are those: comment and blank lines are not keys)."""
    lines = old.decode("utf-8", "surrogateescape").splitlines()
    current = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if delete_keys:
        return old if current == keys else "".join(key + "\n" for key in keys).encode()
    missing = [key for key in dict.fromkeys(keys) if key not in current]
    if not missing:
        return old
    if old and not old.endswith(b"\n"):
        old += b"\n"
    return old + "".join(key + "\n" for key in missing).encode()


def _owned_as(info: Any, user: str, group: str, mode: int) -> bool:
    return bool(info) and (info["user"], info["group"], info["mode"]) == (user, group, mode)


def _authorized_keys(user: str, group: str, keys: list[str], key_file: str, delete_keys: bool) -> OperationGenerator:
    """The directory (700), the file (600) and the keys, owned by ``user``:``group``. Reads
    only the facts of :func:`_key_facts`.

    The directory is the user's (``~/.ssh``, in a home they may write): they could put a
    link at either name between the facts and the commands. So nothing is written through a
    name there: the directory is made with ``mkdir`` (which fails on anything at its name)
    and given away with ``chown -h``; then the commands run inside it (``cd -P``), once it is
    proven to be the directory of that name under its parent (``pwd -P``), on the names in
    it: the file is written whole (its known content and the keys) into a temporary file
    created exclusively under umask 077, given away with ``chown -h`` and renamed over the
    key file. A link in the way makes the operation fail or replaces the link; no file it
    leads to is read, written, chowned or chmodded."""
    directory, name = parent_dir(key_file), posixpath.basename(key_file)
    dir_info, info, content = get_facts(host, _key_facts(key_file))
    if dir_info is False:
        raise OperationError(f"{directory} exists and is not a directory")
    if info is False:
        raise OperationError(f"{key_file} exists and is not a file")
    old = content or b""
    data = _key_file_data(old, keys, delete_keys)
    if b"\x00" in data:
        raise OperationError(f"{key_file} holds NUL bytes: not a key file")
    touches(key_file, ancestors=True)
    owner = user + ":" + group
    inside: list[str] = []
    if dir_info and not _owned_as(dir_info, user, group, 700):
        inside += [command("chown", "--", owner, "."), command("chmod", "700", ".")]
    if info is None or data != old or not _owned_as(info, user, group, 600):
        predict_content(key_file, data)
        tmp = temp_beside(name, "keys")
        inside += [
            command("rm", "-f", "--", tmp),
            with_umask(
                "077", "set -C", write_to(command("printf", "%s", data.decode("utf-8", "surrogateescape")), tmp)
            ),
            or_else(
                and_then(command("chown", "-h", "--", owner, tmp), command("mv", "-f", "--", tmp, path_operand(name))),
                group_of(command("rm", "-f", "--", tmp), "false"),
            ),
        ]
    if not inside:
        host.noop(f"{key_file} holds every key")
        return
    if dir_info is None:
        yield command("mkdir", "-p", "--", parent_dir(directory))
        yield command("mkdir", "-m", "700", "--", directory)
        yield command("chown", "-h", "--", owner, directory)
    yield in_directory(directory, and_then(*inside))


@operation(
    shell_safe=True,
    fact_batches=2,
    fact_batches_reason="without authorized_key_directory the user's home (server.Users) names the key file",
)
def user_authorized_keys(
    user: str,
    public_keys: str | list[str],
    group: str | None = None,
    delete_keys: bool = False,
    authorized_key_directory: str | None = None,
    authorized_key_filename: str | None = None,
) -> OperationGenerator:
    """Make sure a user's ``authorized_keys`` holds the given public keys.

    The directory (``~/.ssh``, mode 700) and the file (mode 600) are created when missing
    and owned by the user. Keys missing from the file are appended; with ``delete_keys``
    the file is rewritten to hold exactly the keys given (comment and blank lines are not
    keys).

    + user: the user (who must exist unless ``authorized_key_directory`` is given)
    + public_keys: a key, or a list; an entry naming a local file (relative to the deploy
      file's directory) stands for the keys in it
    + group: the group owning the directory and file (default: the user's primary group
      when the user is read, else a group named as the user)
    + delete_keys: remove the keys that are not in ``public_keys``
    + authorized_key_directory: the directory (default: the user's home + ``/.ssh``)
    + authorized_key_filename: the file's name (default: ``authorized_keys``)

    Without ``authorized_key_directory`` the user's home is read first: one more round trip.

    Example::

        server.user_authorized_keys(name="Deploy keys", user="deploy",
                                    public_keys=["ssh-ed25519 AAAAC3Nza... ci@example"])
    """
    op = "server.user_authorized_keys"
    name = check_name(user, "user", op)
    if group is not None:
        check_name(group, "group", op)
    keys = _read_keys(public_keys, op)
    directory = _field(authorized_key_directory, "authorized_key_directory", op, absolute=True)
    filename = authorized_key_filename or "authorized_keys"
    if not isinstance(filename, str):
        raise OperationValueError(f"{op}: authorized_key_filename {filename!r} must be a file name (a string)")
    if "\x00" in filename or "/" in filename or filename in (".", "..") or "\n" in filename:
        raise OperationValueError(f"{op}: authorized_key_filename {filename!r} must be a file name (no '/')")
    owner_group = group or name
    if directory is None:
        (users,) = get_facts(host, [(Users, {})])
        entry = users.get(name)
        if entry is None or not entry["home"]:
            raise OperationError(f"{op}: there is no user {name} (or it has no home): create it first with server.user")
        directory = posixpath.join(entry["home"], ".ssh")
        owner_group = group or entry["group"]
    yield from _authorized_keys(name, owner_group, keys, posixpath.join(directory, filename), delete_keys)


# -------------------------------------------------------------------------------- user


def _predict_account(
    users: dict[str, Any],
    groups: list[str],
    name: str,
    existing: dict[str, Any] | None,
    want: dict[str, Any],
    others: list[str] | None,
    append: bool,
) -> None:
    """What ``server.Users`` (and ``server.Groups``, for the group ``useradd`` makes, and
    ``crontab.Crontab`` of a new user: empty) read once ``useradd``/``usermod``/``chpasswd``
    ran: for the operations after this one in a dry run (:func:`oxinfra.api.predict_fact`).
    ``want`` holds the fields set (``home``, ``shell``, ``group``, ``comment``,
    ``password``; None: not set); what the tools choose themselves (a new user's ids, its
    default shell) is None."""
    entry: dict[str, Any] = dict(existing) if existing else {
        "home": None, "comment": None, "shell": None, "group": name, "groups": [], "uid": None, "gid": None,
        "lastlog": None, "login_time": None, "password": "",
    }  # fmt: skip
    entry.update({k: v for k, v in want.items() if v})
    if others is not None:
        kept = [g for g in entry["groups"] if append and g not in others]
        entry["groups"] = [g for g in kept + others if g != entry["group"]]
    predict_fact(Users, {}, {**users, name: entry})
    if entry["group"] not in groups:
        predict_fact(Groups, {}, [*groups, entry["group"]])
    if existing is None:  # a new user has no crontab (crontab -l -u of an unknown user fails)
        predict_fact(Crontab, {"user": name}, CrontabFile())


#: Directories that are nobody's home to own: ensure_home never creates or chowns them
#: (system accounts name them as homes: ``daemon``'s is /usr/sbin, ``nobody``'s /nonexistent).
SYSTEM_DIRECTORIES = frozenset(
    "/ /bin /boot /dev /dev/null /etc /home /lib /lib32 /lib64 /libx32 /media /mnt /nonexistent /opt /proc "
    "/root /run /sbin /srv /sys /tmp /usr /usr/bin /usr/games /usr/include /usr/lib /usr/lib32 /usr/lib64 "
    "/usr/libexec /usr/local /usr/local/bin /usr/local/etc /usr/local/lib /usr/local/sbin /usr/local/share "
    "/usr/sbin /usr/share /usr/src /var /var/backups /var/cache /var/empty /var/lib /var/local /var/lock "
    "/var/log /var/mail /var/opt /var/run /var/spool /var/tmp".split()
)
#: Accounts below this id are system accounts (``UID_MIN`` of login.defs on Debian, Ubuntu,
#: Fedora, RHEL, Arch): their homes are as their packages made them.
UID_MIN = 1000


def _home_left_alone(
    name: str, home: str, info: Any, existing: dict[str, Any] | None, created: bool, asked: bool
) -> bool:
    """Whether ``ensure_home`` leaves ``home`` (the Directory fact ``info``) as it is (it
    then says why: ``host.noop``), or not, when it makes sure the directory exists, owned by ``name``. It takes a directory over
    (chown) only from root, and only for an account it creates or whose home it moves
    (``asked``); never a system directory nor another user's directory; and it makes a
    missing one for an existing system account only when moved."""
    system = existing is not None and int(existing.get("uid") or 0) < UID_MIN
    if "/" + posixpath.normpath(home).lstrip("/") in SYSTEM_DIRECTORIES:
        host.noop(f"home {home} is a system directory: left as it is")
        return True
    if info is None:
        if system and not asked:
            host.noop(f"home {home} of system account {name} does not exist: left so (give home= to have it made)")
            return True
        return False
    if not isinstance(info, dict):
        host.noop(f"home {home} is not a directory (a link?): left as it is")
        return True
    owner = info.get("user")
    if owner == name or (owner == "root" and (created or asked)):
        return False
    host.noop(
        f"home {home} is owned by {owner}, not {name}: left as it is (chown it with files.directory if it is {name}'s)"
    )
    return True


@operation(
    shell_safe=True,
    fact_batches=2,
    fact_batches_reason="without home= the facts of an existing user's home (if not /home/NAME) follow server.Users",
)
def user(
    user: str,
    present: bool = True,
    home: str | None = None,
    shell: str | None = None,
    group: str | None = None,
    groups: list[str] | None = None,
    append: bool = False,
    public_keys: str | list[str] | None = None,
    delete_keys: bool = False,
    ensure_home: bool = True,
    create_home: bool = False,
    system: bool = False,
    uid: int | str | None = None,
    comment: str | None = None,
    unique: bool = True,
    password: str | None = None,
) -> OperationGenerator:
    """Add, change or remove a user, its home directory and its SSH keys.

    A new user gets every attribute given; an existing one is changed where ``home``,
    ``shell``, ``group``, ``groups``, ``comment`` or ``password`` differ. As in pyinfra,
    ``uid``, ``system``, ``create_home`` and ``unique`` apply only when the user is created,
    and ``present=False`` removes the account, not its home.

    + user: the user's name
    + present: whether the user should exist
    + home: the home directory (default: the existing user's, else ``/home/NAME``; an
      existing user whose home field is empty keeps it so, without a home directory or keys)
    + shell: the login shell (an absolute path)
    + group: the primary group (it must exist; a new user without one gets the group of its
      name when that exists, else one made by ``useradd``)
    + groups: the other groups (each must exist)
    + append: add ``groups`` to the user's groups instead of making them the whole list
    + public_keys: keys for ``~/.ssh/authorized_keys`` (see ``server.user_authorized_keys``)
    + delete_keys: remove the keys that are not in ``public_keys``
    + ensure_home: make sure the home directory exists, owned by the user. Unlike pyinfra
      (which chowns whatever the home is: ``/usr/sbin`` for ``daemon``), an existing
      directory owned by root is taken over only for a user created here or a ``home``
      moved here; one owned by another user (root, for an existing user), a system
      directory (``/``, ``/usr/sbin``, ``/var/lib``, ``/nonexistent``...) and a missing home
      of an existing system account (uid < 1000, unless ``home`` moves it) are left as they
      are, saying so. A home the user owns gets its group set
    + create_home: create a new user's home from the skeleton (``useradd -m``)
    + system: create a system account (``useradd -r``)
    + uid: the new user's id
    + comment: the GECOS comment
    + unique: refuse a ``uid`` another user has (``unique=False``: ``useradd -o``)
    + password: the encrypted password (a hash such as ``$6$...``, as ``/etc/shadow`` holds
      it); read it with ``_sudo=True`` so the comparison sees the current one. Pass it as
      ``oxinfra.api.Secret`` to keep it out of printed commands.

    Example::

        server.user(name="App user", user="app", shell="/bin/bash", groups=["www-data"],
                    public_keys=["ssh-ed25519 AAAAC3Nza... ops@example"], _sudo=True)
    """
    op = "server.user"
    name = check_name(user, "user", op)
    want_home = _field(home, "home", op, absolute=True)
    want_shell = _field(shell, "shell", op, absolute=True)
    want_comment = _field(comment, "comment", op)
    want_password = _field(password, "password", op)
    want_uid = _id(uid, "uid", op)
    if group is not None:
        check_name(group, "group", op)
    if groups is not None and (isinstance(groups, str) or not isinstance(groups, (list, tuple))):
        raise OperationValueError(f"{op}: groups must be a list of group names, not {groups!r}")
    want_groups = [check_name(g, "group in groups", op) for g in groups or []]
    keys = _read_keys(public_keys, op) if public_keys is not None else None

    guess = want_home or "/home/" + name
    batch: list[tuple[type, dict[str, Any]]] = [(Users, {}), (Groups, {})]
    if present and ensure_home:
        batch.append((Directory, {"path": guess}))
    if present and keys is not None:
        batch += _key_facts(posixpath.join(guess, ".ssh", "authorized_keys"))
    users, existing_groups, *_ = get_facts(host, batch)
    declare_account_files()
    existing = users.get(name)

    if not present:
        if existing is not None:
            predict_fact(Users, {}, {k: v for k, v in users.items() if k != name})
            yield command("userdel", "--", name)
        else:
            host.noop(f"user {name} does not exist")
        return

    # an existing user's home is changed only when home= is given: one whose home field is
    # empty (None) keeps it so (pyinfra 3.10 too), and gets no home directory nor keys
    home_dir = want_home or (existing["home"] if existing else "/home/" + name)
    if home_dir is None and keys is not None:
        raise OperationError(f"{op}: user {name} has no home for its keys: give home= (or use user_authorized_keys)")
    primary = group
    if existing is None:
        if primary is None and name in existing_groups:
            primary = name  # useradd would refuse to make a group that exists
        args: list[str] = ["-d", home_dir]
        if want_shell:
            args += ["-s", want_shell]
        if primary:
            args += ["-g", primary]
        if want_groups:
            args += ["-G", ",".join(want_groups)]
        if system:
            args.append("-r")
        if want_uid is not None:
            args += ["--uid", str(want_uid)]
            if not unique:
                args.append("-o")
        if want_comment:
            args += ["-c", want_comment]
        want = {"home": home_dir, "shell": want_shell, "group": primary, "comment": want_comment}
        _predict_account(users, existing_groups, name, None, {**want, "password": want_password}, want_groups, False)
        args.append("-m" if create_home else "-M")
        if create_home:
            touches(home_dir, subtree=True, ancestors=True)  # the skeleton is copied there
        yield command("useradd", *args, "--", name)
        if want_password:
            yield _password_command(name, want_password)
    else:
        args = []
        if want_home and want_home != existing["home"]:
            args += ["-d", want_home]
        if want_shell and want_shell != existing["shell"]:
            args += ["-s", want_shell]
        if primary and primary != existing["group"]:
            args += ["-g", primary]
        if want_groups:
            # the fact lists the other groups: the primary one (asked for, or the user's) is
            # no difference
            others = set(want_groups) - {primary or existing["group"]}
            if append:
                if not others <= set(existing["groups"]):
                    args += ["-a", "-G", ",".join(want_groups)]
            elif others != set(existing["groups"]):
                args += ["-G", ",".join(want_groups)]
        if want_comment and want_comment != existing["comment"]:
            args += ["-c", want_comment]
        new_password = want_password if want_password and want_password != existing["password"] else None
        if args or new_password:
            want = {"home": home_dir, "shell": want_shell, "group": primary, "comment": want_comment}
            member_of = want_groups if groups is not None else None
            _predict_account(
                users, existing_groups, name, existing, {**want, "password": new_password}, member_of, append
            )
        if args:
            yield command("usermod", *args, "--", name)
        if new_password:
            yield _password_command(name, new_password)
        if not args and not new_password:
            host.noop(f"user {name} exists as asked")

    owner_group = primary or (existing["group"] if existing else name)
    if home_dir is None:
        if ensure_home:
            host.noop(f"user {name} has no home: none made (give home= to set one)")
        return
    key_file = posixpath.join(home_dir, ".ssh", "authorized_keys")
    # Read already when home_dir is the guess; else one batch for the home and the keys.
    later = [(Directory, {"path": home_dir})] if ensure_home else []
    info, *_ = get_facts(host, later + (_key_facts(key_file) if keys is not None else [])) or [None]
    if ensure_home:
        moved = existing is not None and home_dir != existing["home"]
        if not _home_left_alone(name, home_dir, info, existing, created=existing is None, asked=moved):
            yield from files.directory._inner(home_dir, user=name, group=owner_group)
    if keys is not None:
        yield from _authorized_keys(name, owner_group, keys, key_file, delete_keys)
