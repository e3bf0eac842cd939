//! What an organization's PAT policy showed this helper when it minted: a mint refused (creation
//! restricted, a scope or lifetime the policy forbids, an allow-list that leaves only packaging),
//! or a PAT granted a shorter life than asked. Kept per organization in `pat-policies.json` in the
//! data directory (a private file, written through [`crate::fs`]), so that a refused mint is not
//! asked for again on every `get` (the access token serves git meanwhile: [`refused`]), and so
//! that `status` and `doctor` can say what the policy grants ([`report`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::org::Target;
use crate::run::Run;
use crate::text::printable;
use crate::time::{now, timestamp};

/// How long a refusal stands before one mint is tried again (policies are an administrator's
/// decision: they rarely change within a week). `login ORG --device` tries at once.
pub const RETRY_AFTER_DAYS: i64 = 7;

/// What was learned about one organization's policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Learned {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortened: Option<Shortened>,
}

/// A mint the policy refused, and what was asked for (other settings make another request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Unix seconds.
    pub at: i64,
    /// The service's reason, one printable line.
    pub why: String,
    pub scope: String,
    pub lifetime_days: u32,
}

/// A mint granted a shorter life than asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortened {
    /// Unix seconds.
    pub at: i64,
    pub asked_days: u32,
    /// The life the service granted, in seconds.
    pub granted_secs: i64,
}

fn file(run: &Run) -> std::path::PathBuf {
    run.settings.data_dir.join("pat-policies.json")
}

/// Everything learned, by organization. A file that cannot be read is nothing learned.
pub fn all(run: &Run) -> BTreeMap<String, Learned> {
    match crate::fs::read_private(&file(run)) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).unwrap_or_default(),
        _ => BTreeMap::new(),
    }
}

fn update(run: &Run, target: &Target, change: impl FnOnce(&mut Learned)) {
    let mut all = all(run);
    let entry = all.entry(target.name().to_owned()).or_default();
    let before = entry.clone();
    change(entry);
    if *entry == before {
        return;
    }
    if *entry == Learned::default() {
        all.remove(target.name());
    }
    let written = serde_json::to_vec_pretty(&all).map_err(|e| e.to_string()).and_then(|bytes| {
        crate::fs::write_private(&file(run), &bytes, crate::fs::Durability::Cache).map_err(|e| e.to_string())
    });
    if let Err(e) = written {
        tracing::warn!(%target, error = %e, "could not record what the organization's policy allows");
    }
}

/// The refusal that still stands for `target`: one recorded within [`RETRY_AFTER_DAYS`] for
/// the scope and lifetime the settings ask for now.
pub fn refused(run: &Run, target: &Target) -> Option<Refusal> {
    let settings = &run.settings;
    all(run).remove(target.name())?.refused.filter(|r| {
        r.scope == settings.scope
            && r.lifetime_days == settings.pat_lifetime_days
            && now() - r.at < RETRY_AFTER_DAYS * 86_400
    })
}

/// Remember that `target`'s policy refused the mint just asked for, and why.
pub fn note_refusal(run: &Run, target: &Target, why: &str) {
    let refusal = Refusal {
        at: now(),
        why: printable(why).chars().take(300).collect(),
        scope: run.settings.scope.clone(),
        lifetime_days: run.settings.pat_lifetime_days,
    };
    update(run, target, |l| l.refused = Some(refusal));
}

/// Remember the life a mint was granted: `asked_secs` asked for, `granted_secs` given. Up to an
/// hour less counts as what was asked (the service rounds its dates); a mint forgets any refusal.
pub fn note_granted(run: &Run, target: &Target, asked_secs: i64, granted_secs: i64) {
    let asked_days = run.settings.pat_lifetime_days;
    update(run, target, |l| {
        l.refused = None;
        l.shortened = (granted_secs + 3600 < asked_secs).then(|| Shortened { at: now(), asked_days, granted_secs });
    });
}

/// What `status` and `doctor` say of `learned` for `org`: (what, what to do), one per finding.
pub fn report(org: &str, learned: &Learned) -> Vec<(String, String)> {
    let mut lines = Vec::new();
    if let Some(r) = &learned.refused {
        lines.push((
            format!(
                "{org}: the organization's policy refused a PAT on {} ({}); git gets the Entra access token itself \
                 (about an hour at a time, renewed without asking); no PAT is asked for again before {}",
                &timestamp(r.at)[..10],
                r.why,
                &timestamp(r.at + RETRY_AFTER_DAYS * 86_400)[..10]
            ),
            format!(
                "nothing needed; to try a PAT again now: git credential-azdo login {org} --device \
                 (or another azdo.scope / azdo.patLifetime the policy allows)"
            ),
        ));
    }
    if let Some(s) = &learned.shortened {
        let days = s.granted_secs as f64 / 86_400.0;
        lines.push((
            format!(
                "{org}: the organization's policy limits PAT lifetimes: asked for {} days, granted {days:.1} (on {}); \
                 renewal follows the shorter life",
                s.asked_days,
                &timestamp(s.at)[..10]
            ),
            format!(
                "nothing needed; git config --global azdo.patLifetime {} asks for what the policy grants",
                (days.floor() as i64).max(1)
            ),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_says_what_was_refused_and_granted() {
        assert!(report("contoso", &Learned::default()).is_empty());
        let learned = Learned {
            refused: Some(Refusal {
                at: 1_780_000_000,
                why: "PAT creation is disabled".into(),
                scope: "vso.code_write".into(),
                lifetime_days: 30,
            }),
            shortened: Some(Shortened { at: 1_780_000_000, asked_days: 30, granted_secs: 7 * 86_400 }),
        };
        let lines = report("contoso", &learned);
        assert_eq!(lines.len(), 2);
        assert!(lines[0].0.contains("refused a PAT on 2026-05-28 (PAT creation is disabled)"), "{lines:?}");
        assert!(lines[0].0.contains("before 2026-06-04"), "{lines:?}");
        assert!(lines[1].0.contains("asked for 30 days, granted 7.0"), "{lines:?}");
        assert!(lines[1].1.contains("azdo.patLifetime 7"), "{lines:?}");
    }
}
