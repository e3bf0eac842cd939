//! Where an assertion or a secret sent to Entra's token endpoint comes from, and the one rule of
//! where it may go (the Azure CLI's): a credential from a real platform source goes only to the
//! real authority; a test authority (`azdo.authority` not the default) gets only test-sourced
//! ones. Pure: no I/O.

use std::net::IpAddr;

/// The origin of what proves a build identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// GitHub Actions' ID token (`ACTIONS_ID_TOKEN_REQUEST_URL`); `loopback`: that endpoint is on
    /// this machine (a test issuer).
    GithubActions { loopback: bool },
    /// The Azure Pipelines OIDC token (`SYSTEM_OIDCREQUESTURI`); `loopback` as above.
    PipelinesOidc { loopback: bool },
    /// A managed identity's token for the exchange audience; `platform`: from the default
    /// metadata endpoint or the App Service form (`IDENTITY_ENDPOINT`), not a configured
    /// `azdo.imdsUrl`.
    ManagedIdentity { platform: bool },
    /// `AZURE_FEDERATED_TOKEN_FILE`, the workload identity webhook's; `authority_host`: the
    /// webhook's `AZURE_AUTHORITY_HOST` names the authority it would be sent to.
    WebhookFile { authority_host: bool },
    /// `azdo.workloadFederationAssertion` (or Git Credential Manager's name for it), set
    /// explicitly for this helper: a value or a `file://` path.
    ConfiguredAssertion,
    /// A client assertion this helper signs with a certificate, for one token endpoint (its
    /// audience): no other endpoint takes it.
    Certificate,
    /// `azdo.servicePrincipalSecret` (`GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET`): this
    /// helper's own setting, read with `azdo.authority`.
    OwnSecret,
    /// Git Credential Manager's `GCM_AZREPOS_SP_SECRET` (or its `credential.*` key): a secret set
    /// for GCM, which only ever talks to the real authority.
    GcmSecret,
}

impl Source {
    /// What it is, for the refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Source::GithubActions { .. } => "the GitHub Actions ID token",
            Source::PipelinesOidc { .. } => "the Azure Pipelines OIDC token",
            Source::ManagedIdentity { .. } => "the managed identity's token",
            Source::WebhookFile { .. } => "the token in AZURE_FEDERATED_TOKEN_FILE",
            Source::ConfiguredAssertion => "azdo.workloadFederationAssertion",
            Source::Certificate => "the certificate's assertion",
            Source::OwnSecret => "azdo.servicePrincipalSecret",
            Source::GcmSecret => "GCM_AZREPOS_SP_SECRET",
        }
    }

    /// Whether it comes from a real platform (and is worth something at the real Entra).
    pub fn is_real(self) -> bool {
        match self {
            Source::GithubActions { loopback } | Source::PipelinesOidc { loopback } => !loopback,
            Source::ManagedIdentity { platform } => platform,
            Source::WebhookFile { authority_host } => !authority_host,
            Source::GcmSecret => true,
            Source::ConfiguredAssertion | Source::Certificate | Source::OwnSecret => false,
        }
    }
}

/// The rule: whether a credential from `source` may be sent to the token endpoint of an
/// authority that is the real one (`real_authority`) or a test one.
pub fn may_send(source: Source, real_authority: bool) -> bool {
    real_authority || !source.is_real()
}

/// Whether `url` names this machine (127.0.0.0/8, ::1, `localhost`).
pub fn is_loopback(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else { return false };
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_platform_credentials_go_only_to_the_real_authority() {
        use Source::*;
        // (source, to the real authority, to a test authority)
        let table = [
            (GithubActions { loopback: false }, true, false),
            (GithubActions { loopback: true }, true, true),
            (PipelinesOidc { loopback: false }, true, false),
            (PipelinesOidc { loopback: true }, true, true),
            (ManagedIdentity { platform: true }, true, false),
            (ManagedIdentity { platform: false }, true, true),
            (WebhookFile { authority_host: false }, true, false),
            (WebhookFile { authority_host: true }, true, true),
            (ConfiguredAssertion, true, true),
            (Certificate, true, true),
            (OwnSecret, true, true),
            (GcmSecret, true, false),
        ];
        for (source, real, test) in table {
            assert_eq!(may_send(source, true), real, "{source:?} to the real authority");
            assert_eq!(may_send(source, false), test, "{source:?} to a test authority");
        }
    }

    #[test]
    fn loopback_is_this_machine_only() {
        for url in [
            "http://127.0.0.1:8080/x",
            "http://127.1.2.3/",
            "http://[::1]:9/",
            "http://localhost:1/",
            "http://LOCALHOST/",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://pipelines.actions.githubusercontent.com/abc",
            "https://dev.azure.com/contoso/",
            "http://169.254.169.254/",
            "http://127.0.0.1.evil.example/",
            "not a url",
            "file:///tmp/x",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
