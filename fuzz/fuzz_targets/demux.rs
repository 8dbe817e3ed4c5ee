//! The marker demultiplexer on arbitrary output: never panics, and what it
//! returns, written back as a stream, splits into the same sections.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxinfra::parse::{demux, Status};

const NONCE: &str = "N1";

fuzz_target!(|data: &[u8]| {
    let Ok(out) = demux(data, NONCE) else { return };
    let mut stream = Vec::with_capacity(data.len() + 32);
    for section in &out.sections {
        let status = match section.status {
            Status::Exit(rc) => rc.to_string(),
            Status::Stale => "stale".to_string(),
        };
        stream.extend_from_slice(section.output);
        stream.extend_from_slice(format!("\n@@OX-{NONCE}:E:{}:{status}\n", section.index).as_bytes());
    }
    stream.extend_from_slice(out.rest);
    if out.done {
        stream.extend_from_slice(format!("\n@@OX-{NONCE}:DONE\n").as_bytes());
    }
    let again = demux(&stream, NONCE).expect("a stream written from demux's result parses");
    assert_eq!(again, out, "stream {:?}", String::from_utf8_lossy(&stream));
});
