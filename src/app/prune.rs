//! `prune` and `list --remote`: the PATs this helper minted in an organization, as the PAT
//! lifecycle API lists them (after a sign-in through the one sign-in policy: silent where a refresh
//! token or the Azure CLI serves), each with what `prune` does with it. A PAT counts as this
//! helper's only when its display name is exactly one the helper gives
//! ([`crate::auth::mint::parse_display_name`]); any other is never listed nor revoked. Kept: a PAT
//! stored on this machine (in either store), one minted in the last ten minutes (a git command may
//! be storing it), another host's; revoked: this host's that is stored nowhere here, and with
//! `--all-hosts --older-than DAYS` other hosts' older than that. Revocation is confirmed first
//! (`--yes` for scripts; without a terminal nothing is revoked), and happens under the org lock,
//! after the stores are read again.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::time::Duration;

use super::{open, open_org, Error, Outcome};
use crate::auth::mint::{hostname, parse_display_name, MintedName};
use crate::auth::{self, Asker, Session};
use crate::azure::pats::{self, PatInfo};
use crate::config::StoreKind;
use crate::org::Target;
use crate::run::Run;
use crate::time::{now, timestamp};

/// What `prune` was asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Other hosts' PATs too (only with `older_than_days`).
    pub all_hosts: bool,
    pub older_than_days: Option<u32>,
    pub dry_run: bool,
    pub yes: bool,
}

/// A PAT younger than this is never revoked: a git command may be about to store it.
const RECENT: i64 = 600;

/// What `prune` does with one of this helper's PATs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Stored,
    Recent,
    /// This host's, younger than `--older-than`.
    Young,
    OtherHost,
    /// This host's, stored nowhere here.
    Orphan,
    /// Another host's, older than `--older-than` (with `--all-hosts`).
    Old,
}

impl Fate {
    fn revoke(self) -> bool {
        matches!(self, Fate::Orphan | Fate::Old)
    }

    fn describe(self, options: &Options) -> String {
        let days = options.older_than_days.unwrap_or(0);
        match self {
            Fate::Stored => "keep (stored here)".into(),
            Fate::Recent => "keep (minted minutes ago)".into(),
            Fate::Young => format!("keep (this host, under {days} days old)"),
            Fate::OtherHost if options.all_hosts => format!("keep (another host, under {days} days old)"),
            Fate::OtherHost => "keep (another host)".into(),
            Fate::Orphan => "revoke (this host, stored nowhere here)".into(),
            Fate::Old => format!("revoke (another host, over {days} days old)"),
        }
    }
}

/// One of this helper's PATs and its fate.
struct Row {
    info: PatInfo,
    name: MintedName,
    fate: Fate,
}

/// The fate of each of this helper's PATs in `listed` (others are left out): pure.
fn plan(listed: Vec<PatInfo>, stored: &BTreeSet<String>, host: &str, options: &Options, now: i64) -> Vec<Row> {
    listed
        .into_iter()
        .filter_map(|info| {
            let name = parse_display_name(&info.display_name)?;
            let created = info.valid_from.unwrap_or(name.day);
            let old_enough = options.older_than_days.is_none_or(|d| now - created >= i64::from(d) * 86_400);
            let fate = if stored.contains(&info.authorization_id.to_ascii_lowercase()) {
                Fate::Stored
            } else if now - created < RECENT {
                Fate::Recent
            } else if name.host.eq_ignore_ascii_case(host) {
                if old_enough {
                    Fate::Orphan
                } else {
                    Fate::Young
                }
            } else if options.all_hosts && options.older_than_days.is_some() && old_enough {
                Fate::Old
            } else {
                Fate::OtherHost
            };
            Some(Row { info, name, fate })
        })
        .collect()
}

/// The authorization ids of every PAT stored on this machine for this origin: the store in use
/// and the other kind's list (a PAT kept there is still in use here). Lower-cased.
fn stored_ids(run: &Run) -> Result<BTreeSet<String>, Error> {
    let other = match run.settings.store {
        StoreKind::Keyring => StoreKind::File,
        StoreKind::File => StoreKind::Keyring,
    };
    let mut ids = BTreeSet::new();
    for listed in [run.store.list()?, crate::store::open_kind(&run.settings, other).list()?] {
        ids.extend(listed.into_iter().filter_map(|(_, m)| m.authorization_id).map(|id| id.to_ascii_lowercase()));
    }
    Ok(ids)
}

/// A signed-in session for `target`, its PATs as planned, and how many others were left out.
fn survey(run: &Run, target: &Target, options: &Options) -> Result<(Session, Vec<Row>, usize), Error> {
    let session = auth::sign_in(run, target, Asker::Person, None)?;
    let listed = pats::list(&session.client, &run.settings.vssps_url, target.name(), &session.tokens.access_token)
        .map_err(|source| Error::Pats { target: target.to_string(), source })?;
    // The stores are read after the list: a PAT minted before it was stored is then either
    // stored already or minutes old.
    let stored = stored_ids(run)?;
    let count = listed.len();
    let rows = plan(listed, &stored, &hostname(), options, now());
    let others = count - rows.len();
    Ok((session, rows, others))
}

fn day(t: Option<i64>) -> String {
    t.map(|t| timestamp(t)[..10].to_owned()).unwrap_or_else(|| "?".into())
}

#[allow(clippy::print_stdout)] // the table is the command's output
fn print_header() {
    println!(
        "{:<24} {:<36} {:<10} {:<10} {:<20} {:<16} PRUNE",
        "ORGANIZATION", "AUTHORIZATION ID", "CREATED", "EXPIRES", "HOST", "SCOPE"
    );
}

#[allow(clippy::print_stdout)] // the table is the command's output
fn print_rows(target: &Target, rows: &[Row], options: &Options) {
    for row in rows {
        let created = row.info.valid_from.or(Some(row.name.day));
        println!(
            "{:<24} {:<36} {:<10} {:<10} {:<20} {:<16} {}",
            target.to_string(),
            row.info.authorization_id,
            day(created),
            day(row.info.valid_to),
            row.name.host,
            row.info.scope,
            row.fate.describe(options)
        );
    }
}

fn tell_others(run: &Run, target: &Target, others: usize) {
    if others > 0 {
        run.messages.tell(format!(
            "{target}: {others} other PAT(s) were not minted by git-credential-azdo: not shown, never revoked here"
        ));
    }
}

/// `list --remote ORG`: the table `prune` would act on, acting on nothing.
#[allow(clippy::print_stdout)] // the listing is the command's output
pub fn list_remote(arg: &str, json: bool) -> Result<Outcome, Error> {
    let (run, target) = open_org(arg, None)?;
    let options = Options::default();
    let (_, rows, others) = survey(&run, &target, &options)?;
    if json {
        let listed: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "authorization_id": r.info.authorization_id,
                    "display_name": r.info.display_name,
                    "host": r.name.host,
                    "scope": r.info.scope,
                    "valid_from": r.info.valid_from,
                    "valid_to": r.info.valid_to,
                    "stored_here": r.fate == Fate::Stored,
                    "prune": if r.fate.revoke() { "revoke" } else { "keep" },
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(listed));
    } else {
        print_header();
        print_rows(&target, &rows, &options);
    }
    tell_others(&run, &target, others);
    Ok(Outcome::Done)
}

/// `prune [ORG]`: for the organization named, else each one with a credential stored here.
pub fn prune(arg: Option<&str>, account: Option<&str>, options: &Options) -> Result<Outcome, Error> {
    let targets: Vec<(String, Option<String>)> = match arg {
        Some(arg) => vec![(arg.to_owned(), account.map(str::to_owned))],
        None => {
            let (run, _) = open(None, None)?;
            let mut seen = BTreeSet::new();
            run.store
                .list()?
                .into_iter()
                .map(|(t, _)| t)
                .filter(|t| !t.is_server() && seen.insert(t.store_key()))
                .map(|t| (t.url(), t.account().map(str::to_owned)))
                .collect()
        }
    };
    if targets.is_empty() {
        return Err(Error::NoOrganization);
    }
    print_header();
    let mut outcome = Outcome::Done;
    for (arg, account) in targets {
        if prune_one(&arg, account.as_deref(), options)? == Outcome::Invalid {
            outcome = Outcome::Invalid;
        }
    }
    Ok(outcome)
}

fn prune_one(arg: &str, account: Option<&str>, options: &Options) -> Result<Outcome, Error> {
    let (run, target) = open_org(arg, account)?;
    let (session, rows, others) = survey(&run, &target, options)?;
    print_rows(&target, &rows, options);
    tell_others(&run, &target, others);
    let doomed: Vec<&Row> = rows.iter().filter(|r| r.fate.revoke()).collect();
    if doomed.is_empty() {
        run.messages.tell(format!("{target}: nothing to revoke."));
        return Ok(Outcome::Done);
    }
    if options.dry_run {
        run.messages.tell(format!("{target}: dry run: {} PAT(s) would be revoked; nothing was revoked.", doomed.len()));
        return Ok(Outcome::Done);
    }
    if !options.yes {
        if !(std::io::stdin().is_terminal() && run.settings.interactive) {
            return Err(Error::CannotAsk(
                "nothing was revoked: there is no terminal to confirm on; run with --yes to revoke what is marked revoke",
            ));
        }
        let question = format!("Revoke the {} PAT(s) marked revoke in {target}? [y/N] ", doomed.len());
        let confirmed = gix_prompt::openly(question).is_ok_and(|a| matches!(a.trim(), "y" | "Y" | "yes"));
        if !confirmed {
            run.messages.tell(format!("{target}: nothing was revoked."));
            return Ok(Outcome::Done);
        }
    }
    // Under the org lock no git process is between minting and storing; what is stored now is
    // kept, whatever the list said.
    let Some(_lock) = run.org_lock(&target, Duration::from_secs(120)) else {
        return Err(Error::Busy(target.to_string()));
    };
    let stored = stored_ids(&run)?;
    let (mut revoked, mut failed) = (0, 0);
    for row in doomed {
        let id = &row.info.authorization_id;
        if stored.contains(&id.to_ascii_lowercase()) {
            run.messages.tell(format!("{target}: {id} is stored here now: kept"));
            continue;
        }
        match session.revoke(&run, &target, id) {
            Ok(()) => revoked += 1,
            Err(e) => {
                failed += 1;
                run.messages.say(format!("{target}: could not revoke {id}: {e}"));
            }
        }
    }
    run.messages.tell(format!("{target}: revoked {revoked} PAT(s)."));
    Ok(if failed > 0 { Outcome::Invalid } else { Outcome::Done })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    fn pat(id: &str, name: &str, age_days: i64) -> PatInfo {
        PatInfo {
            authorization_id: id.into(),
            display_name: name.into(),
            scope: "vso.code_write".into(),
            valid_from: Some(NOW - age_days * DAY),
            valid_to: Some(NOW + DAY),
            token: None,
        }
    }

    fn fates(listed: Vec<PatInfo>, stored: &[&str], options: Options) -> Vec<(String, Fate)> {
        let stored = stored.iter().map(|s| s.to_ascii_lowercase()).collect();
        plan(listed, &stored, "here", &options, NOW).into_iter().map(|r| (r.info.authorization_id, r.fate)).collect()
    }

    #[test]
    fn only_this_hosts_orphans_are_revoked_by_default() {
        let listed = vec![
            pat("A", "git-credential-azdo on here 2027-01-01", 14),
            pat("B", "git-credential-azdo on here 2027-01-10", 5),
            pat("C", "git-credential-azdo on there 2026-12-01", 45),
            pat("D", "my own token", 100),
            pat("E", "git-credential-azdo on HERE 2027-01-15", 0),
        ];
        let got = fates(listed, &["a"], Options::default());
        assert_eq!(
            got,
            vec![
                ("A".into(), Fate::Stored),
                ("B".into(), Fate::Orphan),
                ("C".into(), Fate::OtherHost),
                ("E".into(), Fate::Recent),
            ],
            "a foreign name is left out"
        );
    }

    #[test]
    fn other_hosts_need_all_hosts_and_older_than() {
        let listed = || {
            vec![
                pat("B", "git-credential-azdo on here 2027-01-10", 5),
                pat("C", "git-credential-azdo on there 2026-12-01", 45),
                pat("F", "git-credential-azdo on there 2027-01-05", 10),
            ]
        };
        let all = Options { all_hosts: true, older_than_days: Some(30), ..Options::default() };
        let got: Vec<Fate> = fates(listed(), &[], all).into_iter().map(|(_, f)| f).collect();
        assert_eq!(got, vec![Fate::Young, Fate::Old, Fate::OtherHost]);
        // --all-hosts alone revokes no other host's PAT.
        let alone = Options { all_hosts: true, ..Options::default() };
        let got: Vec<Fate> = fates(listed(), &[], alone).into_iter().map(|(_, f)| f).collect();
        assert_eq!(got, vec![Fate::Orphan, Fate::OtherHost, Fate::OtherHost]);
        // Without validFrom, the name's day is the age.
        let mut undated = pat("G", "git-credential-azdo on there 2026-11-01", 0);
        undated.valid_from = None;
        assert_eq!(fates(vec![undated], &[], all)[0].1, Fate::Old);
    }
}
