//! The claims request merged with `cp1`, and the pending-claims file: private, per organization
//! and account, expiring, refused when another user could have planted or read it.

use super::*;
use crate::config::GitConfig;
use crate::config::{Environment, Settings};
use crate::messages::Messages;
use crate::org::Instances;
use crate::store::MemoryStore;

const CLAIMS: &str = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;

fn run(dir: &std::path::Path) -> Run {
    let env = Environment::from_pairs([("GIT_TERMINAL_PROMPT", "0")]);
    let settings = Settings::from_sources(GitConfig::default(), Instances::default(), None, &env.lookup(), Some(dir))
        .expect("valid");
    Run::new(settings, Box::new(MemoryStore::new()), env, Messages::captured())
}

fn claims(json: &str) -> Claims {
    Claims::from_json(json.as_bytes()).expect("valid claims")
}

fn contoso() -> Target {
    Target::org("contoso").expect("valid")
}

#[test]
fn the_capability_is_merged_into_the_challenge_as_msal_merges_it() {
    assert_eq!(ClaimsRequest::capabilities().as_str(), CP1);
    assert!(!ClaimsRequest::capabilities().answers_challenge());
    let merged = ClaimsRequest::answering(&claims(CLAIMS));
    assert!(merged.answers_challenge());
    let value: serde_json::Value = serde_json::from_str(merged.as_str()).expect("JSON");
    assert_eq!(
        value,
        serde_json::json!({"access_token": {"nbf": {"essential": true, "value": "1700000000"}, "xms_cc": {"values": ["cp1"]}}})
    );
    // A challenge's own xms_cc is replaced; a section other than access_token is kept.
    let other = ClaimsRequest::answering(&claims(
        r#"{"id_token":{"acrs":{"value":"c1"}},"access_token":{"xms_cc":{"values":["x"]}}}"#,
    ));
    let value: serde_json::Value = serde_json::from_str(other.as_str()).expect("JSON");
    assert_eq!(value["access_token"], serde_json::json!({"xms_cc": {"values": ["cp1"]}}));
    assert_eq!(value["id_token"], serde_json::json!({"acrs": {"value": "c1"}}));
    assert!(!format!("{:?}", claims(CLAIMS)).contains("nbf"), "Debug shows no claims");
}

#[test]
fn pending_claims_are_kept_privately_per_organization_and_account_and_cleared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(dir.path());
    let target = contoso();
    assert_eq!(pending(&run, &target), None);
    remember(&run, &target, &claims(CLAIMS));
    assert_eq!(pending(&run, &target), Some(claims(CLAIMS)));
    let file = path(&run, &target);
    assert!(file.starts_with(&run.settings.data_dir), "{}", file.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!((mode(&file), mode(file.parent().expect("dir"))), (0o600, 0o700));
    }
    // Another organization, or another account of the same one, has none.
    assert_eq!(pending(&run, &Target::org("fabrikam").expect("valid")), None);
    let account = contoso().with_account(Some("bob@contoso.example")).expect("valid");
    assert_eq!(pending(&run, &account), None);
    clear(&run, &target);
    assert_eq!(pending(&run, &target), None);
    assert!(!file.exists());
    clear(&run, &target);
}

#[test]
fn pending_claims_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(dir.path());
    let target = contoso();
    let file = path(&run, &target);
    let write = |expires_at: i64| {
        let body = serde_json::json!({"claims": CLAIMS, "expires_at": expires_at}).to_string();
        crate::fs::write_private(&file, body.as_bytes(), crate::fs::Durability::Cache).expect("write");
    };
    write(now() + PENDING_FOR - 5);
    assert!(pending(&run, &target).is_some());
    write(now() - 1);
    assert_eq!(pending(&run, &target), None);
    assert!(!file.exists(), "expired claims are removed");
    // Claims that say they last longer than anything this helper writes are no pending claims.
    write(now() + 10 * PENDING_FOR);
    assert_eq!(pending(&run, &target), None);
}

#[test]
fn a_pending_claims_file_that_is_garbage_huge_or_no_claims_request_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(dir.path());
    let target = contoso();
    let file = path(&run, &target);
    let huge = serde_json::json!({"claims": CLAIMS, "expires_at": now() + 60, "x": "a".repeat(5000)}).to_string();
    for body in [
        "not json".to_owned(),
        huge,
        serde_json::json!({"claims": "[1]", "expires_at": now() + 60}).to_string(),
        serde_json::json!({"claims": "{}", "expires_at": now() + 60}).to_string(),
        serde_json::json!({"expires_at": now() + 60}).to_string(),
    ] {
        crate::fs::write_private(&file, body.as_bytes(), crate::fs::Durability::Cache).expect("write");
        assert_eq!(pending(&run, &target), None, "{}", &body[..body.len().min(80)]);
    }
}

#[cfg(unix)]
#[test]
fn a_pending_claims_file_others_could_read_plant_or_swap_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run(dir.path());
    let target = contoso();
    remember(&run, &target, &claims(CLAIMS));
    let file = path(&run, &target);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert_eq!(pending(&run, &target), None, "readable by others");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let claims_dir = file.parent().expect("dir");
    std::fs::set_permissions(claims_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert_eq!(pending(&run, &target), None, "a directory others can write");
    std::fs::set_permissions(claims_dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert!(pending(&run, &target).is_some());
    // A link at the path is not followed, even to a good file.
    let elsewhere = claims_dir.join("elsewhere.json");
    std::fs::rename(&file, &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, &file).expect("symlink");
    assert_eq!(pending(&run, &target), None, "a symbolic link");
    std::fs::remove_file(&file).expect("unlink");
    std::fs::rename(&elsewhere, &file).expect("move back");
    if rustix::process::geteuid().is_root() {
        // Only root can give a file away: one owned by another user is refused.
        std::os::unix::fs::chown(&file, Some(65534), None).expect("chown");
        assert_eq!(pending(&run, &target), None, "another user's file");
    }
}
