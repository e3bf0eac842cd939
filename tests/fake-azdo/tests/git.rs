//! Real `git clone`, `fetch` and `push` against the fake's smart-HTTP routes.

mod support;

use std::path::Path;

use fake_azdo::{FakeAzdo, Fault, Route, REALM, TENANT_ID};
use support::{basic, get, git_version, in_a_month, url_with_credentials, GitEnv, Run};

const ALICE: &str = "alice@contoso.example";
const REPO_PATH: &str = "/contoso/proj/_git/repo";

struct World {
    fake: FakeAzdo,
    env: GitEnv,
    bare: std::path::PathBuf,
}

fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    let bare = fake.add_repo("contoso", "proj", "repo");
    World { fake, env: GitEnv::new(), bare }
}

impl World {
    fn pat(&self, scopes: &[&str]) -> String {
        self.fake.add_pat("contoso", ALICE, scopes, in_a_month()).token
    }

    fn url(&self, secret: &str) -> String {
        url_with_credentials(&self.fake.url(), "user", secret, REPO_PATH)
    }

    fn clone(&self, url: &str, dir: &str) -> Run {
        self.env.git(None, &["clone", "--quiet", url, dir])
    }

    /// The commit `main` points to in the served bare repo.
    fn served_main(&self) -> String {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&self.bare)
            .args(["rev-parse", "refs/heads/main"])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("rev-parse");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

fn commit_file(env: &GitEnv, work: &Path, name: &str, content: &[u8]) -> String {
    std::fs::write(work.join(name), content).expect("write file");
    let run = env.git(Some(work), &["add", name]);
    assert!(run.ok, "{run:?}");
    let run = env.git(Some(work), &["commit", "--quiet", "-m", &format!("add {name}")]);
    assert!(run.ok, "{run:?}");
    env.git(Some(work), &["rev-parse", "HEAD"]).stdout.trim().to_string()
}

fn assert_auth_failed(run: &Run) {
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("Authentication failed"), "expected an authentication failure: {run:?}");
}

#[test]
fn clone_with_pat_in_url() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    let run = w.clone(&w.url(&pat), "work");
    assert!(run.ok, "{run:?}");
    let readme = std::fs::read_to_string(w.env.path("work").join("README.md")).expect("README");
    assert!(readme.starts_with("# repo"), "{readme}");
    let run = w.env.git(Some(&w.env.path("work")), &["rev-parse", "--abbrev-ref", "HEAD"]);
    assert_eq!(run.stdout.trim(), "main");
    assert!(w.fake.count(Route::Git) >= 2);
    assert_eq!(w.fake.count(Route::ConnectionData), 0);
}

#[test]
fn clone_url_names_compare_case_insensitively_and_user_is_ignored() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code_full"]);
    // (Not an empty user name: git then sends no password at all.)
    let url = url_with_credentials(&w.fake.url(), "whoever", &pat, "/CONTOSO/Proj/_git/REPO");
    let run = w.clone(&url, "work");
    assert!(run.ok, "{run:?}");
}

#[test]
fn revoked_or_expired_pat_fails_with_authentication_failed() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code_write"]);
    let run = w.clone(&w.url(&pat), "work");
    assert!(run.ok, "{run:?}");
    // State changes take effect for the next request.
    w.fake.revoke_pat(&pat);
    assert_auth_failed(&w.env.git(Some(&w.env.path("work")), &["fetch", "--quiet"]));
    assert_auth_failed(&w.clone(&w.url(&pat), "again"));

    let pat = w.pat(&["vso.code_write"]);
    w.fake.expire_pat(&pat);
    assert_auth_failed(&w.clone(&w.url(&pat), "expired"));
    assert_auth_failed(&w.clone(&w.url("not-a-pat"), "bad"));
    // A PAT of another org does not open this org's repos.
    let foreign = w.fake.add_pat("fabrikam", ALICE, &["vso.code"], in_a_month());
    assert_auth_failed(&w.clone(&w.url(&foreign.token), "foreign"));
}

#[test]
fn push_needs_code_write() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let reader = w.pat(&["vso.code"]);
    let writer = w.pat(&["vso.code_write"]);
    let before = w.served_main();
    let run = w.clone(&w.url(&reader), "work");
    assert!(run.ok, "{run:?}");
    let work = w.env.path("work");
    let new = commit_file(&w.env, &work, "hello.txt", b"hello\n");

    // A read-only PAT fetches but cannot push.
    let run = w.env.git(Some(&work), &["push", "--quiet", "origin", "main"]);
    assert_auth_failed(&run);
    assert_eq!(w.served_main(), before);

    let run = w.env.git(Some(&work), &["push", "--quiet", &w.url(&writer), "main"]);
    assert!(run.ok, "{run:?}");
    assert_eq!(w.served_main(), new);

    // Full access (`app_token`) pushes too.
    let full = w.pat(&["app_token"]);
    let newer = commit_file(&w.env, &work, "more.txt", b"more\n");
    let run = w.env.git(Some(&work), &["push", "--quiet", &w.url(&full), "main"]);
    assert!(run.ok, "{run:?}");
    assert_eq!(w.served_main(), newer);
}

/// Deterministic incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn large_push_with_chunked_request_body() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code_write"]);
    let run = w.clone(&w.url(&pat), "work");
    assert!(run.ok, "{run:?}");
    let work = w.env.path("work");
    // Over http.postBuffer (set small here, 1 MiB by default): git sends the pack chunked.
    let new = commit_file(&w.env, &work, "big.bin", &noise(3 << 20));
    let run = w.env.git(Some(&work), &["-c", "http.postBuffer=65536", "push", "--quiet", "origin", "main"]);
    assert!(run.ok, "{run:?}");
    assert_eq!(w.served_main(), new);
    // And it comes back intact.
    let run = w.clone(&w.url(&pat), "copy");
    assert!(run.ok, "{run:?}");
    let copy = std::fs::read(w.env.path("copy").join("big.bin")).expect("big.bin");
    assert!(copy == noise(3 << 20));
}

#[test]
fn unknown_repo_is_404_after_authentication() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    let url = url_with_credentials(&w.fake.url(), "u", &pat, "/contoso/proj/_git/nope");
    let run = w.clone(&url, "work");
    assert!(!run.ok);
    assert!(run.stderr.contains("not found"), "{run:?}");
    // Without credentials the challenge comes first.
    let r = get(&w.fake.url(), "/contoso/proj/_git/nope/info/refs?service=git-upload-pack", &[]);
    assert_eq!(r.status, 401);
    let r = get(
        &w.fake.url(),
        "/contoso/proj/_git/nope/info/refs?service=git-upload-pack",
        &[("Authorization", &basic("", &pat))],
    );
    assert_eq!(r.status, 404);
    assert!(r.text().contains("TF401019"));
}

#[test]
fn info_refs_challenges_like_azure_devops() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let path = "/contoso/proj/_git/repo/info/refs?service=git-upload-pack";
    let r = get(&w.fake.url(), path, &[]);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.all("WWW-Authenticate"),
        vec![
            format!("Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}"),
            format!("Basic realm=\"{REALM}\""),
            "TFS-Federated".to_string(),
        ]
    );
    assert_eq!(r.header("X-VSS-ResourceTenant"), Some(TENANT_ID));
    let r = get(&w.fake.url(), path, &[("Authorization", &basic("", "bad"))]);
    assert_eq!(r.status, 401);
    assert_eq!(r.all("WWW-Authenticate"), vec![format!("Basic realm=\"{REALM}\"")]);

    let pat = w.pat(&["vso.code"]);
    let r = get(&w.fake.url(), path, &[("Authorization", &basic("", &pat))]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/x-git-upload-pack-advertisement"));
    assert!(r.text().starts_with("001e# service=git-upload-pack\n"));
    assert!(r.header("X-VSS-UserData").is_some_and(|v| v.ends_with(ALICE)));
    assert!(r.header("ActivityId").is_some());
    // A read-only PAT is refused the push advertisement.
    let r = get(
        &w.fake.url(),
        "/contoso/proj/_git/repo/info/refs?service=git-receive-pack",
        &[("Authorization", &basic("", &pat))],
    );
    assert_eq!(r.status, 401);
}

#[test]
fn git_asks_the_credential_helper_after_the_challenge() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    let capture = w.env.path("helper-input");
    // A helper that records what git sends it and answers with the PAT.
    let helper = "!f() { test \"$1\" = get || exit 0; cat > \"$FAKE_HELPER_CAPTURE\"; \
                  echo username=alice; echo \"password=$FAKE_HELPER_PAT\"; }; f";
    let url = format!("{}{REPO_PATH}", w.fake.url());
    let out = w
        .env
        .command(w.env.dir.path())
        .args(["-c", &format!("credential.helper={helper}")])
        .args(["-c", "credential.useHttpPath=true"])
        .args(["clone", "--quiet", &url, "work"])
        .env("FAKE_HELPER_CAPTURE", &capture)
        .env("FAKE_HELPER_PAT", &pat)
        .output()
        .expect("git clone");
    let run = Run::from(out);
    assert!(run.ok, "{run:?}");
    let input = std::fs::read_to_string(&capture).expect("helper input");
    assert!(input.contains("protocol=http\n"), "{input}");
    assert!(input.contains("path=contoso/proj/_git/repo"), "{input}");
    // git >= 2.41 forwards the WWW-Authenticate lines to the helper.
    if git_version() >= (2, 41) {
        assert!(
            input.contains(&format!(
                "wwwauth[]=Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}\n"
            )),
            "{input}"
        );
        assert!(input.contains("wwwauth[]=TFS-Federated\n"), "{input}");
    }
}

#[test]
fn without_credentials_git_fails() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let url = format!("{}{REPO_PATH}", w.fake.url());
    let run = w.clone(&url, "work");
    assert!(!run.ok);
    assert!(run.stderr.contains("could not read Username") || run.stderr.contains("Authentication failed"), "{run:?}");
}

#[test]
fn public_org_repos_fetch_anonymously_but_push_needs_a_pat() {
    if !support::has_git() {
        return;
    }
    let w = world();
    w.fake.set_public("contoso", true);
    let url = format!("{}{REPO_PATH}", w.fake.url());
    let run = w.clone(&url, "work");
    assert!(run.ok, "{run:?}");
    let work = w.env.path("work");
    commit_file(&w.env, &work, "x.txt", b"x\n");
    let run = w.env.git(Some(&work), &["push", "--quiet", "origin", "main"]);
    assert!(!run.ok, "{run:?}");
}

#[test]
fn git_faults() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    let url = w.url(&pat);

    w.fake.set_git_fault(Fault::Throttle { retry_after_secs: 5 });
    let run = w.clone(&url, "throttled");
    assert!(!run.ok);
    assert!(run.stderr.contains("429"), "{run:?}");
    let r = get(&w.fake.url(), "/contoso/proj/_git/repo/info/refs?service=git-upload-pack", &[]);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("5"));

    w.fake.set_git_fault(Fault::Status(503));
    let run = w.clone(&url, "stopped");
    assert!(!run.ok);
    assert!(run.stderr.contains("503"), "{run:?}");

    w.fake.set_git_fault(Fault::Drop);
    let run = w.clone(&url, "dropped");
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("Empty reply") || run.stderr.contains("reset"), "{run:?}");

    w.fake.set_git_fault(Fault::Garbage);
    let run = w.clone(&url, "garbage");
    assert!(!run.ok, "{run:?}");

    w.fake.set_git_fault(Fault::Latency(std::time::Duration::from_millis(50)));
    let run = w.clone(&url, "slow");
    assert!(run.ok, "{run:?}");

    // API faults leave git alone.
    w.fake.set_git_fault(Fault::None);
    w.fake.set_fault(Fault::Drop);
    let run = w.clone(&url, "fine");
    assert!(run.ok, "{run:?}");
}

#[test]
fn git_requests_are_counted() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    w.fake.reset_counts();
    let run = w.clone(&w.url(&pat), "work");
    assert!(run.ok, "{run:?}");
    let git = w.fake.count(Route::Git);
    // At least info/refs and one upload-pack POST (plus 401 probes).
    assert!(git >= 2, "{git}");
    assert_eq!(w.fake.count(Route::ConnectionData), 0);
    assert_eq!(w.fake.count(Route::Challenge), 0);
    w.fake.reset_counts();
    assert_eq!(w.fake.count(Route::Git), 0);
}

#[test]
fn post_with_expect_continue_and_unauthenticated_post() {
    if !support::has_git() {
        return;
    }
    let w = world();
    let pat = w.pat(&["vso.code"]);
    let host = w.fake.url();
    // A v0 upload-pack request with no wants: just a flush packet.
    let req = format!(
        "POST /contoso/proj/_git/repo/git-upload-pack HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
         Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 4\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n0000",
        basic("", &pat)
    );
    let bytes = support::raw(&host, req.as_bytes()).expect("raw");
    let (cont, used) = support::parse_reply_at(&bytes, true).expect("100");
    assert_eq!(cont.status, 100);
    let (r, _) = support::parse_reply_at(&bytes[used..], false).expect("final");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/x-git-upload-pack-result"));
    // Refused before the body is read: 401, and the connection closes.
    let req = "POST /contoso/proj/_git/repo/git-upload-pack HTTP/1.1\r\nHost: x\r\n\
               Content-Type: application/x-git-upload-pack-request\r\nContent-Length: 4\r\n\
               Expect: 100-continue\r\n\r\n";
    let bytes = support::raw(&host, req.as_bytes()).expect("raw");
    let r = support::parse_reply(&bytes, false).expect("401");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("Connection"), Some("close"));
}
