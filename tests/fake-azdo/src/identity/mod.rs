//! Identities that are not people, as far as a build machine meets them: service principals
//! (the client-credentials grant with a client secret or a certificate's client assertion,
//! verified with ring: signature, thumbprints, audience, issuer and subject, lifetime), managed
//! identities behind the instance metadata endpoint (`GET /metadata/identity/oauth2/token`,
//! `Metadata: true`) and the App Service form (`GET /msi/token`, `X-IDENTITY-HEADER`), and
//! Azure Pipelines job tokens, and workload identity federation: federated credentials
//! (issuer, subject, audience matched exactly) and the external issuers a build meets (GitHub
//! Actions' ID token endpoint, the Pipelines OIDC endpoint, a managed identity's token for
//! `api://AzureADTokenExchange`, any issuer's token handed over as a file). A principal's tokens
//! work in an org only once it was added to it.

pub(crate) mod control;
mod managed;

use std::collections::HashMap;

use base64::Engine as _;

use crate::entra::{self, ACCESS_TOKEN_LIFETIME};
use crate::http::{Request, Response};
use crate::util::{self, json_str, query_param, B64URL};
use crate::{key, Shared, User, ADO_RESOURCE_ID, TENANT_ID};

pub(crate) use managed::{app_service, imds};

const JSON: &str = "application/json; charset=utf-8";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Managed identity tokens live about a day (the reference's §3.2).
const MI_TOKEN_LIFETIME: i64 = 86_399;
/// Entra wants an assertion to expire "5–10 minutes after nbf at most"; a little slack.
const MAX_ASSERTION_LIFETIME: i64 = 660;
/// Clock skew allowed on `nbf` and `exp`.
const SKEW: i64 = 300;

/// A service principal (or a managed identity's) as the fake's directory knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub client_id: String,
    pub object_id: String,
    pub name: String,
}

#[derive(Clone)]
pub(crate) struct PrincipalRecord {
    pub principal: Principal,
    pub secret: Option<String>,
    /// (certificate DER, public key as PKCS #1 DER)
    pub certificates: Vec<(Vec<u8>, Vec<u8>)>,
    /// Federated credentials: (issuer, subject, audience).
    pub federated: Vec<(String, String, String)>,
    /// Lower-cased org names it was added to.
    pub orgs: Vec<String>,
}

/// How a managed identity is assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    System,
    /// User-assigned, with its Azure resource id.
    User {
        resource_id: String,
    },
}

#[derive(Default)]
pub(crate) struct IdentityState {
    pub principals: Vec<PrincipalRecord>,
    /// Managed identities of "this machine": (client id, assignment).
    pub managed: Vec<(String, Assignment)>,
    /// The App Service form's `IDENTITY_HEADER`.
    pub app_service_header: Option<String>,
    /// Pipeline job token → lower-cased org.
    pub job_tokens: HashMap<String, String>,
    /// The `Authorization` scheme of every git request (`Basic`, `Bearer`, `none`).
    pub git_auth: Vec<String>,
    /// Requests to the metadata endpoint and the App Service form.
    pub mi_requests: usize,
    /// Tokens of external issuers the fake made: token → (issuer, subject, audience, exp). The
    /// lookup stands in for checking the issuer's signature against its published keys.
    pub external: HashMap<String, (String, String, String, i64)>,
    /// GitHub Actions: (ACTIONS_ID_TOKEN_REQUEST_TOKEN, the job's subject).
    pub github: Option<(String, String)>,
    /// Service connections: id → (lower-cased org, project, name).
    pub connections: HashMap<String, (String, String, String)>,
}

impl IdentityState {
    pub fn principal(&self, client_id: &str) -> Option<&PrincipalRecord> {
        self.principals.iter().find(|p| p.principal.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn principal_mut(&mut self, client_id: &str) -> Option<&mut PrincipalRecord> {
        self.principals.iter_mut().find(|p| p.principal.client_id.eq_ignore_ascii_case(client_id))
    }

    /// The user a principal's token stands for in `org`: `None` unless it was added there.
    pub fn member(&self, client_id: &str, org: &str) -> Option<User> {
        let p = self.principal(client_id)?;
        p.orgs.contains(&key(org)).then(|| User {
            id: p.principal.object_id.clone(),
            subject_id: p.principal.object_id.clone(),
            upn: p.principal.client_id.clone(),
            display_name: p.principal.name.clone(),
        })
    }

    /// A job token's user in `org`: the build service, in its own org only.
    pub fn job_user(&self, token: &str, org: &str) -> Option<Option<User>> {
        let job_org = self.job_tokens.get(token)?;
        Some((*job_org == key(org)).then(|| User {
            id: format!("build-{job_org}"),
            subject_id: format!("build-{job_org}"),
            upn: format!("Project Collection Build Service ({job_org})"),
            display_name: format!("Project Collection Build Service ({job_org})"),
        }))
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A JWT-shaped job token (Azure DevOps issues them; the fake knows its own by lookup).
pub(crate) fn job_token(org: &str) -> String {
    let now = util::now_unix();
    let claims = format!(
        "{{\"nameid\":\"build-{}\",\"scp\":\"app_token\",\"aui\":\"{}\",\"iss\":\"app.vstoken.visualstudio.com\",\"aud\":\"app.vstoken.visualstudio.com|vso:{}\",\"nbf\":{now},\"exp\":{}}}",
        key(org),
        util::guid(),
        util::guid(),
        now + 3600
    );
    format!(
        "{}.{}.{}",
        b64url(b"{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5t\":\"fake-azdo\"}"),
        b64url(claims.as_bytes()),
        util::random_string(B64URL, 342)
    )
}

/// The issuer of GitHub Actions' ID tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The audience federated credentials are made for.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A token of an external issuer (GitHub, Pipelines, a Kubernetes cluster, Entra for a managed
/// identity), recorded so the exchange can tell its claims.
pub(crate) fn external_token(shared: &Shared, issuer: &str, subject: &str, audience: &str, lifetime: i64) -> String {
    let now = util::now_unix();
    let claims = format!(
        "{{\"iss\":{},\"sub\":{},\"aud\":{},\"iat\":{now},\"nbf\":{now},\"exp\":{},\"jti\":\"{}\"}}",
        json_str(issuer),
        json_str(subject),
        json_str(audience),
        now + lifetime,
        util::guid()
    );
    let token = format!(
        "{}.{}.{}",
        b64url(b"{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"external\"}"),
        b64url(claims.as_bytes()),
        util::random_string(B64URL, 342)
    );
    let mut st = shared.state();
    st.ids.external.insert(token.clone(), (issuer.into(), subject.into(), audience.into(), now + lifetime));
    st.entra.issued.push(token.clone());
    token
}

/// An assertion of another issuer: known to the fake, unexpired, and matching one of the
/// principal's federated credentials exactly.
fn check_federated(shared: &Shared, record: &PrincipalRecord, assertion: &str) -> Result<(), (u32, String)> {
    let Some((iss, sub, aud, exp)) = shared.state().ids.external.get(assertion).cloned() else {
        return Err((50_027, "JWT token is invalid or malformed.".into()));
    };
    if exp <= util::now_unix() {
        return Err((700_024, "Client assertion is not within its valid time range.".into()));
    }
    if !record.federated.iter().any(|(i, s, a)| *i == iss && *s == sub && *a == aud) {
        return Err((70_021, format!("No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'.")));
    }
    Ok(())
}

/// `GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience=...` with `Authorization: Bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}`.
pub(crate) fn github_id_token(shared: &Shared, req: &Request) -> Response {
    let github = shared.state().ids.github.clone();
    let Some((request_token, subject)) = github else {
        return Response::new(404).body(JSON, "{\"message\":\"Not Found\"}");
    };
    if req.header("Authorization") != Some(format!("Bearer {request_token}").as_str()) {
        return Response::new(401).body(JSON, "{\"message\":\"Bad credentials\"}");
    }
    let audience = query_param(&req.query, "audience").unwrap_or_else(|| "https://github.com".into());
    let token = external_token(shared, GITHUB_ISSUER, &subject, &audience, 300);
    Response::new(200).body(JSON, format!("{{\"count\":1,\"value\":{}}}", json_str(&token)))
}

/// `POST /{org}/{project}/_apis/distributedtask/hubs/{hub}/plans/{plan}/jobs/{job}/oidctoken`
/// with the job token: an OIDC token for a service connection of the job's org.
pub(crate) fn pipelines_oidc(shared: &Shared, req: &Request, org: &str) -> Response {
    let authorized = {
        let st = shared.state();
        let token = req.header("Authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
        st.ids.job_user(token.trim(), org).flatten().is_some()
    };
    if !authorized {
        return Response::new(401)
            .body(JSON, "{\"message\":\"TF400813: The user is not authorized to access this resource.\"}");
    }
    let id = query_param(&req.query, "serviceConnectionId").unwrap_or_default();
    let connection = shared.state().ids.connections.get(&id.to_ascii_lowercase()).cloned();
    let Some((conn_org, project, name)) = connection.filter(|(o, _, _)| *o == key(org)) else {
        return Response::new(400)
            .body(JSON, "{\"message\":\"The service connection does not exist or has not been authorized for use.\"}");
    };
    let issuer = pipelines_issuer(shared, &conn_org);
    let token = external_token(shared, &issuer, &format!("sc://{conn_org}/{project}/{name}"), EXCHANGE_AUDIENCE, 600);
    Response::new(200).body(JSON, format!("{{\"oidcToken\":{}}}", json_str(&token)))
}

/// The Azure DevOps issuer of an org's service connection tokens.
pub(crate) fn pipelines_issuer(shared: &Shared, org: &str) -> String {
    let st = shared.state();
    let id = st.org(org).map(|o| o.instance_id.clone()).unwrap_or_default();
    format!("https://vstoken.dev.azure.com/{id}")
}

/// An access token for a principal, recorded like a user's.
fn issue(shared: &Shared, principal: &Principal, lifetime: i64) -> String {
    let now = util::now_unix();
    let claims = format!(
        "{{\"aud\":\"{ADO_RESOURCE_ID}\",\"iss\":\"https://sts.windows.net/{TENANT_ID}/\",\"iat\":{now},\"nbf\":{now},\"exp\":{},\"appid\":{},\"oid\":{},\"sub\":{},\"tid\":\"{TENANT_ID}\",\"idtyp\":\"app\",\"ver\":\"1.0\"}}",
        now + lifetime,
        json_str(&principal.client_id),
        json_str(&principal.object_id),
        json_str(&principal.object_id),
    );
    let token = format!(
        "{}.{}.{}",
        b64url(b"{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fake-azdo\"}"),
        b64url(claims.as_bytes()),
        util::random_string(B64URL, 342)
    );
    let mut st = shared.state();
    st.entra.access_tokens.insert(
        token.clone(),
        entra::AccessToken {
            upn: principal.client_id.clone(),
            tid: TENANT_ID.to_string(),
            expires_at: now + lifetime,
            principal: Some(principal.client_id.clone()),
            cae: false,
            challenge: None,
        },
    );
    st.entra.issued.push(token.clone());
    token
}

/// The client-credentials grant (`grant_type=client_credentials`) of `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn client_credentials(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Response {
    let err = |status: u16, error: &str, code: u32, text: &str| entra::error(shared, req, status, error, code, text);
    let Some(client_id) = query_param(form, "client_id").filter(|c| !c.is_empty()) else {
        return err(
            400,
            "invalid_request",
            900_144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(record) = shared.state().ids.principal(&client_id).cloned() else {
        return err(
            400,
            "unauthorized_client",
            700_016,
            &format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        );
    };
    let scope = query_param(form, "scope").unwrap_or_default();
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.len() != 1 || !entra::is_ado_default_scope(scopes[0]) {
        return err(400, "invalid_scope", 1_002_012, &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."));
    }
    if let Some(secret) = query_param(form, "client_secret") {
        if record.secret.as_deref() != Some(secret.as_str()) || secret.is_empty() {
            return err(401, "invalid_client", 7_000_215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app.");
        }
    } else if let Some(assertion) = query_param(form, "client_assertion") {
        if query_param(form, "client_assertion_type").as_deref() != Some(ASSERTION_TYPE) {
            return err(
                400,
                "invalid_request",
                90_014,
                "The request body must contain the following parameter: 'client_assertion_type'.",
            );
        }
        let audience = format!("{}{}", request_origin(shared, req), req.path);
        let certificate =
            assertion_header(&assertion).is_some_and(|h| h.get("x5t").is_some() || h.get("x5t#S256").is_some());
        let checked = if certificate {
            check_assertion(&record, &assertion, &audience)
        } else {
            check_federated(shared, &record, &assertion)
        };
        if let Err((code, text)) = checked {
            return err(401, "invalid_client", code, &text);
        }
    } else {
        return err(
            401,
            "invalid_client",
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let token = issue(shared, &record.principal, ACCESS_TOKEN_LIFETIME);
    let body = format!(
        "{{\"token_type\":\"Bearer\",\"expires_in\":{ACCESS_TOKEN_LIFETIME},\"ext_expires_in\":{ACCESS_TOKEN_LIFETIME},\"access_token\":{}}}",
        json_str(&token)
    );
    Response::new(200).header("Cache-Control", "no-store, no-cache").body(JSON, body)
}

/// A JWT's header, if it is one.
fn assertion_header(jwt: &str) -> Option<serde_json::Value> {
    let h = jwt.split('.').next()?;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h).ok()?).ok()
}

/// The origin the client used, as it would put it in `aud`: the configured authority when the
/// request came under its host name, else `http://{Host}`.
fn request_origin(shared: &Shared, req: &Request) -> String {
    let authority = shared.state().authority.clone();
    let host = req.header("Host").unwrap_or("").to_ascii_lowercase();
    if authority.to_ascii_lowercase().ends_with(&format!("://{host}")) {
        authority
    } else {
        format!("http://{host}")
    }
}

/// A certificate's client assertion: a JWT naming a registered certificate by `x5t` (and
/// `x5t#S256` if present), signed with its key (RS256 or PS256), `aud` the token endpoint,
/// `iss` = `sub` = the client id, within its time range.
fn check_assertion(record: &PrincipalRecord, assertion: &str, audience: &str) -> Result<(), (u32, String)> {
    let bad = |code: u32, text: &str| Err((code, text.to_string()));
    let parts: Vec<&str> = assertion.split('.').collect();
    let [h, c, s] = parts.as_slice() else {
        return bad(50_027, "JWT token is invalid or malformed.");
    };
    let decode = |p: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok();
    let (Some(header), Some(claims), Some(signature)) = (decode(h), decode(c), decode(s)) else {
        return bad(50_027, "JWT token is invalid or malformed.");
    };
    let (Ok(header), Ok(claims)) =
        (serde_json::from_slice::<serde_json::Value>(&header), serde_json::from_slice::<serde_json::Value>(&claims))
    else {
        return bad(50_027, "JWT token is invalid or malformed.");
    };
    let text = |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let number = |k: &str| claims.get(k).and_then(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.parse().ok())));
    let sha1 = |der: &[u8]| b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref());
    let sha256 = |der: &[u8]| b64url(ring::digest::digest(&ring::digest::SHA256, der).as_ref());
    let x5t = text(&header, "x5t");
    let x5t256 = text(&header, "x5t#S256");
    let cert = record.certificates.iter().find(|(der, _)| {
        x5t.as_deref().is_none_or(|t| t == sha1(der))
            && x5t256.as_deref().is_none_or(|t| t == sha256(der))
            && (x5t.is_some() || x5t256.is_some())
    });
    let Some((_, public_key)) = cert else {
        return bad(700_027, &format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']", x5t.unwrap_or_default()));
    };
    let alg = match text(&header, "alg").as_deref() {
        Some("RS256") => &ring::signature::RSA_PKCS1_2048_8192_SHA256 as &dyn ring::signature::VerificationAlgorithm,
        Some("PS256") => &ring::signature::RSA_PSS_2048_8192_SHA256,
        _ => {
            return bad(
                700_027,
                "Client assertion contains an invalid signature. [Reason - The signing algorithm is not supported.]",
            )
        }
    };
    let signed = format!("{h}.{c}");
    if ring::signature::UnparsedPublicKey::new(alg, public_key).verify(signed.as_bytes(), &signature).is_err() {
        return bad(700_027, "Client assertion contains an invalid signature. [Reason - The key used to sign the assertion does not match.]");
    }
    if text(&claims, "aud").as_deref() != Some(audience) {
        return bad(
            700_212,
            &format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                text(&claims, "aud").unwrap_or_default()
            ),
        );
    }
    let (iss, sub) = (text(&claims, "iss"), text(&claims, "sub"));
    if iss != sub {
        return bad(50_048, "Subject mismatches Issuer claim in the client assertion.");
    }
    if !iss.as_deref().is_some_and(|i| i.eq_ignore_ascii_case(&record.principal.client_id)) {
        return bad(700_021, "Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    let now = util::now_unix();
    let (Some(exp), nbf) = (number("exp"), number("nbf").or_else(|| number("iat"))) else {
        return bad(700_024, "Client assertion is not within its valid time range.");
    };
    let from = nbf.unwrap_or(now);
    if exp <= now - SKEW || from > now + SKEW || exp - from > MAX_ASSERTION_LIFETIME || text(&claims, "jti").is_none() {
        return bad(700_024, "Client assertion is not within its valid time range.");
    }
    Ok(())
}
