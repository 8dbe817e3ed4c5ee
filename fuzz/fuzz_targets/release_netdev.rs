//! The release-file and network-device parsers on arbitrary output: never
//! panic; what they return is consistent with the input.
//!
//! Input: arbitrary bytes, given as is to the release-files split and, read
//! as UTF-8 (lossily), to the os-release reader and the `ip addr` reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oxinfra::parse::{parse_ip_addr, parse_os_release, split_release_files};

fuzz_target!(|data: &[u8]| {
    if let Ok(files) = split_release_files(data) {
        let body: usize = files.iter().map(|(_, b)| b.len()).sum();
        assert!(body <= data.len(), "more content than output");
        assert!(files.iter().all(|(path, _)| !path.is_empty()));
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(vars) = parse_os_release(&text) {
        for (i, (key, _)) in vars.iter().enumerate() {
            assert!(!vars[..i].iter().any(|(k, _)| k == key), "a key twice");
        }
    }
    if let Ok(devices) = parse_ip_addr(&text) {
        for (i, device) in devices.iter().enumerate() {
            assert!(!device.name.is_empty());
            assert!(!devices[..i].iter().any(|d| d.name == device.name), "a device twice");
            assert!(["UP", "DOWN", "UNKNOWN"].contains(&device.state.as_str()));
        }
    }
});
