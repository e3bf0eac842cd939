//! Workload identity federation: another issuer's token (GitHub Actions' ID token, the Azure
//! Pipelines OIDC token of a service connection, a managed identity's token for the exchange
//! audience, or any token handed over as a value or a file) exchanged for an Entra token of an
//! app with the client-credentials grant (`client_assertion`).

use std::path::PathBuf;

use zeroize::Zeroize;

use super::IdentitySettings;
use crate::config::Settings;
use crate::net::{self, Client};
use crate::secret::Secret;
use crate::text::printable;

use super::managed::{self, ManagedIdentity};
use super::principal::{self, Proof};
use super::sources::{is_loopback, Source};
use super::Token;

const MAX_BODY: u64 = 64 * 1024;

pub use crate::config::identities::{Assertion, Scenario};

/// What federation needs, as the settings (and the platform's variables) give it.
#[derive(Debug, Clone, Default)]
pub struct Federation {
    pub scenario: Option<Scenario>,
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub audience: String,
    pub assertion: Option<Assertion>,
    pub service_connection: Option<String>,
    pub managed_identity: Option<ManagedIdentity>,
    /// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` (the workload identity webhook's).
    pub azure_env: (Option<PathBuf>, Option<String>, Option<String>),
    /// `AZURE_AUTHORITY_HOST` (the webhook's: the authority its token file is meant for).
    pub authority_host: Option<String>,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub github: Option<(String, Secret)>,
    /// `SYSTEM_OIDCREQUESTURI`.
    pub oidc_request_uri: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Missing(&'static str),
    #[error("cannot read the assertion file {path}: {detail}")]
    File { path: String, detail: String },
    #[error("cannot use the assertion file: {0}")]
    Unsafe(crate::fs::Error),
    #[error("the {0} token endpoint refused: HTTP {1}")]
    Refused(&'static str, u16),
    #[error("the {0} token endpoint sent an unreadable reply")]
    BadReply(&'static str),
    #[error("cannot reach the {0} token endpoint: {1}")]
    Network(&'static str, net::Failure),
    #[error(transparent)]
    Managed(#[from] managed::Error),
    #[error(transparent)]
    Exchange(#[from] crate::azure::entra::Error),
    #[error(transparent)]
    Setup(#[from] net::Error),
}

impl Federation {
    /// The app's tenant and client id: the settings, else (generic) the webhook's variables.
    pub fn app(&self) -> Result<(String, String), Error> {
        let generic = self.scenario == Some(Scenario::Generic);
        let tenant = self.tenant_id.clone().or_else(|| self.azure_env.2.clone().filter(|_| generic));
        let client = self.client_id.clone().or_else(|| self.azure_env.1.clone().filter(|_| generic));
        match (tenant, client) {
            (Some(t), Some(c)) => Ok((t, c)),
            _ => Err(Error::Missing(
                "both azdo.workloadFederationClientId and azdo.workloadFederationTenantId are required",
            )),
        }
    }
}

/// Where the scenario's external token comes from, for the rule of where it may go
/// ([`super::sources::may_send`]), read before anything is asked. `authority`: the one it
/// would be sent to.
pub fn source(ids: &IdentitySettings, fed: &Federation, authority: &str) -> Source {
    match fed.scenario {
        Some(Scenario::Generic) | None => match (&fed.assertion, &fed.azure_env.0) {
            (None, Some(_)) => {
                let same = |host: &String| host.trim_end_matches('/') == authority.trim_end_matches('/');
                Source::WebhookFile { authority_host: fed.authority_host.as_ref().is_some_and(same) }
            }
            _ => Source::ConfiguredAssertion,
        },
        // Without the platform's endpoint nothing is sent: the missing variable is the message.
        Some(Scenario::GithubActions) => {
            Source::GithubActions { loopback: fed.github.as_ref().is_none_or(|(url, _)| is_loopback(url)) }
        }
        Some(Scenario::AzurePipelines) => {
            Source::PipelinesOidc { loopback: fed.oidc_request_uri.as_deref().is_none_or(is_loopback) }
        }
        Some(Scenario::ManagedIdentity) => {
            Source::ManagedIdentity { platform: ids.app_service.is_some() || ids.imds_url_is_default() }
        }
    }
}

/// An Entra token for Azure DevOps in exchange for the scenario's external token. `retiring` is
/// set, as soon as the external token is read, to its issuer when that is Azure DevOps' own
/// issuer, which is retired ([`retiring_issuer`]): the exchange may fail because of it.
pub fn token(
    settings: &Settings,
    ids: &IdentitySettings,
    http: &dyn Fn(&str) -> Result<std::rc::Rc<Client>, net::Error>,
    fed: &Federation,
    retiring: &mut Option<String>,
) -> Result<Token, Error> {
    let (tenant, client_id) = fed.app()?;
    let assertion = external_token(settings, ids, http, fed)?;
    *retiring = retiring_issuer(&assertion);
    let url = format!("{}/{tenant}/oauth2/v2.0/token", settings.authority.trim_end_matches('/'));
    let client = http(&url)?;
    Ok(principal::exchange(&client, &url, &client_id, &Proof::Assertion(assertion))?)
}

fn external_token(
    settings: &Settings,
    ids: &IdentitySettings,
    http: &dyn Fn(&str) -> Result<std::rc::Rc<Client>, net::Error>,
    fed: &Federation,
) -> Result<Secret, Error> {
    match fed.scenario {
        Some(Scenario::Generic) | None => match (&fed.assertion, &fed.azure_env.0) {
            (Some(Assertion::Value(v)), _) => Ok(v.clone()),
            (Some(Assertion::File(path)), _) | (None, Some(path)) => read_file(path),
            (None, None) => Err(Error::Missing(
                "generic federation needs azdo.workloadFederationAssertion or AZURE_FEDERATED_TOKEN_FILE",
            )),
        },
        Some(Scenario::GithubActions) => {
            let (url, request_token) = fed.github.as_ref().ok_or(Error::Missing(
                "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set (the workflow needs permissions: id-token: write)",
            ))?;
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!("{url}{sep}audience={}", crate::percent::escape(&fed.audience));
            let client = http(&url)?;
            let response = client.bearer(reqwest::Method::GET, &url, request_token).send();
            read_token(response, "GitHub Actions ID", "value")
        }
        Some(Scenario::AzurePipelines) => {
            let uri = fed
                .oidc_request_uri
                .as_ref()
                .ok_or(Error::Missing("SYSTEM_OIDCREQUESTURI is not set (not an Azure Pipelines job?)"))?;
            let job = ids.pipeline.as_ref().ok_or(Error::Missing(
                "SYSTEM_ACCESSTOKEN is not set: map it into the step (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken))",
            ))?;
            let connection = fed
                .service_connection
                .as_ref()
                .ok_or(Error::Missing("azdo.workloadFederationServiceConnection is not set"))?;
            // The job token goes only to the job's own service: the OIDC endpoint must be on the
            // origin of SYSTEM_COLLECTIONURI.
            let origin = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.origin());
            let same =
                job.collection_uri.as_deref().and_then(origin).is_some_and(|o| o.is_tuple() && Some(o) == origin(uri));
            if !same {
                return Err(Error::Missing(
                    "SYSTEM_OIDCREQUESTURI is not on the origin of SYSTEM_COLLECTIONURI: the job token is not sent there",
                ));
            }
            let sep = if uri.contains('?') { '&' } else { '?' };
            let url = format!("{uri}{sep}api-version=7.1&serviceConnectionId={}", crate::percent::escape(connection));
            let client = http(&url)?;
            let response = client
                .bearer(reqwest::Method::POST, &url, &job.token)
                .header("Content-Type", "application/json")
                .body("")
                .send();
            read_token(response, "Azure Pipelines OIDC", "oidcToken")
        }
        Some(Scenario::ManagedIdentity) => {
            let mi = fed.managed_identity.clone().unwrap_or(ManagedIdentity::System);
            Ok(managed::token_for(settings, ids, &mi, &fed.audience)?.token)
        }
    }
}

/// The host of Azure DevOps' issuer of service connection tokens (`https://vstoken.dev.azure.com/
/// {organization id}`), retired on [`ISSUER_RETIREMENT`] in favour of the Entra issuer.
const RETIRING_ISSUER_HOST: &str = "vstoken.dev.azure.com";
/// When Azure DevOps' issuer stops: its tokens are no longer exchanged from this day.
pub const ISSUER_RETIREMENT: &str = "2027-07-01";

/// The `iss` claim of `assertion` (printable) when its host is Azure DevOps' retiring issuer.
/// The token is only read, never trusted: the exchange decides.
pub fn retiring_issuer(assertion: &Secret) -> Option<String> {
    let issuer = crate::jwt::claims(assertion)?.get("iss")?.as_str()?.to_owned();
    let url = reqwest::Url::parse(&issuer).ok()?;
    let host = url.host_str()?;
    host.eq_ignore_ascii_case(RETIRING_ISSUER_HOST).then(|| printable(&issuer).chars().take(200).collect())
}

/// What to say of a retiring `issuer`, and what to do: (the warning, the fix).
pub fn retiring_issuer_notice(issuer: &str) -> (String, String) {
    (
        format!(
            "workload identity federation: the assertion's issuer is {issuer}, Azure DevOps' own issuer, \
             which stops working on {ISSUER_RETIREMENT}"
        ),
        "convert the service connection to the Microsoft Entra issuer (Project settings > Service connections > the \
         connection > Convert), then point the app's federated credential at the issuer and subject it shows"
            .into(),
    )
}

/// Say [`retiring_issuer_notice`] on stderr at most once a day (the last time is kept in a
/// private stamp file in the data directory): a build log shows it, without one line per `get`.
pub fn warn_daily(run: &crate::run::Run, issuer: &str) {
    let stamp = run.settings.data_dir.join("federation-issuer-warned");
    let now = crate::time::now();
    let last = match crate::fs::read_private(&stamp) {
        Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).trim().parse::<i64>().ok(),
        _ => None,
    };
    if last.is_some_and(|t| (0..86_400).contains(&(now - t))) {
        return;
    }
    let (warning, fix) = retiring_issuer_notice(issuer);
    run.messages.say(format!("warning: {warning}: {fix}"));
    if let Err(e) = crate::fs::write_private(&stamp, now.to_string().as_bytes(), crate::fs::Durability::Cache) {
        tracing::info!(error = %e, "could not record the issuer warning");
    }
}

/// Most an assertion file may hold: a JWT is a few KiB.
const MAX_ASSERTION_FILE: u64 = 64 * 1024;

/// The assertion in `path`, read as a file another program provides ([`crate::fs::read_provided`]):
/// never blocking, a regular file of this user or root that others cannot write, capped.
fn read_file(path: &std::path::Path) -> Result<Secret, Error> {
    let shown = crate::fs::shown(path);
    let bytes = crate::fs::read_provided(path, MAX_ASSERTION_FILE).map_err(|e| match e {
        crate::fs::Error::Io { source, .. } => Error::File { path: shown.clone(), detail: source.to_string() },
        refused => Error::Unsafe(refused),
    })?;
    let mut text = String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        Error::File { path: shown.clone(), detail: "not text".into() }
    })?;
    let token = text.trim();
    let read = if token.is_empty() || token.contains(['\n', '\r', '\0']) {
        Err(Error::File { path: shown, detail: "it holds no token".into() })
    } else {
        Ok(Secret::new(token))
    };
    text.zeroize();
    read
}

fn read_token(
    response: reqwest::Result<reqwest::blocking::Response>,
    what: &'static str,
    field: &str,
) -> Result<Secret, Error> {
    let response = response.map_err(|e| Error::Network(what, net::Failure::from(e)))?;
    let status = response.status().as_u16();
    let body = net::read_body(response, MAX_BODY).map_err(|e| Error::Network(what, e))?;
    if status != 200 {
        return Err(Error::Refused(what, status));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| Error::BadReply(what))?;
    let token = json.get(field).and_then(|v| v.as_str()).filter(|t| !t.is_empty() && !t.contains(['\n', '\r']));
    token.map(Secret::new).ok_or(Error::BadReply(what))
}

/// For messages: the scenario, without any secret.
pub fn describe(fed: &Federation) -> String {
    let scenario = fed.scenario.map_or("generic".to_owned(), |s| s.to_string());
    match fed.client_id.as_deref() {
        Some(id) => format!("{scenario} (client {})", printable(id)),
        None => scenario,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_azure_devops_own_issuer_is_retiring() {
        use base64::Engine as _;
        let jwt = |claims: &str| {
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            Secret::new(format!("{}.{}.sig", b64("{\"alg\":\"RS256\"}"), b64(claims)))
        };
        let old =
            jwt(r#"{"iss":"https://vstoken.dev.azure.com/8f3c0000-0000-0000-0000-000000000001","sub":"sc://o/p/c"}"#);
        assert_eq!(
            retiring_issuer(&old).as_deref(),
            Some("https://vstoken.dev.azure.com/8f3c0000-0000-0000-0000-000000000001")
        );
        assert!(retiring_issuer(&jwt(r#"{"iss":"https://VSTOKEN.dev.azure.com/x"}"#)).is_some());
        for other in [
            r#"{"iss":"https://login.microsoftonline.com/t/v2.0"}"#,
            r#"{"iss":"https://token.actions.githubusercontent.com"}"#,
            r#"{"iss":"https://vstoken.dev.azure.com.evil.example/x"}"#,
            r#"{"iss":"app.vstoken.visualstudio.com"}"#,
            r#"{"sub":"x"}"#,
        ] {
            assert_eq!(retiring_issuer(&jwt(other)), None, "{other}");
        }
        assert_eq!(retiring_issuer(&Secret::new("not-a-jwt")), None);
        let (warning, fix) = retiring_issuer_notice("https://vstoken.dev.azure.com/x");
        assert!(warning.contains("2027-07-01") && fix.contains("Convert"), "{warning} {fix}");
    }

    #[test]
    fn scenarios_and_assertions_are_read() {
        assert_eq!(Scenario::parse("GitHub"), Ok(Scenario::GithubActions));
        assert_eq!(Scenario::parse("mi"), Ok(Scenario::ManagedIdentity));
        assert_eq!(Scenario::parse("azurepipelines"), Ok(Scenario::AzurePipelines));
        assert!(Scenario::parse("kubernetes").is_err());
        #[cfg(unix)]
        assert!(matches!(Assertion::parse("file:///var/run/token"), Ok(Assertion::File(_))));
        // Windows: the standard form names a drive; a path without one is not absolute there.
        #[cfg(windows)]
        {
            let parsed = Assertion::parse("file:///C:/token.txt");
            assert!(
                matches!(&parsed, Ok(Assertion::File(p)) if p == std::path::Path::new("C:/token.txt")),
                "{parsed:?}"
            );
            assert!(matches!(Assertion::parse("file://C:/token.txt"), Ok(Assertion::File(_))));
            assert!(Assertion::parse("file:///var/run/token").is_err());
        }
        assert!(Assertion::parse("file://relative").is_err());
        assert!(matches!(Assertion::parse("eyJ.x.y"), Ok(Assertion::Value(_))));
        assert!(!format!("{:?}", Assertion::parse("eyJ.x.y")).contains("eyJ"));
    }
}
