//! `prune` and `list --remote` against the fake's PAT lifecycle API: several hosts' PATs of this
//! helper, PATs it did not mint, the one this machine stores; only this host's orphans are
//! revoked, other hosts' only with `--all-hosts --older-than`, nothing on a dry run or without
//! confirmation.

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{DeviceFlow, FakeAzdo, Route};

const UPN: &str = "alice@contoso.example";

struct World {
    fake: FakeAzdo,
    env: TestEnv,
    /// This machine's name as the helper writes it in display names.
    host: String,
    /// The PAT `login --device` minted and stored.
    stored: String,
}

/// A fake with `contoso`, a helper signed in once (device code) that minted and stored a PAT;
/// the list pages after two PATs, so every listing follows `continuationToken`.
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    fake.set_device_flow_timing(0, 900);
    fake.set_pat_page_cap(2);
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.set("GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "device");
    env.unset("GIT_TERMINAL_PROMPT");
    fake.approve_device_flow(DeviceFlow::Next, UPN);
    let run = env.helper(&["login", "contoso", "--device"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    let minted = fake.minted("contoso");
    assert_eq!(minted.len(), 1);
    let name = minted[0].display_name.clone();
    let host = name
        .strip_prefix("git-credential-azdo on ")
        .and_then(|rest| rest.rsplit_once(' '))
        .map(|(host, _)| host.to_owned())
        .expect("the helper's display name");
    // From here on nobody may be asked: every sign-in is the stored refresh token's.
    env.set("GIT_TERMINAL_PROMPT", "0");
    World { stored: minted[0].authorization_id.clone(), fake, env, host }
}

impl World {
    /// A PAT named by this helper on `host`, created `days_ago`.
    fn ours(&self, host: &str, days_ago: i64) -> String {
        let name = format!("git-credential-azdo on {host} 2026-01-02");
        let pat = self.fake.add_named_pat("contoso", UPN, &name, &["vso.code_write"], in_days(20));
        self.fake.backdate_pat(&pat.authorization_id, days_ago);
        pat.authorization_id
    }

    /// A PAT this helper did not mint (its name is not exactly one the helper gives).
    fn foreign(&self, name: &str) -> String {
        let pat = self.fake.add_named_pat("contoso", UPN, name, &["vso.code_write"], in_days(20));
        self.fake.backdate_pat(&pat.authorization_id, 90);
        pat.authorization_id
    }

    fn prune(&self, args: &[&str]) -> Run {
        let mut all = vec!["prune"];
        all.extend_from_slice(args);
        self.env.helper(&all, b"")
    }

    fn revoked(&self, id: &str) -> bool {
        self.fake.is_revoked(id).expect("a PAT of the fake")
    }
}

fn in_days(days: i64) -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64 + days * 86_400
}

/// The table line of `id`.
fn row<'a>(run: &'a Run, id: &str) -> &'a str {
    run.stdout.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("{id} not listed: {run:?}"))
}

#[test]
fn only_this_hosts_orphans_are_revoked_and_the_stored_and_foreign_pats_are_untouched() {
    if !common::has_git() {
        return;
    }
    let w = world();
    let orphans = [w.ours(&w.host, 3), w.ours(&w.host, 40)];
    let other_host = w.ours("build-agent-7", 60);
    let foreign = [
        w.foreign("my laptop"),
        w.foreign(&format!("git-credential-azdo on {}", w.host)),
        w.foreign(&format!("git-credential-azdo on {} 2026-01-02 (copy)", w.host)),
    ];
    // A dry run lists and revokes nothing.
    let dry = w.prune(&["contoso", "--dry-run"]);
    assert_eq!(dry.status, 0, "{dry:?}");
    assert!(row(&dry, &w.stored).contains("keep (stored here)"), "{dry:?}");
    for id in &orphans {
        assert!(row(&dry, id).contains("revoke (this host, stored nowhere here)"), "{dry:?}");
    }
    assert!(row(&dry, &other_host).contains("keep (another host)"), "{dry:?}");
    assert!(foreign.iter().all(|id| !dry.stdout.contains(id.as_str())), "foreign PATs are not listed: {dry:?}");
    assert!(dry.stderr.contains("3 other PAT(s) were not minted by git-credential-azdo"), "{dry:?}");
    assert!(dry.stderr.contains("dry run: 2 PAT(s) would be revoked"), "{dry:?}");
    assert_eq!(w.fake.count(Route::PatRevoke), 0);
    // Without --yes and without a terminal: the table, and nothing revoked.
    let unconfirmed = w.prune(&["contoso"]);
    assert_eq!(unconfirmed.status, 1, "{unconfirmed:?}");
    assert!(row(&unconfirmed, &orphans[0]).contains("revoke"), "{unconfirmed:?}");
    assert!(unconfirmed.stderr.contains("nothing was revoked"), "{unconfirmed:?}");
    assert_eq!(w.fake.count(Route::PatRevoke), 0);
    // list --remote shows the same table, and acts on nothing.
    let listed = w.env.helper(&["list", "--remote", "contoso"], b"");
    assert_eq!(listed.status, 0, "{listed:?}");
    assert_eq!(row(&listed, &orphans[1]), row(&dry, &orphans[1]));
    assert_eq!(w.fake.count(Route::PatRevoke), 0);
    // --yes revokes this host's orphans, and nothing else.
    let pruned = w.prune(&["contoso", "--yes"]);
    assert_eq!(pruned.status, 0, "{pruned:?}");
    assert!(pruned.stderr.contains("revoked 2 PAT(s)"), "{pruned:?}");
    assert!(orphans.iter().all(|id| w.revoked(id)));
    assert!(!w.revoked(&w.stored) && !w.revoked(&other_host));
    assert!(foreign.iter().all(|id| !w.revoked(id)));
    assert_eq!(w.fake.count(Route::PatRevoke), 2);
    // The stored PAT still serves git, and no sign-in asked anyone after login.
    let clone = w.env.git(
        &["clone", "-q", &w.fake.repo_url("contoso", "proj", "repo"), &w.env.home.join("c").to_string_lossy()],
        b"",
    );
    assert_eq!(clone.status, 0, "{clone:?}");
    assert_eq!(w.fake.device_flows().len(), 1);
    // Again: nothing left to revoke.
    let again = w.prune(&["contoso", "--yes"]);
    assert_eq!(again.status, 0, "{again:?}");
    assert!(again.stderr.contains("nothing to revoke"), "{again:?}");
    assert_eq!(w.fake.count(Route::PatRevoke), 2);
}

#[test]
fn other_hosts_pats_are_revoked_only_with_all_hosts_and_older_than() {
    let w = world();
    let old = w.ours("build-agent-7", 60);
    let young = w.ours("build-agent-8", 5);
    let young_here = w.ours(&w.host, 5);
    let old_here = w.ours(&w.host, 45);
    // --all-hosts needs --older-than.
    assert_eq!(w.prune(&["contoso", "--all-hosts", "--yes"]).status, 2);
    let run = w.prune(&["contoso", "--all-hosts", "--older-than", "30", "--yes"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(row(&run, &old).contains("revoke (another host, over 30 days old)"), "{run:?}");
    assert!(row(&run, &young).contains("keep (another host, under 30 days old)"), "{run:?}");
    assert!(row(&run, &young_here).contains("keep (this host, under 30 days old)"), "{run:?}");
    assert!(w.revoked(&old) && w.revoked(&old_here));
    assert!(!w.revoked(&young) && !w.revoked(&young_here) && !w.revoked(&w.stored));
}

#[cfg(unix)]
#[test]
fn a_pat_stored_in_the_other_store_is_kept_and_prune_without_an_org_takes_the_stored_ones() {
    let w = world();
    let elsewhere = w.ours(&w.host, 10);
    // The keyring store's index (no keyring is asked: its list is the index) names that PAT.
    let origins = w.env.home.join(".local/share/git-credential-azdo/origins");
    let dir = std::fs::read_dir(&origins).expect("origins").flatten().next().expect("the fake's origin").path();
    let index = serde_json::json!({"version": 1, "organizations": {"contoso": {
        "origin": "minted", "stored_at": 1, "authorization_id": elsewhere.to_uppercase()}}});
    std::fs::write(dir.join("keyring-metadata.json"), index.to_string()).expect("index");
    crate::common::set_mode(&dir.join("keyring-metadata.json"), 0o600);
    let run = w.prune(&["--yes"]);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(row(&run, &elsewhere).contains("keep (stored here)"), "{run:?}");
    assert!(!w.revoked(&elsewhere) && !w.revoked(&w.stored));
}
