//! Host patterns as an inventory or `--limit` gives them: parsing never
//! panics, a parsed pattern expands to exactly `len()` names, `matches` agrees
//! with the expansion, and selection against a small inventory either fails
//! cleanly or picks known hosts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxinfra::inventory::{HostPattern, HostSelector, Layout, LayoutBuilder};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Expanding more names than this per input would make the run slow, not find more.
const EXPAND_AT_MOST: u64 = 20_000;

fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let mut builder = LayoutBuilder::new();
        builder.group("web", "").entry("web[01:12]", None).entry("[::1]", Some(0));
        builder.group("db", "").entry("db-[a:c]", Some(1)).entry("web01", None);
        builder.build().expect("the fuzz inventory is valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pattern) = HostPattern::parse(text) {
        assert!(!pattern.is_empty() && pattern.len() <= oxinfra::inventory::MAX_NAMES);
        if pattern.len() <= EXPAND_AT_MOST {
            let names = pattern.expand();
            assert_eq!(names.len() as u64, pattern.len(), "{text:?}");
            if !text.contains('[') {
                assert_eq!(names, [text]);
            }
            // `matches` agrees with the expansion, on names and on near misses.
            let set: HashSet<&str> = names.iter().map(String::as_str).collect();
            for name in names.iter().take(200) {
                assert!(pattern.matches(name), "{text:?} expands to {name:?}");
                let mut near = vec![format!("{name}0"), format!("0{name}"), format!("{name}a")];
                near.extend(name.char_indices().map(|(i, _)| name[..i].to_string()));
                for other in &near {
                    assert_eq!(
                        pattern.matches(other),
                        set.contains(other.as_str()),
                        "{text:?} and {other:?}"
                    );
                }
            }
            for host in layout().hosts() {
                assert_eq!(pattern.matches(host), set.contains(host.as_str()), "{text:?} and {host:?}");
            }
        }
    }
    let mut builder = HostSelector::builder();
    builder.add(text);
    if let Ok(selector) = builder.build() {
        if let Ok(chosen) = selector.select(layout()) {
            let hosts = layout().hosts().len() as u32;
            assert!(
                !chosen.is_empty()
                    && chosen.windows(2).all(|w| w[0] < w[1])
                    && chosen[chosen.len() - 1] < hosts
            );
        }
    }
});
