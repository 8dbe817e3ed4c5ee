//! The parser of `sysctl` output, for the `server.Sysctl` fact.
//!
//! Each line is `key = value` (procps) or `key: value` (BSD); the first `=` (or, without
//! one, the first `:`) splits it, and both sides are trimmed. A line with neither, or with
//! nothing at all before or after it, is skipped (`sysctl -e` prints nothing else on
//! stdout); a value of spaces only is the text `""` (`kernel.panic_sys_info = `). A value
//! made only of letters, digits, `_`, `-`, `.` and spaces is a list of its words, each a
//! whole number where it reads as one; a one-word list is that word. Any other value is
//! kept as text. Bytes that are not UTF-8 become U+FFFD. A key printed twice: the later
//! line wins.
//!
//! ```
//! use oxinfra::parse::{parse_sysctl, SysctlItem, SysctlValue};
//!
//! let out = parse_sysctl(b"net.ipv4.ip_forward = 1\nnet.ipv4.ip_local_port_range = 32768\t60999\nkernel.x = a/b\n");
//! assert_eq!(out[0].1, SysctlValue::Items(vec![SysctlItem::Int("1".into())]));
//! assert_eq!(out[1].1, SysctlValue::Items(vec![SysctlItem::Int("32768".into()), SysctlItem::Int("60999".into())]));
//! assert_eq!(out[2].1, SysctlValue::Text("a/b".into()));
//! ```

/// One word of a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysctlItem {
    /// A whole number, as canonical decimal text (sign, no leading zeros, no `_`): it may
    /// be larger than any machine integer (`kernel.shmmax`).
    Int(String),
    Str(String),
}

/// A value: its words (one or more), or text kept as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysctlValue {
    Items(Vec<SysctlItem>),
    Text(String),
}

/// `word` as a whole number the way Python's `int()` reads one: an optional sign, ASCII
/// digits, single `_` between digits.
fn whole_number(word: &str) -> Option<String> {
    let (negative, digits) = match word.as_bytes().first()? {
        b'-' => (true, &word[1..]),
        b'+' => (false, &word[1..]),
        _ => (false, word),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return None;
    }
    let plain: String = digits.chars().filter(|&c| c != '_').collect();
    let trimmed = plain.trim_start_matches('0');
    let canonical = if trimmed.is_empty() { "0" } else { trimmed };
    Some(if negative && canonical != "0" { format!("-{canonical}") } else { canonical.to_string() })
}

/// Every `key, value` of `sysctl` output, in order (see the module docs).
pub fn parse_sysctl(stdout: &[u8]) -> Vec<(String, SysctlValue)> {
    let text = String::from_utf8_lossy(stdout);
    let mut out: Vec<(String, SysctlValue)> = Vec::new();
    for line in text.split('\n') {
        let Some((key, value)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        if key.is_empty() || value.is_empty() {
            continue;
        }
        let (key, value) = (key.trim(), value.trim());
        let listed = !value.is_empty()
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c) || c.is_whitespace());
        let value = if listed {
            SysctlValue::Items(
                value
                    .split_whitespace()
                    .map(|w| whole_number(w).map_or_else(|| SysctlItem::Str(w.to_string()), SysctlItem::Int))
                    .collect(),
            )
        } else {
            SysctlValue::Text(value.to_string())
        };
        if let Some(slot) = out.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            out.push((key.to_string(), value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_python_reads_them() {
        assert_eq!(whole_number("007").as_deref(), Some("7"));
        assert_eq!(whole_number("-0").as_deref(), Some("0"));
        assert_eq!(whole_number("1_000").as_deref(), Some("1000"));
        assert_eq!(whole_number("+5").as_deref(), Some("5"));
        for bad in ["", "-", "1.5", "_1", "1__0", "1_", "0x10", "abc"] {
            assert_eq!(whole_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn shapes() {
        let out = parse_sysctl(b"a = 1 x\nb: 2\nnoise\nc =\nspace = \n= 4\nd = \xff\na = 3\n");
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], ("a".into(), SysctlValue::Items(vec![SysctlItem::Int("3".into())])));
        assert_eq!(out[1].0, "b");
        assert_eq!(out[2], ("space".into(), SysctlValue::Text(String::new())));
        assert_eq!(out[3], ("d".into(), SysctlValue::Text("\u{fffd}".into())));
    }
}
