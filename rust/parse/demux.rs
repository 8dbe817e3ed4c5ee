//! Splitting batched script output at `\n@@OX-<nonce>:E:<index>:<status>\n`
//! marker lines; the stream ends with `\n@@OX-<nonce>:DONE\n`. `<index>` is
//! decimal digits; `<status>` is an exit status (decimal digits) or `stale`.

use crate::error::{CoreError, Result};

/// How a section ended, as its marker says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The exit status of the section's commands (`$?`: decimal digits).
    Exit(i32),
    /// The word `stale`: an operation's guard did not hold, so its commands did not run.
    Stale,
}

impl Status {
    /// Parses the status field of a marker line; the error says what is wrong.
    fn parse(field: &[u8]) -> std::result::Result<Status, &'static str> {
        if field == b"stale" {
            return Ok(Status::Stale);
        }
        if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
            return Err("malformed status (expected an exit status or \"stale\")");
        }
        // All ASCII digits, so valid UTF-8; only the size can be wrong.
        std::str::from_utf8(field).unwrap().parse().map(Status::Exit).map_err(|_| "exit status too large")
    }
}

/// The output of one section of a batched script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section<'a> {
    /// The section index written in the marker.
    pub index: u64,
    /// The status written in the marker.
    pub status: Status,
    /// Everything the section printed, without the newline the marker adds.
    pub output: &'a [u8],
}

/// The result of [`demux`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demuxed<'a> {
    /// Finished sections, in stream order.
    pub sections: Vec<Section<'a>>,
    /// Output after the last section marker, up to the DONE marker or the end.
    pub rest: &'a [u8],
    /// Whether the DONE marker was seen. Bytes after it are ignored.
    pub done: bool,
}

/// Splits `data` at marker lines carrying `nonce`.
///
/// A marker is recognised only as a whole line with exactly this nonce;
/// anything else, including markers with other nonces and a final marker
/// line without its newline, is ordinary output. A line that starts with
/// this nonce but is not a valid marker is an error.
pub fn demux<'a>(data: &'a [u8], nonce: &str) -> Result<Demuxed<'a>> {
    let needle = format!("\n@@OX-{nonce}:");
    let needle = needle.as_bytes();
    let mut sections = Vec::new();
    let mut start = 0;
    let mut from = 0;
    while let Some(at) = find(&data[from..], needle).map(|i| i + from) {
        let line_start = at + needle.len();
        let Some(line_len) = memchr(b'\n', &data[line_start..]) else {
            break;
        };
        let line = &data[line_start..line_start + line_len];
        let next = line_start + line_len + 1;
        // `at < start` when a marker's leading newline is the previous marker's last byte.
        let output = &data[start.min(at)..at];
        if line == b"DONE" {
            return Ok(Demuxed { sections, rest: output, done: true });
        }
        let (index, status) = parse_marker(line)?;
        sections.push(Section { index, status, output });
        start = next;
        from = next - 1;
    }
    Ok(Demuxed { sections, rest: &data[start..], done: false })
}

fn parse_marker(line: &[u8]) -> Result<(u64, Status)> {
    let bad = |why: &str| {
        CoreError::parse("demux", format!("{why} in marker line {:?}", String::from_utf8_lossy(line)))
    };
    let fields = line.strip_prefix(b"E:").ok_or_else(|| bad("unknown marker kind"))?;
    let colon = memchr(b':', fields).ok_or_else(|| bad("missing status"))?;
    let (index, status) = (&fields[..colon], &fields[colon + 1..]);
    if index.is_empty() || !index.iter().all(u8::is_ascii_digit) {
        return Err(bad("malformed section index"));
    }
    let index = std::str::from_utf8(index).unwrap().parse().map_err(|_| bad("section index too large"))?;
    Ok((index, Status::parse(status).map_err(bad)?))
}

/// Position of the first `needle` in `haystack`. Scans for `needle[1]`
/// (the rarer `@` of a marker) with [`memchr`] and checks around it.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let Some(&probe) = tail.first() else {
        return memchr(first, haystack);
    };
    let mut from = 1;
    while from < haystack.len() {
        let at = from + memchr(probe, &haystack[from..])?;
        let begin = at - 1;
        if haystack[begin] == first && haystack[at..].starts_with(tail) {
            return Some(begin);
        }
        from = at + 1;
    }
    None
}

/// Position of the first `byte` in `haystack`, eight bytes at a time.
fn memchr(byte: u8, haystack: &[u8]) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = LO * u64::from(byte);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap()) ^ pattern;
        if word.wrapping_sub(LO) & !word & HI != 0 {
            break;
        }
        offset += 8;
    }
    haystack[offset..].iter().position(|&b| b == byte).map(|i| i + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = (Vec<(u64, Status, Vec<u8>)>, Vec<u8>, bool);

    fn sections(data: &[u8]) -> Owned {
        let out = demux(data, "N1").unwrap();
        let s = out.sections.iter().map(|s| (s.index, s.status, s.output.to_vec())).collect();
        (s, out.rest.to_vec(), out.done)
    }

    /// `"stale"` or an exit status, as written in a marker.
    fn st(text: &str) -> Status {
        Status::parse(text.as_bytes()).unwrap()
    }

    macro_rules! splits {
        ($($name:ident: $data:expr => [$(($i:expr, $st:expr, $out:expr)),* $(,)?], $rest:expr, $done:expr;)*) => {$(
            #[test]
            fn $name() {
                let expected: Vec<(u64, Status, Vec<u8>)> = vec![$(($i, st($st), $out.to_vec())),*];
                assert_eq!(sections($data), (expected, $rest.to_vec(), $done));
            }
        )*};
    }

    macro_rules! rejects {
        ($($name:ident: $data:expr => $needle:expr;)*) => {$(
            #[test]
            fn $name() {
                let err = demux($data, "N1").unwrap_err().to_string();
                assert!(err.contains($needle), "{err:?} lacks {:?}", $needle);
            }
        )*};
    }

    splits! {
        empty: b"" => [], b"", false;
        only_output: b"abc" => [], b"abc", false;
        two_sections: b"a\n\n@@OX-N1:E:0:0\nb\n@@OX-N1:E:1:3\n\n@@OX-N1:DONE\n"
            => [(0, "0", b"a\n"), (1, "3", b"b")], b"", true;
        empty_outputs: b"\n@@OX-N1:E:0:0\n\n@@OX-N1:E:1:stale\n\n@@OX-N1:DONE\n"
            => [(0, "0", b""), (1, "stale", b"")], b"", true;
        large_status: b"\n@@OX-N1:E:7:2147483647\n" => [(7, "2147483647", b"")], b"", false;
        rest_without_done: b"x\n@@OX-N1:E:4:0\npartial" => [(4, "0", b"x")], b"partial", false;
        rest_before_done: b"\n@@OX-N1:E:0:0\ntail\n@@OX-N1:DONE\nnoise" => [(0, "0", b"")], b"tail", true;
        other_nonce: b"\n@@OX-N2:E:0:0\n\n@@OX-N1:E:0:0\n" => [(0, "0", b"\n@@OX-N2:E:0:0\n")], b"", false;
        nonce_prefix: b"\n@@OX-N1x:E:0:0\n\n@@OX-N1:E:0:0\n" => [(0, "0", b"\n@@OX-N1x:E:0:0\n")], b"", false;
        not_at_line_start: b"x@@OX-N1:E:0:0\n" => [], b"x@@OX-N1:E:0:0\n", false;
        unterminated_marker: b"out\n@@OX-N1:E:0:0" => [], b"out\n@@OX-N1:E:0:0", false;
        shared_newline: b"a\n@@OX-N1:E:0:0\n@@OX-N1:E:1:0\n@@OX-N1:DONE\n"
            => [(0, "0", b"a"), (1, "0", b"")], b"", true;
        binary: b"\xff\x00@\n@\n@@OX-N1:E:0:0\n" => [(0, "0", b"\xff\x00@\n@")], b"", false;
        at_signs: b"@@@@\n@@@OX-N1:E:0:0\n\n@@OX-N1:E:2:1\n" => [(2, "1", b"@@@@\n@@@OX-N1:E:0:0\n")], b"", false;
    }

    rejects! {
        bad_index: b"\n@@OX-N1:E:x:0\n" => "malformed section index";
        empty_index: b"\n@@OX-N1:E::0\n" => "malformed section index";
        no_status: b"\n@@OX-N1:E:1\n" => "missing status";
        bad_status: b"\n@@OX-N1:E:1:a b\n" => "malformed status";
        word_status: b"\n@@OX-N1:E:1:skipped\n" => "malformed status";
        negative_status: b"\n@@OX-N1:E:1:-1\n" => "malformed status";
        empty_status: b"\n@@OX-N1:E:1:\n" => "malformed status";
        huge_status: b"\n@@OX-N1:E:1:2147483648\n" => "exit status too large";
        huge_index: b"\n@@OX-N1:E:18446744073709551616:0\n" => "section index too large";
        unknown_kind: b"\n@@OX-N1:Q\n" => "unknown marker kind";
    }

    #[test]
    fn memchr_finds_every_position() {
        let mut data = vec![b'a'; 40];
        for i in 0..40 {
            data[i] = b'\n';
            assert_eq!(memchr(b'\n', &data), Some(i));
            data[i] = b'a';
        }
        assert_eq!(memchr(b'\n', &data), None);
    }
}
