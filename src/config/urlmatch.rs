//! git's urlmatch rules (git-config(1), "url.<base>"): which `section.<url>.name` entry applies to
//! a URL. Scheme and port must match, host labels match one by one (`*` matches one label), the
//! pattern's path must be a prefix at a segment boundary, and a user in the pattern must match.

/// The best value of `section.name` for `url` among `entries` (key, value; `None` for a bare key):
/// `section.<url>.name` entries that match `url` beat the plain key; a longer host or path match
/// wins, then a matching user, then the later entry.
pub fn best<'a>(entries: &'a [(String, Option<String>)], key: &str, url: &str) -> Option<Option<&'a str>> {
    let (section, name) = key.split_once('.')?;
    // Parsed only when an entry of this key has a URL: most keys have none (a `get` reads some
    // forty settings).
    let mut target: Option<Option<UrlParts>> = None;
    let mut best: Option<(MatchScore, Option<&str>)> = None;
    for (k, v) in entries {
        let Some((k_section, rest)) = k.split_once('.') else {
            continue;
        };
        // `section..name` has an empty URL, which matches nothing (as in git): it is no plain key.
        let (subsection, k_name) = rest.rsplit_once('.').map_or((None, rest), |(sub, n)| (Some(sub), n));
        if !k_section.eq_ignore_ascii_case(section) || !k_name.eq_ignore_ascii_case(name) {
            continue;
        }
        let score = match subsection {
            None => Some(MatchScore::default()),
            Some(sub) => target
                .get_or_insert_with(|| UrlParts::parse(url))
                .as_ref()
                .and_then(|t| UrlParts::parse(sub).and_then(|pattern| pattern.matches(t))),
        };
        if let Some(score) = score {
            if best.as_ref().is_none_or(|(b, _)| score >= *b) {
                best = Some((score, v.as_deref()));
            }
        }
    }
    best.map(|(_, v)| v)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct MatchScore {
    url: bool,
    host_len: usize,
    path_len: usize,
    user: bool,
}

#[derive(Debug)]
struct UrlParts {
    scheme: String,
    user: Option<String>,
    host: String,
    port: Option<String>,
    path: String,
}

impl UrlParts {
    fn parse(url: &str) -> Option<UrlParts> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.split(':').next().unwrap_or(u).to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (h, Some(p)),
            _ => (hostport, None),
        };
        let default_port = match scheme.as_str() {
            "https" => Some("443"),
            "http" => Some("80"),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default_port && !p.is_empty()).map(str::to_owned);
        let path = path.trim_end_matches('/').to_owned();
        Some(UrlParts { scheme, user, host: host.to_ascii_lowercase(), port, path })
    }

    /// How well this config pattern matches `url`, or `None` if it does not.
    fn matches(&self, url: &UrlParts) -> Option<MatchScore> {
        if self.scheme != url.scheme || self.port != url.port {
            return None;
        }
        let user = match &self.user {
            Some(u) if Some(u) != url.user.as_ref() => return None,
            Some(_) => true,
            None => false,
        };
        let (pattern_labels, host_labels): (Vec<_>, Vec<_>) =
            (self.host.split('.').collect(), url.host.split('.').collect());
        if pattern_labels.len() != host_labels.len()
            || !pattern_labels.iter().zip(&host_labels).all(|(p, h)| *p == "*" || p == h)
        {
            return None;
        }
        let host_len = self.host.len() - self.host.matches('*').count();
        let path_ok = self.path.is_empty()
            || url.path == self.path
            || (url.path.starts_with(&self.path) && url.path[self.path.len()..].starts_with('/'));
        path_ok.then_some(MatchScore { url: true, host_len, path_len: self.path.len(), user })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `git_config` fuzz target: `azdo..interactive` (git writes it for `[azdo ""]`)
    /// was read as the plain key, where git's `--get-urlmatch` ignores it.
    #[test]
    fn an_empty_url_matches_nothing() {
        let entries = [("azdo..interactive".to_owned(), Some("false".to_owned()))];
        assert_eq!(best(&entries, "azdo.interactive", "https://dev.azure.com/contoso"), None);
        let entries = [("azdo.interactive".to_owned(), Some("true".to_owned())), entries[0].clone()];
        assert_eq!(best(&entries, "azdo.interactive", "https://dev.azure.com/contoso"), Some(Some("true")));
    }
}
