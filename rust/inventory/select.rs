//! `--limit`: choosing hosts by group name, glob, range, and `!` exclusion.
//!
//! Patterns are compiled once ([`SelectorBuilder`] → [`HostSelector`]) and
//! then matched against a [`Layout`]. Each comma-separated term is one of
//!
//! * a name: the group of that name (its hosts), else the host of that name;
//! * a glob with `*`, `?` and `[...]` classes (`[a-c]`, `[!0-4]`), matched
//!   against host names and group names (a matching group adds its hosts);
//! * a range such as `web[01:10]` (a bracket holding `:`): each of its
//!   names resolved like a name (a range larger than the inventory is
//!   matched against each host and group name instead of expanded); with
//!   `*` or `?` around it, each name is a glob, at most 10,000 of them;
//! * any of these after `!`: hosts to exclude.
//!
//! The selection is the union of the positive terms (every host when there
//! are none) minus the union of the exclusions. Every term must match
//! something, so a typo — above all in an exclusion — is an error, and so is
//! a selection left empty.
//!
//! ```
//! use oxinfra::inventory::{HostSelector, LayoutBuilder};
//!
//! let mut builder = LayoutBuilder::new();
//! builder.group("web", "").entry("web[1:4]", None);
//! builder.group("db", "").entry("db1", None);
//! let layout = builder.build()?;
//! let selector = HostSelector::builder().add("web,!web[3:4]").add("db*").build()?;
//! assert_eq!(selector.select(&layout)?, [0, 1, 4]);
//! # Ok::<(), oxinfra::CoreError>(())
//! ```

use super::layout::Layout;
use super::HostPattern;
use crate::error::{CoreError, Result};

/// Collects `--limit` patterns; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct SelectorBuilder {
    terms: Vec<String>,
}

impl SelectorBuilder {
    /// Adds one `--limit` value: comma-separated terms.
    pub fn add(&mut self, patterns: &str) -> &mut Self {
        self.terms.extend(patterns.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from));
        self
    }

    /// Compiles the terms: expands ranges and parses globs.
    pub fn build(&self) -> Result<HostSelector> {
        if self.terms.is_empty() {
            return Err(CoreError::selection("", "is empty; name a group, a host, a glob or a range"));
        }
        let terms = self.terms.iter().map(|t| Term::compile(t)).collect::<Result<_>>()?;
        Ok(HostSelector { terms })
    }
}

/// Compiled `--limit` patterns.
#[derive(Clone, Debug)]
pub struct HostSelector {
    terms: Vec<Term>,
}

#[derive(Clone, Debug)]
struct Term {
    source: String,
    exclude: bool,
    /// A plain name (not a glob, not a range): matching nothing means it is unknown.
    plain: bool,
    matchers: Vec<Matcher>,
}

#[derive(Clone, Debug)]
enum Matcher {
    Name(String),
    Glob(Glob),
    /// A range without `*` or `?`: its names, each resolved like a name.
    Range(HostPattern),
}

/// Most globs a range holding `*` or `?` may expand to (each is matched
/// against every host and group).
const MAX_RANGE_GLOBS: u64 = 10_000;

impl Term {
    fn compile(source: &str) -> Result<Term> {
        let (exclude, body) = match source.strip_prefix('!') {
            Some(body) => (true, body.trim()),
            None => (false, source),
        };
        let fail = |message: String| CoreError::selection(source, message);
        if body.is_empty() {
            return Err(fail("'!' excludes nothing; write !GROUP, !HOST or !GLOB".into()));
        }
        let is_range = bracket_bodies(body).any(|b| b.contains(':'));
        let plain = !is_range && !body.contains(['*', '?', '[']);
        let matchers = if is_range {
            // Ranges print digits and letters only: `*` and `?` come from the text around them.
            let pattern = HostPattern::parse(body).map_err(|e| fail(e.to_string()))?;
            if !body.contains(['*', '?']) {
                vec![Matcher::Range(pattern)]
            } else if pattern.len() > MAX_RANGE_GLOBS {
                return Err(fail(format!(
                    "a range with '*' or '?' may expand to at most {MAX_RANGE_GLOBS} globs, not {}; narrow the range",
                    pattern.len()
                )));
            } else {
                pattern
                    .iter()
                    .map(|name| Glob::compile(&name).map(Matcher::Glob).map_err(&fail))
                    .collect::<Result<_>>()?
            }
        } else if plain {
            vec![Matcher::Name(body.to_string())]
        } else {
            vec![Matcher::Glob(Glob::compile(body).map_err(fail)?)]
        };
        Ok(Term { source: source.to_string(), exclude, plain, matchers })
    }

    /// Marks the hosts this term matches; returns how many it marked or
    /// found already marked.
    fn mark(&self, layout: &Layout, marks: &mut [bool]) -> usize {
        let mark_group = |group: u32, marks: &mut [bool]| {
            let hosts = layout.group_hosts(group);
            for &h in hosts {
                marks[h as usize] = true;
            }
            hosts.len()
        };
        let mark_name = |name: &str, marks: &mut [bool]| {
            if let Some(group) = layout.group(name) {
                mark_group(group, marks)
            } else if let Some(host) = layout.host(name) {
                marks[host as usize] = true;
                1
            } else {
                0
            }
        };
        let mut found = 0;
        for matcher in &self.matchers {
            match matcher {
                Matcher::Name(name) => found += mark_name(name, marks),
                // Few names: look each up. Many: test each group and host name instead (a
                // host named like a group counts as that group, as a looked-up name does).
                Matcher::Range(pattern)
                    if pattern.len() <= (layout.hosts().len() + layout.groups().len()) as u64 =>
                {
                    found += pattern.iter().map(|name| mark_name(&name, marks)).sum::<usize>();
                }
                Matcher::Range(pattern) => {
                    for (g, name) in layout.groups().iter().enumerate() {
                        if pattern.matches(name) {
                            found += mark_group(g as u32, marks);
                        }
                    }
                    for (h, name) in layout.hosts().iter().enumerate() {
                        if layout.group(name).is_none() && pattern.matches(name) {
                            marks[h] = true;
                            found += 1;
                        }
                    }
                }
                Matcher::Glob(glob) => {
                    for (g, name) in layout.groups().iter().enumerate() {
                        if glob.matches(name) {
                            found += mark_group(g as u32, marks);
                        }
                    }
                    for (h, name) in layout.hosts().iter().enumerate() {
                        if glob.matches(name) {
                            marks[h] = true;
                            found += 1;
                        }
                    }
                }
            }
        }
        found
    }
}

impl HostSelector {
    /// A builder; add `--limit` values to it.
    pub fn builder() -> SelectorBuilder {
        SelectorBuilder::default()
    }

    /// The selected hosts' indices, in host order.
    ///
    /// Errors (all [`CoreError::Selection`]): a name that is neither a group
    /// nor a host, a glob or range that matches nothing, and a selection
    /// that is empty once exclusions are applied.
    pub fn select(&self, layout: &Layout) -> Result<Vec<u32>> {
        let count = layout.hosts().len();
        let any_positive = self.terms.iter().any(|t| !t.exclude);
        let mut included = vec![!any_positive; count];
        let mut excluded = vec![false; count];
        for term in &self.terms {
            let marks = if term.exclude { &mut excluded } else { &mut included };
            if term.mark(layout, marks) == 0 {
                return Err(CoreError::selection(&term.source, unmatched(term, layout)));
            }
        }
        let chosen: Vec<u32> =
            (0..count).filter(|&h| included[h] && !excluded[h]).map(|h| h as u32).collect();
        if chosen.is_empty() {
            let all: Vec<&str> = self.terms.iter().map(|t| t.source.as_str()).collect();
            return Err(CoreError::selection(
                &all.join(","),
                "selects no host: every host it names is excluded by a '!' pattern",
            ));
        }
        Ok(chosen)
    }
}

fn unmatched(term: &Term, layout: &Layout) -> String {
    if let [Matcher::Name(name)] = &term.matchers[..] {
        if layout.group(name).is_some() {
            return "this group has no hosts".into();
        }
    }
    if !term.plain {
        return "matches no host or group of the inventory; check the pattern".into();
    }
    let mut groups: Vec<&str> = layout.groups().iter().map(String::as_str).collect();
    groups.sort_unstable();
    let shown = groups.iter().take(12).copied().collect::<Vec<_>>().join(", ");
    let more = if groups.len() > 12 { format!(" and {} more", groups.len() - 12) } else { String::new() };
    format!("no group or host has this name; groups are: {shown}{more}")
}

fn bracket_bodies(text: &str) -> impl Iterator<Item = &str> {
    text.split('[').skip(1).map(|rest| rest.split(']').next().unwrap_or(rest))
}

/// A compiled glob: `*`, `?` and `[...]` classes, matched on bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Byte(u8),
    Any,
    One,
    Class { negate: bool, ranges: Vec<(u8, u8)> },
}

impl Glob {
    /// Compiles `pattern`; an unclosed or empty class is an error message.
    pub fn compile(pattern: &str) -> std::result::Result<Glob, String> {
        let bytes = pattern.as_bytes();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let token = match bytes[i] {
                b'*' => Token::Any,
                b'?' => Token::One,
                b'[' => {
                    let mut j = i + 1;
                    let negate = matches!(bytes.get(j), Some(b'!' | b'^'));
                    if negate {
                        j += 1;
                    }
                    let start = j;
                    let mut ranges = Vec::new();
                    while j < bytes.len() && (bytes[j] != b']' || j == start) {
                        if bytes.get(j + 1) == Some(&b'-') && bytes.get(j + 2).is_some_and(|&b| b != b']') {
                            ranges.push((bytes[j], bytes[j + 2]));
                            j += 3;
                        } else {
                            ranges.push((bytes[j], bytes[j]));
                            j += 1;
                        }
                    }
                    if j >= bytes.len() {
                        return Err("unclosed '[' in a glob; close the class with ']'".into());
                    }
                    i = j;
                    Token::Class { negate, ranges }
                }
                b']' => return Err("unbalanced ']' in a glob; open the class with '['".into()),
                b => Token::Byte(b),
            };
            tokens.push(token);
            i += 1;
        }
        Ok(Glob { tokens })
    }

    /// Whether the whole of `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        let (tokens, name) = (&self.tokens, name.as_bytes());
        let (mut t, mut i) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while i < name.len() {
            if let Some(token) = tokens.get(t) {
                let step = match token {
                    Token::Any => {
                        star = Some((t, i));
                        t += 1;
                        continue;
                    }
                    Token::One => true,
                    Token::Byte(b) => *b == name[i],
                    Token::Class { negate, ranges } => {
                        ranges.iter().any(|&(lo, hi)| lo <= name[i] && name[i] <= hi) != *negate
                    }
                };
                if step {
                    t += 1;
                    i += 1;
                    continue;
                }
            }
            match star {
                Some((st, si)) => {
                    t = st + 1;
                    i = si + 1;
                    star = Some((st, si + 1));
                }
                None => return false,
            }
        }
        tokens[t..].iter().all(|token| *token == Token::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::super::LayoutBuilder;
    use super::*;

    fn layout() -> Layout {
        let mut builder = LayoutBuilder::new();
        builder.group("web", "").entry("web[01:04].example.com", None);
        builder.group("db", "").entry("db[a:b]", None).entry("web01.example.com", None);
        builder.group("web-east", "").entry("east1", None);
        builder.build().unwrap()
    }

    fn names(patterns: &[&str]) -> Result<Vec<String>> {
        let layout = layout();
        let mut builder = HostSelector::builder();
        for p in patterns {
            builder.add(p);
        }
        let chosen = builder.build()?.select(&layout)?;
        Ok(chosen.into_iter().map(|h| layout.hosts()[h as usize].clone()).collect())
    }

    macro_rules! selects {
        ($($test:ident: [$($p:expr),*] => [$($host:expr),*];)*) => {$(
            #[test]
            fn $test() {
                let expected: Vec<&str> = vec![$($host),*];
                assert_eq!(names(&[$($p),*]).unwrap(), expected);
            }
        )*};
    }

    macro_rules! rejects {
        ($($test:ident: [$($p:expr),*] => $needle:expr;)*) => {$(
            #[test]
            fn $test() {
                let err = names(&[$($p),*]).unwrap_err();
                assert!(matches!(err, CoreError::Selection { .. }), "{err:?}");
                let text = err.to_string();
                assert!(text.contains($needle), "{text:?} lacks {:?}", $needle);
            }
        )*};
    }

    selects! {
        group: ["db"] => ["web01.example.com", "dba", "dbb"];
        host: ["dbb"] => ["dbb"];
        all_group: ["all"] => ["web01.example.com", "web02.example.com", "web03.example.com", "web04.example.com", "dba", "dbb", "east1"];
        glob_star: ["web0*"] => ["web01.example.com", "web02.example.com", "web03.example.com", "web04.example.com"];
        glob_question: ["db?"] => ["dba", "dbb"];
        glob_class: ["web0[13].*"] => ["web01.example.com", "web03.example.com"];
        glob_negated_class: ["web0[!13].*"] => ["web02.example.com", "web04.example.com"];
        glob_matches_groups: ["web-*"] => ["east1"];
        range: ["web[02:03].example.com"] => ["web02.example.com", "web03.example.com"];
        range_partly_present: ["web[03:09].example.com"] => ["web03.example.com", "web04.example.com"];
        exclusion_only: ["!web"] => ["dba", "dbb", "east1"];
        exclusion: ["web,!web0[12]*"] => ["web03.example.com", "web04.example.com"];
        several_options: ["dba", "east1", "!dbb"] => ["dba", "east1"];
        spaces_around_commas: [" dba , dbb "] => ["dba", "dbb"];
        host_order_not_pattern_order: ["east1,dba"] => ["dba", "east1"];
        range_of_groups: ["db,web-eas[s:t]"] => ["web01.example.com", "dba", "dbb", "east1"];
        // Ranges larger than the inventory are matched name by name, never expanded.
        largest_range: ["web[00:9999999].example.com"] => ["web01.example.com", "web02.example.com", "web03.example.com", "web04.example.com"];
        largest_range_groups: ["web-[a:z][a:z][a:z][a:z]"] => ["east1"];
        largest_range_excluded: ["!web[02:9999999].example.com"] => ["web01.example.com", "dba", "dbb", "east1"];
        range_with_glob: ["web0[1:2]*"] => ["web01.example.com", "web02.example.com"];
    }

    rejects! {
        unknown_group: ["webb"] => "--limit \"webb\": no group or host has this name; groups are: all, db, web, web-east";
        unknown_exclusion: ["web,!dbz"] => "--limit \"!dbz\": no group or host";
        glob_nothing: ["nohost*"] => "--limit \"nohost*\": matches no host or group";
        range_nothing: ["x[1:3]"] => "matches no host or group";
        bad_range: ["web[3:1]"] => "start 3 is after end 1";
        empty_selection: ["db,!db"] => "selects no host";
        bare_bang: ["!"] => "excludes nothing";
        unclosed_class: ["web[12"] => "unclosed '['";
        empty: [","] => "is empty";
        largest_range_nothing: ["web[0000000:9999999].example.com"] => "matches no host or group";
        // Found by fuzzing: a range with '*' or '?' makes one glob per name (millions here).
        range_with_glob_too_large: ["*[1:55]?[3:5]*[1:55]?[3:5]*[1:55]"] => "at most 10000 globs, not 1497375; narrow the range";
    }

    macro_rules! globs {
        ($($test:ident: $glob:expr, $name:expr => $expected:expr;)*) => {$(
            #[test]
            fn $test() {
                assert_eq!(Glob::compile($glob).unwrap().matches($name), $expected);
            }
        )*};
    }

    globs! {
        star_empty: "a*", "a" => true;
        star_middle: "a*c", "abbbc" => true;
        star_backtrack: "*ab", "aab" => true;
        star_no: "a*c", "abd" => false;
        stars: "**", "" => true;
        question: "a?c", "abc" => true;
        question_short: "a?", "a" => false;
        class_range: "[a-c]x", "bx" => true;
        class_no: "[a-c]x", "dx" => false;
        class_bracket_first: "[]a]", "]" => true;
        class_dash_last: "[a-]", "-" => true;
        literal_mismatch: "abc", "abd" => false;
        longer_name: "ab", "abc" => false;
    }
}
