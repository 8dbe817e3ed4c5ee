//! The text output of `ip addr show` (Linux) and `ifconfig -a` (BSD, macOS,
//! old Linux), read into network devices as pyinfra 3.10 reads it (the
//! `hardware.NetworkDevices` fact; `ip -j` JSON output is read in Python).

use crate::error::{CoreError, Result};

/// One IPv4 address of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv4 {
    pub address: String,
    pub mask_bits: u32,
    pub netmask: String,
    pub broadcast: Option<String>,
}

/// One IPv6 address of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipv6 {
    pub address: String,
    pub mask_bits: u32,
}

/// A network device: `state` is `UP` if the text `UP` is anywhere in its
/// section, else `DOWN` if `DOWN` is, else `UNKNOWN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetDevice {
    pub name: String,
    pub state: String,
    pub ether: Option<String>,
    pub mtu: Option<u64>,
    pub ipv4: Vec<Ipv4>,
    pub ipv6: Vec<Ipv6>,
}

/// Reads `ip addr show` or `ifconfig -a` output into devices, in order of
/// first appearance (a name seen again replaces the earlier device's data).
///
/// Lines are stripped; a device's section starts at a line `N: name...` or at
/// a line `name: ... mtu ...`. In a section: the first `ether` followed by 17
/// hex digits and colons, the first `mtu N`, every `inet A.B.C.D/N [metric N]
/// [brd A.B.C.D]` (else every `inet A.B.C.D netmask M [broadcast A.B.C.D]`,
/// the mask dotted, hex `0x...` or a number) and every `inet6 ADDR/N` (else
/// `inet6 ADDR prefixlen N`).
///
/// ```
/// use oxinfra::parse::parse_ip_addr;
///
/// let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n    inet 127.0.0.1/8 scope host lo\n";
/// let devices = parse_ip_addr(out)?;
/// assert_eq!((devices[0].name.as_str(), devices[0].mtu, devices[0].state.as_str()), ("lo", Some(65536), "UP"));
/// assert_eq!(devices[0].ipv4[0].netmask, "255.0.0.0");
/// # Ok::<(), oxinfra::CoreError>(())
/// ```
///
/// Fails (a parse error) on a mask or number too large to mean anything.
pub fn parse_ip_addr(text: &str) -> Result<Vec<NetDevice>> {
    let lines: Vec<&str> = text.split('\n').map(str::trim).collect();
    let mut sections: Vec<Vec<&str>> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match sections.last_mut() {
            Some(section) if i > 0 && !starts_section(line) => section.push(line),
            _ => sections.push(vec![line]),
        }
    }
    let mut devices: Vec<NetDevice> = Vec::new();
    for section in sections {
        let section = section.join("\n");
        let Some(name) = device_name(&section) else { continue };
        let device = read_section(name.to_string(), &section)?;
        match devices.iter_mut().find(|d| d.name == device.name) {
            Some(slot) => *slot = device,
            None => devices.push(device),
        }
    }
    Ok(devices)
}

fn other_char(c: char) -> bool {
    !(c.is_whitespace() || c == '/' || c == ':')
}

fn digits_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// `N: x` (x not blank, `/` or `:`), or `name:` with `mtu ` later in the line.
fn starts_section(line: &str) -> bool {
    let n = digits_len(line);
    if n > 0 && line[n..].starts_with(": ") && line[n + 2..].chars().next().is_some_and(other_char) {
        return true;
    }
    let run: usize = line.chars().take_while(|&c| other_char(c)).map(char::len_utf8).sum();
    run > 0 && line[run..].starts_with(':') && line[run + 1..].contains("mtu ")
}

/// `[N: ]name:` at the start of a section.
fn device_name(section: &str) -> Option<&str> {
    let name_at = |rest: &'_ str| -> Option<usize> {
        let run: usize = rest.chars().take_while(|&c| other_char(c)).map(char::len_utf8).sum();
        (run > 0 && rest[run..].starts_with(':')).then_some(run)
    };
    let n = digits_len(section);
    if n > 0 && section[n..].starts_with(": ") {
        if let Some(run) = name_at(&section[n + 2..]) {
            return Some(&section[n + 2..n + 2 + run]);
        }
    }
    name_at(section).map(|run| &section[..run])
}

fn read_section(name: String, section: &str) -> Result<NetDevice> {
    let state = if section.contains("UP") {
        "UP"
    } else if section.contains("DOWN") {
        "DOWN"
    } else {
        "UNKNOWN"
    };
    let ether = section.match_indices("ether ").find_map(|(i, _)| {
        let rest = &section[i + 6..];
        let ok =
            rest.len() >= 17 && rest.as_bytes()[..17].iter().all(|b| b.is_ascii_hexdigit() || *b == b':');
        ok.then(|| rest[..17].to_string())
    });
    let mtu = section.match_indices("mtu ").find_map(|(i, _)| {
        let rest = &section[i + 4..];
        let n = digits_len(rest);
        (n > 0).then(|| &rest[..n])
    });
    let mtu = mtu.map(|m| m.parse::<u64>().map_err(|_| bad(format!("mtu {m} is too large")))).transpose()?;
    let mut ipv4 = find_all(section, "inet ", ipv4_ip)?;
    if ipv4.is_empty() {
        ipv4 = find_all(section, "inet ", ipv4_ifconfig)?;
    }
    let mut ipv6 = find_all(section, "inet6", ipv6_ip)?;
    if ipv6.is_empty() {
        ipv6 = find_all(section, "inet6", ipv6_ifconfig)?;
    }
    Ok(NetDevice { name, state: state.to_string(), ether, mtu, ipv4, ipv6 })
}

fn bad(message: String) -> CoreError {
    CoreError::parse("ip addr", message)
}

/// Every non-overlapping match starting at an occurrence of `word`: `read`
/// gets the text after `word` and gives the value and the length it used.
/// Reads a value from the start of a text: the value and the length it used.
type Reader<T> = fn(&str) -> Result<Option<(T, usize)>>;

fn find_all<T>(section: &str, word: &str, read: Reader<T>) -> Result<Vec<T>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = section[at..].find(word) {
        let start = at + i + word.len();
        match read(&section[start..])? {
            Some((value, used)) => {
                found.push(value);
                at = start + used;
            }
            None => at = at + i + 1,
        }
    }
    Ok(found)
}

/// `A.B.C.D` (digits maximal): the length.
fn dotted(s: &str) -> Option<usize> {
    let mut at = 0;
    for part in 0..4 {
        let n = digits_len(&s[at..]);
        if n == 0 {
            return None;
        }
        at += n;
        if part < 3 {
            if !s[at..].starts_with('.') {
                return None;
            }
            at += 1;
        }
    }
    Some(at)
}

fn blanks(s: &str) -> usize {
    s.chars().take_while(|c| c.is_whitespace()).map(char::len_utf8).sum()
}

/// The netmask of a mask given as bits, hex (`0xffffff00`) or dotted.
fn mask(value: &str) -> Result<(u32, String)> {
    let too_large = || bad(format!("netmask {value:?} is too large"));
    let bits = if let Some(hex) = value.strip_prefix("0x") {
        Some(
            u128::from_str_radix(hex, 16)
                .map_err(|_| bad(format!("netmask {value:?} is not hex")))?
                .count_ones(),
        )
    } else if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Some(value.parse::<u32>().map_err(|_| too_large())?)
    } else {
        None
    };
    if let Some(bits) = bits {
        let octets: Vec<String> = [24u32, 16, 8, 0]
            .iter()
            .map(|&b| {
                let shifted = u128::from(0xFFFF_FFFFu32) << (32 - b);
                let value = if bits >= 128 { 0 } else { shifted >> bits };
                (value & 0xFF).to_string()
            })
            .collect();
        return Ok((bits, octets.join(".")));
    }
    let mut bits = 0;
    for octet in value.split('.') {
        let n: u128 =
            octet.parse().map_err(|_| bad(format!("netmask {value:?} is not dotted, hex or a number")))?;
        bits += n.count_ones();
    }
    Ok((bits, value.to_string()))
}

/// After `inet `: `A.B.C.D/N[ metric N][ brd A.B.C.D]`.
fn ipv4_ip(s: &str) -> Result<Option<(Ipv4, usize)>> {
    let Some(a) = dotted(s) else { return Ok(None) };
    if !s[a..].starts_with('/') {
        return Ok(None);
    }
    let n = digits_len(&s[a + 1..]);
    if n == 0 {
        return Ok(None);
    }
    let mut at = a + 1 + n;
    let (mask_bits, netmask) = mask(&s[a + 1..at])?;
    if let Some(rest) = s[at..].strip_prefix(" metric ") {
        let m = digits_len(rest);
        if m > 0 {
            at += 8 + m;
        }
    }
    let mut broadcast = None;
    if let Some(rest) = s[at..].strip_prefix(" brd ") {
        if let Some(b) = dotted(rest) {
            broadcast = Some(rest[..b].to_string());
            at += 5 + b;
        }
    }
    Ok(Some((Ipv4 { address: s[..a].to_string(), mask_bits, netmask, broadcast }, at)))
}

/// After `inet `: `A.B.C.D netmask M[ broadcast A.B.C.D]`, blanks of any length.
fn ipv4_ifconfig(s: &str) -> Result<Option<(Ipv4, usize)>> {
    let Some(a) = dotted(s) else { return Ok(None) };
    let mut at = a + blanks(&s[a..]);
    if at == a || !s[at..].starts_with("netmask") {
        return Ok(None);
    }
    let b = blanks(&s[at + 7..]);
    if b == 0 {
        return Ok(None);
    }
    at += 7 + b;
    let m = dotted(&s[at..]).unwrap_or_else(|| {
        s[at..].bytes().take_while(|c| c.is_ascii_hexdigit() || *c == b'x' || *c == b'X').count()
    });
    if m == 0 {
        return Ok(None);
    }
    let (mask_bits, netmask) = mask(&s[at..at + m])?;
    at += m;
    let mut broadcast = None;
    let b1 = blanks(&s[at..]);
    if b1 > 0 && s[at + b1..].starts_with("broadcast") {
        let from = at + b1 + 9;
        let b2 = blanks(&s[from..]);
        if b2 > 0 {
            if let Some(d) = dotted(&s[from + b2..]) {
                broadcast = Some(s[from + b2..from + b2 + d].to_string());
                at = from + b2 + d;
            }
        }
    }
    Ok(Some((Ipv4 { address: s[..a].to_string(), mask_bits, netmask, broadcast }, at)))
}

fn ipv6_address(s: &str) -> usize {
    s.bytes().take_while(|c| c.is_ascii_hexdigit() || *c == b':').count()
}

fn prefix_bits(digits: &str) -> Result<u32> {
    digits.parse().map_err(|_| bad(format!("prefix length {digits} is too large")))
}

/// After `inet6`: blanks, `ADDR/N`.
fn ipv6_ip(s: &str) -> Result<Option<(Ipv6, usize)>> {
    let b = blanks(s);
    let a = ipv6_address(&s[b..]);
    if b == 0 || a == 0 || !s[b + a..].starts_with('/') {
        return Ok(None);
    }
    let n = digits_len(&s[b + a + 1..]);
    if n == 0 {
        return Ok(None);
    }
    let mask_bits = prefix_bits(&s[b + a + 1..b + a + 1 + n])?;
    Ok(Some((Ipv6 { address: s[b..b + a].to_string(), mask_bits }, b + a + 1 + n)))
}

/// After `inet6`: blanks, `ADDR`, blanks, `prefixlen`, blanks, `N`.
fn ipv6_ifconfig(s: &str) -> Result<Option<(Ipv6, usize)>> {
    let b = blanks(s);
    let a = ipv6_address(&s[b..]);
    if b == 0 || a == 0 {
        return Ok(None);
    }
    let mut at = b + a;
    let b2 = blanks(&s[at..]);
    if b2 == 0 || !s[at + b2..].starts_with("prefixlen") {
        return Ok(None);
    }
    at += b2 + 9;
    let b3 = blanks(&s[at..]);
    let n = digits_len(&s[at + b3..]);
    if b3 == 0 || n == 0 {
        return Ok(None);
    }
    let mask_bits = prefix_bits(&s[at + b3..at + b3 + n])?;
    Ok(Some((Ipv6 { address: s[b..b + a].to_string(), mask_bits }, at + b3 + n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(mask("24").unwrap(), (24, "255.255.255.0".to_string()));
        assert_eq!(mask("0").unwrap(), (0, "0.0.0.0".to_string()));
        assert_eq!(mask("32").unwrap(), (32, "255.255.255.255".to_string()));
        assert_eq!(mask("200").unwrap(), (200, "0.0.0.0".to_string()));
        assert_eq!(mask("0xffffff00").unwrap(), (24, "255.255.255.0".to_string()));
        assert_eq!(mask("255.255.0.0").unwrap(), (16, "255.255.0.0".to_string()));
        assert!(mask("99999999999").is_err());
    }

    #[test]
    fn sections() {
        assert!(starts_section("2: eth0: <BROADCAST>"));
        assert!(starts_section("em0: flags=8843<UP> metric 0 mtu 1500"));
        assert!(!starts_section("link/ether 02:42:ac:11:00:02 brd ff:ff:ff:ff:ff:ff"));
        assert!(!starts_section("media: Ethernet autoselect"));
        assert_eq!(device_name("2: eth0@if5: <UP>"), Some("eth0@if5"));
        assert_eq!(device_name("lo0: flags=8049<UP> mtu 16384"), Some("lo0"));
        assert_eq!(device_name("inet 1.2.3.4"), None);
    }

    #[test]
    fn ifconfig() {
        let out = "em0: flags=8843<UP,BROADCAST> metric 0 mtu 1500\n\tether 08:00:27:aa:bb:cc\n\tinet 10.0.2.15 netmask 0xffffff00 broadcast 10.0.2.255\n\tinet6 fe80::a00:27ff:feaa:bbcc%em0 prefixlen 64 scopeid 0x1\n\tinet6 2001:db8::1 prefixlen 64\n";
        let d = &parse_ip_addr(out).unwrap()[0];
        assert_eq!(d.ether.as_deref(), Some("08:00:27:aa:bb:cc"));
        assert_eq!(d.ipv4[0].broadcast.as_deref(), Some("10.0.2.255"));
        assert_eq!(d.ipv4[0].mask_bits, 24);
        assert_eq!(d.ipv6, vec![Ipv6 { address: "2001:db8::1".into(), mask_bits: 64 }]);
    }
}
