use super::*;

fn none() -> Allowlist {
    Allowlist::default()
}

fn refused_range(url: &str) -> &'static str {
    match check_url(url, &none()) {
        Err(SsrfError::ForbiddenAddress { range, .. }) => range,
        other => panic!("{url}: expected a forbidden address, got {other:?}"),
    }
}

/// Asserts that the URL of each host (`https://{host}/`, an IPv6 literal in brackets) is refused as an
/// address of a range whose name says `expected`.
fn assert_refused(cases: &[(&str, &str)]) {
    for (host, expected) in cases {
        let url = if host.contains(':') {
            format!("https://[{host}]/")
        } else {
            format!("https://{host}/")
        };
        let range = refused_range(&url);
        assert!(range.contains(expected), "{host}: {range}");
    }
}

/// Asserts that `check_url` refuses each of `urls` (with no allow-list) with an error `expected` accepts.
fn assert_each_refused(urls: &[&str], expected: fn(&SsrfError) -> bool) {
    for url in urls {
        match check_url(url, &none()) {
            Err(e) if expected(&e) => {}
            other => panic!("{url}: refused otherwise than expected: {other:?}"),
        }
    }
}

#[test]
fn public_ip_literals_are_accepted() {
    for url in [
        "https://93.184.215.14/hooks/vwc",
        "https://8.8.8.8:8443",
        "https://[2606:4700:4700::1111]/hook",
        "https://[64:ff9b::808:808]/", // NAT64 of 8.8.8.8
    ] {
        let target = check_url(url, &none()).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(matches!(target.host, TargetHost::Ip(_)), "{url}");
    }
}

#[test]
fn https_url_with_a_host_name_is_parsed() {
    let target = check_url("HTTPS://Hooks.Example.COM./v1/in?x=1#frag", &none()).unwrap();
    assert_eq!(
        target,
        ParsedTarget {
            scheme: Scheme::Https,
            host: TargetHost::Domain("hooks.example.com".into()),
            port: 443,
            path_and_query: "/v1/in?x=1".into(),
        }
    );
    let target = check_url("https://example.com:8443?q", &none()).unwrap();
    assert_eq!(target.port, 8443);
    assert_eq!(target.path_and_query, "/?q");
}

#[test]
fn every_non_public_ipv4_range_is_refused() {
    assert_refused(&[
        ("0.0.0.0", "this network"),
        ("0.1.2.3", "this network"),
        ("10.0.0.1", "private 10."),
        ("10.255.255.255", "private 10."),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("169.254.169.254", "link-local"),
        ("169.254.0.1", "link-local"),
        ("172.16.0.1", "private 172.16"),
        ("172.31.255.255", "private 172.16"),
        ("192.0.0.8", "IETF"),
        ("192.0.2.1", "documentation"),
        ("192.88.99.1", "6to4 relay"),
        ("192.168.1.1", "private 192.168"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.255", "benchmarking"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
    ]);
}

#[test]
fn neighbours_of_the_refused_ipv4_ranges_are_public() {
    for ip in [
        "9.255.255.255",
        "11.0.0.0",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.0",
        "169.253.255.255",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ] {
        assert!(
            check_url(&format!("https://{ip}/"), &none()).is_ok(),
            "{ip} should be public"
        );
    }
}

#[test]
fn every_non_public_ipv6_range_is_refused() {
    assert_refused(&[
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("fec0::1", "site-local"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("2001:0:4136:e378::1", "Teredo"),
        ("2002:7f00:1::1", "6to4"),
        ("100::1", "outside global unicast"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("64:ff9b::7f00:1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
    ]);
}

#[test]
fn ipv4_mapped_ipv6_of_a_refused_range_is_refused() {
    assert_refused(&[
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:100.64.0.1", "CGNAT"),
        ("::ffff:0.0.0.0", "this network"),
    ]);
    assert!(check_url("https://[::ffff:8.8.8.8]/", &none()).is_ok());
}

#[test]
fn alternative_ipv4_notations_are_read_as_the_http_client_reads_them() {
    assert_refused(&[
        ("127.1", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f000001", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0X7F.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("017700000001", "loopback"),
        ("127.0.0.1.", "loopback"),
        ("127.000.000.001", "loopback"),
    ]);
    assert!(refused_range("https://169.254.43518/").contains("link-local"));
}

#[test]
fn numeric_hosts_that_are_no_ipv4_address_are_invalid() {
    for host in [
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.256",
        "4294967296",
        "1.2.3.09",
        "a.1",
    ] {
        assert!(
            matches!(
                check_url(&format!("https://{host}/"), &none()),
                Err(SsrfError::InvalidHost)
            ),
            "{host}"
        );
    }
}

#[test]
fn schemes_other_than_http_and_https_are_refused() {
    assert_each_refused(
        &[
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "ws://example.com/",
        ],
        |e| matches!(e, SsrfError::UnsupportedScheme(_)),
    );
    assert_each_refused(
        &["javascript:alert(1)", "example.com/hook", "//example.com/"],
        |e| matches!(e, SsrfError::Malformed(_)),
    );
}

#[test]
fn plain_http_is_refused_unless_the_host_is_allow_listed() {
    assert!(matches!(
        check_url("http://hooks.example.com/", &none()),
        Err(SsrfError::HttpsRequired)
    ));
    let allow = Allowlist::parse("hooks.example.com").unwrap();
    assert_eq!(
        check_url("http://hooks.example.com/", &allow).unwrap().port,
        80
    );
    assert!(matches!(
        check_url("http://other.example.com/", &allow),
        Err(SsrfError::HttpsRequired)
    ));
}

#[test]
fn credentials_in_the_url_are_refused() {
    assert_each_refused(
        &[
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://example.com@127.0.0.1/",
            "https://@example.com/",
        ],
        |e| matches!(e, SsrfError::UserinfoNotAllowed),
    );
}

#[test]
fn url_without_host_is_refused() {
    assert_each_refused(
        &["https://", "https:///path", "https://:443/", "https://?x"],
        |e| matches!(e, SsrfError::MissingHost),
    );
}

#[test]
fn ambiguous_or_malformed_urls_are_refused() {
    assert_each_refused(
        &[
            "https://example.com\\@127.0.0.1/",
            "https://exa mple.com/",
            "https://example.com/\n",
            "https://exämple.com/",
            "https://example.com:99999/",
            "https://example.com:0/",
            "https://example.com:8o/",
        ],
        |e| matches!(e, SsrfError::Malformed(_)),
    );
    assert_each_refused(
        &[
            "https://[fe80::1%25eth0]/",
            "https://[::1/",
            "https://[::1]x/",
            "https://::1/",
            "https://exa%6dple.com/",
            "https://-_-.example..com/",
        ],
        |e| matches!(e, SsrfError::InvalidHost),
    );
    let long = format!("https://example.com/{}", "a".repeat(3000));
    assert!(matches!(
        check_url(&long, &none()),
        Err(SsrfError::Malformed(_))
    ));
}

#[test]
fn allow_list_by_cidr_lets_private_literals_through_over_http() {
    let allow = Allowlist::parse("10.0.0.0/8, 127.0.0.1 ,[::1],").unwrap();
    assert!(check_url("http://10.20.30.40:9000/hook", &allow).is_ok());
    assert!(check_url("http://127.0.0.1:8080/hook", &allow).is_ok());
    assert!(check_url("http://[::1]:8080/hook", &allow).is_ok());
    assert!(check_url("http://[::ffff:127.0.0.1]/", &allow).is_ok());
    assert!(matches!(
        check_url("http://127.0.0.2/", &allow),
        Err(SsrfError::ForbiddenAddress { .. })
    ));
    assert!(matches!(
        check_url("https://192.168.0.1/", &allow),
        Err(SsrfError::ForbiddenAddress { .. })
    ));
}

#[test]
fn allow_list_by_host_name_is_case_insensitive() {
    let allow = Allowlist::parse("Receiver.Local.").unwrap();
    assert!(allow.allows_host("receiver.local"));
    assert!(allow.allows_host("RECEIVER.LOCAL."));
    assert!(!allow.allows_host("evil.receiver.local"));
    assert!(!allow.allows_host("receiver.local.evil.com"));
}

#[test]
fn allow_list_rejects_entries_it_cannot_read() {
    for list in [
        "10.0.0.0/33",
        "not a host",
        "*.example.com",
        "10.0.0.0/x",
        "1.2.3.4.5",
    ] {
        assert!(Allowlist::parse(list).is_err(), "{list}");
    }
    assert_eq!(Allowlist::parse(" , ").unwrap(), Allowlist::default());
}

#[test]
fn resolved_addresses_must_all_be_public() {
    let public: IpAddr = "93.184.215.14".parse().unwrap();
    let private: IpAddr = "10.0.0.5".parse().unwrap();
    assert!(check_resolved("hooks.example.com", &[public], &none()).is_ok());
    assert!(matches!(
        check_resolved("hooks.example.com", &[public, private], &none()),
        Err(SsrfError::ForbiddenAddress { addr, .. }) if addr == private
    ));
    assert!(matches!(
        check_resolved("hooks.example.com", &[], &none()),
        Err(SsrfError::NoAddresses { .. })
    ));
}

#[test]
fn resolved_private_addresses_pass_when_allow_listed() {
    let private: IpAddr = "10.0.0.5".parse().unwrap();
    let by_host = Allowlist::parse("receiver").unwrap();
    let by_cidr = Allowlist::parse("10.0.0.0/24").unwrap();
    assert!(check_resolved("receiver", &[private], &by_host).is_ok());
    assert!(check_resolved("other", &[private], &by_cidr).is_ok());
    assert!(check_resolved("other", &[private], &by_host).is_err());
}

#[tokio::test]
async fn host_name_resolving_to_loopback_is_refused_at_resolve_time() {
    let url = "https://localhost:8443/hook";
    assert!(check_url(url, &none()).is_ok(), "the name alone looks fine");
    let err = resolve_and_check(url, &none()).await.unwrap_err();
    assert!(
        matches!(err, SsrfError::ForbiddenAddress { addr, .. } if addr.is_loopback()),
        "{err:?}"
    );
}

#[tokio::test]
async fn allow_listed_host_name_resolves_to_its_addresses() {
    let allow = Allowlist::parse("localhost").unwrap();
    let addrs = resolve_and_check("http://localhost:8080/hook", &allow)
        .await
        .unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs
            .iter()
            .all(|a| a.port() == 8080 && a.ip().is_loopback())
    );
}

#[tokio::test]
async fn ip_literal_resolves_without_dns() {
    let addrs = resolve_and_check("https://93.184.215.14/hook", &none())
        .await
        .unwrap();
    assert_eq!(addrs, vec!["93.184.215.14:443".parse().unwrap()]);
}
