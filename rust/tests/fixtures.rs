//! Runs every fact fixture in `tests/facts/<fact>/<case>.json` through the
//! core parsers. The same files drive `tests/test_core.py`.

use oxinfra::parse::{parse_hash, parse_lines, parse_stat, StatResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/facts");
    let mut files = Vec::new();
    for fact in std::fs::read_dir(&root).expect("tests/facts exists") {
        for case in std::fs::read_dir(fact.unwrap().path()).unwrap() {
            let path = case.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn run(fixture: &Value) -> Value {
    let stdout = fixture["stdout"].as_str().expect("stdout is a string").as_bytes();
    let rc = fixture["rc"].as_i64().expect("rc is an integer");
    let args = &fixture["args"];
    match fixture["parser"].as_str().expect("parser is a string") {
        "stat" => match parse_stat(args["expected"].as_str().unwrap(), stdout, rc).unwrap() {
            StatResult::Absent => Value::Null,
            StatResult::WrongType(_) => Value::Bool(false),
            StatResult::Found(s) => {
                let mut value = json!({
                    "user": s.user, "group": s.group, "mode": s.mode, "size": s.size,
                    "atime": s.atime, "mtime": s.mtime, "ctime": s.ctime,
                });
                if let Some(target) = s.link_target {
                    value["link_target"] = json!(target);
                }
                value
            }
        },
        "hash" => json!(parse_hash(stdout, args["digits"].as_u64().unwrap() as usize)),
        "lines" => json!(parse_lines(stdout, rc, args["absent_rc"].as_i64().unwrap())),
        other => panic!("unknown parser {other:?}"),
    }
}

#[test]
fn fact_fixtures() {
    let files = fixtures();
    assert!(files.len() >= 30, "only {} fixtures found", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got = run(&fixture);
        if got != fixture["expected"] {
            failures.push(format!("{}: expected {}, got {got}", path.display(), fixture["expected"]));
        }
    }
    assert!(failures.is_empty(), "{} fixtures failed:\n{}", failures.len(), failures.join("\n"));
}
