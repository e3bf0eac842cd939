//! Several accounts in one organization: a URL user name with '@', `azdo.account` and Git
//! Credential Manager's binding key name the account; credentials are kept per (org, account);
//! a sign-in for another user is refused. End to end with real git against the fake.

use crate::common;
use crate::common::{Run, TestEnv};
use fake_azdo::{FakeAzdo, Route};

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";

struct World {
    fake: FakeAzdo,
    env: TestEnv,
}

/// A fake with two repositories in `contoso`, the helper minting through the scripted browser
/// (tests/common/browser.rs: it loads the authorize page and posts its form to the loopback listener).
fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_repo("contoso", "proj", "one");
    fake.add_repo("contoso", "proj", "two");
    let mut env = TestEnv::new();
    env.use_fake(&fake);
    env.set("GIT_CREDENTIAL_AZDO_MINT", "auto");
    env.unset("GIT_TERMINAL_PROMPT");
    let silent = common::silent_askpass(&env);
    env.set("GIT_ASKPASS", silent);
    let (browser, _) = common::browser::scripted(&env, "python3", "");
    env.set("BROWSER", browser);
    env.set("GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "20");
    World { fake, env }
}

impl World {
    /// The repository's URL, with `user` (percent-encoded) as the URL's user name.
    fn url(&self, repo: &str, user: Option<&str>) -> String {
        let url = self.fake.repo_url("contoso", "proj", repo);
        match user {
            Some(u) => url.replacen("://", &format!("://{}@", u.replace('@', "%40")), 1),
            None => url,
        }
    }

    fn clone(&self, url: &str, into: &str) -> Run {
        self.env.git(&["clone", "-q", url, &self.env.home.join(into).to_string_lossy()], b"")
    }

    fn stored(&self) -> serde_json::Value {
        common::store_doc(&self.env.store_file())
    }

    fn stored_pat(&self, key: &str) -> Option<String> {
        self.stored()["organizations"][key]["pat"].as_str().map(str::to_owned)
    }
}

#[test]
fn two_accounts_in_one_org_serve_two_repositories_each_with_its_own_pat() {
    let w = world();
    w.fake.approve_browser_sign_in_as_hinted();
    let run = w.clone(&w.url("one", Some(ALICE)), "one");
    assert_eq!(run.status, 0, "{run:?}");
    let run = w.clone(&w.url("two", Some(BOB)), "two");
    assert_eq!(run.status, 0, "{run:?}");
    let hints: Vec<Option<String>> = w.fake.authorize_requests().into_iter().map(|a| a.login_hint).collect();
    assert_eq!(hints, [Some(ALICE.to_owned()), Some(BOB.to_owned())]);
    assert!(w.fake.authorize_requests().iter().all(|a| a.prompt.is_none()), "no account picker with a hint");
    let minted = w.fake.minted("contoso");
    assert_eq!(minted.iter().map(|p| p.upn.as_str()).collect::<Vec<_>>(), [ALICE, BOB]);
    assert_eq!(w.stored_pat(&format!("contoso/{ALICE}")).as_deref(), Some(minted[0].token.as_str()));
    assert_eq!(w.stored_pat(&format!("contoso/{BOB}")).as_deref(), Some(minted[1].token.as_str()));
    assert!(w.stored_pat("contoso").is_none(), "no org-wide PAT");
    // Each repository goes on with its own account's PAT, silently.
    for (repo, user) in [("one", ALICE), ("two", BOB)] {
        let dir = w.env.home.join(repo);
        let run = w.env.git(&["-C", &dir.to_string_lossy(), "fetch", "-q"], b"");
        assert_eq!(run.status, 0, "{user}: {run:?}");
    }
    assert_eq!(w.fake.count(Route::PatCreate), 2, "no further mint");
    // The answer's user name is the URL's.
    let fill = w.env.fill(&w.url("one", Some(ALICE)));
    assert!(fill.stdout.contains(&format!("password={}", minted[0].token)), "{fill:?}");
    // list names the account; logout --account forgets only that one.
    let list = w.env.helper(&["list"], b"");
    assert!(
        list.stdout.contains(&format!("contoso ({ALICE})")) && list.stdout.contains(&format!("contoso ({BOB})")),
        "{list:?}"
    );
    let status = w.env.helper(&["status", "contoso", "--account", BOB], b"");
    assert!(status.stdout.contains(&format!("contoso ({BOB})")), "{status:?}");
    assert_eq!(w.env.helper(&["logout", "contoso", "--account", ALICE], b"").status, 0);
    assert!(w.stored_pat(&format!("contoso/{ALICE}")).is_none());
    assert!(w.stored_pat(&format!("contoso/{BOB}")).is_some());
    assert_ne!(w.env.helper(&["logout", "contoso"], b"").status, 0, "no org-wide PAT to remove");
}

#[test]
fn a_sign_in_for_another_user_is_refused_and_nothing_is_kept() {
    let w = world();
    w.fake.approve_browser_sign_in("mallory@contoso.example");
    let run = w.clone(&w.url("one", Some(ALICE)), "one");
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains(&format!("the sign-in was for mallory@contoso.example, not {ALICE}")), "{run:?}");
    assert_eq!(w.fake.count(Route::PatCreate), 0, "nothing minted");
    let doc = w.stored();
    assert!(doc["organizations"].as_object().is_none_or(|o| o.is_empty()), "{doc}");
    assert!(doc["tokens"].as_object().is_none_or(|o| o.is_empty()), "no refresh token kept: {doc}");
}

#[test]
fn git_credential_managers_binding_key_and_azdo_account_name_the_account() {
    let w = world();
    w.fake.approve_browser_sign_in_as_hinted();
    let run = w.env.git(&["config", "--global", "credential.azrepos:org/contoso.username", BOB], b"");
    assert_eq!(run.status, 0, "{run:?}");
    let run = w.clone(&w.url("one", None), "one");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.authorize_requests()[0].login_hint.as_deref(), Some(BOB));
    assert!(w.stored_pat(&format!("contoso/{BOB}")).is_some());
    // azdo.account wins over the binding key; in one repository's own config here.
    let dir = w.env.home.join("one");
    let run = w.env.git(&["-C", &dir.to_string_lossy(), "config", "azdo.account", ALICE], b"");
    assert_eq!(run.status, 0, "{run:?}");
    let run = w.env.git(&["-C", &dir.to_string_lossy(), "fetch", "-q"], b"");
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.fake.authorize_requests()[1].login_hint.as_deref(), Some(ALICE));
    assert!(w.stored_pat(&format!("contoso/{ALICE}")).is_some());
}

#[test]
fn login_with_an_account_stores_it_apart() {
    let w = world();
    let pat = w.fake.add_pat("contoso", ALICE, &["vso.code_write"], 4_000_000_000);
    let run =
        w.env.helper(&["login", "contoso", "--account", "Alice@Contoso.example", "--pat-stdin"], pat.token.as_bytes());
    assert_eq!(run.status, 0, "{run:?}");
    assert_eq!(w.stored_pat(&format!("contoso/{ALICE}")).as_deref(), Some(pat.token.as_str()));
    let bad = w.env.helper(&["login", "contoso", "--account", "not an account", "--pat-stdin"], pat.token.as_bytes());
    assert_eq!(bad.status, 2, "{bad:?}");
    // A clone as that account uses it without any sign-in.
    let run = w.clone(&w.url("one", Some(ALICE)), "one");
    assert_eq!(run.status, 0, "{run:?}");
    assert!(w.fake.authorize_requests().is_empty());
}
