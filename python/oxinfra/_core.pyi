"""The Rust core of oxinfra: inventories, operation ordering, output parsing.

Functions that may run long (pattern expansion, ordering, demultiplexing)
release the GIL while they work. The errors they raise are defined in
:mod:`oxinfra.exceptions` (``HostPatternError``, ``OrderCycleError``,
``OutputParseError``, ``HostNameError``, ``InventoryBuildError``,
``HostSelectionError``), all ``OxinfraError`` and ``ValueError``.
"""

from typing import final

__all__ = [
    "parse_users",
    "parse_groups",
    "parse_sysctl",
    "parse_mountinfo",
    "__version__",
    "InventoryLayout",
    "check_host_name",
    "expand_host_pattern",
    "order_operations",
    "demux",
    "split_stat_batch",
    "parse_stat",
    "parse_hash",
    "parse_lines",
    "split_release_files",
    "parse_os_release",
    "parse_ip_addr",
    "parse_package_listing",
]

__version__: str
"""The version of the Rust crate this module was built from."""

def check_host_name(name: str) -> None:
    """Raise HostNameError unless ``name`` is a valid host name."""

@final
class InventoryLayout:
    """Hosts, groups and data layers of an inventory, computed in Rust.

    ``groups`` lists groups in ordinal order (later groups win when their
    data is layered). Each is ``(name, origin, patterns, data_ids,
    origins)``: ``origin`` prefixes error messages; ``patterns`` are host
    patterns (ranges expanded), or None for a group that holds every host;
    ``data_ids`` is empty or one int per pattern, the caller's id of that
    entry's host data (-1 for none); ``origins`` is empty or one origin per
    pattern. Groups with the same name are one group at the first one's
    ordinal. A group ``all`` always exists and holds every host.

    Hosts are deduplicated in first-seen order. Building releases the GIL
    and raises InventoryBuildError for a bad pattern or host name.
    """

    def __new__(
        cls,
        groups: list[tuple[str, str, list[str] | None, list[int], list[str]]],
    ) -> InventoryLayout: ...
    @property
    def hosts(self) -> list[str]:
        """Host names, in first-seen order (a new list on every access)."""
    @property
    def groups(self) -> list[str]:
        """Group names by ordinal, ``all`` included."""
    def members(self) -> list[list[int]]:
        """Per group ordinal, its hosts' indexes in host order."""
    def group_sets(self) -> tuple[list[int], list[list[int]]]:
        """``(per_host, sets)``: each host's group set is ``sets[per_host[i]]``,
        group ordinals ascending, ``all`` left out. Equal sets are shared."""
    def data_sets(self) -> tuple[list[int], list[list[int]]]:
        """``(per_host, sets)``: the data ids of the entries that named each
        host, in entry order, without repeats. Equal sets are shared."""
    def select(self, patterns: list[str]) -> list[int]:
        """Indexes of the hosts ``--limit`` patterns select, in host order.

        Each string holds comma-separated terms: a group or host name; a glob
        (``*``, ``?``, ``[a-c]``, ``[!a]``) on host and group names; a range
        (``web[01:10]``) whose names resolve like names (a range larger than
        the inventory is matched against each name, never expanded; with
        ``*`` or ``?`` around it each name is a glob, at most 10,000); any of
        these after ``!`` to exclude. The result is the union of positive terms (every
        host if there are none) minus the exclusions. Runs with the GIL
        released. Raises HostSelectionError for a name that is neither group
        nor host, a glob or range matching nothing, a malformed pattern, or
        an empty result.
        """
    def __len__(self) -> int: ...

def expand_host_pattern(pattern: str) -> list[str]:
    """Expand the bracket ranges of a host pattern, in order.

    ``[start:end]`` or ``[start:end:step]``, with two numbers or two single
    letters of the same case. A start with a leading zero fixes the width
    (``h[01:10]`` gives ``h01`` ... ``h10``; ``h[1:10]`` gives ``h1`` ...
    ``h10``). Several ranges give their product, leftmost varying slowest:
    ``r[1:2]-n[1:2]`` gives ``r1-n1, r1-n2, r2-n1, r2-n2``. A pattern
    without brackets, or a whole bracketed IPv6 address such as ``[::1]``,
    is returned unchanged as a one-element list.

    Raises HostPatternError for a reversed range, mixed number and letter
    bounds, a missing bound, a zero or non-numeric step, unbalanced or
    empty brackets, multi-letter bounds, and more than 10,000,000 names.
    """

def order_operations(sequences: list[list[int]], labels: list[str]) -> list[int]:
    """Merge per-host operation sequences into one global order.

    Each inner list holds one host's operation keys (indexes into
    ``labels``) in the order that host runs them. A key repeated within one
    sequence counts at its first position; later repeats are ignored. The
    result holds every key that appears in some sequence exactly once, and
    every sequence is a subsequence of it. Among keys that could come next,
    the one that first appeared earliest (scanning the sequences in order)
    comes first.

    Raises OrderCycleError, naming two operations of the conflict, when no
    such order exists; ValueError when a key is ``>= len(labels)``;
    OverflowError when a key is negative.
    """

def demux(data: bytes, nonce: str) -> tuple[list[tuple[int, int | None, bytes]], bytes, bool]:
    """Split the output of a batched script into per-section output.

    Each section ends with the line ``\\n@@OX-<nonce>:E:<index>:<status>\\n``
    (index: decimal digits; status: an exit status in decimal digits, or
    ``stale``); the stream ends with ``\\n@@OX-<nonce>:DONE\\n``. The newline
    that opens a marker is not part of the output. Markers count only as whole
    lines carrying exactly ``nonce``; anything else, including a last marker
    line missing its newline, is output.

    Returns ``(sections, rest, done)``: ``sections`` as ``(index, status,
    output)`` tuples in stream order, ``status`` the exit status as an int, or
    None for ``stale`` (an operation whose guard did not hold: its commands did
    not run); ``rest`` the bytes after the last section marker (up to DONE, or
    to the end), and ``done`` whether DONE was seen. Bytes after DONE are
    ignored.

    Raises OutputParseError for a line carrying ``nonce`` that is not a
    valid marker (e.g. a non-numeric index, a status that is neither digits
    nor ``stale``, a number too large).
    """

def split_stat_batch(
    absent: bytes, stat: bytes, links: bytes, nonce: str, paths: list[bytes]
) -> list[tuple[bytes, int]]:
    """Split the output of one ``stat`` that read many paths into what each
    path's own fact command (``oxinfra.facts.files.File.command``) prints, and
    its exit status.

    ``absent`` lists the positions in ``paths`` of the paths the script proved
    absent, one per line. ``stat`` is ``stat -c '%n|FORMAT' -- PATH...``
    output for the others: one line per path it could read, the path then the
    8 ``|``-separated fields. ``links`` holds one block per path that is a
    link, ``i`` its position in ``paths``:
    ``\\n@@L-<nonce>-<i>\\n<readlink output>\\n@@R-<nonce>-<rc>\\n``.

    Returns one ``(stdout, rc)`` per entry of ``paths``: ``(b"", 1)`` for a
    path proven absent; ``(b"", 2)`` for any other path ``stat`` did not print
    (a failure, never "absent"); else its line without the path, then for a
    link the ``readlink`` output, with status 0 (2 if ``readlink`` failed).
    Raises OutputParseError, quoting the text, for a line without a path and
    8 fields, a path not in ``paths``, printed twice or printed though proven
    absent, a last line without newline, a bad or repeated position in
    ``absent``, and anything in ``links`` that is not such a block (a bad
    index or exit status, a missing end line, a block twice).
    """

def parse_stat(expected: str, stdout: bytes, rc: int) -> dict[str, str | int] | bool | None:
    """Parse ``stat -c '%F|%U|%G|%a|%s|%X|%Y|%Z' -- PATH`` output.

    For symbolic links a second line holds ``readlink -- PATH`` output.
    Returns None when ``rc != 0`` and there is no output (the path is
    absent: the caller's status rule decides which statuses mean that), False when the type (``file``, ``directory``, ``link``,
    ``socket`` or ``other``) is not ``expected``, else a dict with ``user``,
    ``group`` (str), ``mode`` (the octal digits read as decimal: ``"4755"``
    gives 4755), ``size``, ``atime``, ``mtime``, ``ctime`` (int, epoch
    seconds), plus ``link_target`` (str; everything after the first line,
    less one trailing newline) for links.

    Raises OutputParseError, quoting the line, when the first line does not
    have 8 fields or a number field is malformed, for blank output with
    status 0, and for output with another status.
    """

def parse_hash(stdout: bytes, digits: int) -> str | None:
    """Return the hash printed by ``sha1sum`` and friends, lowercased.

    The hash is the first whitespace-separated token of the first line
    (after one leading backslash, which ``sha1sum`` adds for escaped file
    names) if it is exactly ``digits`` hex digits; otherwise None.
    """

def parse_lines(stdout: bytes, rc: int, absent_rc: int) -> list[str] | None:
    """Return the output lines, or None when ``rc == absent_rc``.

    The output is decoded as UTF-8 (invalid bytes become U+FFFD) and split
    on ``\\n``; a trailing newline does not make an extra empty line, and
    empty output gives ``[]``.
    """

def split_release_files(stdout: bytes) -> list[tuple[str, bytes]]:
    """Split the framed output of the release-files command: for each file a
    header line ``<byte count> <path>`` then exactly that many bytes of content.

    Raises OutputParseError for a header that is not a count and a path, and
    for content cut short.
    """

def parse_os_release(text: str) -> list[tuple[str, str]]:
    """The variables of an ``os-release`` file as ``(key, value)`` pairs, read
    as a POSIX shell splits words (quotes, backslashes, ``#`` comments, values
    over several lines); keys lowercased, a repeated key keeping its first
    place and last value; plus ``codename`` (and ``release_codename``) from
    ``VERSION``'s text, overridden by ``VERSION_CODENAME`` or ``UBUNTU_CODENAME``.

    Raises OutputParseError for an unclosed quote or a backslash at the end.
    """

def parse_ip_addr(
    text: str,
) -> list[tuple[str, str, str | None, int | None, list[tuple[str, int, str, str | None]], list[tuple[str, int]]]]:
    """Read ``ip addr show`` or ``ifconfig -a`` text output into devices, in order of first
    appearance: ``(name, state, ether, mtu, ipv4, ipv6)``, ``ipv4`` a list of ``(address,
    mask_bits, netmask, broadcast)``, ``ipv6`` a list of ``(address, mask_bits)``.

    Lines are stripped; a device's section starts at a line ``N: name...`` or ``name: ...
    mtu ...``. ``state``: ``UP`` if the text ``UP`` is in the section, else ``DOWN`` if
    ``DOWN`` is, else ``UNKNOWN``. Raises OutputParseError for a number or mask too large to
    mean anything.
    """

def parse_package_listing(format: str, stdout: bytes) -> dict[str, list[str]]:
    """Parse a listing of installed packages into ``{name: [versions]}`` (sorted, no repeats).

    ``format`` is ``dpkg`` (``dpkg-query -W -f '${db:Status-Abbrev}\\t${Package}\\t${Version}\\n'``;
    a package counts when its status is ``ii`` or ``hi``), ``rpm`` or ``pacman`` (``NAME
    VERSION`` lines) or ``apk`` (``apk list --installed``). Blank lines are skipped. Raises
    OutputParseError, quoting the line, for any other line without the listing's shape (a
    name or version that is empty or not printable ASCII included), and ValueError for an
    unknown ``format``.
    """

def parse_users(
    stdout: bytes,
) -> list[
    tuple[
        str,
        str | None,
        str | None,
        str | None,
        str,
        list[str],
        int,
        int,
        str | None,
        tuple[int, int, int, int, int, int, int] | None,
        str,
    ]
]:
    """Parse the output of the ``server.Users`` command: ``/etc/passwd``, then after a line
    ``@@OX-GROUP`` ``/etc/group``, after ``@@OX-SHADOW`` ``/etc/shadow`` (may be empty),
    after ``@@OX-LASTLOG`` the output of ``lastlog`` (may be empty).

    One tuple per account, in ``/etc/passwd`` order: ``(name, home, comment, shell, group,
    groups, uid, gid, lastlog, login_time, password)``; empty home, comment and shell are
    None; ``group`` is the primary group's name (its id in decimal when no group has it);
    ``groups`` the other groups listing the user, in ``/etc/group`` order; ``lastlog`` the
    login time as ``lastlog`` printed it (spaces squeezed) or None, ``login_time`` it as
    ``(year, month, day, hour, minute, second, utc_offset_seconds)``; ``password`` the
    shadow hash, ``""`` when there is none. Lines are decoded as UTF-8 (bad bytes become
    U+FFFD); empty, ``#`` and NIS ``+``/``-`` lines are skipped. Raises OutputParseError,
    naming the file and line, for a line of another shape (field count, non-numeric id, no
    name) and for a missing section marker.
    """

def parse_groups(stdout: bytes) -> list[str]:
    """The group names of ``/etc/group`` output, in order (same line rules and errors as
    :func:`parse_users`: a line needs 4 fields, a name and a numeric id)."""

def parse_sysctl(stdout: bytes) -> list[tuple[str, str | list[tuple[bool, str]]]]:
    """Parse ``sysctl`` output (``key = value`` or ``key: value`` lines), in order, a key
    printed twice at its first place with the later value.

    Each value is the text as printed (trimmed) when it holds anything but letters, digits,
    ``_``, ``-``, ``.`` and spaces, else its words as ``(is_int, text)``: ``is_int`` when the
    word reads as a whole number (sign, digits, ``_`` between digits), then ``text`` is its
    canonical decimal. Lines without ``=`` or ``:``, or with an empty key or value, are
    skipped; bytes that are not UTF-8 become U+FFFD. Never raises.
    """

def parse_mountinfo(stdout: bytes) -> list[tuple[str, str, str, list[str]]]:
    """Parse ``/proc/self/mountinfo``: ``(mount point, source, file system type, options)``
    per mount point, in order (one mounted twice: the later line, at the first place).

    ``options`` are the mount options, then the super block options but ``ro``/``rw``;
    ``\\ooo`` octal escapes in the mount point, source and super options are undone (each
    to the character of that code); bytes that are not UTF-8 become U+FFFD. Raises
    OutputParseError, naming the line, for a line without the ``-`` separator after the
    sixth field or without exactly three fields after it.
    """
