//! The store contract on the memory and file backends, plus what only the file store promises.

use crate::common;

use std::sync::Arc;

use git_credential_azdo::org::Target;
use git_credential_azdo::secret::Secret;
use git_credential_azdo::store::{Credential, FileStore, MemoryStore, Metadata, Store};

#[test]
fn memory_store_meets_the_contract() {
    common::contract::run(&MemoryStore::new());
}

#[test]
fn file_store_meets_the_contract() {
    let dir = tempfile::tempdir().expect("tmp");
    common::contract::run(&FileStore::new(dir.path().join("sub/dir/credentials.json")));
}

fn put(store: &FileStore, org: &str, pat: &str) {
    let c = Credential { pat: Secret::new(pat), meta: Metadata::default() };
    store.put(&Target::org(org).expect("org"), &c).expect("put");
}

#[test]
fn file_store_is_private_from_the_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("new/credentials.json");
    let store = FileStore::new(path.clone());
    put(&store, "contoso", "p");
    #[cfg(unix)]
    {
        assert_eq!(common::mode(&path), 0o600);
        assert_eq!(common::mode(path.parent().expect("dir")), 0o700);
    }
    // No temp files left beside it.
    let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n == "credentials.json" || n == "credentials.json.lock"), "{names:?}");
}

#[test]
fn corrupt_file_is_an_error_and_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let garbage = b"{\"version\":1,\"organizations\":{\"contoso\":{\"pat\":\"secret-in-garbage\"";
    std::fs::write(&path, garbage).expect("write");
    common::set_mode(&path, 0o600);
    let store = FileStore::new(path.clone());
    let org = Target::org("fabrikam").expect("org");
    let err = store.get(&org).expect_err("corrupt").to_string();
    assert!(err.contains("not a valid credential file"), "{err}");
    assert!(!err.contains("secret-in-garbage"), "error quotes file content: {err}");
    let c = Credential { pat: Secret::new("p"), meta: Metadata::default() };
    assert!(store.put(&org, &c).is_err());
    assert!(store.delete(&org).is_err());
    assert_eq!(std::fs::read(&path).expect("read"), garbage, "the corrupt file was changed");
}

#[cfg(unix)]
#[test]
fn loosely_permissioned_file_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let store = FileStore::new(path.clone());
    put(&store, "contoso", "p");
    common::set_mode(&path, 0o644);
    let before = std::fs::read(&path).expect("read");
    let org = Target::org("contoso").expect("org");
    let err = store.get(&org).expect_err("loose").to_string();
    assert!(err.contains("readable by other users") && err.contains("chmod 600"), "{err}");
    assert!(store.put(&org, &Credential { pat: Secret::new("q"), meta: Metadata::default() }).is_err());
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(common::mode(&path), 0o644, "permissions must be left for the user to fix");
}

#[test]
fn concurrent_puts_for_different_orgs_lose_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let store = Arc::new(FileStore::new(path));
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for round in 0..5 {
                    put(&store, &format!("org{i}"), &format!("pat-{i}-{round}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let listed = store.list().expect("list");
    assert_eq!(listed.len(), 16);
    for i in 0..16 {
        let got = store.get(&Target::org(&format!("org{i}")).expect("org")).expect("get").expect("present");
        assert_eq!(got.pat, Secret::new(format!("pat-{i}-4")));
    }
}

/// Hole 2: a file shared by several instances (an explicit `azdo.storeFile`) serves each entry
/// only on the origin it was stored for; an entry written before instances were recorded is the
/// real service's.
#[test]
fn a_shared_file_keeps_each_origins_pats_to_that_origin() {
    use git_credential_azdo::org::ServiceUrl;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let fake = ServiceUrl::parse("http://127.0.0.1:8123").expect("origin");
    let real_store = FileStore::new(path.clone());
    let fake_store = FileStore::new(path.clone()).for_origin(fake.clone());
    let real = Target::org("contoso").expect("org");
    let on_fake = Target::org_in(&fake, "contoso").expect("org");
    put(&real_store, "contoso", "real-pat");
    assert!(fake_store.get(&on_fake).expect("get").is_none(), "the real service's PAT went to another origin");
    assert!(fake_store.list().expect("list").is_empty());
    assert!(!fake_store.delete(&on_fake).expect("delete"), "another origin's entry is not ours to delete");
    assert_eq!(real_store.get(&real).expect("get").map(|c| c.pat), Some(Secret::new("real-pat")));
    // Written before instances were recorded: no "service", so the real service's only.
    let legacy = r#"{"version":1,"organizations":{"contoso":{"pat":"old-pat","origin":"git","stored_at":1}}}"#;
    std::fs::write(&path, legacy).expect("write");
    common::set_mode(&path, 0o600);
    assert!(fake_store.get(&on_fake).expect("get").is_none());
    assert_eq!(real_store.get(&real).expect("get").map(|c| c.pat), Some(Secret::new("old-pat")));
}
