//! `list` (what is stored, from the store's metadata only, never a secret; `--remote` is
//! [`super::prune::list_remote`]) and `status` (the store, and for one organization a live check:
//! exit 0 valid, 1 invalid, 3 unknown, with what the organization's PAT policy showed).

use std::io::Write;

use super::{open, Error, Outcome};
use crate::azure::connection_data::Verdict;
use crate::config::{Mint, StoreKind, PAT_ENV};
use crate::store::{Credential, Metadata, Provenance};
use crate::text::printable;
use crate::time::{now, timestamp};

#[derive(serde::Serialize)]
struct Listed<'a> {
    organization: &'a str,
    /// The account the credential is for, when one was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    url: String,
    store: &'static str,
    #[serde(flatten)]
    meta: &'a Metadata,
}

#[allow(clippy::print_stdout)] // `list` prints its result for the person or script that asked.
pub fn list(json: bool) -> Result<Outcome, Error> {
    let (run, _) = open(None, None)?;
    let store = run.store.as_ref();
    let entries = store.list()?;
    if json {
        let listed: Vec<Listed> = entries
            .iter()
            .map(|(org, meta)| Listed {
                organization: org.name(),
                account: org.account(),
                url: org.url(),
                store: store.kind(),
                meta,
            })
            .collect();
        let text = serde_json::to_string_pretty(&listed)
            .map_err(|e| Error::Print { what: "list", source: std::io::Error::other(e) })?;
        println!("{text}");
        return Ok(Outcome::Done);
    }
    if entries.is_empty() {
        run.messages.tell(format!("No PATs stored in the {} store.", store.kind()));
        return Ok(Outcome::Done);
    }
    println!("{:<24} {:<8} {:<7} {:<20} {:<20}", "ORGANIZATION", "STORE", "ORIGIN", "STORED", "EXPIRES");
    for (org, meta) in &entries {
        println!(
            "{:<24} {:<8} {:<7} {:<20} {:<20}",
            org.to_string(),
            store.kind(),
            meta.provenance.as_str(),
            timestamp(meta.stored_at),
            meta.expires_at.map(timestamp).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(Outcome::Done)
}

#[allow(clippy::print_stdout)] // `status` prints its result for the person who asked.
pub fn status(arg: Option<&str>, account: Option<&str>) -> Result<Outcome, Error> {
    let (run, target) = open(arg, account)?;
    let (settings, store) = (&run.settings, run.store.as_ref());
    let org = target.as_ref();
    // Ask the store before printing anything: when it fails, stdout stays empty.
    let (count, found) = match org {
        None => (store.list()?.len(), None),
        Some(org) => (0, store.get(org)?),
    };
    let mut out = std::io::stdout().lock();
    let mut line = |s: String| {
        let _ = writeln!(out, "{s}");
    };
    line(format!(
        "store: {}{}",
        store.kind(),
        match settings.store {
            StoreKind::File => format!(" ({})", printable(&settings.store_file.to_string_lossy())),
            StoreKind::Keyring => String::new(),
        }
    ));
    if settings.env_pat.is_some() {
        line(format!("{} is set: it answers for every organization", PAT_ENV));
    }
    line(format!("prompts: {}", if settings.interactive { "allowed" } else { "off" }));
    let Some(org) = org else {
        line(format!("organizations stored: {count}"));
        return Ok(Outcome::Done);
    };
    // A build identity comes before any PAT: say which, and ask it for a token once.
    if let Some(report) = crate::identity::report(&run, Some(org), org)? {
        for l in report.lines {
            line(l);
        }
        for (what, fix) in report.warnings {
            line(format!("warning: {what}: {fix}"));
        }
        return match report.tested {
            Ok(ok) => {
                line(ok);
                Ok(Outcome::Done)
            }
            Err(e) => {
                line(format!("{org}: invalid: {e}"));
                Ok(Outcome::Invalid)
            }
        };
    }
    // What the organization's PAT policy refused or shortened when this helper minted.
    if let Some(learned) = crate::auth::policy::all(&run).get(org.name()).filter(|_| !org.is_server()) {
        for (what, fix) in crate::auth::policy::report(org.name(), learned) {
            line(format!("{what}\n  fix: {fix}"));
        }
    }
    let Some(Credential { pat, meta }) = found else {
        if org.is_server() && !settings.interactive {
            let (what, fix) = super::doctor::ntlm_advice(org);
            line(format!("{what}\n  fix: {fix}"));
        }
        return Err(Error::NothingStored { target: org.to_string(), store: None });
    };
    line(format!("{org}: PAT stored {} (origin {})", timestamp(meta.stored_at), meta.provenance.as_str()));
    match meta.expires_at {
        Some(t) if t <= now() => {
            line(format!("{org}: invalid: it expired at {}", timestamp(t)));
            return Ok(Outcome::Invalid);
        }
        Some(t) => {
            line(format!("{org}: expires {}", timestamp(t)));
            if meta.provenance == Provenance::Minted && settings.mint == Mint::Auto {
                let renew = t - i64::from(settings.renew_before_days) * 86_400;
                line(format!("{org}: renewal planned from {} (azdo.renewBefore)", timestamp(renew)));
            }
        }
        None => line(format!("{org}: expiry unknown")),
    }
    if settings.validate_interval.is_none() {
        line(format!("{org}: not checked: checks are off (azdo.validateInterval=never)"));
        return Ok(Outcome::Done);
    }
    // A live check, whatever the interval says; it is recorded like any other.
    match run.validate(org, &pat) {
        Verdict::Valid { user } => {
            line(format!("{org}: valid: Azure DevOps accepts it (signed in as {user})"));
            let meta = Metadata { last_validated: Some(now()), last_checked: Some(now()), ..meta };
            if let Err(e) = store.set_metadata_if(org, &pat, &meta) {
                tracing::warn!(error = %e, "could not record the check");
            }
            Ok(Outcome::Done)
        }
        Verdict::Invalid { reason } => {
            line(format!("{org}: invalid: {reason}"));
            if crate::azure::connection_data::global_pat_retired(&reason) {
                let (what, fix) = super::doctor::global_pat_advice(org, &reason);
                line(format!("{what}\n  fix: {fix}"));
            }
            Ok(Outcome::Invalid)
        }
        Verdict::Unknown { reason } => {
            line(format!("{org}: unknown: {reason}"));
            Ok(Outcome::Unknown)
        }
    }
}
