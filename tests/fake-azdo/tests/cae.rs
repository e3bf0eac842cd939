//! Continuous access evaluation in the fake: a session revoked under CAE, the claims challenge
//! its CAE tokens get on the REST, PAT and git routes, and the refresh token that is redeemed only
//! with the challenge's claims merged with `cp1`.

mod support;

use base64::Engine as _;
use fake_azdo::{FakeAzdo, ADO_SCOPE, DEFAULT_CLIENT_ID, REALM, TENANT_ID};
use support::{basic, get, post_form, Reply};

const ALICE: &str = "alice@contoso.example";
const SUPPRESS: (&str, &str) = ("X-TFS-FedAuthRedirect", "Suppress");
const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;

fn fake() -> FakeAzdo {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    fake.add_repo("contoso", "proj", "repo");
    fake
}

/// A refresh-token grant, with a `claims` parameter when given.
fn refresh(fake: &FakeAzdo, rt: &str, claims: Option<&str>) -> Reply {
    let scope = format!("{ADO_SCOPE} offline_access");
    let mut form = vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("scope", scope.as_str()),
    ];
    form.extend(claims.map(|c| ("claims", c)));
    post_form(&fake.url(), &format!("/{TENANT_ID}/oauth2/v2.0/token"), &form)
}

/// The access and refresh tokens of a successful grant.
fn tokens(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    (v["access_token"].as_str().expect("at").to_owned(), v["refresh_token"].as_str().expect("rt").to_owned())
}

fn cd(fake: &FakeAzdo, authorization: &str) -> Reply {
    get(&fake.url(), "/contoso/_apis/connectionData", &[("Authorization", authorization), SUPPRESS])
}

/// The claims (decoded JSON) of the reply's `insufficient_claims` challenge, after checking its
/// shape: one `Bearer` line with the documented fields, then the Basic realm.
fn challenge_claims(r: &Reply) -> serde_json::Value {
    assert_eq!(r.status, 401, "{r:?}");
    let lines = r.all("WWW-Authenticate");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1], format!("Basic realm=\"{REALM}\""));
    let bearer = lines[0];
    assert!(bearer.starts_with("Bearer realm=\"\", authorization_uri=\""), "{bearer}");
    assert!(bearer.contains("/common/oauth2/authorize\", error=\"insufficient_claims\", claims=\""), "{bearer}");
    let encoded = bearer.rsplit_once("claims=\"").expect("claims").1.trim_end_matches('"');
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64");
    serde_json::from_slice(&decoded).expect("JSON")
}

/// `cp1` merged into `challenge`'s claims, as MSAL merges them.
fn merged(challenge: &str) -> String {
    let mut claims: serde_json::Value = serde_json::from_str(challenge).expect("JSON");
    claims["access_token"]["xms_cc"] = serde_json::json!({"values": ["cp1"]});
    claims.to_string()
}

#[test]
fn only_a_client_that_declared_cp1_gets_cae_tokens_and_they_carry_xms_cc() {
    let fake = fake();
    let rt = fake.issue_entra_tokens(ALICE).refresh_token;
    let (plain, _) = tokens(&refresh(&fake, &rt, None));
    let (cae, _) = tokens(&refresh(&fake, &rt, Some(CP1)));
    assert!(!fake.is_cae_token(&plain) && fake.is_cae_token(&cae));
    let payload = |jwt: &str| {
        let part = jwt.split('.').nth(1).expect("payload");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64url");
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("JSON")
    };
    assert_eq!(payload(&cae)["xms_cc"], serde_json::json!(["CP1"]));
    assert!(payload(&plain).get("xms_cc").is_none());
    let seen = fake.token_claims();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[0].endpoint.as_str(), seen[0].claims.as_deref()), ("refresh_token", None));
    assert_eq!(seen[1].claims.as_deref(), Some(CP1));
    // Claims that are no JSON object are refused.
    let bad = refresh(&fake, &rt, Some("not json"));
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("invalid_request")), "{bad:?}");
}

#[test]
fn a_revoked_sessions_cae_tokens_get_the_claims_challenge_on_rest_pat_and_git_routes() {
    let fake = fake();
    let rt = fake.issue_entra_tokens(ALICE).refresh_token;
    let (cae, _) = tokens(&refresh(&fake, &rt, Some(CP1)));
    let (plain, _) = tokens(&refresh(&fake, &rt, None));
    let bearer = format!("Bearer {cae}");
    assert_eq!(cd(&fake, &bearer).status, 200);
    let claims = fake.revoke_session_under_cae(ALICE);
    let wanted: serde_json::Value = serde_json::from_str(&claims).expect("JSON");
    assert_eq!(wanted["access_token"]["nbf"]["essential"], true, "{claims}");

    assert_eq!(challenge_claims(&cd(&fake, &bearer)), wanted);
    let pats = get(
        &fake.url(),
        "/contoso/_apis/tokens/pats?api-version=7.1-preview.1",
        &[("Authorization", &bearer), SUPPRESS],
    );
    assert_eq!(challenge_claims(&pats), wanted);
    for authorization in [bearer.clone(), basic(ALICE, &cae)] {
        let git = get(
            &fake.url(),
            "/contoso/proj/_git/repo/info/refs?service=git-upload-pack",
            &[("Authorization", &authorization)],
        );
        assert_eq!(challenge_claims(&git), wanted);
    }
    // A token of a client that did not declare cp1 is no CAE token: it lives out its hour.
    assert_eq!(cd(&fake, &format!("Bearer {plain}")).status, 200);
}

#[test]
fn a_revoked_sessions_refresh_token_is_redeemed_only_with_the_challenge_claims_and_cp1() {
    let fake = fake();
    let rt = fake.issue_entra_tokens(ALICE).refresh_token;
    let claims = fake.revoke_session_under_cae(ALICE);
    for missing in [None, Some(CP1), Some(claims.as_str())] {
        let r = refresh(&fake, &rt, missing);
        assert_eq!(r.status, 400, "{missing:?}: {r:?}");
        assert_eq!(r.json()["error"], "interaction_required", "{missing:?}");
    }
    // Another challenge's claims do not answer this one.
    let other = merged(r#"{"access_token":{"nbf":{"essential":true,"value":"1"}}}"#);
    assert_eq!(refresh(&fake, &rt, Some(&other)).status, 400);

    let (at, new_rt) = tokens(&refresh(&fake, &rt, Some(&merged(&claims))));
    assert!(fake.is_cae_token(&at));
    assert_eq!(cd(&fake, &format!("Bearer {at}")).status, 200, "the new token works");
    // The rotated refresh token belongs to the new session.
    tokens(&refresh(&fake, &new_rt, Some(CP1)));
    let last = fake.token_claims().pop().expect("claims seen");
    assert_eq!(last.claims.as_deref(), Some(CP1));
    assert!(fake.token_claims().iter().any(|c| c.claims.as_deref() == Some(merged(&claims).as_str())));
}

#[test]
fn a_new_sign_in_declaring_cp1_starts_a_new_session_and_authorize_records_the_claims() {
    let fake = fake();
    fake.set_device_flow_timing(0, 900);
    let rt = fake.issue_entra_tokens(ALICE).refresh_token;
    let (old, _) = tokens(&refresh(&fake, &rt, Some(CP1)));
    fake.revoke_session_under_cae(ALICE);
    fake.approve_device_flow(fake_azdo::DeviceFlow::Next, ALICE);
    let start = post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/devicecode",
        &[("client_id", DEFAULT_CLIENT_ID), ("scope", ADO_SCOPE), ("claims", CP1)],
    );
    let device_code = start.json()["device_code"].as_str().expect("device_code").to_owned();
    let poll = post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("device_code", &device_code),
            ("claims", CP1),
        ],
    );
    assert_eq!(poll.status, 200, "{poll:?}");
    let at = poll.json()["access_token"].as_str().expect("at").to_owned();
    assert!(fake.is_cae_token(&at));
    assert_eq!(cd(&fake, &format!("Bearer {at}")).status, 200);
    assert_eq!(cd(&fake, &format!("Bearer {old}")).status, 401, "the old session's token stays revoked");

    fake.approve_browser_sign_in(ALICE);
    let query = format!(
        "client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4321%2F&scope={}&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&claims={}",
        support::form_value(ADO_SCOPE),
        support::form_value(CP1)
    );
    let r = get(&fake.url(), &format!("/organizations/oauth2/v2.0/authorize?{query}"), &[]);
    assert_eq!(r.status, 302, "{r:?}");
    assert_eq!(fake.authorize_requests()[0].claims.as_deref(), Some(CP1));
    let endpoints: Vec<String> = fake.token_claims().into_iter().map(|c| c.endpoint).collect();
    assert!(endpoints.iter().any(|e| e == "devicecode") && endpoints.iter().any(|e| e == "authorize"), "{endpoints:?}");
}
