//! Whether a stored PAT may be offered, decided without doing anything: dead past its known
//! expiry without a request; otherwise checked with Azure DevOps once per
//! `azdo.validateInterval` ([`plan`]), and judged by what the check said ([`judge`]). The request
//! and the store write are the helper's; a PAT nobody can judge is kept.

use std::time::Duration;

use crate::azure::connection_data::Verdict;
use crate::store::Metadata;
use crate::time::timestamp;

/// What to do with a stored PAT before offering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Known to be dead (past its expiry): remove it, with this reason.
    Dead(String),
    /// Offer it without a request (checked recently, or checks are off).
    Offer,
    /// Ask Azure DevOps first.
    Check,
}

/// The plan for a PAT with `meta` at `now`. `interval` is how long a check holds (`None`: never
/// check; zero: check every time).
pub fn plan(meta: &Metadata, interval: Option<Duration>, now: i64) -> Plan {
    if let Some(t) = meta.expires_at.filter(|t| *t <= now) {
        return Plan::Dead(format!("it expired at {}", timestamp(t)));
    }
    let Some(interval) = interval.map(|d| d.as_secs() as i64) else {
        tracing::debug!("checks are off (azdo.validateInterval=never)");
        return Plan::Offer;
    };
    let last = meta.last_validated.max(meta.last_checked);
    if interval > 0 && last.is_some_and(|t| now >= t && now - t < interval) {
        tracing::debug!("checked recently; no request");
        return Plan::Offer;
    }
    Plan::Check
}

/// What a check said about the PAT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Accepted: offer it, and record this metadata.
    Valid(Metadata),
    /// Refused: remove it, with this reason.
    Dead(String),
    /// Nobody could tell: offer it, record this metadata, and say why it was not checked.
    Unknown { meta: Metadata, reason: String },
}

/// Judge a PAT with `meta` by the `verdict` of a check made at `now`.
pub fn judge(meta: &Metadata, verdict: Verdict, now: i64) -> Judged {
    let checked = Metadata { last_checked: Some(now), ..meta.clone() };
    match verdict {
        Verdict::Valid { user } => {
            tracing::info!(%user, "Azure DevOps accepted the stored PAT");
            Judged::Valid(Metadata { last_validated: Some(now), ..checked })
        }
        Verdict::Invalid { reason } => Judged::Dead(reason),
        Verdict::Unknown { reason } => Judged::Unknown { meta: checked, reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Option<Duration> = Some(Duration::from_secs(3600));

    #[test]
    fn a_pat_past_its_expiry_is_dead_without_a_request() {
        let meta = Metadata { expires_at: Some(99), last_validated: Some(99), ..Metadata::default() };
        assert!(matches!(plan(&meta, HOUR, 100), Plan::Dead(why) if why.starts_with("it expired at")));
        assert!(matches!(plan(&meta, None, 100), Plan::Dead(_)), "checks off: the known expiry still applies");
    }

    #[test]
    fn a_check_holds_for_the_interval() {
        let meta = Metadata { last_checked: Some(1000), ..Metadata::default() };
        assert_eq!(plan(&meta, HOUR, 1000 + 3599), Plan::Offer);
        assert_eq!(plan(&meta, HOUR, 1000 + 3600), Plan::Check);
        assert_eq!(plan(&meta, HOUR, 999), Plan::Check, "a check from the future holds nothing");
        assert_eq!(plan(&meta, Some(Duration::ZERO), 1000), Plan::Check, "zero: every time");
        assert_eq!(plan(&Metadata::default(), None, 1000), Plan::Offer, "never: no request");
        assert_eq!(plan(&Metadata::default(), HOUR, 1000), Plan::Check, "never checked");
    }

    #[test]
    fn a_verdict_is_recorded_as_metadata() {
        let meta = Metadata { stored_at: 5, ..Metadata::default() };
        let valid = judge(&meta, Verdict::Valid { user: "me".into() }, 50);
        let expected = Metadata { last_checked: Some(50), last_validated: Some(50), ..meta.clone() };
        assert_eq!(valid, Judged::Valid(expected));
        assert_eq!(judge(&meta, Verdict::Invalid { reason: "401".into() }, 50), Judged::Dead("401".into()));
        let unknown = judge(&meta, Verdict::Unknown { reason: "offline".into() }, 50);
        let expected = Metadata { last_checked: Some(50), ..meta };
        assert_eq!(unknown, Judged::Unknown { meta: expected, reason: "offline".into() });
    }
}
