//! The store contract on the real Secret Service (gnome-keyring on a private D-Bus session bus).
//! A test binary of its own, apart from tests/e2e: the keyring crate runs in this process and
//! finds the bus through this process's environment, so the test sets `DBUS_SESSION_BUS_ADDRESS`
//! process-wide, which no other test may share (nor read concurrently).
//! On Windows: the store contract on Windows Credential Manager, the keyring store's default there.
#![cfg(any(target_os = "linux", windows))] // a real Secret Service, or Credential Manager

#[allow(dead_code)] // this binary uses only the Secret Service and the store contract
mod common;

use std::time::Duration;

use git_credential_azdo::secret::Secret;
#[cfg(target_os = "linux")]
use git_credential_azdo::store::Store;
use git_credential_azdo::store::{KeyringStore, TokenStore};

#[cfg(target_os = "linux")]
#[test]
fn keyring_store_meets_the_contract_on_a_real_secret_service() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some(ss) = common::SecretService::start(&dir.path().join("ss"), Some("pw")) else {
        return;
    };
    // The only test in this binary, so nothing else reads the environment concurrently.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &ss.bus_address);
    let store = KeyringStore::new(dir.path().join("data/keyring-metadata.json"), Duration::from_secs(10));
    common::contract::run(&store);

    // Items are findable the way a person (or secret-tool) would look for them.
    let org = git_credential_azdo::org::Target::org("Contoso").expect("org");
    let c = git_credential_azdo::store::Credential {
        pat: git_credential_azdo::secret::Secret::new("findable-pat"),
        meta: Default::default(),
    };
    store.put(&org, &c).expect("put");
    let found = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:https://dev.azure.com/contoso"]);
    // secret-tool prints the label on stdout and the attributes on stderr.
    assert!(found.stdout.contains("label = Azure DevOps PAT for contoso (git-credential-azdo)"), "{found:?}");
    assert!(found.stderr.contains("attribute.username = contoso"), "{found:?}");
    // The metadata file beside it never holds the PAT.
    let meta = std::fs::read_to_string(dir.path().join("data/keyring-metadata.json")).expect("metadata");
    assert!(!meta.contains("findable-pat"), "{meta}");
    assert!(meta.contains("contoso"));

    // A sign-in token longer than one item may hold (Windows' limit; 100 here) is split across
    // items, each within the limit, and read back whole. A shorter one replaces it and leaves no
    // part behind; deleting it deletes every item.
    let split =
        KeyringStore::new(dir.path().join("data/keyring-metadata.json"), Duration::from_secs(10)).with_max_secret(100);
    let key = "refresh-token:https://login.example:t:c";
    let long = Secret::from("0.AX-".repeat(90));
    split.put_token(key, &long).expect("put a long token");
    assert_eq!(split.get_token(key).expect("get"), Some(long.clone()));
    assert_eq!(store.get_token(key).expect("get without a limit"), Some(long), "any reader joins the parts");
    let items = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:sign-in"]);
    let parts = items.stderr.matches(&format!("attribute.username = {key}#")).count();
    assert_eq!(parts, 5, "450 characters in items of at most 100: {items:?}");
    for line in items.stdout.lines().filter(|l| l.starts_with("secret = ")) {
        assert!(line.len() - "secret = ".len() <= 100, "an item over the limit: {line}");
    }
    split.put_token(key, &Secret::new("short-token")).expect("put a short token");
    assert_eq!(split.get_token(key).expect("get"), Some(Secret::new("short-token")));
    let items = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:sign-in"]);
    assert!(!items.stderr.contains(&format!("{key}#")), "parts left behind: {items:?}");
    assert!(split.delete_token(key).expect("delete"));
    assert_eq!(split.get_token(key).expect("get"), None);
}

/// Credential Manager is the user's own (under Wine, the test prefix's): the test runs only under
/// Wine or CI, where it holds nobody's credentials, and first clears what the contract writes
/// (an earlier, failed run may have left it there).
#[cfg(windows)]
#[test]
fn keyring_store_meets_the_contract_on_windows_credential_manager() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if common::emulated().as_deref() != Some("wine") && !ci {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED: it writes this user's Credential Manager; it runs under Wine or CI\n",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let store = KeyringStore::new(dir.path().join("data/keyring-metadata.json"), Duration::from_secs(10));
    common::contract::clear(&store);
    common::contract::run(&store);

    // A sign-in token longer than one Credential Manager item holds (2,560 bytes) round-trips
    // whole; a shorter one replaces it, and deleting it deletes every part.
    let key = "refresh-token:https://login.example:t:c";
    let long = Secret::from("0.AX-".repeat(2000));
    store.put_token(key, &long).expect("put a long token");
    assert_eq!(store.get_token(key).expect("get"), Some(long));
    store.put_token(key, &Secret::new("short-token")).expect("put a short token");
    assert_eq!(store.get_token(key).expect("get"), Some(Secret::new("short-token")));
    assert!(store.delete_token(key).expect("delete"));
    assert_eq!(store.get_token(key).expect("get"), None);
}
