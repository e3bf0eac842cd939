//! The front binary on Linux (src/front.rs): `git-credential-azdo` serves what is at hand itself
//! (a hot `get`, a `store`, a request for another host) and runs `git-credential-azdo-full`,
//! installed beside it, for everything else, handing on the request it read. Every other test
//! runs the pair; these hold what is the front's alone: what it serves without the full program,
//! that the full program gets git's request whole, and the one line it says when that program is
//! missing.

use std::path::{Path, PathBuf};

use crate::common::{self, Run, TestEnv};
use fake_azdo::{FakeAzdo, Route};

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n\n";

/// The front alone in a directory of the world: no full program beside it.
fn front_alone(env: &TestEnv) -> PathBuf {
    let dir = env.root.path().join("front-alone");
    std::fs::create_dir_all(&dir).expect("create the directory");
    link_in(Path::new(common::bin()), &dir.join("git-credential-azdo"))
}

/// `file` as `at` (a hard link where the file system allows, else a copy), mode 0755. A link is
/// never open for writing, so no other test's fork can hold it busy (ETXTBSY) when it is run.
fn link_in(file: &Path, at: &Path) -> PathBuf {
    if std::fs::hard_link(file, at).is_err() {
        std::fs::copy(file, at).expect("copy the program");
    }
    common::set_mode(at, 0o755);
    at.to_path_buf()
}

fn run(env: &TestEnv, program: &Path, args: &[&str], stdin: &[u8]) -> Run {
    common::run_with_input(env.command(program).args(args), stdin)
}

#[test]
fn the_front_alone_serves_a_store_a_hot_get_and_other_hosts() {
    let env = TestEnv::new();
    let front = front_alone(&env);
    let store =
        b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\nusername=contoso\npassword=pat-123\n\n";
    let stored = run(&env, &front, &["store"], store);
    assert_eq!((stored.status, stored.stdout.as_str(), stored.stderr.as_str()), (0, "", ""), "{stored:?}");
    let got = run(&env, &front, &["get"], CONTOSO);
    assert_eq!(
        (got.status, got.stdout.as_str(), got.stderr.as_str()),
        (0, "username=contoso\npassword=pat-123\n", ""),
        "{got:?}"
    );
    // The full program, run by itself, reads what the front stored.
    let full = common::full_beside(Path::new(common::bin()));
    assert_eq!(run(&env, &full, &["get"], CONTOSO).stdout, "username=contoso\npassword=pat-123\n");
    let other = run(&env, &front, &["get"], b"protocol=https\nhost=example.com\n\n");
    assert_eq!((other.status, other.stdout.as_str(), other.stderr.as_str()), (0, "", ""), "{other:?}");
}

#[test]
fn without_the_full_program_everything_else_fails_in_one_line_naming_it() {
    let mut env = TestEnv::new();
    env.login("contoso", "pat-123");
    let front = front_alone(&env);
    let cases: [(&[&str], &[u8]); 5] = [
        // Nothing stored for this organization: more than what is at hand.
        (&["get"], b"protocol=https\nhost=dev.azure.com\npath=fabrikam/proj/_git/repo\n\n"),
        (&["erase"], CONTOSO),
        (&["capability"], b""),
        (&["status"], b""),
        (&["--version"], b""),
    ];
    for (args, stdin) in cases {
        let r = run(&env, &front, args, stdin);
        assert_eq!((r.status, r.stdout.as_str()), (1, ""), "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {r:?}");
        assert!(r.stderr.contains("git-credential-azdo-full"), "{args:?}: {r:?}");
    }
    // Tracing asked for: the full program serves the run, even a hot get.
    env.set("GIT_CREDENTIAL_AZDO_TRACE", "1");
    let traced = run(&env, &front, &["get"], CONTOSO);
    assert_eq!((traced.status, traced.stdout.as_str()), (1, ""), "{traced:?}");
    assert!(traced.stderr.contains("git-credential-azdo-full"), "{traced:?}");
    // Tracing set off is no tracing: the front answers.
    env.set("GIT_CREDENTIAL_AZDO_TRACE", "0");
    let untraced = run(&env, &front, &["get"], CONTOSO);
    assert_eq!(
        (untraced.status, untraced.stdout.as_str()),
        (0, "username=contoso\npassword=pat-123\n"),
        "{untraced:?}"
    );
    // Nothing was lost: the stored PAT is still there for the pair.
    env.unset("GIT_CREDENTIAL_AZDO_TRACE");
    assert_eq!(env.helper(&["get"], CONTOSO).stdout, "username=contoso\npassword=pat-123\n");
}

#[test]
fn a_deferred_get_hands_the_full_program_the_whole_request() {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    let pat = fake
        .add_pat(
            "contoso",
            "alice@contoso.example",
            &["vso.code_write"],
            common::bounded::now() + common::bounded::YEAR,
        )
        .token;
    env.login("contoso", &pat);
    // A check on every get: the front cannot answer, the full program checks and answers.
    env.set("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0");
    fake.reset_counts();
    let host = fake.url().trim_start_matches("http://").to_owned();
    // Larger than a pipe's buffer, and what the answer depends on comes last.
    let mut request = format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n");
    for i in 0..12 {
        request.push_str(&format!("wwwauth[]=Basic realm=\"{i}{}\"\n", "r".repeat(7000)));
    }
    request.push_str("username=carol\n\n");
    assert!(request.len() > 80_000);
    let got = env.helper(&["get"], request.as_bytes());
    assert_eq!(got.status, 0, "{got:?}");
    assert_eq!(got.stdout, format!("username=carol\npassword={pat}\n"), "{got:?}");
    assert_eq!(fake.count(Route::ConnectionData), 1, "the full program checks the PAT");
    // `erase` goes to the full program with its request: the PAT is gone.
    let erased = env.helper(
        &["erase"],
        format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\nusername=carol\npassword={pat}\n\n")
            .as_bytes(),
    );
    assert_eq!((erased.status, erased.stdout.as_str()), (0, ""), "{erased:?}");
    assert_eq!(
        env.helper(&["get"], format!("protocol=http\nhost={host}\npath=contoso/proj/_git/repo\n\n").as_bytes()).stdout,
        ""
    );
}

#[test]
fn a_full_program_that_is_a_link_the_front_itself_or_writable_by_others_is_not_run() {
    let env = TestEnv::new();
    let front = front_alone(&env);
    let full = front.with_file_name("git-credential-azdo-full");
    let refused = |why: &str| {
        let r = run(&env, &front, &["--version"], b"");
        assert_eq!((r.status, r.stdout.as_str()), (1, ""), "{why}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{why}: {r:?}");
        assert!(r.stderr.contains("git-credential-azdo-full") && r.stderr.contains(why), "{why}: {r:?}");
    };
    // A link (here to the real full program) is not followed.
    std::os::unix::fs::symlink(common::full_beside(Path::new(common::bin())), &full).expect("symlink");
    refused("not a regular file");
    std::fs::remove_file(&full).expect("remove");
    // The front itself under the full program's name would run itself forever.
    link_in(&front, &full);
    refused("this program itself");
    std::fs::remove_file(&full).expect("remove");
    // Writable by others: anyone could have changed it. A copy of its own (a link would change the
    // real one's mode), written by `cp`: no fork of another test thread can inherit it open.
    let copied = std::process::Command::new("cp")
        .arg(common::full_beside(Path::new(common::bin())))
        .arg(&full)
        .status()
        .expect("run cp");
    assert!(copied.success());
    common::set_mode(&full, 0o775);
    refused("writable by others");
    // As installed, it runs.
    common::set_mode(&full, 0o755);
    let runs = || {
        let r = run(&env, &front, &["--version"], b"");
        assert_eq!(r.status, 0, "{r:?}");
        assert!(r.stdout.starts_with("git-credential-azdo "), "{r:?}");
    };
    runs();
    // In a directory others may write to, someone could swap it between the check and the run;
    // in a sticky one (as /tmp) no one else can.
    let dir = front.parent().expect("directory");
    common::set_mode(dir, 0o777);
    refused("its directory is writable by others");
    common::set_mode(dir, 0o1777);
    runs();
    common::set_mode(dir, 0o755);
}
