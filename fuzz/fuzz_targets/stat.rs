//! The batched `stat` split and the `stat` fact parser on arbitrary output:
//! never panic, one result per path, and every split result parses or fails
//! cleanly as one fact's output.
//!
//! Input: one byte (the number of paths, mod 8), then NUL-separated fields:
//! the absent section, the stat section, the link section, and the paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxinfra::parse::{parse_stat, split_stat_batch, ABSENT, FAILED};

fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else { return };
    let mut fields = rest.split(|&b| b == 0);
    let (Some(absent), Some(stat), Some(links)) = (fields.next(), fields.next(), fields.next()) else {
        return;
    };
    let paths: Vec<&[u8]> = fields.take(usize::from(count % 8)).collect();
    for expected in ["file", "link"] {
        let _ = parse_stat(expected, rest, 0);
    }
    let Ok(split) = split_stat_batch(absent, stat, links, "N", &paths) else { return };
    assert_eq!(split.len(), paths.len());
    for path in &split {
        if path.stdout.is_empty() {
            assert!(path.rc == ABSENT || path.rc == FAILED, "a path stat did not print is absent or failed");
        } else {
            assert!(path.rc == 0 || path.rc == FAILED, "a printed path is never absent");
        }
        for expected in ["file", "link"] {
            let _ = parse_stat(expected, &path.stdout, i64::from(path.rc));
        }
    }
});
