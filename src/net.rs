//! HTTP: the one builder of the client every request goes through (git's proxy and CA settings,
//! connect and total timeouts, no redirects, our user agent), the headers every Azure DevOps
//! request carries, bounded reading of replies, and the one describer of network failures. Nothing
//! here logs a header or a body.

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::{RequestBuilder, Response};

use crate::secret::Secret;
use crate::text::printable;

/// The resolver of the static Linux build. Static glibc's `getaddrinfo` would load NSS modules
/// at run time, which must come from the very glibc the binary was linked with; this reads
/// /etc/hosts and /etc/resolv.conf itself instead (hickory): IPv4 first, from /etc/hosts when
/// it maps the name, else from DNS; IPv6 the same way only when there is no IPv4 address.
#[cfg(all(target_os = "linux", target_feature = "crt-static"))]
mod resolver {
    use std::net::SocketAddr;
    use std::sync::{Arc, OnceLock};

    use std::net::Ipv4Addr;

    use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
    use hickory_resolver::name_server::TokioConnectionProvider;
    use hickory_resolver::Name;
    use hickory_resolver::TokioResolver;
    use reqwest::dns::{Addrs, Resolve, Resolving};

    /// Built on the first lookup (inside reqwest's runtime), then kept for the client's life.
    #[derive(Default)]
    pub struct Hosts(Arc<OnceLock<TokioResolver>>);

    impl Resolve for Hosts {
        fn resolve(&self, name: reqwest::dns::Name) -> Resolving {
            let cell = Arc::clone(&self.0);
            Box::pin(async move {
                let resolver = match cell.get() {
                    Some(resolver) => resolver,
                    None => {
                        // The default strategy is IPv4, then IPv6 when there is no IPv4 address.
                        let bytes = std::fs::read("/etc/resolv.conf").unwrap_or_default();
                        let conf = super::resolv_conf::parse(&bytes);
                        let mut servers = conf.nameservers;
                        if servers.is_empty() {
                            // glibc's default, only when no name server was read at all.
                            tracing::info!(
                                "no nameserver line in /etc/resolv.conf: asking a name server on this machine"
                            );
                            servers.push(Ipv4Addr::LOCALHOST.into());
                        }
                        let search = conf.search.iter().filter_map(|d| Name::from_ascii(d).ok()).collect();
                        let group = NameServerConfigGroup::from_ips_clear(&servers, 53, true);
                        let config = ResolverConfig::from_parts(None, search, group);
                        let builder = TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
                        cell.get_or_init(|| builder.build())
                    }
                };
                let found = resolver.lookup_ip(name.as_str()).await?;
                let addrs: Addrs = Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0)));
                Ok(addrs)
            })
        }
    }
}

/// /etc/resolv.conf read the way glibc reads it, best effort: a line it does not know (an
/// unknown `options` word, a trailing word, bytes that are not UTF-8) is skipped, not the file.
#[cfg(any(test, all(target_os = "linux", target_feature = "crt-static")))]
mod resolv_conf {
    use std::net::IpAddr;

    /// glibc's MAXNS: name servers past the third are ignored.
    const MAX_NAMESERVERS: usize = 3;

    /// What the resolver takes from the file.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub struct ResolvConf {
        /// `nameserver ADDRESS` lines, in order, at most three.
        pub nameservers: Vec<IpAddr>,
        /// The last `search` or `domain` line's domains.
        pub search: Vec<String>,
    }

    /// Pure: the file's bytes in, what it says out. Comments start with `#` or `;`.
    pub fn parse(bytes: &[u8]) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in bytes.split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_ascii_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // A trailing word after the address is ignored, as glibc does.
                    let address = words.next().and_then(|w| w.parse::<IpAddr>().ok());
                    if let Some(ip) = address.filter(|_| conf.nameservers.len() < MAX_NAMESERVERS) {
                        conf.nameservers.push(ip);
                    }
                }
                Some("search") | Some("domain") => {
                    conf.search = words.filter(|w| w.is_ascii()).map(str::to_owned).collect();
                }
                _ => {}
            }
        }
        conf
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn lines_glibc_ignores_do_not_lose_the_name_servers() {
            let conf = parse(
                b"# generated\n\
                  options edns0 trust-ad no-such-option\n\
                  nameserver 10.0.0.2 trailing words\n\
                  sortlist 130.155.160.0/255.255.240.0\n\
                  \xff\xfe not utf-8 \xc3\n\
                  nameserver fe80::1%eth0\n\
                  nameserver not-an-address\n\
                  nameserver\n\
                  search corp.example lab.example\n\
                  nameserver 2001:db8::53 ; comment\n\
                  nameserver 10.0.0.3\n\
                  nameserver 10.0.0.4\n",
            );
            let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
            assert_eq!(conf.nameservers, vec![ip("10.0.0.2"), ip("2001:db8::53"), ip("10.0.0.3")]);
            assert_eq!(conf.search, vec!["corp.example".to_owned(), "lab.example".to_owned()]);
        }

        #[test]
        fn no_nameserver_line_reads_as_none() {
            for bytes in [&b""[..], b"options ndots:2\n", b"# nameserver 10.0.0.1\n", b"\xff\xff\n;nameserver 1.1.1.1"]
            {
                assert_eq!(parse(bytes).nameservers, Vec::<IpAddr>::new(), "{bytes:?}");
            }
            assert_eq!(parse(b"domain a.example\nsearch b.example\n").search, vec!["b.example".to_owned()]);
        }
    }
}

pub use crate::config::Network;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the CA file {path}: {detail}")]
    CaFile { path: String, detail: String },
    #[error("invalid proxy {0}")]
    Proxy(String),
    #[error("cannot set up HTTP: {0}")]
    Setup(String),
}

/// A request that failed before an HTTP status came back, in words (no URL secrets: there are
/// none, credentials travel in headers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Failure {
        Failure(describe(&e))
    }
}

pub struct Client {
    http: reqwest::blocking::Client,
    timeout: Duration,
}

impl Client {
    pub fn new(net: &Network) -> Result<Client, Error> {
        tracing::debug!("building an HTTP client");
        let mut builder = reqwest::blocking::Client::builder()
            .user_agent(concat!("git-credential-azdo/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(net.connect_timeout)
            .timeout(net.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(false);
        if net.proxy.as_deref() == Some("") {
            builder = builder.no_proxy();
        } else if let Some(proxy) = &net.proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|_| Error::Proxy(printable(&redact_userinfo(proxy))))?
                .no_proxy(reqwest::NoProxy::from_env());
            builder = builder.proxy(proxy);
        }
        if let Some(path) = &net.ca_file {
            let shown = printable(&path.to_string_lossy());
            let pem = std::fs::read(path).map_err(|e| Error::CaFile { path: shown.clone(), detail: e.to_string() })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::CaFile { path: shown.clone(), detail: e.to_string() })?;
            if certs.is_empty() {
                return Err(Error::CaFile { path: shown, detail: "no certificate in it".into() });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !net.verify_tls {
            builder = builder.danger_accept_invalid_certs(true);
        }
        #[cfg(all(target_os = "linux", target_feature = "crt-static"))]
        {
            builder = builder.dns_resolver(std::sync::Arc::new(resolver::Hosts::default()));
        }
        let http = builder.build().map_err(|e| Error::Setup(e.to_string()))?;
        Ok(Client { http, timeout: net.timeout })
    }

    /// The total time one request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A request to an Azure DevOps or Entra endpoint: Azure DevOps is asked to answer with a
    /// status instead of redirecting to its sign-in page. Every request carries one deadline,
    /// `azdo.timeout` from when it is sent until its body is read ([`read_body`]): the client's
    /// own timeout bounds each read only, so a reply trickled a byte at a time would never end.
    /// A caller may set a shorter one (`.timeout(..)` again replaces it).
    pub fn request(&self, method: reqwest::Method, url: &str) -> RequestBuilder {
        self.http.request(method, url).header("X-TFS-FedAuthRedirect", "Suppress").timeout(self.timeout)
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    /// A request carrying an Entra access token.
    pub fn bearer(&self, method: reqwest::Method, url: &str, token: &Secret) -> RequestBuilder {
        self.request(method, url).bearer_auth(token.expose())
    }

    /// Whether `url` answers at all (any HTTP status), without credentials.
    pub fn probe(&self, url: &str) -> Result<u16, Failure> {
        Ok(self.get(url).send()?.status().as_u16())
    }
}

/// For a reply field: its value when it has the expected type; any other JSON value (a number
/// where text was expected, an object, `null`) reads as absent, as the service's own clients
/// treat it. `#[serde(default, deserialize_with = "crate::net::lenient")]` on an `Option` field.
pub fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Or<T> {
        Value(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match <Or<T> as serde::Deserialize>::deserialize(d)? {
        Or::Value(v) => Some(v),
        Or::Other(_) => None,
    })
}

/// A list element read like a [`lenient`] field: `Maybe(None)` when it has another shape.
pub struct Maybe<T>(pub Option<T>);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Maybe<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient(d).map(Maybe)
    }
}

/// At most `max` bytes of a reply's body.
pub fn read_body(response: Response, max: u64) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    response
        .take(max)
        .read_to_end(&mut bytes)
        .map_err(|e| Failure(format!("the reply was cut off ({})", printable(&e.to_string()))))?;
    Ok(bytes)
}

/// A network failure in words: what happened (timed out, cannot connect), then the innermost cause.
/// A name that does not resolve is said so, with the host: the resolver's own words (on the
/// static build, hickory's debug text of the query) go to the trace only.
pub fn describe(e: &reqwest::Error) -> String {
    if let Some(detail) = resolve_failure(e) {
        let host = e.url().and_then(|u| u.host_str()).map_or_else(|| "the host".to_owned(), printable);
        tracing::info!(%host, detail = %printable(&detail), "name resolution failed");
        return format!("cannot resolve {host}");
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({})", printable(&detail))
    }
}

/// The innermost cause of `e` when it is a failed name lookup (hyper's connector calls it a "dns
/// error", whichever resolver answered).
fn resolve_failure(e: &reqwest::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    let mut dns = false;
    let mut innermost = None;
    while let Some(s) = source {
        dns |= s.to_string().starts_with("dns error");
        innermost = Some(s.to_string());
        source = s.source();
    }
    dns.then(|| innermost.unwrap_or_default())
}

/// `scheme://user:pass@host` → `scheme://***@host`, for messages about a proxy.
pub fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}***{}", &url[..scheme_end + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Reply headers from `(name, value)` pairs, in order, for the tests of reply parsers.
#[cfg(test)]
pub fn test_headers(pairs: &[(&'static str, &'static str)]) -> reqwest::header::HeaderMap {
    let mut h = reqwest::header::HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, reqwest::header::HeaderValue::from_static(v));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A loopback server that sends its headers at once, then one body byte every `every`, for
    /// each connection; its address.
    pub(crate) fn trickling_server(every: Duration) -> String {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head);
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
                    );
                    for _ in 0..600 {
                        std::thread::sleep(every);
                        if stream.write_all(b" ").is_err() {
                            return;
                        }
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn a_reply_trickled_a_byte_at_a_time_is_given_up_at_the_requests_deadline() {
        let url = trickling_server(Duration::from_millis(200));
        let network = Network {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            proxy: Some(String::new()),
            ca_file: None,
            verify_tls: true,
        };
        let client = Client::new(&network).expect("client");
        let started = std::time::Instant::now();
        for request in
            [client.get(&url), client.post(&url), client.bearer(reqwest::Method::GET, &url, &Secret::new("t"))]
        {
            let read = request.send().map_err(Failure::from).and_then(|r| read_body(r, 1 << 20));
            assert!(read.is_err(), "a body that never ends was read");
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}: each read was bounded, not the request",
            started.elapsed()
        );
    }

    /// A resolver that finds nothing, in the static build resolver's words.
    struct NoRecords;

    impl reqwest::dns::Resolve for NoRecords {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    "proto error: no records found for Query { name: Name(\"dev.azure.com.\"), query_type: AAAA }"
                        .into();
                Err(e)
            })
        }
    }

    #[test]
    fn a_name_that_does_not_resolve_is_said_in_words_with_its_host() {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(NoRecords))
            .build()
            .expect("client");
        let e = http.get("https://dev.azure.com/contoso/").send().expect_err("resolved");
        assert_eq!(describe(&e), "cannot resolve dev.azure.com");
    }

    #[test]
    fn proxy_credentials_are_redacted() {
        assert_eq!(redact_userinfo("http://user:pw@proxy:3128"), "http://***@proxy:3128");
        assert_eq!(redact_userinfo("http://proxy:3128"), "http://proxy:3128");
    }
}
