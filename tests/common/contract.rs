//! The store contract: every backend must pass these, in any order, on an empty store.

use git_credential_azdo::org::Target;
use git_credential_azdo::secret::Secret;
use git_credential_azdo::store::{Credential, Metadata, Provenance, Store};

fn org(name: &str) -> Target {
    Target::org(name).expect("valid org")
}

fn credential(pat: &str, stored_at: i64) -> Credential {
    Credential {
        pat: Secret::new(pat),
        meta: Metadata { provenance: Provenance::Git, stored_at, ..Metadata::default() },
    }
}

/// Every organization and sign-in token the contract writes.
#[cfg(windows)]
const ORGS: &[&str] = &["absent", "alpha", "beta", "contoso", "delta", "eps", "gamma", "lambda", "mu", "zeta"];
#[cfg(windows)]
const TOKENS: &[&str] = &["refresh-token:t1:c", "refresh-token:t2:c"];

/// Remove whatever the contract writes, for a store that outlives the test (a system keyring
/// an earlier, failed run may have left entries in): Windows Credential Manager.
#[cfg(windows)]
pub fn clear(store: &dyn Store) {
    for name in ORGS {
        let _ = store.delete(&org(name));
    }
    for key in TOKENS {
        let _ = store.delete_token(key);
    }
}

/// Run the whole contract against `store`, which must start empty.
pub fn run(store: &dyn Store) {
    missing_entry_is_none(store);
    stores_and_retrieves(store);
    overwrites_on_put(store);
    orgs_are_independent(store);
    delete_reports_what_it_did(store);
    metadata_updates_alone(store);
    list_is_sorted_and_complete(store);
    odd_secrets_round_trip(store);
    case_insensitive_names_share_an_entry(store);
    tokens(store);
    compare_and_act(store);
}

fn missing_entry_is_none(store: &dyn Store) {
    assert!(store.get(&org("absent")).expect("get").is_none(), "{}: absent org", store.kind());
}

fn stores_and_retrieves(store: &dyn Store) {
    let c = Credential {
        pat: Secret::new("pat-a-1"),
        meta: Metadata {
            provenance: Provenance::Login,
            stored_at: 1_700_000_000,
            username: Some("alice".into()),
            expires_at: Some(1_900_000_000),
            last_validated: Some(1_700_000_100),
            last_checked: Some(1_700_000_200),
            renew_attempted: Some(1_700_000_300),
            authorization_id: Some("5f8d2a3e-0000-4000-8000-000000000001".into()),
        },
    };
    store.put(&org("alpha"), &c).expect("put");
    assert_eq!(store.get(&org("alpha")).expect("get"), Some(c), "{}: round trip", store.kind());
    store.delete(&org("alpha")).expect("cleanup");
}

fn overwrites_on_put(store: &dyn Store) {
    store.put(&org("beta"), &credential("old", 1)).expect("put");
    store.put(&org("beta"), &credential("new", 2)).expect("put");
    let got = store.get(&org("beta")).expect("get").expect("present");
    assert_eq!(got.pat, Secret::new("new"), "{}: overwrite", store.kind());
    assert_eq!(got.meta.stored_at, 2);
    store.delete(&org("beta")).expect("cleanup");
}

fn orgs_are_independent(store: &dyn Store) {
    store.put(&org("gamma"), &credential("g", 1)).expect("put");
    store.put(&org("delta"), &credential("d", 1)).expect("put");
    store.delete(&org("gamma")).expect("delete");
    assert_eq!(store.get(&org("delta")).expect("get").map(|c| c.pat), Some(Secret::new("d")));
    assert!(store.get(&org("gamma")).expect("get").is_none());
    store.delete(&org("delta")).expect("cleanup");
}

fn delete_reports_what_it_did(store: &dyn Store) {
    store.put(&org("eps"), &credential("e", 1)).expect("put");
    assert!(store.delete(&org("eps")).expect("delete"), "{}: delete existing", store.kind());
    assert!(!store.delete(&org("eps")).expect("delete"), "{}: delete absent", store.kind());
}

fn metadata_updates_alone(store: &dyn Store) {
    assert!(!store.set_metadata(&org("zeta"), &Metadata::default()).expect("set"), "no entry, no update");
    assert!(store.get(&org("zeta")).expect("get").is_none(), "set_metadata must not create");
    store.put(&org("zeta"), &credential("z", 1)).expect("put");
    let meta = Metadata { last_validated: Some(42), expires_at: Some(99), ..Metadata::default() };
    assert!(store.set_metadata(&org("zeta"), &meta).expect("set"));
    let got = store.get(&org("zeta")).expect("get").expect("present");
    assert_eq!((got.pat, got.meta), (Secret::new("z"), meta), "{}: metadata only", store.kind());
    store.delete(&org("zeta")).expect("cleanup");
}

fn list_is_sorted_and_complete(store: &dyn Store) {
    for name in ["kappa", "iota", "theta"] {
        store.put(&org(name), &credential(&format!("pat-{name}"), 7)).expect("put");
    }
    let listed: Vec<String> = store.list().expect("list").into_iter().map(|(o, _)| o.name().to_owned()).collect();
    assert_eq!(listed, ["iota", "kappa", "theta"], "{}: list", store.kind());
    for name in ["kappa", "iota", "theta"] {
        store.delete(&org(name)).expect("cleanup");
    }
    assert!(store.list().expect("list").is_empty());
}

fn odd_secrets_round_trip(store: &dyn Store) {
    for pat in ["a".repeat(84), "päß-wörd \"quoted\" \\ {json}".to_owned(), "x".to_owned()] {
        store.put(&org("lambda"), &credential(&pat, 1)).expect("put");
        assert_eq!(store.get(&org("lambda")).expect("get").map(|c| c.pat), Some(Secret::new(pat)));
    }
    store.delete(&org("lambda")).expect("cleanup");
}

fn case_insensitive_names_share_an_entry(store: &dyn Store) {
    store.put(&org("Contoso"), &credential("c", 1)).expect("put");
    assert_eq!(store.get(&org("CONTOSO")).expect("get").map(|c| c.pat), Some(Secret::new("c")));
    assert_eq!(store.list().expect("list").len(), 1);
    store.delete(&org("contoso")).expect("cleanup");
}

/// Sign-in tokens: kept apart from PATs, by key.
pub fn tokens(store: &dyn Store) {
    assert_eq!(store.get_token("refresh-token:t1:c").expect("get"), None);
    store.put_token("refresh-token:t1:c", &Secret::new("rt-1")).expect("put");
    store.put_token("refresh-token:t2:c", &Secret::new("rt-2")).expect("put");
    store.put_token("refresh-token:t1:c", &Secret::new("rt-1b")).expect("rotate");
    assert_eq!(store.get_token("refresh-token:t1:c").expect("get"), Some(Secret::new("rt-1b")));
    assert!(store.list().expect("list").is_empty(), "{}: tokens are not organizations", store.kind());
    assert!(store.delete_token("refresh-token:t1:c").expect("delete"));
    assert!(!store.delete_token("refresh-token:t1:c").expect("delete"));
    assert_eq!(store.get_token("refresh-token:t2:c").expect("get"), Some(Secret::new("rt-2")));
    store.delete_token("refresh-token:t2:c").expect("cleanup");
}

/// Compare-and-act: a check that took a while must not touch a PAT stored meanwhile.
pub fn compare_and_act(store: &dyn Store) {
    store.put(&org("mu"), &credential("newer", 1)).expect("put");
    let meta = Metadata { last_validated: Some(5), ..Metadata::default() };
    assert!(!store.set_metadata_if(&org("mu"), &Secret::new("older"), &meta).expect("set"));
    assert!(!store.delete_if(&org("mu"), &Secret::new("older")).expect("delete"));
    assert_eq!(
        store.get(&org("mu")).expect("get").map(|c| (c.pat, c.meta.last_validated)),
        Some((Secret::new("newer"), None))
    );
    assert!(store.set_metadata_if(&org("mu"), &Secret::new("newer"), &meta).expect("set"));
    assert!(store.delete_if(&org("mu"), &Secret::new("newer")).expect("delete"));
    assert!(store.get(&org("mu")).expect("get").is_none());
}
