//! The PAT lifecycle API: create, list, get, update, revoke; Entra-only authentication; org
//! policies; minted PATs working (and then not) on connectionData and git.

mod support;

use fake_azdo::{FakeAzdo, Fault, PatPolicy, Route, REALM, TENANT_ID};
use serde_json::{json, Value};
use support::{basic, get, in_a_month, now, send, Reply};

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const SUPPRESS: (&str, &str) = ("X-TFS-FedAuthRedirect", "Suppress");
const V71: &str = "api-version=7.1-preview.1";

struct World {
    fake: FakeAzdo,
    /// Alice's Entra access token.
    token: String,
}

fn world() -> World {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    fake.add_repo("contoso", "proj", "repo");
    let token = fake.issue_entra_tokens(ALICE).access_token;
    World { fake, token }
}

/// An ISO date `days` from now, with milliseconds, as a client would send it.
fn days_from_now(days: i64) -> String {
    iso(now() + days * 86_400, ".319")
}

fn iso(unix: i64, frac: &str) -> String {
    // Civil date from days since the epoch (H. Hinnant).
    let z = unix.div_euclid(86_400) + 719_468;
    let secs = unix.rem_euclid(86_400);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

impl World {
    fn call(&self, method: &str, query: &str, body: Option<&Value>) -> Reply {
        self.call_as(&format!("Bearer {}", self.token), method, "contoso", query, body)
    }

    fn call_as(&self, auth: &str, method: &str, org: &str, query: &str, body: Option<&Value>) -> Reply {
        let mut headers = vec![("Authorization", auth), ("Accept", "application/json"), SUPPRESS];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let path = format!("/{org}/_apis/tokens/pats?{query}");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        send(&self.fake.url(), method, &path, &headers, &bytes)
    }

    fn create(&self, body: Value) -> Reply {
        self.call("POST", V71, Some(&body))
    }

    /// Creates a PAT and returns `patToken`.
    fn mint(&self, name: &str, scope: &str) -> Value {
        let r =
            self.create(json!({"displayName": name, "scope": scope, "validTo": days_from_now(30), "allOrgs": false}));
        assert_eq!(r.status, 200, "{r:?}");
        let v = r.json();
        assert_eq!(v["patTokenError"], "none", "{v}");
        v["patToken"].clone()
    }

    fn cd(&self, org: &str, secret: &str) -> u16 {
        get(
            &self.fake.url(),
            &format!("/{org}/_apis/connectionData"),
            &[("Authorization", &basic("", secret)), SUPPRESS],
        )
        .status
    }

    fn info_refs(&self, secret: &str, service: &str) -> u16 {
        get(
            &self.fake.url(),
            &format!("/contoso/proj/_git/repo/info/refs?service={service}"),
            &[("Authorization", &basic("git", secret))],
        )
        .status
    }
}

fn assert_refused(r: &Reply, error: &str) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.text(), format!("{{\"patToken\":null,\"patTokenError\":\"{error}\"}}"));
}

#[test]
fn create_answers_the_documented_shape_and_the_pat_works() {
    let w = world();
    let r = w.create(json!({"displayName": "git-credential-azdo on host", "scope": "vso.code_write", "validTo": "2099-12-01T23:46:23.319Z", "allOrgs": false}));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8; api-version=7.1-preview.1"));
    let id = w.fake.user_id(ALICE).expect("user");
    assert_eq!(r.header("X-VSS-UserData"), Some(format!("{id}:{ALICE}").as_str()));
    let text = r.text();
    assert!(
        text.starts_with("{\"patToken\":{\"displayName\":\"git-credential-azdo on host\",\"validTo\":\"2099-12-01T23:46:23.32Z\",\"scope\":\"vso.code_write\",\"targetAccounts\":[\""),
        "documented key order and validTo rounding: {text}"
    );
    assert!(text.ends_with("},\"patTokenError\":\"none\"}"), "{text}");
    let v = r.json();
    let pat = &v["patToken"];
    let token = pat["token"].as_str().expect("token on create");
    assert_eq!(token.len(), 84);
    assert_eq!(pat["targetAccounts"].as_array().map(Vec::len), Some(1), "{pat}");
    // targetAccounts names the org's id, as connectionData reports it.
    let cd = get(&w.fake.url(), "/contoso/_apis/connectionData", &[("Authorization", &basic("", token)), SUPPRESS]);
    assert_eq!(cd.status, 200);
    assert_eq!(pat["targetAccounts"][0], cd.json()["instanceId"]);
    let valid_from = pat["validFrom"].as_str().expect("validFrom");
    assert!(valid_from.starts_with(&iso(now(), "")[..10]), "{valid_from}");
    let authorization_id = pat["authorizationId"].as_str().expect("authorizationId");
    assert_eq!(authorization_id.len(), 36);
    // The minted PAT works on git like any other, within its scope.
    // Served by git http-backend.
    if support::has_git() {
        assert_eq!(w.info_refs(token, "git-upload-pack"), 200);
        assert_eq!(w.info_refs(token, "git-receive-pack"), 200);
    }
    assert_eq!(w.cd("fabrikam", token), 404, "unknown org");
    w.fake.add_org("fabrikam");
    assert_eq!(w.cd("fabrikam", token), 401, "an org-scoped PAT");
    // Recorded for assertions.
    let minted = w.fake.minted("CONTOSO");
    assert_eq!(minted.len(), 1);
    let m = &minted[0];
    assert_eq!(m.org, "contoso");
    assert_eq!(m.upn, ALICE);
    assert_eq!(m.display_name, "git-credential-azdo on host");
    assert_eq!(m.scope, "vso.code_write");
    assert_eq!(m.requested_valid_to, "2099-12-01T23:46:23.319Z");
    assert_eq!(m.valid_to_text, "2099-12-01T23:46:23.32Z");
    assert_eq!(m.valid_to, 4_099_851_983);
    assert_eq!((m.token.as_str(), m.authorization_id.as_str()), (token, authorization_id));
    assert!(!m.all_orgs && !m.revoked);
    assert!((m.valid_from - now()).abs() < 60);
    assert_eq!(w.fake.count(Route::PatCreate), 1);
    // add_pat PATs are not "minted".
    w.fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!(w.fake.minted("contoso").len(), 1);
}

#[test]
fn revoking_by_authorization_id_stops_the_pat() {
    let w = world();
    let pat = w.mint("to revoke", "vso.code");
    let (token, id) = (pat["token"].as_str().expect("token"), pat["authorizationId"].as_str().expect("id"));
    assert_eq!(w.cd("contoso", token), 200);
    let r = w.call("DELETE", &format!("authorizationId={id}&{V71}"), None);
    assert_eq!(r.status, 204, "{r:?}");
    assert!(r.body.is_empty());
    assert_eq!(w.cd("contoso", token), 401);
    assert_eq!(w.info_refs(token, "git-upload-pack"), 401);
    assert_eq!(w.fake.is_revoked(token), Some(true));
    assert_eq!(w.fake.is_revoked(id), Some(true));
    assert!(w.fake.minted("contoso")[0].revoked);
    // Revoking again is harmless; unknown ids are 404.
    assert_eq!(w.call("DELETE", &format!("authorizationId={id}&{V71}"), None).status, 204);
    let unknown = "4ab5764f-4193-4f1d-b995-64144880b7d7";
    let r = w.call("DELETE", &format!("authorizationId={unknown}&{V71}"), None);
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.json()["typeKey"], "SessionTokenNotFoundException");
    // A PAT from add_pat can be revoked through the API too (rotation of a stored PAT).
    let old = w.fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!(w.fake.is_revoked(&old.token), Some(false));
    let r = w.call("DELETE", &format!("authorizationId={}&{V71}", old.authorization_id.to_uppercase()), None);
    assert_eq!(r.status, 204);
    assert_eq!(w.cd("contoso", &old.token), 401);
    // Another user's PAT is not yours to revoke.
    let bobs = w.fake.add_pat("contoso", BOB, &["vso.code"], in_a_month());
    assert_eq!(w.call("DELETE", &format!("authorizationId={}&{V71}", bobs.authorization_id), None).status, 404);
    assert_eq!(w.fake.is_revoked(&bobs.token), Some(false));
    assert_eq!(w.fake.is_revoked("never-issued"), None);
    assert_eq!(w.fake.count(Route::PatRevoke), 5);
    // Missing or malformed ids are 400.
    assert_eq!(w.call("DELETE", V71, None).status, 400);
    assert_eq!(w.call("DELETE", &format!("authorizationId=nope&{V71}"), None).status, 400);
}

#[test]
fn only_entra_bearer_tokens_are_let_in() {
    let w = world();
    let pat = w.fake.add_pat("contoso", ALICE, &["app_token"], in_a_month());
    let body = json!({"displayName": "x", "scope": "vso.code", "validTo": days_from_now(5), "allOrgs": false});
    // A PAT (Basic) is refused: 401 with Suppress, the 203 sign-in page without.
    let r = w.call_as(&basic("", &pat.token), "POST", "contoso", V71, Some(&body));
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.all("WWW-Authenticate"), vec![format!("Basic realm=\"{REALM}\"")]);
    let id = w.fake.user_id(ALICE).expect("user");
    assert_eq!(
        r.json()["message"],
        format!("TF400813: The user '{id}' is not authorized to access this resource.").as_str()
    );
    assert!(r.header("X-VSS-UserData").is_none());
    let r = send(
        &w.fake.url(),
        "GET",
        &format!("/contoso/_apis/tokens/pats?{V71}"),
        &[("Authorization", &basic("", &pat.token))],
        b"",
    );
    assert_eq!(r.status, 203, "{r:?}");
    assert!(r.header("Content-Type").is_some_and(|c| c.starts_with("text/html")));
    // An access token sent as Basic, or a PAT sent as Bearer, is refused too.
    assert_eq!(w.call_as(&basic(ALICE, &w.token), "GET", "contoso", V71, None).status, 401);
    assert_eq!(w.call_as(&format!("Bearer {}", pat.token), "GET", "contoso", V71, None).status, 401);
    // No credentials: the tenant challenge.
    let r = send(&w.fake.url(), "GET", &format!("/contoso/_apis/tokens/pats?{V71}"), &[SUPPRESS], b"");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}").as_str())
    );
    // An expired access token.
    w.fake.expire_access_tokens();
    let r = w.call("GET", V71, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["typeKey"], "UnauthorizedRequestException");
    assert!(w.fake.minted("contoso").is_empty());
    // Unknown org.
    let fresh = w.fake.issue_entra_tokens(ALICE).access_token;
    let r = w.call_as(&format!("Bearer {fresh}"), "GET", "nosuchorg", V71, None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["typeKey"], "HostDoesNotExistException");
    assert_eq!(w.fake.count(Route::PatCreate), 1);
    assert_eq!(w.fake.count(Route::PatList), 6);
}

#[test]
fn api_version_is_required_and_must_be_a_preview() {
    let w = world();
    let r = w.call("GET", "", None);
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["typeKey"], "VssVersionNotSpecifiedException");
    let r = w.call("GET", "api-version=7.1", None);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["typeKey"], "VssInvalidPreviewVersionException");
    for (version, echoed) in
        [("6.1-preview", "6.1-preview.1"), ("7.0-preview.1", "7.0-preview.1"), ("7.2-preview.1", "7.2-preview.1")]
    {
        let r = w.call("GET", &format!("api-version={version}"), None);
        assert_eq!(r.status, 200, "{version}: {r:?}");
        assert_eq!(
            r.header("Content-Type"),
            Some(format!("application/json; charset=utf-8; api-version={echoed}").as_str())
        );
    }
    // Path casing does not matter (the spec examples use /_apis/Tokens/Pats).
    let r = send(
        &w.fake.url(),
        "GET",
        &format!("/Contoso/_apis/Tokens/Pats?{V71}"),
        &[("Authorization", &format!("Bearer {}", w.token))],
        b"",
    );
    assert_eq!(r.status, 200, "{r:?}");
    // A verb the API does not have.
    assert_eq!(w.call("PATCH", V71, None).status, 405);
}

#[test]
fn create_validation_errors() {
    let w = world();
    let ok = json!({"displayName": "n", "scope": "vso.code", "validTo": days_from_now(5), "allOrgs": false});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    assert_refused(&w.create(with("displayName", json!(""))), "displayNameRequired");
    assert_refused(&w.create(with("displayName", json!("   "))), "displayNameRequired");
    for scope in ["", "code", "vso.", "vso.Code", "app_token vso code"] {
        assert_refused(&w.create(with("scope", json!(scope))), "invalidScope");
    }
    for valid_to in [json!("yesterday"), json!("2001-01-01T00:00:00Z"), json!(null)] {
        assert_refused(&w.create(with("validTo", valid_to)), "invalidValidTo");
    }
    let mut no_valid_to = ok.clone();
    no_valid_to.as_object_mut().expect("object").remove("validTo");
    assert_refused(&w.create(no_valid_to), "invalidValidTo");
    // Not JSON at all.
    let r = send(
        &w.fake.url(),
        "POST",
        &format!("/contoso/_apis/tokens/pats?{V71}"),
        &[("Authorization", &format!("Bearer {}", w.token)), ("Content-Type", "application/json")],
        b"displayName=x",
    );
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["typeKey"], "ArgumentNullException");
    // Several scopes, a date with an offset, and no allOrgs (false) are fine.
    let r = w.create(
        json!({"displayName": "n", "scope": "vso.code_write vso.packaging", "validTo": "2099-01-01T12:00:00+02:00"}),
    );
    assert_eq!(r.json()["patToken"]["validTo"], "2099-01-01T10:00:00Z");
    assert_eq!(r.json()["patToken"]["scope"], "vso.code_write vso.packaging");
    assert!(w.fake.minted("contoso").len() == 1);
}

#[test]
fn policies_refuse_with_pat_token_errors() {
    let w = world();
    let body = |scope: &str, all: bool| json!({"displayName": "n", "scope": scope, "validTo": days_from_now(30), "allOrgs": all});
    w.fake.set_pat_policy("contoso", PatPolicy::DisableCreation);
    assert_refused(&w.create(body("vso.code", false)), "disablePatCreationPolicyViolation");
    // 7.2 adds patTokenErrorMessage.
    let r = w.call("POST", "api-version=7.2-preview.1", Some(&body("vso.code", false)));
    let v = r.json();
    assert_eq!(v["patToken"], Value::Null);
    assert_eq!(v["patTokenError"], "disablePatCreationPolicyViolation");
    assert!(v["patTokenErrorMessage"].as_str().is_some_and(|m| m.contains("restricted")));
    // Existing PATs keep working meanwhile.
    let old = w.fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!(w.cd("contoso", &old.token), 200);
    // The status can be switched for clients that must cope with an HTTP error.
    w.fake.set_pat_error_status(400);
    assert_eq!(w.create(body("vso.code", false)).status, 400);
    w.fake.set_pat_error_status(200);
    w.fake.clear_pat_policies("contoso");

    w.fake.set_pat_policy("contoso", PatPolicy::RestrictFullScope);
    assert_refused(&w.create(body("app_token", false)), "fullScopePatPolicyViolation");
    assert_eq!(w.create(body("vso.code", false)).json()["patTokenError"], "none");
    w.fake.set_pat_policy("contoso", PatPolicy::RestrictGlobal);
    assert_refused(&w.create(body("vso.code", true)), "globalPatPolicyViolation");
    w.fake.clear_pat_policies("contoso");
    w.fake.set_pat_policy("contoso", PatPolicy::BlockGlobalCreation);
    assert_refused(&w.create(body("vso.code", true)), "globalPATCreationBlocked");
    w.fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDaysStrict(7));
    assert_refused(&w.create(body("vso.code", false)), "patLifespanPolicyViolation");
    let r = w.create(json!({"displayName": "n", "scope": "vso.code", "validTo": days_from_now(6)}));
    assert_eq!(r.json()["patTokenError"], "none");
    w.fake.clear_pat_policies("contoso");
    w.fake.set_pat_policy("contoso", PatPolicy::Refuse("invalidClientId".into()));
    assert_refused(&w.create(body("vso.code", false)), "invalidClientId");
    // Setting a policy of the same kind replaces it.
    w.fake.set_pat_policy("contoso", PatPolicy::Refuse("accessDenied".into()));
    assert_refused(&w.create(body("vso.code", false)), "accessDenied");
    w.fake.clear_pat_policies("contoso");
    assert_eq!(w.fake.minted("contoso").len(), 2, "refused requests mint nothing");
}

#[test]
fn lifespan_policy_clamps_valid_to() {
    let w = world();
    w.fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDays(7));
    let before = now();
    let pat = w.mint("clamped", "vso.code");
    let after = now();
    let m = &w.fake.minted("contoso")[0];
    assert!(m.valid_to >= before + 7 * 86_400 && m.valid_to <= after + 7 * 86_400, "{m:?}");
    assert_eq!(pat["validTo"].as_str(), Some(m.valid_to_text.as_str()));
    assert_ne!(m.requested_valid_to, m.valid_to_text);
    // A shorter lifetime is kept as asked (rounded to the service's precision).
    let r = w.create(json!({"displayName": "short", "scope": "vso.code", "validTo": "2000-01-01T00:00:00Z"}));
    assert_refused(&r, "invalidValidTo");
    let asked = days_from_now(2);
    let v = w.create(json!({"displayName": "short", "scope": "vso.code", "validTo": asked})).json();
    assert_eq!(v["patToken"]["validTo"].as_str(), Some(asked.replace(".319Z", ".32Z").as_str()));
}

#[test]
fn list_pages_with_continuation_tokens() {
    let w = world();
    for i in 0..5 {
        w.mint(&format!("pat {i}"), "vso.code");
    }
    let bobs_token = w.fake.issue_entra_tokens(BOB).access_token;
    w.fake.add_named_pat("contoso", BOB, "bob's", &["vso.code"], in_a_month());
    let seeded = w.fake.add_named_pat("contoso", ALICE, "seeded", &["vso.code"], in_a_month());
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let query = if token.is_empty() {
            format!("$top=2&{V71}")
        } else {
            format!("$top=2&continuationToken={}&{V71}", support::form_value(&token))
        };
        let r = w.call("GET", &query, None);
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.text().starts_with("{\"continuationToken\":"), "{}", r.text());
        let v = r.json();
        pages += 1;
        for p in v["patTokens"].as_array().expect("patTokens") {
            assert_eq!(p["token"], Value::Null, "no token strings in lists");
            names.push(p["displayName"].as_str().expect("name").to_string());
        }
        token = v["continuationToken"].as_str().expect("continuationToken").to_string();
        if token.is_empty() {
            break;
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["pat 0", "pat 1", "pat 2", "pat 3", "pat 4", "seeded"]);
    // Bob sees only his.
    let r = w.call_as(&format!("Bearer {bobs_token}"), "GET", "contoso", V71, None);
    let v = r.json();
    assert_eq!(v["patTokens"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["continuationToken"], "");
    // The default page size can be made small.
    w.fake.set_pat_page_size(4);
    let v = w.call("GET", V71, None).json();
    assert_eq!(v["patTokens"].as_array().map(Vec::len), Some(4));
    assert_ne!(v["continuationToken"], "");
    // $top is capped at 100; bad ones and bad continuation tokens are 400.
    assert_eq!(w.call("GET", &format!("$top=1000&{V71}"), None).json()["patTokens"].as_array().map(Vec::len), Some(6));
    assert_eq!(w.call("GET", &format!("$top=0&{V71}"), None).status, 400);
    assert_eq!(w.call("GET", &format!("continuationToken=%21%21&{V71}"), None).status, 400);
    // Filters: revoke one, expire one.
    w.call("DELETE", &format!("authorizationId={}&{V71}", seeded.authorization_id), None);
    w.fake.expire_pat(&w.fake.minted("contoso")[0].token);
    let count = |filter: &str| {
        w.call("GET", &format!("displayFilterOption={filter}&$top=100&{V71}"), None).json()["patTokens"]
            .as_array()
            .map(Vec::len)
    };
    assert_eq!(count("active"), Some(4));
    assert_eq!(count("revoked"), Some(1));
    assert_eq!(count("expired"), Some(1));
    assert_eq!(count("all"), Some(6));
    assert_eq!(w.call("GET", &format!("displayFilterOption=bogus&{V71}"), None).status, 400);
    // Sorting.
    let v = w
        .call(
            "GET",
            &format!("displayFilterOption=all&sortByOption=displayName&isSortAscending=false&$top=100&{V71}"),
            None,
        )
        .json();
    let sorted: Vec<&str> =
        v["patTokens"].as_array().expect("list").iter().filter_map(|p| p["displayName"].as_str()).collect();
    assert_eq!(sorted, ["seeded", "pat 4", "pat 3", "pat 2", "pat 1", "pat 0"]);
    assert_eq!(w.call("GET", &format!("sortByOption=size&{V71}"), None).status, 400);
}

#[test]
fn get_by_authorization_id() {
    let w = world();
    let pat = w.mint("mine", "vso.code");
    let id = pat["authorizationId"].as_str().expect("id");
    let r = w.call("GET", &format!("authorizationId={id}&{V71}"), None);
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["patTokenError"], "none");
    assert_eq!(v["patToken"]["displayName"], "mine");
    assert_eq!(v["patToken"]["authorizationId"], id);
    assert_eq!(v["patToken"]["token"], Value::Null);
    assert_eq!(v["patToken"]["validTo"], pat["validTo"]);
    let r = w.call("GET", &format!("authorizationId=3d3aca0c-9ad3-4b07-8334-08ec8b1ddc32&{V71}"), None);
    assert_eq!(r.status, 404);
    assert!(r.header("X-TFS-ServiceError").is_some());
    assert_eq!(w.call("GET", &format!("authorizationId=not-a-guid&{V71}"), None).status, 400);
    assert_eq!(w.fake.count(Route::PatGet), 3);
    assert_eq!(w.fake.count(Route::PatList), 0);
}

#[test]
fn update_changes_what_is_given() {
    let w = world();
    let pat = w.mint("before", "vso.code");
    let (token, id) = (pat["token"].as_str().expect("token").to_string(), pat["authorizationId"].clone());
    assert_eq!(w.info_refs(&token, "git-receive-pack"), 401, "vso.code cannot push");
    let r =
        w.call("PUT", V71, Some(&json!({"authorizationId": id, "displayName": "after", "scope": "vso.code_write"})));
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert_eq!(v["patToken"]["displayName"], "after");
    assert_eq!(v["patToken"]["scope"], "vso.code_write");
    assert_eq!(v["patToken"]["validTo"], pat["validTo"], "validTo untouched");
    assert_eq!(v["patToken"]["token"], Value::Null);
    if support::has_git() {
        assert_eq!(w.info_refs(&token, "git-receive-pack"), 200, "the new scope applies");
    }
    // allOrgs: targetAccounts null, and the PAT works in other orgs.
    w.fake.add_org("fabrikam");
    assert_eq!(w.cd("fabrikam", &token), 401);
    let v = w.call("PUT", V71, Some(&json!({"authorizationId": id, "allOrgs": true}))).json();
    assert_eq!(v["patToken"]["targetAccounts"], Value::Null);
    assert_eq!(w.cd("fabrikam", &token), 200);
    // Lifespan policy on update counts from creation.
    w.fake.set_pat_policy("contoso", PatPolicy::MaxLifespanDays(10));
    let v = w.call("PUT", V71, Some(&json!({"authorizationId": id, "validTo": days_from_now(300)}))).json();
    let m = &w.fake.minted("contoso")[0];
    assert_eq!(v["patToken"]["validTo"].as_str(), Some(m.valid_to_text.as_str()));
    assert!((m.valid_to - (m.valid_from + 10 * 86_400)).abs() <= 1, "{m:?}");
    w.fake.clear_pat_policies("contoso");
    assert_refused(&w.call("PUT", V71, Some(&json!({"authorizationId": id, "scope": "nope"}))), "invalidScope");
    // An expired PAT cannot be extended (7.2); a revoked one cannot be updated at all.
    w.fake.expire_pat(&token);
    assert_refused(
        &w.call("PUT", V71, Some(&json!({"authorizationId": id, "validTo": days_from_now(3)}))),
        "expiredPatCannotBeExtended",
    );
    w.call("DELETE", &format!("authorizationId={}&{V71}", id.as_str().expect("id")), None);
    assert_refused(
        &w.call("PUT", V71, Some(&json!({"authorizationId": id, "displayName": "x"}))),
        "authorizationNotFound",
    );
    let r = w.call("PUT", V71, Some(&json!({"authorizationId": "3d3aca0c-9ad3-4b07-8334-08ec8b1ddc32"})));
    assert_eq!(r.status, 404);
    assert_eq!(w.call("PUT", V71, Some(&json!({"displayName": "x"}))).status, 400);
    assert_eq!(w.fake.count(Route::PatUpdate), 8);
}

#[test]
fn all_org_pats_work_everywhere_and_list_everywhere() {
    let w = world();
    w.fake.add_org("fabrikam");
    let r =
        w.create(json!({"displayName": "global", "scope": "vso.code", "validTo": days_from_now(3), "allOrgs": true}));
    let v = r.json();
    assert_eq!(v["patToken"]["targetAccounts"], Value::Null);
    let token = v["patToken"]["token"].as_str().expect("token");
    assert_eq!(w.cd("contoso", token), 200);
    assert_eq!(w.cd("fabrikam", token), 200);
    let r = w.call_as(&format!("Bearer {}", w.token), "GET", "fabrikam", V71, None);
    assert_eq!(r.json()["patTokens"][0]["displayName"], "global");
    assert!(w.fake.minted("contoso")[0].all_orgs);
    assert!(w.fake.minted("fabrikam").is_empty(), "recorded where it was created");
}

#[test]
fn rest_faults_apply_to_the_pat_api() {
    let w = world();
    w.fake.set_fault(Fault::Status(503));
    let r = w.create(json!({"displayName": "n", "scope": "vso.code", "validTo": days_from_now(3)}));
    assert_eq!(r.status, 503);
    w.fake.set_fault(Fault::Throttle { retry_after_secs: 3 });
    assert_eq!(w.call("GET", V71, None).status, 429);
    w.fake.set_fault(Fault::None);
    assert!(w.fake.minted("contoso").is_empty());
    assert_eq!(w.fake.count(Route::PatCreate), 1);
    // Entra faults do not touch it.
    w.fake.set_entra_fault(Fault::Status(500));
    assert_eq!(w.call("GET", V71, None).status, 200);
}

#[test]
fn global_pats_work_until_retired_then_fail_with_the_retirement_error() {
    let w = world();
    w.fake.add_org("fabrikam");
    let global = w.fake.add_global_pat("contoso", ALICE, &["vso.code"], in_a_month());
    let scoped = w.fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!((w.cd("contoso", &global.token), w.cd("fabrikam", &global.token)), (200, 200));
    let listed = w.call("GET", V71, None).json();
    let global_row = listed["patTokens"]
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["authorizationId"] == global.authorization_id.as_str())
        .cloned();
    assert_eq!(global_row.expect("listed")["targetAccounts"], Value::Null);
    w.fake.retire_global_pats(true);
    let r =
        get(&w.fake.url(), "/contoso/_apis/connectionData", &[("Authorization", &basic("", &global.token)), SUPPRESS]);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.header("X-TFS-ServiceError").is_some_and(|v| v.contains("globalPatUsageDisabled")), "{r:?}");
    assert_eq!(w.info_refs(&global.token, "git-upload-pack"), 401);
    // An organization's own PAT is untouched.
    assert_eq!(w.cd("contoso", &scoped.token), 200);
    w.fake.retire_global_pats(false);
    assert_eq!(w.cd("contoso", &global.token), 200);
}

#[test]
fn named_pats_are_listed_with_the_validfrom_they_were_backdated_to() {
    let w = world();
    let pat = w.fake.add_named_pat(
        "contoso",
        ALICE,
        "git-credential-azdo on elsewhere 2026-01-02",
        &["vso.code"],
        in_a_month(),
    );
    w.fake.backdate_pat(&pat.authorization_id, 40);
    let listed = w.call("GET", V71, None).json();
    let row = &listed["patTokens"][0];
    assert_eq!(row["displayName"], "git-credential-azdo on elsewhere 2026-01-02");
    let from = row["validFrom"].as_str().expect("validFrom");
    assert_eq!(&from[..10], &iso(now() - 40 * 86_400, "")[..10], "{row}");
}
