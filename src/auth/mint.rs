//! Minting a PAT through the lifecycle API with a signed-in session, and what a fresh mint must
//! be before it may serve git ([`unusable`]: such a PAT is revoked at once, and minting for that
//! organization is held for an hour so that a skewed clock or a policy cannot cause a mint on
//! every `get`; what a policy refused or shortened is remembered by [`super::policy`]). The
//! display name names this machine ([`hostname`]) and the day; [`parse_display_name`] reads it
//! back, strictly, for `prune` and `list --remote`.

use crate::azure::pats;
use crate::org::Target;
use crate::run::Run;
use crate::secret::Secret;
use crate::store::{Credential, Metadata, Provenance};
use crate::text::printable;
use crate::time::{now, timestamp};

use super::Session;

/// Mint a PAT for `target` in `session` and describe it (not stored: the caller stores it).
pub fn mint_pat(run: &Run, target: &Target, session: &Session) -> Result<Credential, pats::Error> {
    let settings = &run.settings;
    let (client, tokens) = (&session.client, &session.tokens);
    let asked_at = now();
    let display_name = display_name(&hostname(), asked_at);
    let valid_to = asked_at + i64::from(settings.pat_lifetime_days) * 86_400;
    let created = pats::create(
        client,
        &settings.vssps_url,
        target.name(),
        &tokens.access_token,
        &display_name,
        &settings.scope,
        valid_to,
    );
    // A refusal by policy is remembered: no mint is asked for on every `get` (policy.rs).
    if let Err(pats::Error::Policy(why)) = &created {
        super::policy::note_refusal(run, target, why);
    }
    let info = created?;
    let pat = info.token.ok_or_else(|| pats::Error::Failed("the reply holds no PAT".into()))?;
    tracing::info!(%target, authorization_id = %info.authorization_id, valid_to = ?info.valid_to, "minted a PAT");
    // The clock is read after the reply: a PAT that expired while the request was under way is
    // caught here, not by a later check that neither revokes nor replaces it.
    let now = now();
    if let Some(why) = unusable(&settings.scope, &info.scope, &pat, info.valid_to, now) {
        // Never stored nor handed to git; revoked so that it does not stay alive unreachable.
        let revoked =
            pats::revoke(client, &settings.vssps_url, target.name(), &tokens.access_token, &info.authorization_id)
                .inspect_err(|e| tracing::info!(%target, error = %e, "could not revoke the unusable PAT"))
                .is_ok();
        if why == NO_CODE_ACCESS {
            super::policy::note_refusal(run, target, "minted PATs get a scope without code access");
        }
        return Err(pats::Error::Unusable { why, revoked });
    }
    super::policy::note_granted(run, target, valid_to - asked_at, info.valid_to.unwrap_or(valid_to) - asked_at);
    Ok(Credential {
        pat,
        meta: Metadata {
            provenance: Provenance::Minted,
            stored_at: now,
            expires_at: info.valid_to.or(Some(valid_to)),
            last_validated: Some(now),
            last_checked: Some(now),
            authorization_id: Some(info.authorization_id),
            username: None,
            renew_attempted: None,
        },
    })
}

/// Why a mint is unusable when a policy left it without code access.
const NO_CODE_ACCESS: &str = "its scope lacks code access";

/// Why a freshly minted PAT cannot serve git, if it cannot: a scope without code access where
/// code access was asked for (a "restrict PAT creation" policy that allows packaging only), a
/// `validTo` not in the future (a skewed clock, a broken reply), or a token with characters
/// outside the PAT alphabet (letters and digits).
fn unusable(requested: &str, scope: &str, pat: &Secret, valid_to: Option<i64>, now: i64) -> Option<&'static str> {
    let code = |s: &str| s.split_whitespace().any(|x| x.starts_with("vso.code") || x == "app_token");
    // A reply that names no scope says nothing about it (only a named scope can lack code).
    if code(requested) && !scope.trim().is_empty() && !code(scope) {
        return Some(NO_CODE_ACCESS);
    }
    if valid_to.is_some_and(|t| t <= now) {
        return Some("it has already expired");
    }
    if pat.is_empty() || !pat.expose().bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some("its token is not a PAT");
    }
    None
}

/// Where an org's hold on minting is kept: `{org: unix seconds until}`.
fn holds_file(run: &Run) -> std::path::PathBuf {
    run.settings.data_dir.join("mint-holds.json")
}

fn holds(run: &Run) -> std::collections::BTreeMap<String, i64> {
    match crate::fs::read_private(&holds_file(run)) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => Default::default(),
    }
}

/// Whether minting for `target` is held after an unusable mint (for an hour).
pub fn held(run: &Run, target: &Target) -> bool {
    holds(run).get(&target.store_key()).is_some_and(|until| *until > now())
}

/// Hold minting for `target` for an hour, so that a skewed clock or a broken reply cannot cause
/// a mint on every `get`.
pub fn hold(run: &Run, target: &Target) {
    let mut all = holds(run);
    let now = now();
    all.retain(|_, until| *until > now);
    all.insert(target.store_key(), now + 3600);
    if let Ok(bytes) = serde_json::to_vec(&all) {
        if let Err(e) = crate::fs::write_private(&holds_file(run), &bytes, crate::fs::Durability::Cache) {
            tracing::warn!(error = %e, "could not record the hold on minting");
        }
    }
}

/// What every display name this helper gives starts with.
const NAME_PREFIX: &str = "git-credential-azdo on ";

/// The display name of a PAT minted on `host` at `at` (unix seconds): `git-credential-azdo on
/// HOST YYYY-MM-DD`. [`parse_display_name`] reads it back.
fn display_name(host: &str, at: i64) -> String {
    format!("{NAME_PREFIX}{host} {}", &timestamp(at)[..10])
}

/// A display name this helper gave, read back: the host that minted it and the day (unix
/// seconds at 00:00 UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedName {
    pub host: String,
    pub day: i64,
}

/// The host and day of `name` when it is exactly a display name [`display_name`] makes (a host
/// as [`display_host`] reduces it, a valid date), else `None`: a PAT named otherwise is not this
/// helper's.
pub fn parse_display_name(name: &str) -> Option<MintedName> {
    let (host, date) = name.strip_prefix(NAME_PREFIX)?.rsplit_once(' ')?;
    let host_ok = host == THIS_MACHINE
        || (!host.is_empty()
            && host.len() <= 40
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
    let digits = |r: std::ops::Range<usize>| date.get(r).filter(|d| d.bytes().all(|b| b.is_ascii_digit()));
    let shape = date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-';
    if !host_ok || !shape || digits(0..4).is_none() || digits(5..7).is_none() || digits(8..10).is_none() {
        return None;
    }
    let day = crate::time::parse_rfc3339(&format!("{date}T00:00:00Z"))?;
    // A date the parser rolled over (2026-02-31) is not one this helper wrote.
    (timestamp(day).get(..10) == Some(date)).then(|| MintedName { host: host.to_owned(), day })
}

/// The name of a machine whose name could not be had.
const THIS_MACHINE: &str = "this machine";

/// This machine's name for a minted PAT's display name: the kernel's node name on Unix
/// (uname, which macOS and Linux both have), `COMPUTERNAME` on Windows.
pub fn hostname() -> String {
    #[cfg(unix)]
    let name = Some(rustix::system::uname().nodename().to_string_lossy().into_owned());
    #[cfg(not(unix))]
    let name = None;
    display_host([name, std::env::var("COMPUTERNAME").ok(), std::env::var("HOSTNAME").ok()])
}

/// The first usable name among `candidates`, reduced to letters, digits, `-` and `.` (40 at
/// most), else "this machine".
fn display_host(candidates: [Option<String>; 3]) -> String {
    candidates
        .into_iter()
        .flatten()
        .map(|name| {
            printable(name.trim())
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
                .take(40)
                .collect::<String>()
        })
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| THIS_MACHINE.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unusable_mint_is_told_apart() {
        let pat = Secret::new("a".repeat(52) + "JQQJ99BAACAAAAAAAAAAAAASAZDO1234");
        let now = 1_000;
        assert_eq!(unusable("vso.code_write", "vso.code_write", &pat, Some(now + 60), now), None);
        assert_eq!(
            unusable("vso.code_write", "vso.packaging", &pat, Some(now + 60), now),
            Some("its scope lacks code access")
        );
        assert_eq!(unusable("vso.packaging", "vso.packaging", &pat, None, now), None, "what was asked for");
        assert_eq!(unusable("vso.code_write", "", &pat, Some(now + 60), now), None, "a reply without a scope");
        assert_eq!(unusable("vso.code", "app_token", &pat, Some(now), now), Some("it has already expired"));
        let bad = Secret::new("abc-def");
        assert_eq!(unusable("vso.code", "vso.code", &bad, None, now), Some("its token is not a PAT"));
        assert_eq!(unusable("vso.code", "vso.code", &Secret::new(""), None, now), Some("its token is not a PAT"));
    }

    #[test]
    fn display_names_are_read_back_strictly() {
        let at = 1_780_000_000; // 2026-05-28T20:26:40Z
        let made = display_name("build-01.corp", at);
        assert_eq!(made, "git-credential-azdo on build-01.corp 2026-05-28");
        let read = parse_display_name(&made).expect("ours");
        assert_eq!(read.host, "build-01.corp");
        assert_eq!(timestamp(read.day), "2026-05-28T00:00:00Z");
        let nameless = parse_display_name(&display_name(&display_host([None, None, None]), at)).expect("ours");
        assert_eq!(nameless.host, "this machine");
        for foreign in [
            "git-credential-azdo",
            "git-credential-azdo on  2026-05-28",
            "git-credential-azdo on host",
            "git-credential-azdo on host 2026-5-28",
            "git-credential-azdo on host 2026-02-31",
            "git-credential-azdo on host 2026-05-28 extra",
            "git-credential-azdo on two words 2026-05-28",
            "git-credential-azdo on ho_st 2026-05-28",
            "Git-credential-azdo on host 2026-05-28",
            "my git-credential-azdo on host 2026-05-28",
            "git-credential-azdo on host 2026-05-28\u{1b}",
            "git-credential-azdo on host +026-05-28",
        ] {
            assert_eq!(parse_display_name(foreign), None, "{foreign:?}");
        }
        let long = format!("git-credential-azdo on {} 2026-05-28", "a".repeat(41));
        assert_eq!(parse_display_name(&long), None);
    }

    #[test]
    fn the_host_name_comes_from_the_first_usable_source() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(display_host([s("build-01.corp"), s("WIN"), None]), "build-01.corp");
        assert_eq!(display_host([None, s("DESKTOP-42"), s("x")]), "DESKTOP-42");
        // Control characters are escaped, then only letters, digits, '-' and '.' are kept.
        assert_eq!(display_host([s(" \u{1b}[2J "), None, s("ok")]), "u1b2J");
        assert_eq!(display_host([s("[]"), s(""), s("ok")]), "ok", "an empty result is no name");
        assert_eq!(display_host([None, None, None]), "this machine");
        assert_eq!(display_host([s(&"a".repeat(99)), None, None]).len(), 40);
        assert!(!hostname().is_empty());
    }
}
