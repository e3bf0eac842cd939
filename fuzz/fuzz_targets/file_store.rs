//! The file store (`store::FileStore`) reading any file: a clean error or valid entries, never a
//! panic; an error never quotes the file (checked with the marker put in every JSON string of
//! it) and is printable; a file that cannot be read is refused by writes too and left exactly as
//! it was. Input: the file's content.
#![no_main]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use git_credential_azdo::org::{ServiceUrl, Target};
use git_credential_azdo::secret::Secret;
use git_credential_azdo::store::{FileStore, Metadata, Store, TokenStore};
use git_credential_azdo_fuzz::{assert_no_marker, assert_printable, holds_marker, mark_every_json_string};
use libfuzzer_sys::fuzz_target;

/// A private directory for one input (statics are never dropped: one for the whole run would be
/// left behind), in memory where there is a tmpfs (three times the executions).
fn private_dir() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).expect("temporary directory")
}

fn write(dir: &Path, content: &[u8]) -> PathBuf {
    let path = dir.join("credentials.json");
    std::fs::write(&path, content).expect("write the file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn check_error(e: &dyn std::error::Error, path: &Path) {
    let msg = e.to_string();
    assert_printable("a store error", &msg);
    // The path is the test's own: what is left must not quote the file.
    assert_no_marker("a store error", &msg.replace(&path.display().to_string(), ""));
}

/// Read `content` through every reading call; returns whether it was readable.
fn check(dir: &Path, content: &[u8]) -> bool {
    let path = write(dir, content);
    let store = FileStore::new(path.clone()).for_origin(ServiceUrl::default());
    let contoso = Target::org("contoso").expect("org");
    let readable = match store.list() {
        Ok(list) => {
            for (target, _meta) in &list {
                assert_eq!(Target::from_key(&target.store_key(), &ServiceUrl::default()).as_ref(), Ok(target));
            }
            true
        }
        Err(e) => {
            check_error(&e, &path);
            false
        }
    };
    // A lookup builds only its own entry: a file list can read, get can read too (get may also
    // read past another organization's broken entry, which list and every write refuse).
    let got = store.get(&contoso);
    if readable {
        assert!(got.is_ok(), "list reads the file but get does not");
    }
    if let Err(e) = got {
        check_error(&e, &path);
    }
    if let Err(e) = store.get_token("refresh-token:x") {
        check_error(&e, &path);
    }
    if !readable {
        // Writes read first: they refuse a file they cannot read, and never replace it.
        let meta = Metadata { stored_at: 1, ..Metadata::default() };
        let err = store.set_metadata(&contoso, &meta).expect_err("a write to an unreadable file");
        check_error(&err, &path);
        assert!(store.delete_if(&contoso, &Secret::new("x")).is_err());
        assert_eq!(std::fs::read(&path).expect("read back"), content, "an unreadable file was changed");
    }
    readable
}

fuzz_target!(|data: &[u8]| {
    let dir = private_dir();
    check(dir.path(), data);
    if !holds_marker(data) {
        check(dir.path(), &mark_every_json_string(data));
    }
});
