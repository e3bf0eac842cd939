//! The helper's operations in-process, over a memory store or the file store.

use super::get::get;
use super::update::{erase, store};
use super::*;
use crate::config::{Environment, Settings};
use crate::protocol::Request;
use crate::secret::Secret;
use crate::store::{Credential, MemoryStore, Metadata, Provenance};
use crate::time::now;

/// A run over an empty memory store, with prompts and minting off: nothing is asked of anyone,
/// no request is made, nothing is written outside the store.
fn ctx() -> Run {
    let env = Environment::from_pairs([("GIT_TERMINAL_PROMPT", "0"), ("GIT_CREDENTIAL_AZDO_MINT", "never")]);
    let local = std::env::temp_dir().join("git-credential-azdo-unit-tests-write-nothing-here");
    let local = local.as_path();
    let settings = Settings::from_sources(GitConfig::default(), Instances::default(), None, &env.lookup(), Some(local))
        .expect("valid");
    Run::new(settings, Box::new(MemoryStore::new()), env, Messages::captured())
}

fn request(extra: &str) -> Request {
    protocol::parse_request(format!("protocol=https\nhost=dev.azure.com\npath=contoso/p/_git/r\n{extra}").as_bytes())
        .expect("valid")
}

fn contoso() -> Target {
    Target::org("contoso").expect("valid")
}

fn stored(ctx: &Run, pat: &str, expires_at: Option<i64>) {
    let meta = Metadata { expires_at, ..Metadata::default() };
    ctx.store.put(&contoso(), &Credential { pat: Secret::new(pat), meta }).expect("put");
}

fn get_output(ctx: &Run, extra: &str) -> String {
    let mut out = Vec::new();
    get(ctx, &request(extra), &contoso(), &mut out).expect("get");
    String::from_utf8(out).expect("utf8")
}

#[test]
fn get_answers_with_stored_pat_and_expiry() {
    let ctx = ctx();
    stored(&ctx, "pat-1", Some(now() + 3600));
    let out = get_output(&ctx, "");
    assert!(out.starts_with("username=contoso\npassword=pat-1\npassword_expiry_utc="), "{out}");
    assert_eq!(get_output(&ctx, "username=me\n").lines().next(), Some("username=me"));
}

#[test]
fn get_removes_an_expired_pat_and_prints_nothing_without_prompts() {
    let ctx = ctx();
    stored(&ctx, "old", Some(now() - 1));
    assert_eq!(get_output(&ctx, ""), "");
    assert!(ctx.store.get(&contoso()).expect("get").is_none(), "an expired PAT must be removed");
}

#[test]
fn store_replaces_and_erase_matches_the_password() {
    let ctx = ctx();
    store(&ctx, &request("username=u\npassword=new\npassword_expiry_utc=1900000000\n"), &contoso()).expect("store");
    let c = ctx.store.get(&contoso()).expect("get").expect("stored");
    assert_eq!(c.pat, Secret::new("new"));
    assert_eq!(c.meta.expires_at, Some(1_900_000_000));
    assert_eq!(c.meta.provenance, Provenance::Git);

    erase(&ctx, &request("password=other\n"), &contoso()).expect("erase");
    assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a different password erases nothing");
    erase(&ctx, &request("password=new\n"), &contoso()).expect("erase");
    assert!(ctx.store.get(&contoso()).expect("get").is_none());

    stored(&ctx, "p", None);
    erase(&ctx, &request("password=\n"), &contoso()).expect("erase");
    assert!(ctx.store.get(&contoso()).expect("get").is_some(), "an empty password erases nothing");
    erase(&ctx, &request(""), &contoso()).expect("erase");
    assert!(ctx.store.get(&contoso()).expect("get").is_none(), "no password given erases");
}

#[test]
fn an_ephemeral_credential_is_neither_stored_nor_erases_the_stored_pat() {
    let ctx = ctx();
    stored(&ctx, "pat", None);
    let bearer = "capability[]=authtype\nauthtype=Bearer\ncredential=eyJ.a.b\nephemeral=1\n";
    erase(&ctx, &request(bearer), &contoso()).expect("erase");
    assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a refused token erases no PAT");
    store(&ctx, &request("username=u\npassword=other\nephemeral=1\n"), &contoso()).expect("store");
    assert_eq!(ctx.store.get(&contoso()).expect("get").expect("some").pat, Secret::new("pat"));
}

#[test]
fn storing_the_same_pat_keeps_its_metadata() {
    let ctx = ctx();
    let meta = Metadata {
        provenance: Provenance::Login,
        stored_at: 5,
        authorization_id: Some("id".into()),
        ..Metadata::default()
    };
    ctx.store.put(&contoso(), &Credential { pat: Secret::new("p"), meta: meta.clone() }).expect("put");
    store(&ctx, &request("password=p\n"), &contoso()).expect("store");
    let after = ctx.store.get(&contoso()).expect("get").expect("some").meta;
    assert!(after.last_validated.is_some_and(|t| t >= now() - 5), "git's success counts as a check");
    assert_eq!(Metadata { last_validated: None, ..after }, meta, "everything else is kept");
}

/// `get` in-process from what a process is given: the request as git sends it, an environment
/// map and a snapshot of git's configuration. No process is started: no git (the configuration
/// is given), no keyring (the file store), no request (the stored PAT was checked recently).
#[test]
fn get_runs_in_process_from_a_request_an_environment_and_a_config_snapshot() {
    let home = tempfile::tempdir().expect("tempdir");
    let store_file = home.path().join("store.json");
    let config = GitConfig::parse_z(
        format!("azdo.store\nfile\0azdo.storefile\n{}\0credential.interactive\nnever\0", store_file.display())
            .as_bytes(),
    );
    let env = Environment::from_pairs([("GIT_CONFIG_NOSYSTEM", "1")]);
    let inputs = || Inputs {
        env: env.clone(),
        config: config.clone(),
        data_dir: Some(home.path().join("data")),
        messages: Messages::captured(),
    };
    let request = |text: &str| protocol::parse_request(text.as_bytes()).expect("valid request");
    let org = "protocol=https\nhost=dev.azure.com\npath=contoso/project/_git/repo\n";

    // git confirms a PAT: stored in the file the configuration names.
    let mut out = Vec::new();
    let mut remembered = 0;
    let confirmed = request(&format!("{org}username=me\npassword=typed-pat\n"));
    serve(Operation::Store, &confirmed, inputs(), |_| remembered += 1, &mut out).expect("store");
    let own_files = || std::fs::read_dir(home.path().join("store.json.d")).map_or(0, |d| d.count());
    assert!(out.is_empty() && own_files() == 1 && remembered == 1);

    // The next `get` answers with it, from the store alone.
    serve(Operation::Get, &request(org), inputs(), |_| {}, &mut out).expect("get");
    let answer = String::from_utf8(out).expect("utf8");
    assert_eq!(answer, "username=me\npassword=typed-pat\n");

    // Another host: nothing printed, nothing remembered, nothing stored.
    let mut out = Vec::new();
    let other = request("protocol=https\nhost=github.com\npath=o/r\n");
    serve(Operation::Get, &other, inputs(), |_| panic!("not ours"), &mut out).expect("get");
    assert!(out.is_empty());

    // An organization with nothing stored, prompts off and minting impossible: nothing, exit 0.
    let mut out = Vec::new();
    let fabrikam = request("protocol=https\nhost=dev.azure.com\npath=fabrikam/p/_git/r\n");
    let mut inputs_fabrikam = inputs();
    inputs_fabrikam.config = GitConfig::parse_z(
        format!(
            "azdo.store\nfile\0azdo.storefile\n{}\0credential.interactive\nnever\0azdo.mint\nnever\0",
            store_file.display()
        )
        .as_bytes(),
    );
    serve(Operation::Get, &fabrikam, inputs_fabrikam, |_| {}, &mut out).expect("get");
    assert!(out.is_empty());

    // A bad setting is the caller's error (exit 2), with nothing written to git.
    let mut bad = inputs();
    bad.config = GitConfig::parse_z(b"azdo.store\nvault\0");
    let err = serve(Operation::Get, &request(org), bad, |_| {}, &mut out).expect_err("bad setting");
    assert!(err.is_usage() && err.to_string().contains("azdo.store"), "{err}");
    assert!(out.is_empty());
}

/// A run like [`ctx`] whose data directory is `dir` (claims challenges are remembered there).
fn ctx_in(dir: &std::path::Path) -> Run {
    let env = Environment::from_pairs([("GIT_TERMINAL_PROMPT", "0"), ("GIT_CREDENTIAL_AZDO_MINT", "never")]);
    let settings = Settings::from_sources(GitConfig::default(), Instances::default(), None, &env.lookup(), Some(dir))
        .expect("valid");
    Run::new(settings, Box::new(MemoryStore::new()), env, Messages::captured())
}

#[test]
fn an_erase_with_a_claims_challenge_forgets_the_kept_token_keeps_the_claims_and_leaves_the_pat_to_the_rules() {
    use crate::auth::{cae, tokens};
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = ctx_in(dir.path());
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let challenge = format!(
        "wwwauth[]=Basic realm=\"x\"\nwwwauth[]=Bearer realm=\"\", error=\"insufficient_claims\", claims=\"{}\"\n",
        base64::engine::general_purpose::STANDARD.encode(claims)
    );
    let keep = |token: &str| {
        let kept = crate::azure::entra::Tokens {
            access_token: Secret::new(token),
            refresh_token: None,
            expires_at: now() + 3600,
        };
        tokens::keep_access_token(&ctx, &contoso(), &kept);
    };
    stored(&ctx, "pat", None);

    // A Bearer credential refused with the challenge: the kept token goes, the claims stay, the PAT stays.
    keep("eyJ.kept.token");
    let bearer = format!("capability[]=authtype\nauthtype=Bearer\ncredential=eyJ.kept.token\nephemeral=1\n{challenge}");
    erase(&ctx, &request(&bearer), &contoso()).expect("erase");
    assert!(tokens::kept_access_token(&ctx, &contoso()).is_none());
    assert_eq!(cae::pending(&ctx, &contoso()).map(|c| c.as_str().to_owned()).as_deref(), Some(claims));
    assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a refused token erases no PAT");
    cae::clear(&ctx, &contoso());

    // A token handed out as a password (older git), another than the one kept: under a challenge
    // the session's tokens are all revoked, so the kept one goes too.
    keep("eyJ.kept.token");
    erase(&ctx, &request(&format!("password=eyJ.other.token\n{challenge}")), &contoso()).expect("erase");
    assert!(tokens::kept_access_token(&ctx, &contoso()).is_none());
    assert!(cae::pending(&ctx, &contoso()).is_some());
    assert!(ctx.store.get(&contoso()).expect("get").is_some());
    cae::clear(&ctx, &contoso());

    // Without the challenge (another error), only the matching token would go; no claims.
    keep("eyJ.kept.token");
    let other = challenge.replace("insufficient_claims", "invalid_token");
    erase(&ctx, &request(&format!("password=eyJ.other.token\n{other}")), &contoso()).expect("erase");
    assert!(tokens::kept_access_token(&ctx, &contoso()).is_some());
    assert!(cae::pending(&ctx, &contoso()).is_none());

    // A PAT refused with a challenge is no access token: no claims; the PAT rules apply as ever.
    erase(&ctx, &request(&format!("password=other-pat\n{challenge}")), &contoso()).expect("erase");
    assert!(cae::pending(&ctx, &contoso()).is_none());
    assert!(ctx.store.get(&contoso()).expect("get").is_some(), "a different password erases nothing");
    erase(&ctx, &request(&format!("password=pat\n{challenge}")), &contoso()).expect("erase");
    assert!(cae::pending(&ctx, &contoso()).is_none());
    assert!(ctx.store.get(&contoso()).expect("get").is_none(), "the PAT git used is erased, as ever");
}
