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
    // The organization's own file, in a directory of its own beside the store file.
    let files = common::org_files(&path);
    assert_eq!(files.len(), 1, "{files:?}");
    #[cfg(unix)]
    {
        assert_eq!(common::mode(&files[0]), 0o600);
        assert_eq!(common::mode(&common::org_dir(&path)), 0o700);
        assert_eq!(common::mode(path.parent().expect("dir")), 0o700);
    }
    // No temp files left beside them.
    let names = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let beside = names(path.parent().expect("dir"));
    assert!(beside.iter().all(|n| n == "credentials.json.d" || n == "credentials.json.lock"), "{beside:?}");
    assert!(names(&common::org_dir(&path)).iter().all(|n| n.ends_with(".json") && !n.starts_with('.')));
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
    let file = common::org_files(&path).pop().expect("the organization's file");
    common::set_mode(&file, 0o644);
    let before = std::fs::read(&file).expect("read");
    let org = Target::org("contoso").expect("org");
    let err = store.get(&org).expect_err("loose").to_string();
    assert!(err.contains("readable by other users") && err.contains("chmod 600"), "{err}");
    assert!(store.put(&org, &Credential { pat: Secret::new("q"), meta: Metadata::default() }).is_err());
    assert_eq!(std::fs::read(&file).expect("read"), before);
    assert_eq!(common::mode(&file), 0o644, "permissions must be left for the user to fix");
    // The store file (sign-in tokens, organizations of earlier versions) is checked the same way.
    let (dir, other) = (tempfile::tempdir().expect("tmp"), Target::org("fabrikam").expect("org"));
    let path = dir.path().join("credentials.json");
    std::fs::write(&path, r#"{"version":1,"organizations":{"fabrikam":{"pat":"p","stored_at":1}}}"#).expect("write");
    common::set_mode(&path, 0o644);
    let err = FileStore::new(path.clone()).get(&other).expect_err("loose").to_string();
    assert!(err.contains("readable by other users"), "{err}");
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
    let path = dir.path().join("legacy.json");
    let (real_store, fake_store) = (FileStore::new(path.clone()), FileStore::new(path.clone()).for_origin(fake));
    let legacy = r#"{"version":1,"organizations":{"contoso":{"pat":"old-pat","origin":"git","stored_at":1}}}"#;
    std::fs::write(&path, legacy).expect("write");
    common::set_mode(&path, 0o600);
    assert!(fake_store.get(&on_fake).expect("get").is_none());
    assert_eq!(real_store.get(&real).expect("get").map(|c| c.pat), Some(Secret::new("old-pat")));
    // Still so once moved to its own file.
    put(&real_store, "fabrikam", "p");
    assert!(fake_store.get(&on_fake).expect("get").is_none());
    assert_eq!(real_store.get(&real).expect("get").map(|c| c.pat), Some(Secret::new("old-pat")));
}

/// A store file of an earlier version (every organization in it) is read as it is, and the first
/// change moves each organization to its own private file, keeping its PAT, its metadata and the
/// sign-in tokens; the store file keeps the tokens only.
#[test]
fn an_earlier_versions_store_file_is_read_then_moved_to_one_file_per_organization() {
    use git_credential_azdo::store::TokenStore;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let legacy = r#"{"version":1,"organizations":{
        "contoso":{"pat":"contoso-pat","origin":"minted","stored_at":10,"expires_at":4000000000,"authorization_id":"a-1"},
        "fabrikam":{"pat":"fabrikam-pat","service":"https://dev.azure.com","origin":"git","stored_at":20},
        "northwind/alice@northwind.com":{"pat":"alice-pat","origin":"login","stored_at":30}},
        "tokens":{"k":"refresh-token"}}"#;
    std::fs::write(&path, legacy).expect("write");
    common::set_mode(&path, 0o600);
    let store = FileStore::new(path.clone());
    let contoso = Target::org("contoso").expect("org");
    let read_all = |store: &FileStore| {
        let get = |t: &Target| store.get(t).expect("get").map(|c| (c.pat.expose().to_owned(), c.meta));
        let (c, f) = (get(&contoso).expect("contoso"), get(&Target::org("fabrikam").expect("org")).expect("fabrikam"));
        assert_eq!((c.0.as_str(), c.1.stored_at, c.1.expires_at), ("contoso-pat", 10, Some(4_000_000_000)));
        assert_eq!(c.1.authorization_id.as_deref(), Some("a-1"));
        assert_eq!((f.0.as_str(), f.1.stored_at), ("fabrikam-pat", 20));
        let mut listed: Vec<String> = store.list().expect("list").into_iter().map(|(t, _)| t.store_key()).collect();
        listed.retain(|k| k != "wingtip");
        assert_eq!(listed, ["contoso", "fabrikam", "northwind/alice@northwind.com"]);
        assert_eq!(
            store.get_token("k").expect("token").map(|t| t.expose().to_owned()).as_deref(),
            Some("refresh-token")
        );
    };
    read_all(&store);
    assert!(!common::org_dir(&path).exists(), "a read moved nothing");
    // The first change moves every organization.
    put(&store, "wingtip", "wingtip-pat");
    let files = common::org_files(&path);
    assert_eq!(files.len(), 4, "{files:?}");
    #[cfg(unix)]
    for file in &files {
        assert_eq!(common::mode(file), 0o600, "{}", file.display());
    }
    read_all(&store);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_eq!(doc["organizations"], serde_json::json!({}), "{doc}");
    assert_eq!(doc["tokens"]["k"], "refresh-token");
    assert_eq!(common::store_text(&path).matches("contoso-pat").count(), 1, "a PAT kept twice");
    // A store moved already stays as it is: nothing left to move.
    assert!(store.delete(&contoso).expect("delete"));
    assert!(store.get(&contoso).expect("get").is_none());
    assert_eq!(common::org_files(&path).len(), 3);
}

/// Readers never miss an organization while a change moves the store file's organizations to
/// their own files: each file is written before the store file lets go of its entry, and a
/// reader that found neither looks at the organization's file once more.
#[test]
fn gets_during_the_move_always_find_every_organization() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let orgs: Vec<String> = (0..60).map(|i| format!("org{i:02}")).collect();
    let entries: Vec<String> =
        orgs.iter().map(|o| format!(r#""{o}":{{"pat":"{o}-pat","origin":"git","stored_at":1}}"#)).collect();
    let legacy = format!(r#"{{"version":1,"organizations":{{{}}}}}"#, entries.join(","));
    let store = Arc::new(FileStore::new(path.clone()));
    for round in 0..8 {
        let _ = std::fs::remove_dir_all(common::org_dir(&path));
        std::fs::write(&path, &legacy).expect("write");
        common::set_mode(&path, 0o600);
        let moving = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let readers: Vec<_> = (0..4)
            .map(|r| {
                let (store, orgs, moving) = (Arc::clone(&store), orgs.clone(), Arc::clone(&moving));
                std::thread::spawn(move || {
                    let mut reads = 0;
                    while moving.load(std::sync::atomic::Ordering::SeqCst) || reads < orgs.len() {
                        let org = &orgs[(reads * 7 + r * 13) % orgs.len()];
                        let got = store.get(&Target::org(org).expect("org")).expect("get");
                        assert_eq!(got.map(|c| c.pat), Some(Secret::new(format!("{org}-pat"))), "round {round}: {org}");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        put(&store, &format!("new{round}"), "new-pat");
        moving.store(false, std::sync::atomic::Ordering::SeqCst);
        for reader in readers {
            assert!(reader.join().expect("a reader missed an organization") >= orgs.len());
        }
        assert_eq!(common::org_files(&path).len(), orgs.len() + 1, "round {round}");
    }
}

/// An organization's file or directory that another user could have planted or could swap is
/// refused as the store file is (a link, a FIFO, a loose mode, another owner), and so is a file
/// that holds another organization's entry than its name says.
#[cfg(unix)]
#[test]
fn hostile_organization_files_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("credentials.json");
    let store = FileStore::new(path.clone());
    put(&store, "contoso", "contoso-pat");
    let own = common::org_files(&path).pop().expect("contoso's file");
    let contoso = Target::org("contoso").expect("org");
    let refused = |what: &str, expected: &str| {
        let err = store.get(&contoso).expect_err(what).to_string();
        assert!(err.contains(expected), "{what}: {err}");
        assert!(!err.contains("-pat"), "{what}: the error quotes a PAT: {err}");
    };
    // Another organization's entry under contoso's name (copied there).
    let elsewhere = tempfile::tempdir().expect("tmp");
    let other = FileStore::new(elsewhere.path().join("credentials.json"));
    put(&other, "fabrikam", "fabrikam-pat");
    let fabrikam_file = common::org_files(&elsewhere.path().join("credentials.json")).pop().expect("file");
    let original = std::fs::read(&own).expect("read");
    std::fs::copy(&fabrikam_file, &own).expect("copy");
    common::set_mode(&own, 0o600);
    refused("a copied file", "another organization's entry");
    assert!(store.list().is_err(), "list took a file whose name is not its organization's");
    // A link to a good file.
    std::fs::remove_file(&own).expect("rm");
    let good = dir.path().join("good.json");
    std::fs::write(&good, &original).expect("write");
    common::set_mode(&good, 0o600);
    std::os::unix::fs::symlink(&good, &own).expect("symlink");
    refused("a link", "symbolic link");
    // A FIFO: refused at once, never waited on.
    std::fs::remove_file(&own).expect("rm");
    assert!(std::process::Command::new("mkfifo").args(["-m", "600"]).arg(&own).status().expect("mkfifo").success());
    let started = std::time::Instant::now();
    refused("a FIFO", "not a regular file");
    assert!(started.elapsed() < std::time::Duration::from_secs(5) + crate::common::emulation_slack());
    std::fs::remove_file(&own).expect("rm");
    std::fs::write(&own, &original).expect("write");
    common::set_mode(&own, 0o600);
    assert_eq!(store.get(&contoso).expect("get").map(|c| c.pat), Some(Secret::new("contoso-pat")));
    // The directory: writable by others, or a link to another directory of the user's.
    let orgs = common::org_dir(&path);
    common::set_mode(&orgs, 0o777);
    refused("a loose directory", "writable by other users");
    assert!(store.put(&contoso, &Credential { pat: Secret::new("q"), meta: Metadata::default() }).is_err());
    common::set_mode(&orgs, 0o700);
    let moved = dir.path().join("moved.d");
    std::fs::rename(&orgs, &moved).expect("mv");
    std::os::unix::fs::symlink(&moved, &orgs).expect("symlink");
    refused("a linked directory", "symbolic link");
    std::fs::remove_file(&orgs).expect("rm");
    std::fs::rename(&moved, &orgs).expect("mv");
    if common::is_root() {
        std::os::unix::fs::chown(&own, Some(65534), None).expect("chown");
        refused("another user's file", "belongs to another user");
    }
}
