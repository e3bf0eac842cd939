//! Files planted where the helper reads, end to end (issue 18, items 4 and 5): a FIFO as the
//! config cache or as the file store's file must neither hang `get` nor be used, and the
//! workload federation's assertion file (`file://`) must be a regular file of this user or root
//! that others cannot write, no larger than 64 KiB (a FIFO, `/dev/zero`, an oversized file, a
//! group-writable file and another user's link are refused with one line and `quit=1`). Every
//! helper run here is bounded in time (tests/common/bounded.rs): a hang fails the test instead
//! of hanging it.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;
use crate::common::bounded::{assert_no_panic, helper_bounded, LIMIT};
use crate::common::{Run, TestEnv};
use fake_azdo::{FakeAzdo, EXCHANGE_AUDIENCE, TENANT_ID};

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n\n";

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
    let made = Command::new("mkfifo").args(["-m", "600"]).arg(path).status().expect("mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

/// Item 5: a FIFO planted as the config cache file is refused at once (the open does not wait
/// for a writer) and git config is read instead.
#[test]
fn a_fifo_as_the_config_cache_neither_hangs_get_nor_is_used() {
    let mut env = TestEnv::new();
    env.set("XDG_CACHE_HOME", env.home.join(".cache"));
    env.login("contoso", "pat-1");
    let cache_dir = env.home.join(".cache/git-credential-azdo");
    std::fs::create_dir_all(&cache_dir).expect("dir");
    common::set_mode(&cache_dir, 0o700);
    // git config says no prompts: an answer from the store shows the settings were read.
    assert_eq!(env.git(&["config", "--global", "azdo.interactive", "false"], b"").status, 0);
    let cache = cache_dir.join("config-cache.json");
    let _ = std::fs::remove_file(&cache);
    mkfifo(&cache);
    let (run, took) = helper_bounded(&env, &["get"], CONTOSO, LIMIT);
    assert_no_panic(&run, "get with a FIFO as the config cache");
    assert_eq!((run.status, run.stdout.as_str()), (0, "username=contoso\npassword=pat-1\n"), "{run:?}");
    assert!(took < LIMIT / 2, "took {took:?}");
}

/// Item 5: a FIFO planted as the file store's file is refused at once with one line; nothing
/// is answered from it.
#[test]
fn a_fifo_as_the_store_file_neither_hangs_get_nor_is_used() {
    let env = TestEnv::new();
    let store = env.store_file();
    std::fs::create_dir_all(store.parent().expect("dir")).expect("dir");
    common::set_mode(store.parent().expect("dir"), 0o700);
    mkfifo(&store);
    let (run, took) = helper_bounded(&env, &["get"], CONTOSO, LIMIT);
    assert_no_panic(&run, "get with a FIFO as the store file");
    assert!(!run.stdout.contains("password="), "{run:?}");
    assert!(run.stderr.contains("not a regular file"), "{run:?}");
    assert!(took < LIMIT / 2, "took {took:?}");
    // `store` refuses it the same way, and leaves it as it is.
    let (run, _) = helper_bounded(
        &env,
        &["store"],
        b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\nusername=contoso\npassword=pat-2\n\n",
        LIMIT,
    );
    assert_no_panic(&run, "store with a FIFO as the store file");
    assert!(run.stderr.contains("not a regular file"), "{run:?}");
    assert!(std::fs::symlink_metadata(&store).expect("still there").file_type().is_fifo());
}

struct World {
    fake: FakeAzdo,
    env: TestEnv,
    /// A valid assertion for the federated app.
    token: String,
}

/// A fake with `contoso/proj/repo` and an app federated with an issuer's subject, added to
/// contoso; the helper set to generic federation as that app.
fn federated() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "repo");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_IMDS_URL", fake.url());
    let (issuer, subject) = ("https://oidc.aks.example/cluster/", "system:serviceaccount:ci:builder");
    let app = fake.add_service_principal("federated-app");
    fake.add_federated_credential(&app.client_id, issuer, subject, EXCHANGE_AUDIENCE);
    fake.add_principal_to_org("contoso", &app.client_id);
    env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "generic");
    env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", &app.client_id);
    env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", TENANT_ID);
    let token = fake.issue_external_token(issuer, subject, EXCHANGE_AUDIENCE, 3600);
    World { fake, env, token }
}

impl World {
    /// `get` (with `capability[]=authtype`) with the assertion file `path`, bounded.
    fn get_with(&mut self, path: &Path) -> Run {
        self.env.set("GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", format!("file://{}", path.display()));
        let input = format!(
            "capability[]=authtype\nprotocol=http\nhost={}\npath=contoso/proj/_git/repo\n\n",
            self.fake.url().trim_start_matches("http://")
        );
        let (run, took) = helper_bounded(&self.env, &["get"], input.as_bytes(), LIMIT);
        assert_no_panic(&run, &path.display().to_string());
        assert!(took < LIMIT / 2, "{}: took {took:?}", path.display());
        run
    }

    fn token_file(&self, name: &str, mode: u32) -> PathBuf {
        let path = self.env.root.path().join(name);
        std::fs::write(&path, format!("{}\n", self.token)).expect("token");
        common::set_mode(&path, mode);
        path
    }

    /// The assertion file `path` is refused: one line naming `why`, `quit=1`, nothing sent.
    fn refused(&mut self, path: &Path, why: &str) {
        let before = self.fake.issued_entra_tokens().len();
        let run = self.get_with(path);
        assert_eq!((run.status, run.stdout.as_str()), (1, "quit=1\n"), "{}: {run:?}", path.display());
        assert_eq!(run.stderr.lines().count(), 1, "one line: {run:?}");
        assert!(run.stderr.contains(why), "{}: expected '{why}': {run:?}", path.display());
        assert!(!run.stderr.contains(&self.token), "{run:?}");
        assert_eq!(self.fake.issued_entra_tokens().len(), before, "{}: a token was issued", path.display());
    }
}

/// Item 4: the assertion file is read only when it is a regular file of this user or root that
/// only its owner can write, at most 64 KiB; a root-owned 0644 file (as a platform mounts one)
/// and a link of this user's or root's to one (as Kubernetes projects one) keep working.
#[test]
fn the_assertion_file_must_be_a_small_regular_file_only_its_owner_can_write() {
    let mut w = federated();
    let good = w.token_file("token", 0o644);
    let run = w.get_with(&good);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(run.stdout.contains("authtype=Bearer\n"), "{run:?}");
    let link = w.env.root.path().join("linked-token");
    std::os::unix::fs::symlink(&good, &link).expect("symlink");
    let run = w.get_with(&link);
    assert!(run.stdout.contains("authtype=Bearer\n"), "a link of this user's own is followed: {run:?}");

    // A FIFO with no writer: no hang, one line, quit=1.
    let fifo = w.env.root.path().join("token-fifo");
    mkfifo(&fifo);
    w.refused(&fifo, "not a regular file");
    // A device that never ends.
    w.refused(Path::new("/dev/zero"), "not a regular file");
    // More than a JWT could be.
    let big = w.env.root.path().join("big-token");
    std::fs::write(&big, "a".repeat(64 * 1024 + 1)).expect("write");
    common::set_mode(&big, 0o644);
    w.refused(&big, "larger than 65536 bytes");
    // Writable by the group or by others.
    w.refused(&w.token_file("group-writable", 0o664), "writable by other users");
    w.refused(&w.token_file("world-writable", 0o646), "writable by other users");
    // A link to a FIFO or a device is checked as what it names.
    let to_fifo = w.env.root.path().join("to-fifo");
    std::os::unix::fs::symlink(&fifo, &to_fifo).expect("symlink");
    w.refused(&to_fifo, "not a regular file");

    // Another user's file or link (only root can give one away).
    if !common::is_root() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "under CI this test runs as root");
        eprintln!("SKIPPED: the other-user cases need root to give a file away");
        return;
    }
    let theirs = w.token_file("their-token", 0o644);
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).expect("chown");
    w.refused(&theirs, "belongs to another user (uid 65534)");
    let their_link = w.env.root.path().join("their-link");
    std::os::unix::fs::symlink(&good, &their_link).expect("symlink");
    std::os::unix::fs::lchown(&their_link, Some(65534), Some(65534)).expect("lchown");
    w.refused(&their_link, "belongs to another user (uid 65534)");
}
