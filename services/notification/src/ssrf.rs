//! Outbound webhook URLs come from users, so this module decides which ones the service may call: once on
//! the URL (scheme, credentials, IP literals) and again on every address its host name resolves to.
//!
//! The HTTP client must then connect only to the addresses `resolve_and_check` returned (for reqwest:
//! `ClientBuilder::resolve_to_addrs`) and must not follow redirects; otherwise a second DNS answer or a
//! `Location` header could still lead it inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// Environment variable holding the comma-separated allow-list (host names, IP addresses, CIDRs).
pub const ALLOWLIST_ENV: &str = "VWC_OUTBOUND_ALLOWLIST";

/// Longest URL accepted; webhook URLs are short and this bounds the work done on hostile input.
const MAX_URL_LEN: usize = 2048;

/// Hosts and networks that may be called even though they are not public (or over plain http), e.g. a
/// receiver inside the same Docker network during development.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    hosts: Vec<String>,
    networks: Vec<IpNet>,
}

/// An allow-list entry that is neither a host name, an IP address nor a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allow-list entry `{entry}` is neither a host name, an IP address nor a CIDR")]
pub struct AllowlistError {
    pub entry: String,
}

/// A URL that passed `check_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTarget {
    pub scheme: Scheme,
    pub host: TargetHost,
    /// The explicit port, or 80/443 from the scheme.
    pub port: u16,
    /// Path and query, starting with `/`; the fragment is dropped.
    pub path_and_query: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// An IP literal, already checked.
    Ip(IpAddr),
    /// A lower-case host name without trailing dot; still to be checked after resolution.
    Domain(String),
}

/// Why an outbound URL may not be called. Meant for logs; a client setting a webhook URL should get a
/// generic "URL not allowed" so the service is not an oracle for the internal network.
#[derive(Debug, thiserror::Error)]
pub enum SsrfError {
    #[error("URL is malformed: {0}")]
    Malformed(&'static str),
    #[error("URL scheme `{0}` is not allowed; use https")]
    UnsupportedScheme(String),
    #[error("plain http is only allowed for allow-listed hosts; use https")]
    HttpsRequired,
    #[error("URL must not carry credentials (`user:password@`)")]
    UserinfoNotAllowed,
    #[error("URL has no host")]
    MissingHost,
    #[error("URL host is neither a valid host name nor an IP address")]
    InvalidHost,
    #[error("address {addr} is in a non-public range: {range}")]
    ForbiddenAddress { addr: IpAddr, range: &'static str },
    #[error("could not resolve `{host}`")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{host}` resolved to no addresses")]
    NoAddresses { host: String },
}

impl Allowlist {
    /// Parses `"host1,10.0.0.0/8,127.0.0.1"`; blanks around entries and empty entries are ignored.
    pub fn parse(list: &str) -> Result<Self, AllowlistError> {
        let mut allow = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid = || AllowlistError {
                entry: entry.to_owned(),
            };
            if entry.contains('/') {
                let net: IpNet = entry.parse().map_err(|_| invalid())?;
                allow.networks.push(net.trunc());
                continue;
            }
            let bare = entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .unwrap_or(entry);
            if let Ok(ip) = bare.parse::<IpAddr>() {
                allow.networks.push(IpNet::from(ip));
                continue;
            }
            match classify_host(entry).map_err(|_| invalid())? {
                TargetHost::Ip(ip) => allow.networks.push(IpNet::from(ip)),
                TargetHost::Domain(name) => allow.hosts.push(name),
            }
        }
        Ok(allow)
    }

    /// Reads `VWC_OUTBOUND_ALLOWLIST`; unset means nothing is allow-listed.
    pub fn from_env() -> Result<Self, AllowlistError> {
        match std::env::var(ALLOWLIST_ENV) {
            Ok(list) => Self::parse(&list),
            Err(std::env::VarError::NotPresent) => Ok(Self::default()),
            Err(std::env::VarError::NotUnicode(raw)) => Err(AllowlistError {
                entry: raw.to_string_lossy().into_owned(),
            }),
        }
    }

    /// Whether the host name itself is listed (case-insensitive, trailing dot ignored).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host_name(host);
        self.hosts.contains(&host)
    }

    /// Whether the address lies in a listed network (IPv4-mapped IPv6 counts as its IPv4 address).
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.networks
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
    }

    fn allows(&self, host: &TargetHost) -> bool {
        match host {
            TargetHost::Ip(ip) => self.allows_ip(*ip),
            TargetHost::Domain(name) => self.allows_host(name),
        }
    }
}

/// Checks an outbound URL before any DNS lookup: http(s) only, https unless allow-listed, no
/// credentials, and an IP-literal host must be public or allow-listed. Host names still need
/// `check_resolved` (or `resolve_and_check`).
pub fn check_url(url: &str, allow: &Allowlist) -> Result<ParsedTarget, SsrfError> {
    if url.len() > MAX_URL_LEN {
        return Err(SsrfError::Malformed("longer than 2048 bytes"));
    }
    // Backslashes and stray whitespace are read differently by different URL parsers; refuse them
    // rather than guess which host the HTTP client would pick.
    if url.bytes().any(|b| !b.is_ascii_graphic() || b == b'\\') {
        return Err(SsrfError::Malformed(
            "contains whitespace, control characters, backslashes or non-ASCII characters",
        ));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(SsrfError::Malformed("expected scheme://host/path"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(SsrfError::UnsupportedScheme(scheme.to_owned())),
    };

    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(SsrfError::UserinfoNotAllowed);
    }
    let (host_text, port_text) = split_host_port(authority)?;
    if host_text.is_empty() {
        return Err(SsrfError::MissingHost);
    }
    let host = if authority.starts_with('[') {
        TargetHost::Ip(IpAddr::V6(
            host_text.parse().map_err(|_| SsrfError::InvalidHost)?,
        ))
    } else {
        classify_host(host_text)?
    };
    let port = match port_text {
        None | Some("") => match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        },
        Some(p) => parse_port(p)?,
    };

    let allow_listed = allow.allows(&host);
    if let TargetHost::Ip(ip) = host
        && !allow_listed
        && let Some(range) = non_public_range(ip)
    {
        return Err(SsrfError::ForbiddenAddress { addr: ip, range });
    }
    if scheme == Scheme::Http && !allow_listed {
        return Err(SsrfError::HttpsRequired);
    }

    let path_and_query = tail.split('#').next().unwrap_or_default();
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else {
        format!("/{path_and_query}")
    };
    Ok(ParsedTarget {
        scheme,
        host,
        port,
        path_and_query,
    })
}

/// Applies the address rule after DNS: every address must be public or allow-listed, unless the host
/// name itself is allow-listed. One bad address refuses the whole host, since the client may pick any.
pub fn check_resolved(host: &str, addrs: &[IpAddr], allow: &Allowlist) -> Result<(), SsrfError> {
    if addrs.is_empty() {
        return Err(SsrfError::NoAddresses {
            host: host.to_owned(),
        });
    }
    if allow.allows_host(host) {
        return Ok(());
    }
    for &addr in addrs {
        if allow.allows_ip(addr) {
            continue;
        }
        if let Some(range) = non_public_range(addr) {
            return Err(SsrfError::ForbiddenAddress { addr, range });
        }
    }
    Ok(())
}

/// `check_url`, then DNS resolution and `check_resolved`. Returns the addresses the client must connect
/// to (and only to).
pub async fn resolve_and_check(url: &str, allow: &Allowlist) -> Result<Vec<SocketAddr>, SsrfError> {
    let target = check_url(url, allow)?;
    match target.host {
        TargetHost::Ip(ip) => Ok(vec![SocketAddr::new(ip, target.port)]),
        TargetHost::Domain(name) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), target.port))
                .await
                .map_err(|source| SsrfError::Resolve {
                    host: name.clone(),
                    source,
                })?
                .collect();
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            check_resolved(&name, &ips, allow)?;
            Ok(addrs)
        }
    }
}

/// The named non-public range an address falls in, or `None` when it is publicly routable.
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => "broadcast 255.255.255.255",
        (0, ..) => "\"this network\" 0.0.0.0/8 (incl. unspecified)",
        (10, ..) => "private 10.0.0.0/8",
        (100, b, _) if b & 0xc0 == 64 => "shared address space (CGNAT) 100.64.0.0/10",
        (127, ..) => "loopback 127.0.0.0/8",
        (169, 254, _) => "link-local 169.254.0.0/16 (incl. cloud metadata)",
        (172, b, _) if b & 0xf0 == 16 => "private 172.16.0.0/12",
        (192, 0, 0) => "IETF protocol assignments 192.0.0.0/24",
        (192, 0, 2) => "documentation 192.0.2.0/24",
        (192, 88, 99) => "6to4 relay anycast 192.88.99.0/24",
        (192, 168, _) => "private 192.168.0.0/16",
        (198, b, _) if b & 0xfe == 18 => "benchmarking 198.18.0.0/15",
        (198, 51, 100) => "documentation 198.51.100.0/24",
        (203, 0, 113) => "documentation 203.0.113.0/24",
        (a, ..) if a & 0xf0 == 224 => "multicast 224.0.0.0/4",
        (a, ..) if a & 0xf0 == 240 => "reserved 240.0.0.0/4",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4);
    }
    let s = ip.segments();
    Some(match s {
        _ if ip.is_unspecified() => "unspecified ::/128",
        _ if ip.is_loopback() => "loopback ::1/128",
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible ::/96 (deprecated)",
        // NAT64 (RFC 6052): the IPv4 address it stands for decides.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return v4_range(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
        }
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 64:ff9b:1::/48",
        [a, ..] if a & 0xfe00 == 0xfc00 => "unique local fc00::/7",
        [a, ..] if a & 0xffc0 == 0xfe80 => "link-local fe80::/10",
        [a, ..] if a & 0xffc0 == 0xfec0 => "site-local fec0::/10 (deprecated)",
        [a, ..] if a & 0xff00 == 0xff00 => "multicast ff00::/8",
        [0x2001, 0x0db8, ..] => "documentation 2001:db8::/32",
        [0x2001, 0, ..] => "Teredo 2001::/32",
        [0x2002, ..] => "6to4 2002::/16 (deprecated)",
        [a, ..] if a & 0xe000 != 0x2000 => "outside global unicast 2000::/3",
        _ => return None,
    })
}

/// Splits `host[:port]` / `[v6][:port]`; the port text is `Some("")` for a trailing colon.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), SsrfError> {
    if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(SsrfError::InvalidHost)?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(SsrfError::InvalidHost),
            },
        };
    }
    match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(SsrfError::InvalidHost),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, SsrfError> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SsrfError::Malformed("port is not a number"));
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(SsrfError::Malformed("port out of range")),
        Ok(port) => Ok(port),
    }
}

fn normalize_host_name(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) => stripped.to_owned(),
        None => lower,
    }
}

/// A non-bracketed host: an IPv4 address in any form a WHATWG URL parser accepts (`127.1`,
/// `0x7f.0.0.1`, `2130706433`, `0177.0.0.1` all mean 127.0.0.1 to the HTTP client), else a host name.
fn classify_host(text: &str) -> Result<TargetHost, SsrfError> {
    let name = normalize_host_name(text);
    if name.is_empty() {
        return Err(SsrfError::MissingHost);
    }
    let last_label = name.rsplit('.').next().unwrap_or_default();
    if ends_in_number(last_label) {
        return whatwg_ipv4(&name)
            .map(|v4| TargetHost::Ip(IpAddr::V4(v4)))
            .ok_or(SsrfError::InvalidHost);
    }
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(SsrfError::InvalidHost);
    }
    Ok(TargetHost::Domain(name))
}

fn ends_in_number(label: &str) -> bool {
    if !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    label
        .strip_prefix("0x")
        .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The WHATWG URL standard's IPv4 parser: 1–4 dot-separated parts in decimal, octal (leading 0) or
/// hex (0x); the last part fills the remaining bytes.
fn whatwg_ipv4(name: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let numbers = parts
        .iter()
        .map(|part| parse_ipv4_number(part))
        .collect::<Option<Vec<u64>>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255) {
        return None;
    }
    let remaining_bits = 8 * (4 - leading.len() as u32);
    if *last >= 1u64 << remaining_bits {
        return None;
    }
    let mut value = *last;
    for (i, &n) in leading.iter().enumerate() {
        value += n << (8 * (3 - i as u32));
    }
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x") {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        return Some(0);
    }
    // Digits only (no sign), and short enough that u64 cannot overflow before the range check.
    if digits.len() > 16 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests;
