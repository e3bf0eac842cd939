//! The fake's non-user identities: client assertions checked as Entra checks them (signature,
//! thumbprints, audience, issuer and subject, lifetime), the metadata endpoint's rules, and
//! principals' tokens accepted only in the orgs they were added to.

mod support;

use base64::Engine as _;
use fake_azdo::{Assignment, FakeAzdo, ADO_SCOPE, TENANT_ID};
use support::{get, post_form};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/identity").join(name);
    std::fs::read(path).expect("fixture")
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The PKCS #8 key in a fixture PEM.
fn key(pem: &str) -> ring::signature::RsaKeyPair {
    let text = String::from_utf8(fixture(pem)).expect("pem");
    let body: String = text
        .split("-----BEGIN PRIVATE KEY-----")
        .nth(1)
        .and_then(|r| r.split("-----END PRIVATE KEY-----").next())
        .expect("key block")
        .lines()
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).expect("base64");
    ring::signature::RsaKeyPair::from_pkcs8(&der).expect("rsa key")
}

/// A client assertion signed with `pem`'s key, naming the `sp` certificate by thumbprint.
fn assertion(pem: &str, claims: serde_json::Value) -> String {
    let der = fixture("sp-cert.der");
    let x5t = b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der).as_ref());
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let key = key(pem);
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut sig)
        .expect("sign");
    format!("{input}.{}", b64url(&sig))
}

fn setup() -> (FakeAzdo, String, String) {
    let fake = FakeAzdo::start();
    let sp = fake.add_service_principal("sp");
    fake.add_principal_certificate(&sp.client_id, &fixture("sp-cert.der"), &fixture("sp-public.der"));
    let endpoint = format!("{}/{TENANT_ID}/oauth2/v2.0/token", fake.url());
    (fake, sp.client_id, endpoint)
}

fn claims(client: &str, aud: &str, nbf: i64, exp: i64) -> serde_json::Value {
    serde_json::json!({"aud": aud, "iss": client, "sub": client, "jti": "a1", "nbf": nbf, "exp": exp})
}

fn exchange(fake: &FakeAzdo, client: &str, jwt: &str) -> support::Reply {
    let path = format!("/{TENANT_ID}/oauth2/v2.0/token");
    let fields = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("scope", ADO_SCOPE),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", jwt),
    ];
    post_form(&fake.url(), &path, &fields)
}

fn aadsts(reply: &support::Reply) -> String {
    reply.json()["error_description"].as_str().unwrap_or("").split(':').next().unwrap_or("").to_owned()
}

#[test]
fn a_certificate_assertion_is_checked_like_entra_checks_it() {
    let (fake, client, aud) = setup();
    let now = support::now();
    let ok = exchange(&fake, &client, &assertion("sp.pem", claims(&client, &aud, now, now + 600)));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["access_token"].as_str().is_some_and(|t| t.starts_with("eyJ")));

    let cases = [
        ("signed with another key", assertion("other.pem", claims(&client, &aud, now, now + 600)), "AADSTS700027"),
        ("expired", assertion("sp.pem", claims(&client, &aud, now - 1500, now - 900)), "AADSTS700024"),
        ("lives too long", assertion("sp.pem", claims(&client, &aud, now, now + 7200)), "AADSTS700024"),
        (
            "another audience",
            assertion("sp.pem", claims(&client, "https://elsewhere/token", now, now + 600)),
            "AADSTS700212",
        ),
        (
            "subject is not the issuer",
            assertion(
                "sp.pem",
                serde_json::json!({"aud": aud, "iss": client, "sub": "x", "jti": "1", "nbf": now, "exp": now + 600}),
            ),
            "AADSTS50048",
        ),
    ];
    for (what, jwt, code) in cases {
        let reply = exchange(&fake, &client, &jwt);
        assert_eq!((reply.status, aadsts(&reply)), (401, code.to_owned()), "{what}: {}", reply.text());
    }
    let unknown = exchange(&fake, "8b1e0c1a-1111-4222-8333-444455556666", "x.y.z");
    assert_eq!(aadsts(&unknown), "AADSTS700016");
}

#[test]
fn a_principals_token_works_only_in_orgs_it_was_added_to() {
    let (fake, client, aud) = setup();
    fake.add_org("contoso");
    let now = support::now();
    let reply = exchange(&fake, &client, &assertion("sp.pem", claims(&client, &aud, now, now + 600)));
    let token = reply.json()["access_token"].as_str().expect("token").to_owned();
    let bearer = format!("Bearer {token}");
    let headers = [("Authorization", bearer.as_str()), ("X-TFS-FedAuthRedirect", "Suppress")];
    assert_eq!(get(&fake.url(), "/contoso/_apis/connectionData", &headers).status, 401);
    fake.add_principal_to_org("contoso", &client);
    assert_eq!(get(&fake.url(), "/contoso/_apis/connectionData", &headers).status, 200);
}

#[test]
fn the_metadata_endpoint_wants_its_header_and_names_unknown_identities() {
    let fake = FakeAzdo::start();
    fake.add_managed_identity("vm", Assignment::System);
    let path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798";
    let no_header = get(&fake.url(), path, &[]);
    assert_eq!(no_header.status, 400);
    let ok = get(&fake.url(), path, &[("Metadata", "true")]);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert!(ok.json()["expires_on"].is_string(), "numbers are strings: {}", ok.text());
    let proxied = get(&fake.url(), path, &[("Metadata", "true"), ("X-Forwarded-For", "10.0.0.1")]);
    assert_eq!(proxied.status, 400);
    let unknown =
        get(&fake.url(), &format!("{path}&client_id=8b1e0c1a-1111-4222-8333-444455556666"), &[("Metadata", "true")]);
    assert_eq!((unknown.status, unknown.json()["error_description"].as_str()), (400, Some("Identity not found")));
}
