//! The REST side of the fake: connectionData, the org challenge, faults, counters.

mod support;

use std::time::{Duration, Instant};

use fake_azdo::{FakeAzdo, Fault, Route, ANONYMOUS_ID, REALM, TENANT_ID};
use support::{basic, get, in_a_month, now, raw, request, Reply};

const SUPPRESS: (&str, &str) = ("X-TFS-FedAuthRedirect", "Suppress");
const ALICE: &str = "alice@contoso.example";

fn fake_with_pat(scopes: &[&str]) -> (FakeAzdo, String) {
    let fake = FakeAzdo::start();
    fake.add_org("contoso");
    let pat = fake.add_pat("contoso", ALICE, scopes, in_a_month());
    (fake, pat.token)
}

fn cd(fake: &FakeAzdo, auth: Option<&str>) -> Reply {
    let mut headers = vec![("Accept", "application/json"), SUPPRESS];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    get(&fake.url(), "/contoso/_apis/connectionData", &headers)
}

/// The ids Azure DevOps puts on every response.
fn assert_common_headers(r: &Reply) {
    for name in [
        "ActivityId",
        "X-TFS-ProcessId",
        "X-VSS-E2EID",
        "X-TFS-Session",
        "X-VSS-SenderDeploymentId",
        "Date",
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Strict-Transport-Security",
    ] {
        assert!(r.header(name).is_some(), "missing {name}: {r:?}");
    }
    assert_eq!(r.header("ActivityId"), r.header("X-VSS-E2EID"));
}

fn assert_rejected_401(r: &Reply) {
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.all("WWW-Authenticate"), vec![format!("Basic realm=\"{REALM}\"")], "{r:?}");
    assert!(r.header("X-VSS-UserData").is_none(), "{r:?}");
    assert_common_headers(r);
}

#[test]
fn valid_pat_gets_its_identity() {
    let (fake, pat) = fake_with_pat(&["vso.code_write"]);
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 200, "{r:?}");
    assert_common_headers(&r);
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8; api-version=7.1-preview.1"));
    let id = fake.user_id(ALICE).expect("user id");
    assert_eq!(r.header("X-VSS-UserData"), Some(format!("{id}:{ALICE}").as_str()));
    let v = r.json();
    for who in ["authenticatedUser", "authorizedUser"] {
        let u = &v[who];
        assert_eq!(u["id"], id.as_str());
        assert_eq!(
            u["descriptor"],
            format!("Microsoft.IdentityModel.Claims.ClaimsIdentity;{TENANT_ID}\\{ALICE}").as_str()
        );
        assert!(u["subjectDescriptor"].as_str().is_some_and(|s| s.starts_with("aad.")));
        assert_eq!(u["providerDisplayName"], "Alice");
        assert_eq!(u["isActive"], true);
        assert_eq!(u["properties"]["Account"]["$type"], "System.String");
        assert_eq!(u["properties"]["Account"]["$value"], ALICE);
        assert_eq!(u["metaTypeId"], 0);
    }
    assert_eq!(v["deploymentType"], "hosted");
    assert!(v["instanceId"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(v["deploymentId"].as_str(), r.header("X-VSS-SenderDeploymentId"));
    let lsd = &v["locationServiceData"];
    assert_eq!(lsd["defaultAccessMappingMoniker"], "PublicAccessMapping");
    assert_eq!(lsd["lastChangeId"], lsd["lastChangeId64"]);
    // Key order as the service writes it (regex-based clients depend on it).
    let text = r.text();
    assert!(text.starts_with("{\"authenticatedUser\":{\"id\":"), "{text}");
}

#[test]
fn any_user_name_path_casing_org_casing_and_query() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let auth = basic("anything", &pat);
    for path in [
        "/contoso/_apis/connectionData",
        "/Contoso/_apis/ConnectionData",
        "/CONTOSO/_APIS/connectiondata?connectOptions=1&lastChangeId=-1&lastChangeId64=-1",
        "/contoso/_apis/connectionData/",
    ] {
        let r = get(&fake.url(), path, &[("Authorization", &auth), SUPPRESS]);
        assert_eq!(r.status, 200, "{path}: {r:?}");
        assert!(r.header("X-VSS-UserData").is_some(), "{path}");
    }
    // The scope does not matter for connectionData.
    let other = fake.add_pat("contoso", "bob@contoso.example", &["vso.work"], in_a_month());
    assert_eq!(cd(&fake, Some(&basic("pat", &other.token))).status, 200);
}

#[test]
fn api_version_is_echoed_and_must_be_a_preview() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let auth = basic("", &pat);
    let url = fake.url();
    let r = get(&url, "/contoso/_apis/connectionData?api-version=5.0-preview.1", &[("Authorization", &auth), SUPPRESS]);
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8; api-version=5.0-preview.1"));
    let r = get(
        &url,
        "/contoso/_apis/connectionData",
        &[("Authorization", &auth), ("Accept", "application/json;api-version=7.1-preview"), SUPPRESS],
    );
    assert_eq!(r.header("Content-Type"), Some("application/json; charset=utf-8; api-version=7.1-preview.1"));
    let r = get(&url, "/contoso/_apis/connectionData?api-version=7.1", &[("Authorization", &auth), SUPPRESS]);
    assert_eq!(r.status, 400, "{r:?}");
    let v = r.json();
    assert_eq!(v["typeKey"], "VssInvalidPreviewVersionException");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("-preview flag must be supplied")));
}

#[test]
fn bad_pat_is_401_with_the_basic_challenge_only() {
    let (fake, _) = fake_with_pat(&["vso.code"]);
    for auth in [
        basic("", "not-a-pat"),
        "Basic !!!not base64".to_string(),
        "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.e30.".to_string(),
    ] {
        let r = cd(&fake, Some(&auth));
        assert_rejected_401(&r);
        assert!(r.body.is_empty(), "{r:?}");
        assert_eq!(r.header("Content-Length"), Some("0"));
    }
}

#[test]
fn revoked_and_other_org_pats_are_rejected() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.add_org("fabrikam");
    let foreign = fake.add_pat("fabrikam", ALICE, &["vso.code"], in_a_month());
    assert_rejected_401(&cd(&fake, Some(&basic("", &foreign.token))));
    // ...while it works in its own org.
    let r =
        get(&fake.url(), "/fabrikam/_apis/connectionData", &[("Authorization", &basic("", &foreign.token)), SUPPRESS]);
    assert_eq!(r.status, 200, "{r:?}");

    assert_eq!(cd(&fake, Some(&basic("", &pat))).status, 200);
    fake.revoke_pat(&pat);
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_rejected_401(&r);
    assert!(r.header("X-TFS-ServiceError").is_none());
}

#[test]
fn no_credentials_get_the_full_challenge() {
    let (fake, _) = fake_with_pat(&["vso.code"]);
    let r = cd(&fake, None);
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.body.is_empty());
    assert_eq!(
        r.all("WWW-Authenticate"),
        vec![
            format!("Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}"),
            format!("Basic realm=\"{REALM}\""),
            "TFS-Federated".to_string(),
        ]
    );
    assert_eq!(r.header("X-VSS-ResourceTenant"), Some(TENANT_ID));
    assert!(r.header("X-TFS-SoapException").is_some_and(|s| s.contains("TF400813")));
    assert!(r.header("X-VSS-UserData").is_none());
}

#[test]
fn expired_pat_is_401_with_the_expiry_message() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.expire_pat(&pat);
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        r.header("X-TFS-ServiceError"),
        Some("Access%20Denied%3A%20The%20Personal%20Access%20Token%20used%20has%20expired.")
    );
    assert!(r.header("X-VSS-UserData").is_none());
    let v = r.json();
    assert_eq!(v["typeKey"], "AccessCheckException");
    assert_eq!(v["message"], "Access Denied: The Personal Access Token used has expired.");
    // A PAT created already expired behaves the same.
    let old = fake.add_pat("contoso", ALICE, &["vso.code"], now() - 10);
    assert_eq!(cd(&fake, Some(&basic("", &old.token))).status, 401);
}

#[test]
fn public_org_answers_bad_credentials_anonymously() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.set_public("CONTOSO", true);
    let revoked = fake.add_pat("contoso", "bob@contoso.example", &["vso.code"], in_a_month());
    fake.revoke_pat(&revoked.token);
    for auth in [None, Some(basic("", "garbage")), Some(basic("", &revoked.token))] {
        // With or without Suppress.
        for headers in [vec![SUPPRESS], vec![]] {
            let mut headers = headers;
            if let Some(a) = &auth {
                headers.push(("Authorization", a.as_str()));
            }
            let r = get(&fake.url(), "/contoso/_apis/connectionData", &headers);
            assert_eq!(r.status, 200, "{auth:?}: {r:?}");
            assert!(r.header("X-VSS-UserData").is_none());
            let v = r.json();
            let u = &v["authenticatedUser"];
            assert_eq!(u["id"], ANONYMOUS_ID);
            assert_eq!(u["descriptor"], format!("System:PublicAccess;{ANONYMOUS_ID}").as_str());
            assert_eq!(u["properties"]["Account"]["$value"], "Anonymous");
            assert_eq!(v["authorizedUser"]["id"], ANONYMOUS_ID);
        }
    }
    // A valid PAT still gets the real identity.
    let r = cd(&fake, Some(&basic("", &pat)));
    assert!(r.header("X-VSS-UserData").is_some());
    assert_ne!(r.json()["authenticatedUser"]["id"], ANONYMOUS_ID);
    fake.set_public("contoso", false);
    assert_eq!(cd(&fake, None).status, 401);
}

#[test]
fn without_suppress_the_sign_in_page_is_203_html() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let expired = fake.add_pat("contoso", ALICE, &["vso.code"], now() - 10);
    for auth in [None, Some(basic("", "garbage")), Some(basic("", &expired.token))] {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let r = get(&fake.url(), "/contoso/_apis/connectionData", &headers);
        assert_eq!(r.status, 203, "{r:?}");
        assert!(r.header("Content-Type").is_some_and(|c| c.starts_with("text/html")));
        assert!(r.text().contains("Sign In"));
        assert!(r.header("X-VSS-UserData").is_none());
    }
    // A valid PAT needs no Suppress.
    let r = get(&fake.url(), "/contoso/_apis/connectionData", &[("Authorization", &basic("", &pat))]);
    assert_eq!(r.status, 200);
}

#[test]
fn unknown_org_is_404() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let r = get(&fake.url(), "/nosuchorg/_apis/connectionData", &[("Authorization", &basic("", &pat)), SUPPRESS]);
    assert_eq!(r.status, 404, "{r:?}");
    assert!(r.header("X-TFS-ServiceError").is_some());
    assert_eq!(r.json()["typeKey"], "HostDoesNotExistException");
    assert_common_headers(&r);
    assert_eq!(request(&fake.url(), "HEAD", "/nosuchorg", &[]).expect("HEAD").status, 404);
}

#[test]
fn org_url_challenge_carries_the_tenant() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    for (method, path) in [("HEAD", "/contoso"), ("GET", "/contoso/"), ("GET", "/Contoso")] {
        let r = request(&fake.url(), method, path, &[]).expect("request");
        assert_eq!(r.status, 401, "{method} {path}: {r:?}");
        assert_eq!(
            r.all("WWW-Authenticate"),
            vec![
                format!("Bearer authorization_uri=https://login.microsoftonline.com/{TENANT_ID}"),
                format!("Basic realm=\"{REALM}\""),
                "TFS-Federated".to_string(),
            ]
        );
        assert_eq!(r.header("X-VSS-ResourceTenant"), Some(TENANT_ID));
        assert_eq!(r.header("X-VSS-AuthorizationEndpoint"), Some("https://contoso.vssps.visualstudio.com/"));
        assert_eq!(r.header("X-TFS-FedAuthRealm"), Some(REALM));
        assert_eq!(r.header("X-TFS-FedAuthIssuer"), Some("https://contoso.visualstudio.com/"));
        assert_common_headers(&r);
    }
    fake.set_authority("http://127.0.0.1:1/");
    let r = request(&fake.url(), "HEAD", "/contoso", &[]).expect("HEAD");
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("Bearer authorization_uri=http://127.0.0.1:1/{TENANT_ID}").as_str())
    );
    // An authenticated caller is let in.
    let r = get(&fake.url(), "/contoso", &[("Authorization", &basic("", &pat))]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.header("X-VSS-UserData").is_some());
    assert_eq!(fake.count(Route::Challenge), 5);
}

#[test]
fn other_routes_are_404() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let auth = basic("", &pat);
    for path in [
        "/",
        "/_apis/connectionData",
        "/contoso/_apis/projects",
        "/contoso/proj/_apis/git/repositories/repo",
        "/contoso/proj/somewhere",
    ] {
        let r = get(&fake.url(), path, &[("Authorization", &auth), SUPPRESS]);
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    let r = get(&fake.url(), "/contoso/_apis/projects", &[SUPPRESS]);
    assert!(r.text().contains("controller for path"), "{r:?}");
    assert_eq!(fake.count(Route::Other), 6);
    assert_eq!(fake.count(Route::ConnectionData), 0);
}

#[test]
fn connection_is_reused_for_keep_alive_requests() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let auth = basic("", &pat);
    let one = format!(
        "GET /contoso/_apis/connectionData HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nX-TFS-FedAuthRedirect: Suppress\r\n\r\n"
    );
    let last = "GET /contoso/_apis/connectionData HTTP/1.1\r\nHost: x\r\nX-TFS-FedAuthRedirect: Suppress\r\nConnection: close\r\n\r\n";
    let bytes = raw(&fake.url(), format!("{one}{one}{last}").as_bytes()).expect("raw");
    let (a, n1) = support::parse_reply_at(&bytes, false).expect("first");
    let (b, n2) = support::parse_reply_at(&bytes[n1..], false).expect("second");
    let (c, _) = support::parse_reply_at(&bytes[n1 + n2..], false).expect("third");
    assert_eq!((a.status, b.status, c.status), (200, 200, 401));
    assert_eq!(fake.count(Route::ConnectionData), 3);
}

#[test]
fn throttle_fault_is_429_with_rate_limit_headers() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.set_fault(Fault::Throttle { retry_after_secs: 17 });
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.header("Retry-After"), Some("17"));
    for name in ["X-RateLimit-Resource", "X-RateLimit-Delay", "X-RateLimit-Limit", "X-RateLimit-Remaining"] {
        assert!(r.header(name).is_some(), "missing {name}");
    }
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("0"));
    let reset: i64 = r.header("X-RateLimit-Reset").and_then(|v| v.parse().ok()).expect("X-RateLimit-Reset");
    assert!(reset >= now() + 10 && reset <= now() + 30, "{reset}");
    let v = r.json();
    assert!(v["message"].as_str().is_some_and(|m| m.starts_with("TF400733: The request has been canceled")));
    assert_eq!(v["$id"], "1");
    // Faults stay until cleared, and apply to any API path, not to the org URL.
    assert_eq!(get(&fake.url(), "/_apis/anything", &[]).status, 429);
    assert_eq!(request(&fake.url(), "HEAD", "/contoso", &[]).expect("HEAD").status, 401);
    fake.set_fault(Fault::None);
    assert_eq!(cd(&fake, Some(&basic("", &pat))).status, 200);
}

#[test]
fn status_fault_503_is_the_stopped_collection() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.set_fault(Fault::Status(503));
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 503);
    assert!(r.header("X-TFS-ServiceError").is_some_and(|v| v.starts_with("TF24668%3A")));
    // The captured body starts with a UTF-8 byte-order mark.
    assert!(r.body.starts_with("\u{feff}".as_bytes()));
    let v: serde_json::Value = serde_json::from_slice(&r.body[3..]).expect("JSON after the BOM");
    assert_eq!(v["typeKey"], "VssServiceException");
    assert!(v["message"].as_str().is_some_and(|m| m.contains("contoso")));

    fake.set_fault(Fault::Status(500));
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["errorCode"], 0);
}

#[test]
fn drop_fault_closes_without_a_byte() {
    let (fake, _) = fake_with_pat(&["vso.code"]);
    fake.set_fault(Fault::Drop);
    let got = raw(&fake.url(), b"GET /contoso/_apis/connectionData HTTP/1.1\r\nHost: x\r\n\r\n");
    // Either a clean close or a reset, but never a response.
    assert!(got.as_ref().map_or(true, |b| b.is_empty()), "{got:?}");
    assert_eq!(fake.count(Route::ConnectionData), 1);
}

#[test]
fn garbage_fault_is_200_json_that_is_not_json() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.set_fault(Fault::Garbage);
    let r = cd(&fake, Some(&basic("", &pat)));
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").is_some_and(|c| c.starts_with("application/json")));
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    assert!(r.header("X-VSS-UserData").is_none());
}

#[test]
fn latency_fault_delays_then_answers() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    let delay = Duration::from_millis(400);
    fake.set_fault(Fault::Latency(delay));
    let started = Instant::now();
    let r = cd(&fake, Some(&basic("", &pat)));
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(r.status, 200);
    // The challenge route is not an API route: no delay there.
    let started = Instant::now();
    request(&fake.url(), "HEAD", "/contoso", &[]).expect("HEAD");
    assert!(started.elapsed() < delay);
}

#[test]
fn git_fault_does_not_touch_the_api() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    fake.set_git_fault(Fault::Status(500));
    assert_eq!(cd(&fake, Some(&basic("", &pat))).status, 200);
}

#[test]
fn counters_count_and_reset() {
    let (fake, pat) = fake_with_pat(&["vso.code"]);
    for _ in 0..3 {
        cd(&fake, Some(&basic("", &pat)));
    }
    request(&fake.url(), "HEAD", "/contoso", &[]).expect("HEAD");
    get(&fake.url(), "/elsewhere/x", &[]);
    assert_eq!(fake.count(Route::ConnectionData), 3);
    assert_eq!(fake.count(Route::Challenge), 1);
    assert_eq!(fake.count(Route::Other), 1);
    assert_eq!(fake.count(Route::Git), 0);
    fake.reset_counts();
    assert_eq!(fake.count(Route::ConnectionData), 0);
    cd(&fake, None);
    assert_eq!(fake.count(Route::ConnectionData), 1);
}

#[test]
fn pat_strings_look_real_and_differ() {
    let fake = FakeAzdo::start();
    let a = fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    let b = fake.add_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_ne!(a.token, b.token);
    assert_ne!(a.authorization_id, b.authorization_id);
    assert_eq!(a.token.len(), 84);
    assert!(a.token.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(&a.token[52..58], "JQQJ99");
    assert_eq!(&a.token[76..80], "AZDO");
    let legacy = fake.add_legacy_pat("contoso", ALICE, &["vso.code"], in_a_month());
    assert_eq!(legacy.token.len(), 52);
    assert!(legacy.token.bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
    assert_eq!(cd(&fake, Some(&basic("", &legacy.token))).status, 200);
    assert_eq!(a.authorization_id.len(), 36);
}

#[test]
fn drop_stops_the_server_and_removes_its_files() {
    let fake = FakeAzdo::start();
    let dir = fake.add_repo("contoso", "proj", "repo");
    assert!(dir.is_dir());
    if support::has_git() {
        assert!(dir.join("HEAD").exists());
    }
    let root = fake.root().to_path_buf();
    let url = fake.url();
    // A connection left open does not keep the server alive.
    let idle = std::net::TcpStream::connect(url.trim_start_matches("http://")).expect("connect");
    let started = Instant::now();
    drop(fake);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(!root.exists());
    // The idle connection was shut down.
    let mut buf = [0u8; 16];
    let mut idle = idle;
    assert!(std::io::Read::read(&mut idle, &mut buf).map_or(true, |n| n == 0));
}
