"""Privilege and time limits around an operation's shell text: ``sudo``, ``su``, ``timeout``
and another shell (``_shell_executable``), with the script on the privileged shell's stdin
(never an argument) and a sudo password that only sudo reads (:func:`wrap_privilege`).

Every value is quoted by :mod:`oxinfra.quoting`.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from oxinfra.api.arguments import Privilege, shell_words
from oxinfra.quoting import quote

__all__ = ["wrap_privilege", "PASSWORD_REFUSED"]


def wrap_privilege(inner: str, privilege: tuple[Any, ...], timeout: float | None = None, shell: str = "sh") -> str:
    """Run the shell text ``inner`` as the privilege context says, in its own process.

    The text (commands, uploaded file contents) never becomes a process argument: every
    user sees arguments in ``/proc/*/cmdline``, and the kernel refuses one over 128 KiB.
    The inner ``sh`` reads it on stdin, from a quoted here-document::

        { sudo -n -H [-i] [-E] [-u USER] [timeout N] sh -s <<'__OX_P_<hash>'
        { <inner>
        } </dev/null
        __OX_P_<hash>
        }

    ``su``: ``su [-l] [-m] -s /bin/sh USER`` (its shell, or ``_su_shell``, reads stdin; with a
    timeout or another ``shell``, ``-c`` names only ``timeout N SHELL -s``). ``shell``
    (``_shell_executable``): the shell that reads the text, instead of ``sh``. Here-documents of the host's shell, ``sh``, which every connector
    starts (``exec sh`` over SSH, ``sh`` locally, ``docker exec -i ... sh``): dash
    (Debian's ``sh``) feeds one through a pipe, written by a child process when it is larger
    than a pipe's buffer, never through a file on disk. bash, ``sh`` on some distributions,
    writes large ones to a temporary file (mode 600, removed at once).

    The inner shell parses the whole ``{ ... }`` before it runs anything, and its commands
    read ``/dev/null``: nothing but the shell reads the here-document, and the shell never
    reads the outer stdin (the outer shell's own script). The outer braces keep the
    here-document the command's stdin when the caller appends ``</dev/null``.

    **A sudo password** (``Privilege.password``) reaches ``sudo -S`` on its stdin, written
    by the shell's own ``printf`` (a builtin: no process, no argument) into the pipe that
    also carries the script; it is never in the here-document (which bash may put in a
    file), an argument, the environment or a file::

        { <once per shell: does sudo need a password (V=n), is it right (V=0), see _password_check>
        { [ "$V" = n ] || [ "$V" = 0 ]; } && { [ "$V" = n ] || printf '%s\n' PASSWORD; cat; } <<'__OX_P_<hash>' |
            if [ "$V" = n ]; then sudo -n -H [-u USER] sh -s; else sudo -k -S -p '' -H [-u USER] sh -s; fi
        { <inner>
        } </dev/null
        __OX_P_<hash>
        }

    The password goes only where sudo reads it: ``-k`` makes sudo ask for it (it ignores
    credentials cached by an earlier use) and ``sudo -S`` reads exactly that one line; the
    command reads the rest, the script. Where sudo asks for no password (``NOPASSWD``, the
    login user is root; found once per shell with ``sudo -n -k`` and the same command on an
    empty script) none is written at all: no line of it can reach the command -- whose
    login shell (``-i``) runs the target user's ``~/.profile``, which could read it. Before
    the first use on a host's shell, ``sudo -S -v`` checks the password alone on its stdin,
    so a wrong one fails after one attempt (sudo would read up to three lines of the script
    as further attempts, seconds each) and every later use on that shell fails at once
    ("refused earlier") instead of trying it again.

    ``su`` reads a password from a terminal only: ``_su_user`` works where su asks for none
    (the login user is root, or with ``_sudo=True``: sudo's password, then su as root).
    """
    if not privilege and timeout is None and shell == "sh":
        return f"(\n{inner}\n)"
    program = " ".join(quote(word) for word in shell_words(shell)) + " -s"
    if timeout is not None:
        program = f"timeout {quote(_number(timeout))} {program}"
    p = Privilege(*privilege) if privilege else Privilege()
    if p.su_user:
        su_flags = (" -l" if p.su_login else "") + (" -m" if p.su_preserve_env else "")
        wrapped = timeout is not None or shell != "sh"
        # every option before the user: with POSIXLY_CORRECT set, su stops reading options
        # at the user, and would hand -s and -c to the user's login shell
        program = (
            f"su{su_flags} -s {quote(p.su_shell or '/bin/sh')}"
            + (f" -c {quote(program)}" if wrapped else "")
            + f" {quote(p.su_user)}"
        )
    end = _here_delimiter(inner)
    body = f"{{ {inner}\n}} </dev/null\n{end}\n}}"
    if not (p.sudo or p.sudo_user):
        return f"{{ {program} <<'{end}'\n{body}"
    flags = "-H" + (" -i" if p.login else "") + (" -E" if p.preserve_env else "")
    flags += f" -u {quote(p.sudo_user)}" if p.sudo_user else ""
    if p.password is None:
        return f"{{ sudo -n {flags} {program} <<'{end}'\n{body}"
    password = quote(str(p.password))
    check, var = _password_check(password, p.sudo_user, f"{flags} {program}")
    free, right = f'[ "${var}" = n ]', f'[ "${var}" = 0 ]'
    return (
        f"{{ {check}\n{{ {free} || {right}; }} && {{ {free} || printf '%s\\n' {password}; cat; }} <<'{end}' | "
        f"if {free}; then sudo -n {flags} {program}; else sudo -k -S -p '' {flags} {program}; fi\n{body}"
    )


#: Salts the names of the shell variables that remember a password's check (one process's
#: scripts agree; the names say nothing about the password).
_CHECK_SALT = secrets.token_bytes(16)
PASSWORD_REFUSED = "sudo: the password was refused earlier on this host; not tried again"


def _password_check(password: str, user: str | None, command: str) -> tuple[str, str]:
    """Shell text that finds, once per shell and sudo ``command`` (its flags and program),
    whether sudo needs the password (``password``: quoted) at all: ``sudo -n -k COMMAND`` on
    an empty script succeeds where it asks for none (``NOPASSWD``, root): the variable is
    then ``n``. Else it checks the password with ``sudo -S [-u USER] -v`` (the password alone
    on its stdin: one attempt; the user as the command will have it, for sudoers that ask
    for the target's password: ``targetpw``, ``runaspw``): the variable is then its status,
    ``0`` when it was right. Returns the text and the variable's name; later uses read the
    remembered value (a check inside ``$( )`` is done again)."""
    seed = b"\0".join(
        [
            _CHECK_SALT,
            password.encode("utf-8", "surrogateescape"),
            (user or "").encode("utf-8", "surrogateescape"),
            command.encode("utf-8", "surrogateescape"),
        ]
    )
    var = "__ox_pv_" + hashlib.sha256(seed).hexdigest()[:16]
    target = f" -u {quote(user)}" if user else ""
    check = (
        f'if [ -z "${var}" ]; then if sudo -n -k {command} </dev/null >/dev/null 2>&1; then {var}=n; '
        f"else printf '%s\\n' {password} | sudo -S -p ''{target} -v; {var}=$?; fi; "
        f'elif [ "${var}" != 0 ] && [ "${var}" != n ]; then echo {quote(PASSWORD_REFUSED)} >&2; fi'
    )
    return check, var


def _here_delimiter(text: str) -> str:
    """A here-document delimiter that occurs nowhere in ``text``: from its hash, so the same
    text always gets the same one (fact scripts are shared between hosts)."""
    salt = 0
    while True:
        digest = hashlib.sha256(f"{salt}:{text}".encode("utf-8", "surrogateescape")).hexdigest()
        end = f"__OX_P_{digest[:24]}"
        if end not in text:
            return end
        salt += 1


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
