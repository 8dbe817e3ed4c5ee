//! Inventories: host patterns, host names, group layout and `--limit`.
//!
//! * [`HostPattern`] (this module) expands `web[01:03].example.com`;
//! * [`check_host_name`] says whether a string is a host name;
//! * [`LayoutBuilder`] turns groups of patterns into hosts, memberships and
//!   data layers ([`Layout`]);
//! * [`HostSelector`] compiles `--limit` patterns and matches them.
//!
//! # Host patterns
//!
//! A pattern is literal text with any number of bracket ranges
//! `[start:end]` or `[start:end:step]`. Bounds are both decimal numbers or
//! both single letters of the same case. A number with a leading zero fixes
//! the width of every name (`[01:10]` gives `01`…`10`), otherwise numbers
//! are written naturally (`[1:10]` gives `1`…`10`). Several ranges expand
//! to their cartesian product, leftmost range varying slowest.
//!
//! ```
//! use oxinfra::inventory::HostPattern;
//!
//! let names = HostPattern::parse("rack[1:2]-n[a:b]")?.expand();
//! assert_eq!(names, ["rack1-na", "rack1-nb", "rack2-na", "rack2-nb"]);
//! assert_eq!(HostPattern::parse("n[0:100:50]")?.expand(), ["n0", "n50", "n100"]);
//! // A whole-string bracketed IPv6 address is a plain name.
//! assert_eq!(HostPattern::parse("[fe80::1]")?.expand(), ["[fe80::1]"]);
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

mod layout;
mod name;
mod select;

pub use layout::{GroupBuilder, Layout, LayoutBuilder, ALL};
pub use name::check_host_name;
pub use select::{Glob, HostSelector, SelectorBuilder};

use crate::error::{CoreError, Result};

/// Most names one pattern may expand to.
pub const MAX_NAMES: u64 = 10_000_000;

/// A parsed host pattern, ready to expand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    parts: Vec<Part>,
    ranges: Vec<Range>,
    count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    /// Index into `HostPattern::ranges`.
    Range(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Range {
    start: u64,
    step: u64,
    len: u64,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Number { width: usize },
    Letter,
}

impl Range {
    fn contains(&self, value: u64) -> bool {
        value >= self.start
            && (value - self.start).is_multiple_of(self.step)
            && (value - self.start) / self.step < self.len
    }

    fn values(&self) -> Vec<String> {
        let value = |i: u64| self.start + i * self.step;
        match self.kind {
            Kind::Number { width } => (0..self.len).map(|i| format!("{:0width$}", value(i))).collect(),
            Kind::Letter => (0..self.len).map(|i| char::from(value(i) as u8).to_string()).collect(),
        }
    }
}

impl HostPattern {
    /// Parses `pattern`, checking every range and the total size.
    pub fn parse(pattern: &str) -> Result<HostPattern> {
        if is_ipv6_literal(pattern) {
            return Ok(HostPattern {
                parts: vec![Part::Text(pattern.to_string())],
                ranges: vec![],
                count: 1,
            });
        }
        let fail = |message: String| CoreError::host_pattern(pattern, message);
        let mut parts = Vec::new();
        let mut ranges = Vec::new();
        let mut count: u64 = 1;
        let mut rest = pattern;
        while let Some(open) = rest.find(['[', ']']) {
            if rest.as_bytes()[open] == b']' {
                return Err(fail(format!(
                    "unbalanced ']' at byte {}; open the range with '['",
                    pattern.len() - rest.len() + open
                )));
            }
            let body_and_rest = &rest[open + 1..];
            let close = match body_and_rest.find(['[', ']']) {
                Some(close) if body_and_rest.as_bytes()[close] == b']' => close,
                _ => return Err(fail("unbalanced '['; close every range with ']'".into())),
            };
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let range = parse_range(&body_and_rest[..close]).map_err(fail)?;
            count = count.saturating_mul(range.len);
            if count > MAX_NAMES {
                return Err(fail(format!(
                    "expands to more than {MAX_NAMES} names; split it into smaller patterns"
                )));
            }
            parts.push(Part::Range(ranges.len()));
            ranges.push(range);
            rest = &body_and_rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(HostPattern { parts, ranges, count })
    }

    /// Number of names the pattern expands to.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Always false: every pattern names at least one host.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates over the names in order.
    pub fn iter(&self) -> Names<'_> {
        Names {
            parts: &self.parts,
            values: self.ranges.iter().map(Range::values).collect(),
            digits: vec![0; self.ranges.len()],
            remaining: self.count,
        }
    }

    /// All names, in order.
    pub fn expand(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.count as usize);
        names.extend(self.iter());
        names
    }

    /// Whether `name` is one of the names the pattern expands to, found
    /// without expanding it.
    ///
    /// ```
    /// use oxinfra::inventory::HostPattern;
    ///
    /// let pattern = HostPattern::parse("web[01:20:2].example.com")?;
    /// assert!(pattern.matches("web03.example.com"));
    /// assert!(!pattern.matches("web3.example.com") && !pattern.matches("web04.example.com"));
    /// # Ok::<(), oxinfra::CoreError>(())
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        self.matches_from(0, name.as_bytes())
    }

    fn matches_from(&self, part: usize, rest: &[u8]) -> bool {
        let next = |rest: &[u8]| self.matches_from(part + 1, rest);
        match self.parts.get(part) {
            None => rest.is_empty(),
            Some(Part::Text(text)) => rest.strip_prefix(text.as_bytes()).is_some_and(next),
            Some(Part::Range(i)) => {
                let range = &self.ranges[*i];
                match range.kind {
                    Kind::Letter => {
                        rest.split_first().is_some_and(|(&c, tail)| range.contains(c.into()) && next(tail))
                    }
                    // Bounds are below 2^48 (15 digits); a wider width pads with zeros.
                    Kind::Number { width } => {
                        let run = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                        (1..=run.min(width.max(15))).any(|len| {
                            let digits = std::str::from_utf8(&rest[..len]).unwrap();
                            digits.parse::<u64>().is_ok_and(|value| {
                                range.contains(value) && format!("{value:0width$}") == digits
                            }) && next(&rest[len..])
                        })
                    }
                }
            }
        }
    }
}

impl<'a> IntoIterator for &'a HostPattern {
    type Item = String;
    type IntoIter = Names<'a>;

    fn into_iter(self) -> Names<'a> {
        self.iter()
    }
}

/// Iterator over the names of a [`HostPattern`].
#[derive(Clone, Debug)]
pub struct Names<'a> {
    parts: &'a [Part],
    values: Vec<Vec<String>>,
    digits: Vec<usize>,
    remaining: u64,
}

impl Iterator for Names<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (values, digits) = (&self.values, &self.digits);
        let pieces = self.parts.iter().map(|part| match part {
            Part::Text(text) => text.as_str(),
            Part::Range(i) => values[*i][digits[*i]].as_str(),
        });
        let mut name = String::with_capacity(pieces.clone().map(str::len).sum());
        pieces.for_each(|p| name.push_str(p));
        for (digit, values) in self.digits.iter_mut().zip(&self.values).rev() {
            *digit += 1;
            if *digit < values.len() {
                break;
            }
            *digit = 0;
        }
        Some(name)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for Names<'_> {}

fn parse_range(body: &str) -> std::result::Result<Range, String> {
    if body.is_empty() {
        return Err("empty range '[]'; write [start:end], e.g. [01:10]".into());
    }
    let fields: Vec<&str> = body.split(':').collect();
    let (start, end, step) = match fields[..] {
        [start, end] => (start, end, None),
        [start, end, step] => (start, end, Some(step)),
        _ => {
            return Err(format!(
                "range [{body}] is not [start:end] or [start:end:step]; write e.g. [01:10] or [0:100:10]"
            ))
        }
    };
    if start.is_empty() || end.is_empty() {
        let which = if start.is_empty() { "start" } else { "end" };
        return Err(format!("range [{body}] has no {which}; write both bounds, e.g. [01:10]"));
    }
    let step = match step {
        None => 1,
        Some(s) => match s.parse::<u64>() {
            Ok(0) => return Err(format!("step of range [{body}] is 0; use a step of 1 or more")),
            Ok(n) if s.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("step {s:?} of range [{body}] is not a positive whole number")),
        },
    };
    let (first, last, kind) = bounds(start, end).map_err(|m| format!("range [{body}]: {m}"))?;
    if first > last {
        return Err(format!("start {start} is after end {end}; write the smaller bound first"));
    }
    Ok(Range { start: first, step, len: (last - first) / step + 1, kind })
}

fn bounds(start: &str, end: &str) -> std::result::Result<(u64, u64, Kind), String> {
    let is_number = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let letter = |s: &str| match s.as_bytes() {
        [b] if b.is_ascii_alphabetic() => Some(*b),
        _ => None,
    };
    if is_number(start) && is_number(end) {
        let number =
            |s: &str| s.parse::<u64>().ok().filter(|n| *n < 1 << 48).ok_or(format!("{s} is too large"));
        let width = if start.len() > 1 && start.starts_with('0') { start.len() } else { 0 };
        return Ok((number(start)?, number(end)?, Kind::Number { width }));
    }
    match (letter(start), letter(end)) {
        (Some(a), Some(b)) if a.is_ascii_lowercase() == b.is_ascii_lowercase() => {
            Ok((u64::from(a), u64::from(b), Kind::Letter))
        }
        (Some(_), Some(_)) => {
            Err(format!("letters {start} and {end} differ in case; use the same case for both"))
        }
        (Some(_), None) | (None, Some(_)) if is_number(start) || is_number(end) => {
            Err(format!("mixes a number and a letter ({start}:{end}); use two numbers or two letters"))
        }
        _ => Err(format!("bounds {start}:{end} must be two numbers or two single letters")),
    }
}

fn is_ipv6_literal(pattern: &str) -> bool {
    let Some(inner) = pattern.strip_prefix('[').and_then(|p| p.strip_suffix(']')) else {
        return false;
    };
    let (addr, zone) = inner.split_once('%').unwrap_or((inner, "x"));
    let colons = addr.bytes().filter(|&b| b == b':').count();
    (addr.contains("::") || colons == 7)
        && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        && !zone.is_empty()
        && zone.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! expands {
        ($($name:ident: $pattern:expr => [$($host:expr),* $(,)?];)*) => {$(
            #[test]
            fn $name() {
                let expected: Vec<&str> = vec![$($host),*];
                assert_eq!(HostPattern::parse($pattern).unwrap().expand(), expected);
            }
        )*};
    }

    macro_rules! rejects {
        ($($name:ident: $pattern:expr => $needle:expr;)*) => {$(
            #[test]
            fn $name() {
                let err = HostPattern::parse($pattern).unwrap_err().to_string();
                assert!(err.contains($needle), "{err:?} lacks {:?}", $needle);
                assert!(err.contains(&format!("{:?}", $pattern)), "{err:?} does not quote the pattern");
            }
        )*};
    }

    expands! {
        plain: "web.example.com" => ["web.example.com"];
        empty_string: "" => [""];
        padded: "web[01:03].example.com" => ["web01.example.com", "web02.example.com", "web03.example.com"];
        natural: "h[8:10]" => ["h8", "h9", "h10"];
        padded_across_width: "h[08:10]" => ["h08", "h09", "h10"];
        single_zero_is_natural: "h[0:2]" => ["h0", "h1", "h2"];
        letters: "db[a:c]" => ["dba", "dbb", "dbc"];
        upper_letters: "db[X:Z]" => ["dbX", "dbY", "dbZ"];
        step: "n[0:30:10]" => ["n0", "n10", "n20", "n30"];
        step_past_end: "n[0:25:10]" => ["n0", "n10", "n20"];
        single: "n[5:5]" => ["n5"];
        product: "r[1:2]-n[01:02]" => ["r1-n01", "r1-n02", "r2-n01", "r2-n02"];
        adjacent: "[a:b][1:2]" => ["a1", "a2", "b1", "b2"];
        leading_range: "[1:2]x" => ["1x", "2x"];
        ipv6: "[::1]" => ["[::1]"];
        ipv6_full: "[2001:db8:0:0:0:0:0:1]" => ["[2001:db8:0:0:0:0:0:1]"];
        ipv6_zone: "[fe80::1%eth0]" => ["[fe80::1%eth0]"];
    }

    rejects! {
        reversed: "web[10:01]" => "start 10 is after end 01; write the smaller bound first";
        mixed: "web[a:10]" => "mixes a number and a letter";
        missing_end: "web[01:]" => "has no end";
        missing_start: "web[:3]" => "has no start";
        zero_step: "n[0:10:0]" => "step of range [0:10:0] is 0";
        bad_step: "n[0:10:x]" => "not a positive whole number";
        unbalanced_open: "web[01:03" => "unbalanced '['";
        unbalanced_close: "web01:03]" => "unbalanced ']'";
        nested: "web[[1:2]]" => "unbalanced '['";
        empty: "web[]" => "empty range";
        no_colon: "web[5]" => "is not [start:end]";
        too_many_fields: "web[1:2:3:4]" => "is not [start:end]";
        multi_letter: "web[aa:cc]" => "two numbers or two single letters";
        case: "web[a:C]" => "differ in case";
        huge_number: "web[1:99999999999999999999]" => "too large";
        too_many_names: "[0:9999][0:9999]" => "more than 10000000 names";
    }

    #[test]
    fn whole_range_is_a_range_not_ipv6() {
        assert_eq!(HostPattern::parse("[1:3]").unwrap().expand(), ["1", "2", "3"]);
    }

    #[test]
    fn len_and_iter_agree() {
        let p = HostPattern::parse("a[1:3]b[x:z]c[0:10:5]").unwrap();
        assert_eq!(p.len(), 27);
        assert_eq!(p.iter().len(), 27);
        assert_eq!(p.iter().count(), 27);
        assert_eq!(p.iter().last().unwrap(), "a3bzc10");
    }

    macro_rules! matching {
        ($($name:ident: $pattern:expr, [$($candidate:expr),* $(,)?];)*) => {$(
            /// `matches` says yes exactly for the expanded names.
            #[test]
            fn $name() {
                let pattern = HostPattern::parse($pattern).unwrap();
                let names = pattern.expand();
                for name in &names {
                    assert!(pattern.matches(name), "{name:?} is an expansion of {:?}", $pattern);
                }
                for candidate in [$($candidate),*] {
                    assert_eq!(pattern.matches(candidate), names.iter().any(|n| n == candidate), "{candidate:?}");
                }
            }
        )*};
    }

    matching! {
        match_natural: "n[1:10]", ["n01", "n11", "n0", "n", "n1x", "m1", "n10"];
        match_width: "n[01:10]", ["n1", "n001", "n010", "n11", "n00"];
        match_wide_bound: "n[1:100][0:9]", ["n1000", "n100", "n10", "n1009", "n0"];
        match_ambiguous_split: "[1:11][1:11]", ["111", "1111", "11", "1", "12"];
        match_step: "n[0:100:25]", ["n25", "n26", "n125", "n100"];
        match_letters: "rack[a:e:2]-[X:Z]", ["racka-X", "rackb-X", "rackc-Z", "racke-z", "rack-X"];
        match_wider_than_15: "n[0000000000000000001:0000000000000000002]", ["n1", "n0000000000000000001"];
        match_ipv6: "[fe80::1]", ["[fe80::1]", "fe80::1"];
        match_plain: "web.example.com", ["web.example.com", "web"];
        match_empty_text_around: "[7:9]", ["7", "9", "10", ""];
    }

    #[test]
    fn matches_without_expanding_the_largest_pattern() {
        let pattern = HostPattern::parse("h[0:9999999]").unwrap();
        assert_eq!(pattern.len(), 10_000_000);
        assert!(pattern.matches("h9999999") && pattern.matches("h0") && !pattern.matches("h10000000"));
    }
}
