"""``files.download``: a file fetched from a URL with ``curl`` (else ``wget``) on the host."""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import Any

from oxinfra.api import OperationGenerator, get_facts, host, noop, operation, touches
from oxinfra.exceptions import OperationError, OperationValueError
from oxinfra.facts.files import File, Md5File, Sha1File, Sha256File, Sha384File
from oxinfra.facts.server import Date, Which
from oxinfra.operations.util.files import (
    check_owner,
    check_path,
    covering_umask,
    creation_umask,
    mode_commands,
    owner_commands,
    parse_mode,
    temp_beside,
)
from oxinfra.quoting import and_then, command, copy_owner, or_else, pipe, subshell, write_to
from oxinfra.quoting import group as group_of

__all__ = ["download"]

#: argument -> (fact, hex digits, checking tool)
_SUMS = {
    "sha384sum": (Sha384File, 96, "sha384sum"),
    "sha256sum": (Sha256File, 64, "sha256sum"),
    "sha1sum": (Sha1File, 40, "sha1sum"),
    "md5sum": (Md5File, 32, "md5sum"),
}
_SCHEMES = ("http", "https", "ftp", "ftps")
#: RFC 9110's token: the characters of a header name.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(op: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or _CONTROL.search(value):
        raise OperationValueError(f"{op}: {key}= must be a non-empty string with no control characters, not {value!r}")
    return value


def _quoted(value: str) -> str:
    """``value`` as a double-quoted string of a curl config file (backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _extra(op: str, key: str, value: Any) -> list[str]:
    """pyinfra's ``{"--option": "value"}`` (value None: the option alone) as arguments."""
    if value is None:
        return []
    if not isinstance(value, dict):
        raise OperationValueError(f"{op}: {key}= must be a dict of option -> value, not {value!r}")
    words: list[str] = []
    for option, arg in value.items():
        if not isinstance(option, str) or not re.fullmatch(r"--?[A-Za-z0-9][A-Za-z0-9-]*(=.*)?", option):
            raise OperationValueError(f"{op}: {key}= keys must be options such as '--retry', not {option!r}")
        if arg is not None and not isinstance(arg, (str, int)) or isinstance(arg, bool):
            raise OperationValueError(f"{op}: {key}= value of {option} must be a string, number or None")
        words += [option] if arg is None else [option, str(arg)]
    return words


@operation()
def download(
    src: str,
    dest: str,
    user: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    cache_time: int | None = None,
    force: bool = False,
    sha384sum: str | None = None,
    sha256sum: str | None = None,
    sha1sum: str | None = None,
    md5sum: str | None = None,
    headers: dict[str, str] | None = None,
    insecure: bool = False,
    proxy: str | None = None,
    limit_rate: str | None = None,
    temp_dir: str | None = None,
    extra_curl_args: dict[str, str | int | None] | None = None,
    extra_wget_args: dict[str, str | int | None] | None = None,
) -> OperationGenerator:
    """Download a file from a URL with ``curl`` (or ``wget`` where the host has no curl).

    The file is fetched when ``dest`` is missing, when ``force``, when it is older than
    ``cache_time`` seconds (by the host's clock) or when its digest is not the one given;
    otherwise only its owner and mode are fixed. A download goes to a temporary file
    (beside ``dest``, or in ``temp_dir``), is checked against every digest given, gets its
    owner and mode, and only then is renamed over ``dest``: a failed or wrong download
    leaves ``dest`` as it was and no temporary file (pyinfra checks the digest after the
    file has replaced ``dest``). Whatever is under the temporary file's name beforehand is
    removed and the file created anew, exclusively (``set -C``), so in a directory others
    may write to (``/tmp``) no file or link of theirs becomes ``dest``.

    curl reads the URL, the headers and the proxy from its standard input (a config on a
    pipe from the shell's ``printf`` builtin), so tokens in them appear in no process's
    arguments. wget takes the headers and proxy the same way (``--config=/dev/stdin``, which
    then replaces ``/etc/wgetrc``) but the URL as an argument.

    + src: the URL (``http``, ``https``, ``ftp`` or ``ftps``)
    + dest: where to save the file (its directory must exist)
    + user: the file's owner (a name, not an id: ``user="5"`` is refused, as an owner is
      compared by name; the same for ``group``)
    + group: the file's group; by default a file downloaded again keeps its owner and group
      (as ``files.put``)
    + mode: the file's permissions (``644``); by default a file downloaded again keeps its
      mode, a new one gets the shell's umask
    + cache_time: download again when the file is older than this many seconds
    + force: download every time
    + sha384sum: the SHA-384 digest the file must have
    + sha256sum: the SHA-256 digest the file must have
    + sha1sum: the SHA-1 digest the file must have
    + md5sum: the MD5 digest the file must have
    + headers: HTTP headers to send, ``{"Authorization": "Bearer ..."}``
    + insecure: do not verify the server's TLS certificate
    + proxy: an HTTP proxy, ``http://proxy.example:3128``
    + limit_rate: the highest download speed, as curl and wget read it (``500k``, ``1M``)
    + temp_dir: the directory of the temporary file (default: ``dest``'s own; another
      file system makes the final rename a copy)
    + extra_curl_args: more curl options, ``{"--retry": "3", "--ipv4": None}``
    + extra_wget_args: more wget options, ``{"--tries": "3"}``

    Example::

        files.download(
            name="Docker's repository file",
            src="https://download.docker.com/linux/debian/docker.asc",
            dest="/etc/apt/keyrings/docker.asc",
            mode="644",
            sha256sum="1500c1f56fa9e26b9b8f42452a553675796ade0807cdce11975eb98170b3a570",
        )
    """
    op = "files.download"
    url = _one_line(op, "src", src)
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in _SCHEMES:
        raise OperationValueError(f"{op}: src= must be an http, https, ftp or ftps URL, not {src!r}")
    if not isinstance(dest, str) or not dest or dest.endswith("/"):
        raise OperationValueError(f"{op}: dest= must be a file path, not {dest!r}")
    check_path(dest, "dest")
    if temp_dir is not None:
        if not isinstance(temp_dir, str) or not temp_dir:
            raise OperationValueError(f"{op}: temp_dir= must be a directory path, not {temp_dir!r}")
        check_path(temp_dir, "temp_dir")
    check_owner(user, group)
    want_mode = parse_mode(mode)
    for key, flag in (("force", force), ("insecure", insecure)):
        if not isinstance(flag, bool):
            raise OperationValueError(f"{op}: {key}= must be True or False, not {flag!r}")
    if cache_time is not None and (isinstance(cache_time, bool) or not isinstance(cache_time, int) or cache_time < 0):
        raise OperationValueError(f"{op}: cache_time= must be a number of seconds (0 or more), not {cache_time!r}")
    sums: dict[str, str] = {}
    for key, value in (("sha384sum", sha384sum), ("sha256sum", sha256sum), ("sha1sum", sha1sum), ("md5sum", md5sum)):
        if value is None:
            continue
        digits = _SUMS[key][1]
        if not isinstance(value, str) or not re.fullmatch("[0-9a-fA-F]+", value) or len(value) != digits:
            raise OperationValueError(f"{op}: {key}= must be {digits} hex digits, not {value!r}")
        sums[key] = value.lower()
    if headers is not None and not isinstance(headers, dict):
        raise OperationValueError(f"{op}: headers= must be a dict of name -> value, not {headers!r}")
    header_lines: list[str] = []
    for name, header in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise OperationValueError(f"{op}: headers= name {name!r} is not an HTTP header name")
        if not isinstance(header, str) or _CONTROL.search(header):
            raise OperationValueError(f"{op}: headers= value of {name} must be a string on one line")
        header_lines.append(name + ": " + header)
    if proxy is not None:
        _one_line(op, "proxy", proxy)
    if limit_rate is not None and not re.fullmatch(r"[0-9]+(\.[0-9]+)?[kKmMgG]?", str(limit_rate)):
        raise OperationValueError(f"{op}: limit_rate= must be a speed such as 500k or 1M, not {limit_rate!r}")
    curl_extra = _extra(op, "extra_curl_args", extra_curl_args)
    wget_extra = _extra(op, "extra_wget_args", extra_wget_args)

    facts: list[tuple[Any, dict[str, Any]]] = [
        (File, {"path": dest}),
        (Which, {"command": "curl"}),
        (Which, {"command": "wget"}),
    ]
    facts += [(_SUMS[key][0], {"path": dest}) for key in sums]
    if cache_time:
        facts.append((Date, {}))
    info, curl, wget, *rest = get_facts(host, facts)
    digests = dict(zip(sums, rest))
    now = rest[len(sums)] if cache_time else None
    tmp = temp_beside(dest, "download", temp_dir)  # an operand: never read as an option of -o
    touches(dest)
    touches(tmp)

    if info is False:
        raise OperationError(f"{op}: {dest} exists and is not a file")
    why = None
    if info is None:
        why = "missing"
    elif force:
        why = "force"
    elif cache_time and now is not None and info.get("mtime") is not None:  # (now is read only with a cache_time)
        oldest = now.astimezone(timezone.utc).replace(tzinfo=None) - timedelta(seconds=cache_time)
        if info["mtime"] < oldest:
            why = "older than cache_time"
    if why is None:
        for key, want in sums.items():
            if digests[key] != want:
                why = key + " differs"
    if why is None:
        changes = owner_commands(dest, user, group, info) + mode_commands(dest, want_mode, info)
        if not changes:
            noop(f"file {dest} has already been downloaded")
        yield from changes
        return

    remove = command("rm", "-f", "--", tmp)
    if curl:
        config = "url = " + _quoted(url) + "\n"
        config += "".join("header = " + _quoted(line) + "\n" for line in header_lines)
        if proxy:
            config += "proxy = " + _quoted(proxy) + "\n"
        options = ["-sSLf", *(["--insecure"] if insecure else [])]
        options += ["--limit-rate", str(limit_rate)] if limit_rate is not None else []
        fetch = pipe(command("printf", "%s", config), command("curl", *options, *curl_extra, "-K", "-", "-o", tmp))
    elif wget:
        options = ["-q", *(["--no-check-certificate"] if insecure else [])]
        options += ["--limit-rate", str(limit_rate)] if limit_rate is not None else []
        config = "".join("header = " + line + "\n" for line in header_lines)
        if proxy:
            config += (
                "use_proxy = on\nhttp_proxy = " + proxy + "\nhttps_proxy = " + proxy + "\nftp_proxy = " + proxy + "\n"
            )
        if config:
            fetch = pipe(
                command("printf", "%s", config),
                command("wget", "--config=/dev/stdin", *options, *wget_extra, "-O", tmp, "--", url),
            )
        else:
            fetch = command("wget", *options, *wget_extra, "-O", tmp, "--", url)
    else:
        raise OperationError(f"{op}: the host has neither curl nor wget (install one of them)")
    undo = group_of(remove, "false")
    # the temporary file is ours alone before anything is written to it: whatever is under
    # its name (a file, a link another user made in a world-writable directory) is removed,
    # then it is created with noclobber (O_EXCL: fails rather than open someone else's file
    # or follow a link made in between), so curl/wget write into a file of the run's user
    # under a umask that gives it no permission its mode lacks: a file of mode 600 is never
    # readable by others while the download is written into it (chmod adds execute bits)
    if want_mode is None and info:
        want_mode = info["mode"]  # downloaded again: it keeps its mode, as the other writes do
    umask = [] if want_mode is None else ["umask " + covering_umask(want_mode)]
    create = subshell(*umask, "set -C", write_to("true", tmp))
    yield or_else(and_then(remove, create, fetch), undo)
    for key, want in sums.items():
        check = pipe(command("printf", "%s  %s\\n", want, tmp), command(_SUMS[key][2], "-c", "--quiet", "-"))
        yield or_else(check, undo)
    if info and not (user and group):  # downloaded again: it keeps its owner and group too
        yield or_else(copy_owner(dest, tmp, user, group), undo)
    else:
        yield from owner_commands(tmp, user, group, None, undo=remove)
    if creation_umask(want_mode) is None:  # execute or special bits: the umask could not give them
        yield from (or_else(cmd, undo) for cmd in mode_commands(tmp, want_mode, None))
    yield or_else(command("mv", "-f", "--", tmp, dest), undo)
