"""What an operation prints, read as it arrives and kept within a bound.

A host may print without limit (``cat`` of a log, ``yes``, a runaway loop). The controller
reads each round trip's stdout and stderr incrementally (:class:`CappedStream`, fed chunk by
chunk by :meth:`oxinfra.connectors.base.Shell.run`) and keeps, of each operation's output,
the first :data:`HEAD` and the last :data:`TAIL` bytes (64 KiB in all per stream and
operation); what lies between is dropped as it arrives and counted. The section is then
the head, a line saying how many bytes were dropped, and the tail (:class:`Captured`, whose
``dropped`` says how many). Facts are never cut: their output is parsed.

Which sections are an operation's is known from the order they arrive in (see
:meth:`CappedStream.__init__`): in a script, the shell's first section (whatever the login
printed) and the operations' sections come before any fact's, unless an operation went
stale, after which only facts follow.

In JSON, an operation's ``stdout``/``stderr`` is text (bytes that are not UTF-8 shown as
U+FFFD); when they are not valid UTF-8, ``stdout_b64``/``stderr_b64`` holds the exact bytes,
base64-encoded; ``stdout_dropped``/``stderr_dropped`` the number of bytes left out.
"""

from __future__ import annotations

import base64
from typing import Any

__all__ = ["HEAD", "TAIL", "CappedStream", "Captured", "output_fields", "apply_cuts"]

#: Bytes kept from the start and from the end of each operation's stdout (and stderr).
HEAD = 32 * 1024
TAIL = 32 * 1024
#: A marker line longer than this is not one oxinfra prints: it is passed on as it is (and
#: the demultiplexer reports it).
_MARKER_MAX = 4096


class Captured(bytes):
    """Output of one section; ``dropped``: how many bytes were left out of its middle."""

    dropped = 0


def _note(dropped: int) -> bytes:
    return f"\n[... {dropped:,} bytes dropped ...]\n".encode()


class CappedStream:
    """One stream (stdout or stderr) of one round trip, fed as it arrives
    (:meth:`feed`). Output between markers is passed on whole, except in the first
    ``capped`` sections to arrive (none after a ``stale`` marker), where only the head and
    tail are kept. :meth:`value` is the stream as :func:`oxinfra._core.demux` reads it,
    ``cuts`` says where sections were cut: ``{index: (head length, bytes dropped)}``."""

    __slots__ = (
        "prefix",
        "done",
        "parts",
        "pending",
        "after_marker",
        "capped",
        "arrived",
        "stale",
        "head",
        "tail",
        "dropped",
        "cuts",
        "head_max",
        "tail_max",
        "last",
        "passing",
    )

    def __init__(self, nonce: str, capped: int, head: int = HEAD, tail: int = TAIL) -> None:
        self.prefix = f"\n@@OX-{nonce}:".encode()
        self.done = f"\n@@OX-{nonce}:DONE\n".encode()
        self.parts: list[bytes] = []
        self.pending = b""  # may hold the start of a marker
        self.after_marker = False  # the last byte seen ended a marker (and may start the next)
        self.capped = capped
        self.arrived = 0
        self.stale = False
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.cuts: dict[int, tuple[int, int]] = {}
        self.head_max = head
        self.tail_max = tail
        self.last = b""  # the stream's last bytes, as long as the DONE marker
        #: Nothing left to cap: chunks are kept as they come (no marker is looked for).
        self.passing = capped <= 0

    def feed(self, chunk: bytes) -> bool:
        """Take the next chunk; True when the stream now ends with the script's DONE marker."""
        done = self.done
        self.last = (self.last + chunk)[-len(done) :]
        if self.passing:
            self.parts.append(chunk)
            return self.last == done
        self._split(chunk)
        return self.last == done

    def _split(self, chunk: bytes) -> None:
        if self.after_marker:
            data, pos = b"\n" + chunk, 1  # the newline that ended the last marker, not output
            self.after_marker = False
        elif self.pending:
            data, pos = self.pending + chunk, 0
            self.pending = b""
        else:
            data, pos = chunk, 0
        prefix = self.prefix
        search = 0
        while True:
            at = data.find(prefix, search)
            if at < 0:
                safe = max(pos, len(data) - len(prefix) + 1)
                if safe > pos:
                    self._body(data[pos:safe])
                self.pending = data[safe:]
                return
            end = data.find(b"\n", at + len(prefix))
            if end < 0 and len(data) - at <= _MARKER_MAX:
                if at > pos:
                    self._body(data[pos:at])
                self.pending = data[at:]
                return
            if end < 0:  # no marker of ours: output
                search = at + 1
                continue
            if at > pos:
                self._body(data[pos:at])
            self._marker(data[at : end + 1])
            pos = end + 1
            search = end  # a marker's last newline may be the next one's first
            if not self._capping():  # the sections left are kept whole: stop looking
                self.passing = True
                if pos < len(data):
                    self.parts.append(data[pos:])
                return
            if pos == len(data):
                self.after_marker = True
                return

    def _capping(self) -> bool:
        return self.arrived < self.capped and not self.stale

    def _body(self, data: bytes) -> None:
        if not self._capping():
            self.parts.append(data)
            return
        head = self.head
        room = self.head_max - len(head)
        if room > 0:
            head += data[:room]
            data = data[room:]
        if data:
            tail = self.tail
            tail += data
            if len(tail) > 2 * self.tail_max:  # trimmed now and then, not on every chunk
                cut = len(tail) - self.tail_max
                self.dropped += cut
                del tail[:cut]

    def _end_section(self, index: int | None) -> None:
        tail = self.tail
        if len(tail) > self.tail_max:
            cut = len(tail) - self.tail_max
            self.dropped += cut
            del tail[:cut]
        if self.dropped:
            # Cut at character boundaries, so UTF-8 output stays UTF-8.
            keep = _utf8_prefix(self.head)
            skip = _utf8_skip(tail)
            self.dropped += len(self.head) - keep + skip
            del self.head[keep:]
            del tail[:skip]
            if index is not None:
                self.cuts[index] = (len(self.head), self.dropped)
        self.parts.append(bytes(self.head))
        self.parts.append(bytes(tail))
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def _marker(self, line: bytes) -> None:
        fields = line[len(self.prefix) : -1].split(b":")
        if len(fields) == 3 and fields[0] == b"E":  # a section ends (the demultiplexer checks the rest)
            if self._capping():
                self._end_section(int(fields[1]) if fields[1].isdigit() else None)
            self.arrived += 1
            if fields[2] == b"stale":
                self.stale = True
        elif self._capping():
            self._end_section(None)
        self.parts.append(line)

    def value(self) -> bytes:
        """Everything kept so far (a section being read is included, cut as it is)."""
        if self.head or self.tail:
            return b"".join(self.parts) + bytes(self.head) + bytes(self.tail) + self.pending
        return b"".join(self.parts) + self.pending


def _utf8_prefix(data: bytearray) -> int:
    """The length of ``data`` without a UTF-8 sequence it ends in the middle of."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back
            continue
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if need > back else len(data)
        return len(data)
    return len(data)


def _utf8_skip(data: bytearray) -> int:
    """How many continuation bytes ``data`` starts with (at most 3)."""
    skip = 0
    while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:
        skip += 1
    return skip


def apply_cuts(
    sections: list[tuple[int, Any, bytes]], cuts: dict[int, tuple[int, int]]
) -> list[tuple[int, Any, bytes]]:
    """Sections as :func:`oxinfra._core.demux` gives them, each cut one as head, a line
    saying how many bytes were dropped, and tail (a :class:`Captured`)."""
    if not cuts:
        return sections
    out = []
    for index, status, data in sections:
        cut = cuts.get(index)
        if cut is not None:
            at, dropped = cut
            data = Captured(data[:at] + _note(dropped) + data[at:])
            data.dropped = dropped
        out.append((index, status, data))
    return out


def output_fields(name: str, data: bytes) -> dict[str, Any]:
    """An operation's ``stdout`` or ``stderr`` (``name``) for its JSON record: the text,
    and where they apply the exact bytes (``NAME_b64``) and the bytes left out
    (``NAME_dropped``)."""
    fields: dict[str, Any]
    try:
        fields = {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        fields = {name: data.decode("utf-8", "replace"), f"{name}_b64": base64.b64encode(data).decode("ascii")}
    dropped = getattr(data, "dropped", 0)
    if dropped:
        fields[f"{name}_dropped"] = dropped
    return fields
