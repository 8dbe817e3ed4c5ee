//! Which strings are host names.
//!
//! A host name is one of
//!
//! * a hostname: dot-separated labels of ASCII letters, digits, `-` and `_`
//!   (no empty label, no label starting with `-`, at most 63 bytes a label
//!   and 253 in all; one trailing dot is allowed);
//! * an IPv4 address (`10.0.0.1`) or an IPv6 address, bare (`fe80::1`) or
//!   bracketed (`[fe80::1%eth0]`);
//! * `@connector` or `@connector/target`, the target itself a host name.
//!
//! ```
//! use oxinfra::inventory::check_host_name;
//!
//! assert!(check_host_name("web01.example.com").is_ok());
//! assert!(check_host_name("@docker/app_1").is_ok());
//! let err = check_host_name("web 01").unwrap_err().to_string();
//! assert!(err.contains("contains a space"));
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{CoreError, Result};

const HINT: &str = "host names hold letters, digits, '-', '_' and '.'";

/// Checks that `name` is a hostname, an IP address or `@connector[/target]`.
pub fn check_host_name(name: &str) -> Result<()> {
    problem(name).map_or(Ok(()), |message| Err(CoreError::host_name(name, message)))
}

fn problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty; write a hostname, an IP address or @local".into());
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Some(format!("contains the control character U+{:04X}; remove it", u32::from(c)));
    }
    if name.chars().any(char::is_whitespace) {
        return Some("contains a space; one entry names one host (use a list for several)".into());
    }
    if let Some(rest) = name.strip_prefix('@') {
        return connector_problem(rest);
    }
    if name.starts_with('-') {
        return Some("starts with '-', which would read as an option; remove the '-'".into());
    }
    if let Some(inner) = name.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Some("opens '[' but does not end with ']'".into());
        };
        return if is_ipv6(inner) {
            None
        } else {
            Some(format!("[{inner}] is not an IPv6 address; write e.g. [fe80::1]"))
        };
    }
    if name.contains(':') {
        return if is_ipv6(name) {
            None
        } else {
            Some("contains ':' but is not an IPv6 address; a port goes in the data (ssh_port=2222)".into())
        };
    }
    if name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && name.bytes().filter(|&b| b == b'.').count() == 3
    {
        return match name.parse::<Ipv4Addr>() {
            Ok(_) => None,
            Err(_) => Some("is not a valid IPv4 address; each of the 4 numbers is 0 to 255".into()),
        };
    }
    hostname_problem(name)
}

fn connector_problem(rest: &str) -> Option<String> {
    let (connector, target) = match rest.split_once('/') {
        Some((connector, target)) => (connector, Some(target)),
        None => (rest, None),
    };
    let valid_connector = connector.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && connector.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid_connector {
        return Some(format!(
            "connector {connector:?} is not a lowercase word; write @local, @ssh/HOST or @docker/CONTAINER"
        ));
    }
    match target {
        None => None,
        Some("") => Some(format!("names no target after '@{connector}/'; write @{connector}/NAME")),
        Some(target) => problem(target).map(|message| format!("target {target:?} {message}")),
    }
}

fn hostname_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!("is {} bytes long; a host name has at most 253", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Some(format!("contains {c:?}; {HINT}"));
    }
    let body = name.strip_suffix('.').unwrap_or(name);
    for label in body.split('.') {
        if label.is_empty() {
            return Some("has an empty label ('..', or a leading '.'); remove the extra '.'".into());
        }
        if label.len() > 63 {
            return Some(format!("label {label:?} is {} bytes long; a label has at most 63", label.len()));
        }
        if label.starts_with('-') {
            return Some(format!("label {label:?} starts with '-'; labels start with a letter or digit"));
        }
    }
    None
}

fn is_ipv6(text: &str) -> bool {
    let (addr, zone) = text.split_once('%').unwrap_or((text, "x"));
    addr.parse::<Ipv6Addr>().is_ok()
        && !zone.is_empty()
        && zone.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! valid {
        ($($test:ident: $name:expr;)*) => {$(
            #[test]
            fn $test() {
                check_host_name($name).unwrap();
            }
        )*};
    }

    macro_rules! invalid {
        ($($test:ident: $name:expr => $needle:expr;)*) => {$(
            #[test]
            fn $test() {
                let err = check_host_name($name).unwrap_err().to_string();
                assert!(err.contains($needle), "{err:?} lacks {:?}", $needle);
                assert!(err.starts_with(&format!("{:?} is not a valid host name: ", $name)), "{err:?}");
            }
        )*};
    }

    valid! {
        short: "web1";
        fqdn: "web01.example.com";
        trailing_dot: "web01.example.com.";
        underscore: "app_1.internal";
        digits_first: "1password.example";
        ipv4: "10.0.0.254";
        ipv6_bare: "fe80::1";
        ipv6_bracketed: "[2001:db8::1]";
        ipv6_zone: "[fe80::1%eth0]";
        local: "@local";
        ssh_target: "@ssh/web1.example.com";
        docker_target: "@docker/app_1";
        connector_digits: "@k8s/pod-1";
    }

    invalid! {
        empty: "" => "it is empty";
        space: "web 1" => "contains a space";
        tab: "web\t1" => "control character U+0009";
        newline: "web\n" => "control character U+000A";
        double_dot: "web..example.com" => "empty label";
        leading_dot: ".web" => "empty label";
        leading_dash: "-web" => "would read as an option";
        label_dash: "web.-x" => "starts with '-'";
        slash: "web/1" => "contains '/'";
        comma: "web,db" => "contains ','";
        unicode: "wéb" => "contains 'é'";
        port: "web:22" => "a port goes in the data";
        bad_ipv4: "10.0.0.256" => "not a valid IPv4 address";
        bad_ipv6: "[fe80::zz]" => "is not an IPv6 address";
        open_bracket: "[fe80::1" => "does not end with ']'";
        long: &"a".repeat(254) => "at most 253";
        long_label: &format!("{}.com", "a".repeat(64)) => "at most 63";
        bad_connector: "@Docker/x" => "not a lowercase word";
        no_target: "@docker/" => "names no target";
        bad_target: "@ssh/a b" => "contains a space";
        bare_at: "@" => "not a lowercase word";
    }
}
