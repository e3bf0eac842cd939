//! The fake's Microsoft Entra ID: device-code flow, refresh tokens, and Entra access tokens on
//! the Azure DevOps routes; tenant discovery for Entra- and MSA-backed orgs.

mod support;

use fake_azdo::{
    DeviceFlow, DeviceFlowState, FakeAzdo, Fault, Route, ADO_SCOPE, DEFAULT_CLIENT_ID, MSA_TENANT_ID, REALM, TENANT_ID,
    VERIFICATION_URI,
};
use support::{basic, get, in_a_month, post_form, request, send, Reply};

const ALICE: &str = "alice@contoso.example";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const SUPPRESS: (&str, &str) = ("X-TFS-FedAuthRedirect", "Suppress");

fn scope_rt() -> String {
    format!("{ADO_SCOPE} offline_access")
}

fn fake() -> FakeAzdo {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    fake
}

fn device_code_as(fake: &FakeAzdo, tenant: &str, client: &str, scope: &str) -> Reply {
    post_form(&fake.url(), &format!("/{tenant}/oauth2/v2.0/devicecode"), &[("client_id", client), ("scope", scope)])
}

/// Starts a device flow from `organizations` with the default client; returns its device code.
fn start(fake: &FakeAzdo, scope: &str) -> String {
    let r = device_code_as(fake, "organizations", DEFAULT_CLIENT_ID, scope);
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["device_code"].as_str().expect("device_code").to_string()
}

fn poll(fake: &FakeAzdo, device_code: &str) -> Reply {
    post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[("grant_type", DEVICE_GRANT), ("client_id", DEFAULT_CLIENT_ID), ("device_code", device_code)],
    )
}

fn refresh(fake: &FakeAzdo, client: &str, rt: &str) -> Reply {
    post_form(
        &fake.url(),
        &format!("/{TENANT_ID}/oauth2/v2.0/token"),
        &[("client_id", client), ("grant_type", "refresh_token"), ("refresh_token", rt), ("scope", &scope_rt())],
    )
}

/// An Entra error: status 400 (unless said), the error name, the AADSTS code in `error_codes`
/// and at the start of `error_description`, and the trace lines.
fn assert_entra_error(r: &Reply, error: &str, code: u64) {
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8"));
    let v = r.json();
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["error_codes"], serde_json::json!([code]), "{v}");
    let description = v["error_description"].as_str().expect("error_description");
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    assert!(description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: "), "{description}");
    let ts = v["timestamp"].as_str().expect("timestamp");
    assert!(ts.len() == 20 && ts.ends_with('Z') && &ts[10..11] == " ", "{ts}");
    assert!(description.ends_with(&format!("Timestamp: {ts}")), "{description}");
    assert_eq!(v["trace_id"].as_str(), r.header("x-ms-request-id"));
    assert!(v["correlation_id"].as_str().is_some_and(|c| c.len() == 36));
    assert_eq!(v["error_uri"], format!("https://login.microsoftonline.com/error?code={code}").as_str());
    assert_eq!(r.header("Cache-Control"), Some("no-store, no-cache"));
}

fn cd(fake: &FakeAzdo, org: &str, auth: &str) -> Reply {
    get(&fake.url(), &format!("/{org}/_apis/connectionData"), &[("Authorization", auth), SUPPRESS])
}

#[test]
fn device_code_answer_has_the_documented_fields() {
    let fake = fake();
    for tenant in ["organizations", "common", TENANT_ID, "ORGANIZATIONS"] {
        let r = device_code_as(&fake, tenant, DEFAULT_CLIENT_ID, &format!("{} openid profile", scope_rt()));
        assert_eq!(r.status, 200, "{tenant}: {r:?}");
        assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8"));
        assert!(r.header("x-ms-request-id").is_some());
        let text = r.text();
        assert!(text.starts_with("{\"user_code\":"), "documented key order: {text}");
        let v = r.json();
        let user_code = v["user_code"].as_str().expect("user_code");
        assert_eq!(user_code.len(), 9);
        assert!(user_code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{user_code}");
        assert!(v["device_code"].as_str().is_some_and(|d| d.len() > 100));
        assert_eq!(v["verification_uri"], VERIFICATION_URI);
        assert_eq!(v["expires_in"], 900);
        assert_eq!(v["interval"], 5);
        assert_eq!(
            v["message"],
            format!("To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate.")
                .as_str()
        );
        assert!(v.get("verification_uri_complete").is_none());
    }
    // The resource-URI form of `.default` is accepted too.
    let r = device_code_as(&fake, "organizations", DEFAULT_CLIENT_ID, "https://app.vssps.visualstudio.com/.default");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(fake.count(Route::DeviceCode), 5);
    assert_eq!(fake.count(Route::Token), 0);
    let flows = fake.device_flows();
    assert_eq!(flows.len(), 5);
    assert_eq!(flows[2].tenant, TENANT_ID);
    assert_eq!(flows[0].client_id, DEFAULT_CLIENT_ID);
    assert_eq!(flows[0].scope, format!("{} openid profile", scope_rt()));
    assert_eq!(flows[0].state, DeviceFlowState::Waiting);
    fake.set_device_flow_timing(1, 60);
    let v = device_code_as(&fake, "common", DEFAULT_CLIENT_ID, ADO_SCOPE).json();
    assert_eq!((v["interval"].as_u64(), v["expires_in"].as_u64()), (Some(1), Some(60)));
}

#[test]
fn device_code_request_errors() {
    let fake = fake();
    assert_eq!(fake.allowed_clients(), vec![DEFAULT_CLIENT_ID.to_string()]);
    let other = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    let r = device_code_as(&fake, "organizations", other, ADO_SCOPE);
    assert_entra_error(&r, "unauthorized_client", 700_016);
    assert!(r.json()["error_description"]
        .as_str()
        .is_some_and(|d| d.contains(&format!("Application with identifier '{other}' was not found in the directory"))));
    fake.allow_client(other);
    assert_eq!(device_code_as(&fake, "organizations", other, ADO_SCOPE).status, 200);
    assert_eq!(fake.allowed_clients().len(), 2);

    let url = fake.url();
    let path = "/organizations/oauth2/v2.0/devicecode";
    let r = post_form(&url, path, &[("scope", ADO_SCOPE)]);
    assert_entra_error(&r, "invalid_request", 900_144);
    assert!(r.text().contains("'client_id'"));
    let r = post_form(&url, path, &[("client_id", DEFAULT_CLIENT_ID)]);
    assert_entra_error(&r, "invalid_request", 900_144);
    assert!(r.text().contains("'scope'"));
    // Scopes of another resource, or only the OpenID ones, are not what the fake serves.
    for scope in
        ["https://graph.microsoft.com/.default", "openid offline_access", "499b84ac-1321-427f-aa17-267ca6975798"]
    {
        assert_entra_error(&device_code_as(&fake, "organizations", DEFAULT_CLIENT_ID, scope), "invalid_scope", 70011);
    }
    // Unknown tenants, the all-zero MSA tenant included.
    for tenant in [MSA_TENANT_ID, "11111111-2222-3333-4444-555555555555", "contoso.example"] {
        let r = device_code_as(&fake, tenant, DEFAULT_CLIENT_ID, ADO_SCOPE);
        assert_entra_error(&r, "invalid_request", 90002);
        assert!(r.text().contains(&format!("Tenant '{tenant}' not found")));
    }
    // POST only; and a JSON body is no form.
    assert_entra_error(&get(&url, path, &[]), "invalid_request", 900_561);
    let json = format!("{{\"client_id\":\"{DEFAULT_CLIENT_ID}\",\"scope\":\"{ADO_SCOPE}\"}}");
    let r = send(&url, "POST", path, &[("Content-Type", "application/json")], json.as_bytes());
    assert_entra_error(&r, "invalid_request", 900_144);
    // `client-request-id` is echoed and becomes the correlation id.
    let id = "0f0e0d0c-0b0a-4909-8807-060504030201";
    let r = send(
        &url,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded"), ("client-request-id", id)],
        b"client_id=nobody&scope=x",
    );
    assert_eq!(r.header("client-request-id"), Some(id));
    assert_eq!(r.json()["correlation_id"], id);
    assert_eq!(fake.device_flows().len(), 1, "only the allowed request started a flow");
}

#[test]
fn scripted_flow_pends_slows_down_then_signs_in() {
    let fake = fake();
    fake.pending_polls(2);
    fake.slow_down_once();
    fake.approve_device_flow(DeviceFlow::Next, ALICE);
    let code = start(&fake, &format!("{} openid profile", scope_rt()));
    assert_entra_error(&poll(&fake, &code), "authorization_pending", 70016);
    let r = poll(&fake, &code);
    assert_entra_error(&r, "authorization_pending", 70016);
    assert!(r.json()["error_description"]
        .as_str()
        .is_some_and(|d| d.starts_with("AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.")));
    assert_entra_error(&poll(&fake, &code), "slow_down", 70016);
    assert_eq!(fake.device_flows()[0].state, DeviceFlowState::Waiting);
    let r = poll(&fake, &code);
    assert_eq!(r.status, 200, "{r:?}");
    let text = r.text();
    assert!(text.starts_with("{\"token_type\":\"Bearer\",\"scope\":"), "documented key order: {text}");
    let v = r.json();
    assert_eq!(v["scope"], "499b84ac-1321-427f-aa17-267ca6975798/user_impersonation openid profile offline_access");
    assert_eq!(v["expires_in"], 3599);
    assert_eq!(v["ext_expires_in"], 3599);
    let at = v["access_token"].as_str().expect("access_token");
    assert_eq!(at.split('.').count(), 3, "JWT-shaped");
    assert!(at.starts_with("eyJ"));
    assert!(v["refresh_token"].as_str().is_some_and(|t| t.len() > 100));
    assert!(v["id_token"].as_str().is_some_and(|t| t.split('.').count() == 3));
    // The device code is spent.
    assert_entra_error(&poll(&fake, &code), "invalid_grant", 54005);
    let flow = &fake.device_flows()[0];
    assert_eq!(flow.polls, 5);
    assert_eq!(flow.poll_gaps.len(), 5);
    assert_eq!(flow.state, DeviceFlowState::SignedIn(ALICE.to_string()));
    assert_eq!(fake.count(Route::Token), 5);
    // The access token is accepted by Azure DevOps for that user.
    let r = cd(&fake, "contoso", &format!("Bearer {at}"));
    assert_eq!(r.status, 200, "{r:?}");
    let id = fake.user_id(ALICE).expect("user created by the sign-in");
    assert_eq!(r.header("X-VSS-UserData"), Some(format!("{id}:{ALICE}").as_str()));
    assert_eq!(r.json()["authenticatedUser"]["properties"]["Account"]["$value"], ALICE);
    // Also as a Basic password (what git sends), with any user name.
    assert_eq!(cd(&fake, "contoso", &basic(ALICE, at)).status, 200);
    let issued = fake.issued_entra_tokens();
    assert_eq!(issued.len(), 3);
    assert!(issued.iter().any(|t| t == at));
}

#[test]
fn refresh_and_id_tokens_only_when_asked_for() {
    let fake = fake();
    fake.approve_device_flow(DeviceFlow::Next, ALICE);
    let code = start(&fake, ADO_SCOPE);
    let v = poll(&fake, &code).json();
    assert_eq!(v["scope"], "499b84ac-1321-427f-aa17-267ca6975798/user_impersonation");
    assert!(v["access_token"].is_string());
    assert!(v.get("refresh_token").is_none(), "{v}");
    assert!(v.get("id_token").is_none(), "{v}");
}

#[test]
fn a_flow_without_an_outcome_stays_pending_until_approved_by_its_code() {
    let fake = fake();
    let first = start(&fake, &scope_rt());
    let second = start(&fake, &scope_rt());
    for _ in 0..3 {
        assert_entra_error(&poll(&fake, &first), "authorization_pending", 70016);
    }
    let user_code = fake.device_flows()[0].user_code.to_lowercase();
    fake.approve_device_flow(DeviceFlow::UserCode(user_code), ALICE);
    assert_eq!(poll(&fake, &first).status, 200);
    assert_entra_error(&poll(&fake, &second), "authorization_pending", 70016);
    fake.approve_device_flow(DeviceFlow::Latest, "bob@contoso.example");
    assert_eq!(poll(&fake, &second).status, 200);
    let flows = fake.device_flows();
    assert_eq!(flows[1].state, DeviceFlowState::SignedIn("bob@contoso.example".into()));
    // The script for "next" was not touched: a third flow pends.
    let third = start(&fake, &scope_rt());
    assert_entra_error(&poll(&fake, &third), "authorization_pending", 70016);
}

#[test]
#[should_panic(expected = "no device flow")]
fn approving_an_unknown_user_code_panics() {
    let fake = fake();
    fake.approve_device_flow(DeviceFlow::UserCode("NOSUCHCOD".into()), ALICE);
}

#[test]
fn declined_and_expired_flows_end_cleanly() {
    let fake = fake();
    fake.pending_polls(1);
    fake.decline_next_device_flow();
    let code = start(&fake, &scope_rt());
    assert_entra_error(&poll(&fake, &code), "authorization_pending", 70016);
    for _ in 0..2 {
        assert_entra_error(&poll(&fake, &code), "authorization_declined", 65004);
    }
    assert_eq!(fake.device_flows()[0].state, DeviceFlowState::Declined);

    fake.expire_next_device_flow();
    let code = start(&fake, &scope_rt());
    let r = poll(&fake, &code);
    assert_entra_error(&r, "expired_token", 70019);
    assert!(r.text().contains("Verification code expired"));
    assert_entra_error(&poll(&fake, &code), "expired_token", 70019);
    assert_eq!(fake.device_flows()[1].state, DeviceFlowState::Expired);

    // Expiry by the clock: expires_in 0 means already expired, whatever the script says.
    fake.set_device_flow_timing(0, 0);
    fake.approve_device_flow(DeviceFlow::Next, ALICE);
    let code = start(&fake, &scope_rt());
    assert_entra_error(&poll(&fake, &code), "expired_token", 70019);
    // Declining an existing flow.
    fake.set_device_flow_timing(0, 900);
    let code = start(&fake, &scope_rt());
    fake.decline_device_flow(DeviceFlow::Latest);
    assert_entra_error(&poll(&fake, &code), "authorization_declined", 65004);
    assert!(fake.issued_entra_tokens().is_empty(), "nothing issued");
    assert!(fake.user_id(ALICE).is_some(), "approval registers the user");
}

#[test]
fn unknown_device_codes_and_bad_polls() {
    let fake = fake();
    let url = fake.url();
    assert_entra_error(&poll(&fake, "BAQABAAEAAAAnotacode"), "bad_verification_code", 70018);
    let path = "/organizations/oauth2/v2.0/token";
    let r = post_form(&url, path, &[("grant_type", DEVICE_GRANT), ("client_id", DEFAULT_CLIENT_ID)]);
    assert_entra_error(&r, "invalid_request", 900_144);
    assert!(r.text().contains("'device_code'"));
    let r = post_form(&url, path, &[("client_id", DEFAULT_CLIENT_ID)]);
    assert!(r.text().contains("'grant_type'"), "{r:?}");
    let r = post_form(&url, path, &[("grant_type", "password"), ("client_id", DEFAULT_CLIENT_ID)]);
    assert_entra_error(&r, "unsupported_grant_type", 70003);
    let r = post_form(&url, path, &[("grant_type", DEVICE_GRANT), ("client_id", "someone-else"), ("device_code", "x")]);
    assert_entra_error(&r, "unauthorized_client", 700_016);
    // A device code polled by another (allowed) client is not recognised.
    fake.allow_client("another-client");
    let code = start(&fake, &scope_rt());
    let r =
        post_form(&url, path, &[("grant_type", DEVICE_GRANT), ("client_id", "another-client"), ("device_code", &code)]);
    assert_entra_error(&r, "bad_verification_code", 70018);
}

#[test]
fn polling_faster_than_the_interval_gets_slow_down_when_enforced() {
    let fake = fake();
    fake.enforce_poll_interval(true);
    fake.approve_device_flow(DeviceFlow::Next, ALICE);
    fake.pending_polls(1);
    let code = start(&fake, &scope_rt());
    // The first poll may come at once; the second, immediately after, is too soon (interval 5).
    assert_entra_error(&poll(&fake, &code), "authorization_pending", 70016);
    assert_entra_error(&poll(&fake, &code), "slow_down", 70016);
    assert_entra_error(&poll(&fake, &code), "slow_down", 70016);
    let flow = &fake.device_flows()[0];
    assert_eq!(flow.polls, 3);
    assert!(flow.poll_gaps.iter().all(|g| g.as_secs() < 5));
    assert_eq!(flow.state, DeviceFlowState::Waiting);
    // With interval 0 nothing is too soon.
    fake.set_device_flow_timing(0, 900);
    fake.approve_device_flow(DeviceFlow::Next, ALICE);
    let code = start(&fake, &scope_rt());
    assert_eq!(poll(&fake, &code).status, 200);
}

#[test]
fn refresh_grant_rotates_the_refresh_token() {
    let fake = fake();
    let tokens = fake.issue_entra_tokens(ALICE);
    assert_eq!(tokens.expires_in, 3599);
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["token_type"], "Bearer");
    let (at2, rt2) = (v["access_token"].as_str().expect("at"), v["refresh_token"].as_str().expect("rt"));
    assert_ne!(at2, tokens.access_token);
    assert_ne!(rt2, tokens.refresh_token);
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {at2}")).status, 200);
    // As documented, redeeming does not revoke the old refresh token...
    assert_eq!(refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token).status, 200);
    // ...unless single-use refresh tokens are switched on.
    fake.set_single_use_refresh_tokens(true);
    let r = refresh(&fake, DEFAULT_CLIENT_ID, rt2);
    assert_eq!(r.status, 200);
    let rt3 = r.json()["refresh_token"].as_str().expect("rt").to_string();
    assert_entra_error(&refresh(&fake, DEFAULT_CLIENT_ID, rt2), "invalid_grant", 70000);
    assert_eq!(refresh(&fake, DEFAULT_CLIENT_ID, &rt3).status, 200);
    assert_eq!(fake.refresh_grants(), 5);
    // Without a scope parameter the refresh token's own scopes apply.
    let r = post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("refresh_token", &fake.issue_entra_tokens(ALICE).refresh_token),
        ],
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.json()["refresh_token"].is_string());
}

#[test]
fn refresh_grant_errors() {
    let fake = fake();
    let tokens = fake.issue_entra_tokens(ALICE);
    assert_entra_error(&refresh(&fake, DEFAULT_CLIENT_ID, "not-a-refresh-token"), "invalid_grant", 9_002_313);
    assert_entra_error(&refresh(&fake, DEFAULT_CLIENT_ID, "1.AXkAunknown"), "invalid_grant", 70000);
    fake.allow_client("another-client");
    assert_entra_error(&refresh(&fake, "another-client", &tokens.refresh_token), "invalid_grant", 70000);
    let r = post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("refresh_token", &tokens.refresh_token),
            ("scope", "https://graph.microsoft.com/.default offline_access"),
        ],
    );
    assert_entra_error(&r, "invalid_scope", 70011);
    let r = post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[("grant_type", "refresh_token"), ("client_id", DEFAULT_CLIENT_ID)],
    );
    assert_entra_error(&r, "invalid_request", 900_144);
    // Still valid after all that.
    assert_eq!(refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token).status, 200);
    fake.expire_refresh_tokens();
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    assert_entra_error(&r, "invalid_grant", 700_082);
    assert!(r.text().contains("expired due to inactivity"));
    fake.revoke_refresh_tokens();
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    assert_entra_error(&r, "invalid_grant", 50173);
    assert!(r.text().contains("revoked"));
    // Access tokens outlive the revocation.
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {}", tokens.access_token)).status, 200);
}

#[test]
fn access_tokens_on_azure_devops_routes() {
    let fake = fake();
    fake.add_repo("contoso", "proj", "repo");
    let tokens = fake.issue_entra_tokens(ALICE);
    let bearer = format!("Bearer {}", tokens.access_token);
    // Tokens are full access: fetch and push (served by git http-backend).
    let services: &[&str] = if support::has_git() { &["git-upload-pack", "git-receive-pack"] } else { &[] };
    for service in services {
        let r = get(
            &fake.url(),
            &format!("/contoso/proj/_git/repo/info/refs?service={service}"),
            &[("Authorization", &basic(ALICE, &tokens.access_token))],
        );
        assert_eq!(r.status, 200, "{service}: {r:?}");
        assert!(r.header("X-VSS-UserData").is_some_and(|u| u.ends_with(ALICE)));
    }
    // The org page lets an authenticated caller in.
    assert_eq!(get(&fake.url(), "/contoso", &[("Authorization", &bearer)]).status, 200);
    // A refresh token, an id token or a stranger's JWT is no access token.
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {}", tokens.refresh_token)).status, 401);
    assert_eq!(cd(&fake, "contoso", "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30.").status, 401);
    // A PAT is never a bearer token.
    let pat = fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {}", pat.token)).status, 401);

    fake.expire_access_tokens();
    let r = cd(&fake, "contoso", &bearer);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.all("WWW-Authenticate"), vec![format!("Basic realm=\"{REALM}\"")]);
    let v = r.json();
    assert_eq!(v["typeKey"], "UnauthorizedRequestException");
    assert_eq!(v["message"], "TF400813: The user '' is not authorized to access this resource.");
    assert!(r.header("X-VSS-UserData").is_none());
    let r = get(
        &fake.url(),
        "/contoso/proj/_git/repo/info/refs?service=git-upload-pack",
        &[("Authorization", &basic(ALICE, &tokens.access_token))],
    );
    assert_eq!(r.status, 401);
    // The refresh token still gets a fresh one.
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    let at = r.json()["access_token"].as_str().expect("at").to_string();
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {at}")).status, 200);
}

#[test]
fn msa_org_challenge_has_a_bare_bearer_and_the_zero_tenant() {
    let fake = fake();
    fake.set_msa_org("personal");
    let r = request(&fake.url(), "HEAD", "/personal", &[]).expect("HEAD");
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.all("WWW-Authenticate"),
        vec!["Bearer".to_string(), format!("Basic realm=\"{REALM}\""), "TFS-Federated".to_string()]
    );
    assert_eq!(r.header("X-VSS-ResourceTenant"), Some(MSA_TENANT_ID));
    assert_eq!(r.header("X-VSS-AuthorizationEndpoint"), Some("https://personal.vssps.visualstudio.com/"));
    // The same on an anonymous connectionData.
    let r = get(&fake.url(), "/personal/_apis/connectionData", &[SUPPRESS]);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Bearer"));
    assert_eq!(r.header("X-VSS-ResourceTenant"), Some(MSA_TENANT_ID));
    // Entra-backed orgs are unchanged, and follow set_authority.
    fake.set_authority(&fake.url());
    let r = request(&fake.url(), "HEAD", "/contoso", &[]).expect("HEAD");
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Bearer authorization_uri={}/{TENANT_ID}", fake.url()).as_str())
    );
    assert_eq!(r.header("X-VSS-ResourceTenant"), Some(TENANT_ID));
    // Users of an MSA org have MSA identities; a token from `organizations` works there.
    let tokens = fake.issue_entra_tokens("carol@outlook.example");
    let r = cd(&fake, "personal", &format!("Bearer {}", tokens.access_token));
    assert_eq!(r.status, 200, "{r:?}");
    let u = &r.json()["authenticatedUser"];
    assert_eq!(u["descriptor"], "Microsoft.IdentityModel.Claims.ClaimsIdentity;carol@outlook.example");
    assert!(u["subjectDescriptor"].as_str().is_some_and(|s| s.starts_with("msa.")));
    assert_eq!(fake.count(Route::Challenge), 2);
}

#[test]
fn entra_faults_are_separate_from_azure_devops_faults() {
    let fake = fake();
    let tokens = fake.issue_entra_tokens(ALICE);
    fake.set_entra_fault(Fault::Status(503));
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert_eq!(cd(&fake, "contoso", &format!("Bearer {}", tokens.access_token)).status, 200);
    fake.set_entra_fault(Fault::Throttle { retry_after_secs: 9 });
    let r = device_code_as(&fake, "organizations", DEFAULT_CLIENT_ID, ADO_SCOPE);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("9"));
    fake.set_entra_fault(Fault::Garbage);
    let r = refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token);
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    fake.set_entra_fault(Fault::None);
    fake.set_fault(Fault::Status(500));
    assert_eq!(refresh(&fake, DEFAULT_CLIENT_ID, &tokens.refresh_token).status, 200);
    assert_eq!(fake.count(Route::Token), 3);
    assert_eq!(fake.count(Route::DeviceCode), 1);
}

/// RFC 7636 appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "http://localhost:4321/";

fn authorize(fake: &FakeAzdo, extra: &str) -> Reply {
    let query = format!(
        "client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4321%2F&scope={}&state=st%2Bx&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        support::form_value(&scope_rt())
    );
    get(&fake.url(), &format!("/organizations/oauth2/v2.0/authorize?{query}"), &[])
}

fn query_of(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(support::decode))
}

fn redeem(fake: &FakeAzdo, code: &str, verifier: &str, redirect: &str) -> Reply {
    post_form(
        &fake.url(),
        "/organizations/oauth2/v2.0/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("scope", &scope_rt()),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", verifier),
        ],
    )
}

#[test]
fn authorize_redirects_with_a_code_that_only_the_verifier_redeems_once() {
    let fake = fake();
    // No sign-in planned: the page stays on screen, nothing redirects.
    let waiting = authorize(&fake, "");
    assert_eq!((waiting.status, waiting.header("Location")), (200, None), "{waiting:?}");
    fake.approve_browser_sign_in(ALICE);
    let r = authorize(&fake, "");
    assert_eq!(r.status, 302, "{r:?}");
    let location = r.header("Location").expect("Location").to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_of(&location, "state").as_deref(), Some("st+x"), "state round trip");
    let code = query_of(&location, "code").expect("code");
    assert_eq!(
        redeem(&fake, &code, "wrong-verifier-wrong-verifier-wrong-verifier", REDIRECT).json()["error_codes"][0],
        501_481
    );
    assert_eq!(redeem(&fake, &code, VERIFIER, "http://localhost:9/").json()["error"], "invalid_grant");
    let ok = redeem(&fake, &code, VERIFIER, REDIRECT);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.json()["refresh_token"].as_str().is_some());
    assert_eq!(redeem(&fake, &code, VERIFIER, REDIRECT).json()["error_codes"][0], 54005, "redeemed once");
    assert_eq!(fake.code_grants(), (4, 1));
    assert_eq!(fake.authorize_requests()[1].code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(fake.count(Route::Authorize), 2);
}

#[test]
fn authorize_answers_form_post_denial_and_bad_requests_as_entra_does() {
    let fake = fake();
    fake.approve_browser_sign_in(ALICE);
    let page = authorize(&fake, "&response_mode=form_post");
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("action=\"http://localhost:4321/\"") && html.contains("name=\"code\""), "{html}");
    assert!(html.contains("document.forms[0].submit()"), "{html}");
    fake.deny_browser_sign_in();
    let denied = authorize(&fake, "");
    let location = denied.header("Location").expect("Location").to_string();
    assert_eq!(query_of(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_of(&location, "state").as_deref(), Some("st+x"));
    // No PKCE: an error redirect; a redirect URI that matches no registration: Entra's own page.
    let no_pkce = get(
        &fake.url(),
        &format!("/organizations/oauth2/v2.0/authorize?client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A4321%2F&scope=openid+499b84ac-1321-427f-aa17-267ca6975798%2F.default"),
        &[],
    );
    assert_eq!(query_of(no_pkce.header("Location").expect("Location"), "error").as_deref(), Some("invalid_request"));
    let foreign = get(
        &fake.url(),
        &format!("/organizations/oauth2/v2.0/authorize?client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F&scope=openid"),
        &[],
    );
    assert_eq!((foreign.status, foreign.header("Location")), (400, None));
    assert!(foreign.text().contains("AADSTS50011"));
}
