//! `list` (what is stored, from the store's metadata only, never a secret; `--remote`: the PATs
//! this helper minted, as Azure DevOps lists them) and `status` (the store, and for one
//! organization a live check: exit 0 valid, 1 invalid, 3 unknown).

use std::io::Write;

use crate::auth::{self, Purpose};
use crate::azure::connection_data::Verdict;
use crate::config::{Mint, StoreKind, PAT_ENV};
use crate::context::Context;
use crate::error::Error;
use crate::store::{Credential, Metadata, Origin};
use crate::text::printable;
use crate::time::{now, timestamp};

#[allow(clippy::print_stdout)] // the listing is the command's output
pub fn list_remote(arg: &str, json: bool) -> Result<(), Error> {
    let (ctx, target) = Context::for_verb(Some(arg))?;
    let target = target.ok_or_else(|| Error::User("no organization given".into()))?;
    let (client, tokens) = auth::sign_in(&ctx, &target, Purpose::Command)?;
    let all = crate::azure::pats::list(&client, &ctx.settings.vssps_url, target.name(), &tokens.access_token)
        .map_err(|source| Error::Pats { target: target.to_string(), source })?;
    let ours: Vec<_> = all.iter().filter(|p| p.display_name.starts_with("git-credential-azdo")).collect();
    if json {
        let rows: Vec<serde_json::Value> = ours
            .iter()
            .map(|p| {
                serde_json::json!({"authorization_id": p.authorization_id, "display_name": p.display_name, "scope": p.scope, "valid_to": p.valid_to})
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!("{:<38} {:<22} {:<16} NAME", "AUTHORIZATION ID", "VALID TO", "SCOPE");
    for p in ours {
        let until = p.valid_to.map(timestamp).unwrap_or_default();
        println!("{:<38} {:<22} {:<16} {}", p.authorization_id, until, p.scope, p.display_name);
    }
    Ok(())
}

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
pub fn list(json: bool) -> Result<(), Error> {
    let (ctx, _) = Context::for_verb(None)?;
    let store = ctx.store.as_ref();
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
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("No PATs stored in the {} store.", store.kind());
        return Ok(());
    }
    println!("{:<24} {:<8} {:<7} {:<20} {:<20}", "ORGANIZATION", "STORE", "ORIGIN", "STORED", "EXPIRES");
    for (org, meta) in &entries {
        println!(
            "{:<24} {:<8} {:<7} {:<20} {:<20}",
            org.to_string(),
            store.kind(),
            meta.origin.as_str(),
            timestamp(meta.stored_at),
            meta.expires_at.map(timestamp).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // `status` prints its result for the person who asked.
pub fn status(arg: Option<&str>, account: Option<&str>) -> Result<(), Error> {
    let (ctx, target) = Context::for_verb(arg)?;
    let target = target.map(|t| ctx.with_account(t, account)).transpose()?;
    let (settings, store) = (&ctx.settings, ctx.store.as_ref());
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
        return Ok(());
    };
    // A build identity comes before any PAT: say which, and ask it for a token once.
    if let Some((lines, tested)) = crate::identity::report(&ctx, org) {
        for l in lines {
            line(l);
        }
        return match tested {
            Ok(ok) => {
                line(ok);
                Ok(())
            }
            Err(e) => {
                line(format!("{org}: invalid: {e}"));
                Err(Error::Quiet(1))
            }
        };
    }
    let Some(Credential { pat, meta }) = found else {
        return Err(Error::User(format!("no PAT stored for {org}")));
    };
    line(format!("{org}: PAT stored {} (origin {})", timestamp(meta.stored_at), meta.origin.as_str()));
    match meta.expires_at {
        Some(t) if t <= now() => {
            line(format!("{org}: invalid: it expired at {}", timestamp(t)));
            return Err(Error::Quiet(1));
        }
        Some(t) => {
            line(format!("{org}: expires {}", timestamp(t)));
            if meta.origin == Origin::Minted && settings.mint == Mint::Auto {
                let renew = t - i64::from(settings.renew_before_days) * 86_400;
                line(format!("{org}: renewal planned from {} (azdo.renewBefore)", timestamp(renew)));
            }
        }
        None => line(format!("{org}: expiry unknown")),
    }
    if settings.validate_interval.is_none() {
        line(format!("{org}: not checked: checks are off (azdo.validateInterval=never)"));
        return Ok(());
    }
    // A live check, whatever the interval says; it is recorded like any other.
    match ctx.validate(org, &pat) {
        Verdict::Valid { user } => {
            line(format!("{org}: valid: Azure DevOps accepts it (signed in as {user})"));
            let meta = Metadata { last_validated: Some(now()), last_checked: Some(now()), ..meta };
            if let Err(e) = store.set_metadata_if(org, &pat, &meta) {
                tracing::warn!(error = %e, "could not record the check");
            }
            Ok(())
        }
        Verdict::Invalid { reason } => {
            line(format!("{org}: invalid: {reason}"));
            Err(Error::Quiet(1))
        }
        Verdict::Unknown { reason } => {
            line(format!("{org}: unknown: {reason}"));
            Err(Error::Quiet(3))
        }
    }
}
