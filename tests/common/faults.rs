//! What the fault tests (tests/faults_*.rs) share: `get`/`store` requests for an organization on
//! dev.azure.com, the checks every store file must pass, and the race of an `erase` of the old
//! PAT against a `store` of the new one, which runs on both stores. Every helper run is bounded
//! ([`super::bounded`]).

use std::path::Path;
use std::sync::Barrier;

use super::bounded::{assert_no_panic, helper_bounded, LIMIT};
use super::{Run, TestEnv};

pub fn request(org: &str, extra: &str) -> Vec<u8> {
    format!("protocol=https\nhost=dev.azure.com\npath={org}/proj/_git/repo\n{extra}\n").into_bytes()
}

pub fn store_request(org: &str, pat: &str) -> Vec<u8> {
    request(org, &format!("username={org}\npassword={pat}\n"))
}

pub fn store_ok(env: &TestEnv, org: &str, pat: &str) {
    let (run, _) = helper_bounded(env, &["store"], &store_request(org, pat), LIMIT);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "store {org}: {run:?}");
}

/// The PAT in a `get` answer, if any.
pub fn answered(run: &Run) -> Option<String> {
    run.stdout.lines().find_map(|l| l.strip_prefix("password=")).map(str::to_owned)
}

/// The file store as one JSON document (`version`, `organizations` by key, `tokens`), from the
/// store file and the organizations' own files beside it (`<store file>.d/`, one per
/// organization), each checked the way it must always be: a regular 0600 file that parses as the
/// store's JSON, in a 0700 directory.
pub fn read_store(path: &Path) -> serde_json::Value {
    let dir = super::org_dir(path);
    assert!(path.exists() || dir.exists(), "the store must exist: {}", path.display());
    let mut doc = match path.exists() {
        true => read_private_json(path),
        false => serde_json::json!({"version": 1}),
    };
    if doc.get("organizations").is_none() {
        doc["organizations"] = serde_json::json!({});
    }
    if dir.exists() {
        #[cfg(unix)]
        assert_eq!(super::mode(&dir), 0o700, "organization directory mode");
        for file in super::org_files(path) {
            let mut entry = read_private_json(&file);
            let key = entry["key"].as_str().expect("an organization's file names its key").to_owned();
            let fields = entry.as_object_mut().expect("object");
            fields.remove("key");
            fields.remove("version");
            doc["organizations"][key] = entry;
        }
    }
    doc
}

fn read_private_json(path: &Path) -> serde_json::Value {
    let meta = std::fs::symlink_metadata(path).expect("the store file must exist");
    assert!(meta.file_type().is_file(), "{} is not a regular file", path.display());
    #[cfg(unix)]
    assert_eq!(super::mode(path), 0o600, "store file mode");
    let bytes = std::fs::read(path).expect("read store");
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("torn store file ({e}): {}", String::from_utf8_lossy(&bytes)));
    assert_eq!(doc["version"], 1, "{doc}");
    doc
}

/// Temporary files of writers (`.tmp-…`) left beside the store and among the organizations'
/// files; each must be private.
pub fn temp_files(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for dir in [dir.to_owned(), super::org_dir(&dir.join("credentials.json"))] {
        let Ok(listing) = std::fs::read_dir(&dir) else { continue };
        for entry in listing {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                #[cfg(unix)]
                assert_eq!(super::mode(&entry.path()), 0o600, "temp file {name} is not private");
                names.push(name);
            }
        }
    }
    names
}

/// git erasing the PAT it saw refused while another git process stores the new one (git calls
/// `erase` with the refused PAT): the erase must never take the new PAT with it, and the store
/// must succeed. A race, so it is run a few rounds; the first loss fails the test.
pub fn an_erase_of_the_old_pat_never_takes_the_new_one(env: &TestEnv, rounds: usize) {
    for round in 0..rounds {
        let old = format!("old-{round}-pat-of-contoso");
        let new = format!("new-{round}-pat-of-contoso");
        store_ok(env, "contoso", &old);
        let barrier = Barrier::new(2);
        let (stored, erased) = std::thread::scope(|s| {
            let run = |verb: &'static str, pat: &str| {
                let (barrier, input) = (&barrier, store_request("contoso", pat));
                s.spawn(move || {
                    barrier.wait();
                    helper_bounded(env, &[verb], &input, LIMIT).0
                })
            };
            let (a, b) = (run("store", &new), run("erase", &old));
            (a.join().expect("store"), b.join().expect("erase"))
        });
        assert_no_panic(&erased, "erase");
        assert_eq!(
            (stored.status, stored.stderr.as_str()),
            (0, ""),
            "round {round}: the store of the new PAT failed: {stored:?}"
        );
        let (run, _) = helper_bounded(env, &["get"], &request("contoso", ""), LIMIT);
        let (list, _) = helper_bounded(env, &["list"], b"", LIMIT);
        assert_eq!(
            answered(&run).as_deref(),
            Some(new.as_str()),
            "round {round}: erase(old) racing store(new) lost the new PAT: get {run:?}, erase {erased:?}, list {list:?}"
        );
    }
}
