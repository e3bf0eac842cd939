//! The table of every setting: git config key, environment variable, default, whether it is
//! URL-scoped, what it means, and the parser that turns its text into a typed value. Defaults are
//! written once, as text, and parsed like any value; docs/configuration.md and the README list
//! exactly these ([`SETTINGS`]).

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use super::identities::{Assertion, ManagedIdentity, Scenario, ServicePrincipal};
use crate::org::{ServiceUrl, Target};
use crate::secret::Secret;
/// git's boolean spellings, from the leaf [`crate::valid`] (so `config::bool_value` keeps working).
pub use crate::valid::bool_value;

mod values;

use self::values::*;
pub use self::values::{expand_home, CredentialType, Mint, StoreKind, TokenSource};

/// One setting as people read it.
pub struct Setting {
    pub key: &'static str,
    pub env: &'static str,
    /// The default as text: a value the parser reads, or (in parentheses or angle brackets) a
    /// description of what happens when the setting is absent.
    pub default: &'static str,
    pub url_scoped: bool,
    pub help: &'static str,
}

impl Setting {
    /// Whether the default is a value (not a description such as `(none)`).
    pub fn has_value_default(&self) -> bool {
        !self.default.starts_with(['(', '<'])
    }
}

/// Why a value was refused, for the message "invalid value 'V' for KEY: WHY".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why(pub Cow<'static, str>);

/// A setting and the type its value has.
pub struct Key<T: 'static> {
    pub setting: Setting,
    pub parse: fn(&str) -> Result<T, Why>,
}

macro_rules! key {
    ($name:ident: $ty:ty = $key:literal, $env:literal, $default:literal, $scoped:literal, $parse:expr, $help:literal) => {
        pub const $name: Key<$ty> = Key {
            setting: Setting { key: $key, env: $env, default: $default, url_scoped: $scoped, help: $help },
            parse: $parse,
        };
    };
}

key!(STORE: StoreKind = "azdo.store", "GIT_CREDENTIAL_AZDO_STORE", "keyring", false, StoreKind::parse,
    "where PATs are kept: keyring (the OS store) or file");
key!(STORE_FILE: PathBuf = "azdo.storeFile", "GIT_CREDENTIAL_AZDO_STORE_FILE", "<data dir>/git-credential-azdo/credentials.json", false, absolute_path,
    "the file of the file store");
key!(INTERACTIVE: bool = "azdo.interactive", "GIT_CREDENTIAL_AZDO_INTERACTIVE", "true", true, boolean,
    "whether the helper may prompt (false in scripts; GIT_TERMINAL_PROMPT=0 and credential.interactive=false also turn prompts off)");
key!(KEYRING_TIMEOUT: Duration = "azdo.keyringTimeout", "GIT_CREDENTIAL_AZDO_KEYRING_TIMEOUT", "(10; 30 on macOS)", false, seconds,
    "seconds one keyring call may take before the helper gives up");
key!(VALIDATE_INTERVAL: Option<Duration> = "azdo.validateInterval", "GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "3600", true, interval,
    "seconds between checks of a stored PAT against Azure DevOps (0: on every get; never: no checks, known expiry still applies)");
key!(TIMEOUT: Duration = "azdo.timeout", "GIT_CREDENTIAL_AZDO_TIMEOUT", "5", false, seconds,
    "seconds one request to Azure DevOps may take in total, waiting on Retry-After included");
key!(CONNECT_TIMEOUT: Duration = "azdo.connectTimeout", "GIT_CREDENTIAL_AZDO_CONNECT_TIMEOUT", "2", false, seconds,
    "seconds to wait for a connection to Azure DevOps");
key!(URL: ServiceUrl = "azdo.url", "GIT_CREDENTIAL_AZDO_URL", "https://dev.azure.com", false, service_url,
    "the Azure DevOps Services origin, read like dev.azure.com (https, or http on loopback)");
key!(SERVER: Target = "azdo.server", "GIT_CREDENTIAL_AZDO_SERVER", "(none)", false, collection,
    "Azure DevOps Server (on-premises) collection URLs, one per value (in the variable: separated by spaces)");
key!(VSSPS_URL: String = "azdo.vsspsUrl", "GIT_CREDENTIAL_AZDO_VSSPS_URL", "https://vssps.dev.azure.com", false, origin,
    "the Azure DevOps identity service origin (PAT lifecycle API)");
key!(AUTHORITY: String = "azdo.authority", "GIT_CREDENTIAL_AZDO_AUTHORITY", "https://login.microsoftonline.com", false, origin,
    "the Microsoft Entra ID authority");
key!(MINT: Mint = "azdo.mint", "GIT_CREDENTIAL_AZDO_MINT", "auto", true, Mint::parse,
    "auto: mint a PAT through Entra sign-in when none is usable; never: only prompt");
key!(TOKEN_SOURCE: TokenSource = "azdo.tokenSource", "GIT_CREDENTIAL_AZDO_TOKEN_SOURCE", "auto", true, TokenSource::parse,
    "where Entra tokens come from: auto (stored refresh token, then the Azure CLI, then the browser when one can be shown, then device code), browser, device, azcli");
key!(ACCOUNT: String = "azdo.account", "GIT_CREDENTIAL_AZDO_ACCOUNT", "(none: one credential per organization)", true, account,
    "the account (user principal name) whose credential serves the organization; credentials are kept per organization and account (credential.azrepos:org/ORG.username, Git Credential Manager's binding, is read when unset)");
key!(BROWSER_TIMEOUT: Duration = "azdo.browserTimeout", "GIT_CREDENTIAL_AZDO_BROWSER_TIMEOUT", "300", false, seconds,
    "seconds a browser sign-in may take, from opening the browser to the redirect");
key!(CLIENT_ID: String = "azdo.clientId", "GIT_CREDENTIAL_AZDO_CLIENT_ID", "872cd9fa-d31f-45e0-9eab-6e460a02d1f1", false, client_id,
    "the Entra public client id used to sign in (Visual Studio's, as Git Credential Manager uses)");
key!(TENANT: String = "azdo.tenant", "GIT_CREDENTIAL_AZDO_TENANT", "(discovered per org)", true, tenant,
    "the Entra tenant to sign in to, instead of the one the organization names");
key!(SCOPE: String = "azdo.scope", "GIT_CREDENTIAL_AZDO_SCOPE", "vso.code_write", true, scope,
    "the scopes of minted PATs, separated by spaces");
key!(PAT_LIFETIME: u32 = "azdo.patLifetime", "GIT_CREDENTIAL_AZDO_PAT_LIFETIME", "30", true, days,
    "days a minted PAT is asked to live (the organization's policy may shorten it)");
key!(RENEW_BEFORE: u32 = "azdo.renewBefore", "GIT_CREDENTIAL_AZDO_RENEW_BEFORE", "7", true, days,
    "days before expiry a minted PAT is replaced, when a sign-in token is at hand without asking");
key!(CREDENTIAL_TYPE: CredentialType = "azdo.credentialType", "GIT_CREDENTIAL_AZDO_CREDENTIAL_TYPE", "pat", true, CredentialType::parse,
    "pat: hand git a PAT; oauth: hand git the Entra access token itself (never stored)");

key!(PIPELINE_TOKEN: bool = "azdo.pipelineToken", "GIT_CREDENTIAL_AZDO_PIPELINE_TOKEN", "true", true, boolean,
    "in an Azure Pipelines job (TF_BUILD=True), answer for the job's organization with SYSTEM_ACCESSTOKEN (never stored)");
key!(MANAGED_IDENTITY: ManagedIdentity = "azdo.managedIdentity", "GIT_CREDENTIAL_AZDO_MANAGED_IDENTITY", "(none)", true, managed_identity,
    "answer with a managed identity's token: system, a client id, id://CLIENT_ID or resource://RESOURCE_ID (never stored)");
key!(IMDS_URL: String = "azdo.imdsUrl", "GIT_CREDENTIAL_AZDO_IMDS_URL", "http://169.254.169.254", false, imds_origin,
    "the instance metadata endpoint's origin (the helper appends /metadata/identity/oauth2/token); asked only with azdo.managedIdentity");
key!(WORKLOAD_FEDERATION: Scenario = "azdo.workloadFederation", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION", "(none)", true, scenario,
    "answer with an app's token obtained for another issuer's: githubactions, azurepipelines, managedidentity or generic (never stored)");
key!(WORKLOAD_FEDERATION_CLIENT_ID: String = "azdo.workloadFederationClientId", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_CLIENT_ID", "(AZURE_CLIENT_ID for generic)", true, client_id,
    "the client id of the app (or user-assigned managed identity) the federated credential is on");
key!(WORKLOAD_FEDERATION_TENANT_ID: String = "azdo.workloadFederationTenantId", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_TENANT_ID", "(AZURE_TENANT_ID for generic)", true, tenant,
    "the tenant of that app");
key!(WORKLOAD_FEDERATION_AUDIENCE: String = "azdo.workloadFederationAudience", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_AUDIENCE", "api://AzureADTokenExchange", true, audience,
    "the audience of the external token (the federated credential's)");
key!(WORKLOAD_FEDERATION_ASSERTION: Assertion = "azdo.workloadFederationAssertion", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_ASSERTION", "(AZURE_FEDERATED_TOKEN_FILE for generic)", true, assertion,
    "generic: the external token, or file://PATH to read it from on every get");
key!(WORKLOAD_FEDERATION_SERVICE_CONNECTION: String = "azdo.workloadFederationServiceConnection", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_SERVICE_CONNECTION", "(none)", true, guid,
    "azurepipelines: the service connection id whose OIDC token is exchanged");
key!(WORKLOAD_FEDERATION_MANAGED_IDENTITY: ManagedIdentity = "azdo.workloadFederationManagedIdentity", "GIT_CREDENTIAL_AZDO_WORKLOAD_FEDERATION_MANAGED_IDENTITY", "system", true, managed_identity,
    "managedidentity: the managed identity whose token is the assertion (as azdo.managedIdentity)");
key!(SERVICE_PRINCIPAL: ServicePrincipal = "azdo.servicePrincipal", "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL", "(none)", true, service_principal,
    "answer with a service principal's token: TENANT_ID/CLIENT_ID (never stored)");
key!(SERVICE_PRINCIPAL_SECRET: Secret = "azdo.servicePrincipalSecret", "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET", "(none)", true, secret,
    "the service principal's client secret (prefer the variable: a config file is easily shared)");
key!(SERVICE_PRINCIPAL_CERTIFICATE: PathBuf = "azdo.servicePrincipalCertificate", "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_CERTIFICATE", "(none)", true, absolute_path,
    "a PEM file (readable only by you) with the service principal's RSA private key and certificate; wins over a secret");
key!(SERVICE_PRINCIPAL_SEND_X5C: bool = "azdo.servicePrincipalSendX5c", "GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SEND_X5C", "false", true, boolean,
    "send the certificate (x5c) with the client assertion, for subject name and issuer validation");
key!(AGENT: PathBuf = "azdo.agent", "GIT_CREDENTIAL_AZDO_AGENT", "(none)", false, absolute_path,
    "the socket of a git credential-azdo agent: get, store and erase go to it and nowhere else (no local store, no local sign-in)");

/// Every setting this helper reads, in the order the documentation lists them.
pub const SETTINGS: &[&Setting] = &[
    &STORE.setting,
    &STORE_FILE.setting,
    &INTERACTIVE.setting,
    &KEYRING_TIMEOUT.setting,
    &VALIDATE_INTERVAL.setting,
    &TIMEOUT.setting,
    &CONNECT_TIMEOUT.setting,
    &URL.setting,
    &SERVER.setting,
    &VSSPS_URL.setting,
    &AUTHORITY.setting,
    &MINT.setting,
    &TOKEN_SOURCE.setting,
    &BROWSER_TIMEOUT.setting,
    &ACCOUNT.setting,
    &CLIENT_ID.setting,
    &TENANT.setting,
    &SCOPE.setting,
    &PAT_LIFETIME.setting,
    &RENEW_BEFORE.setting,
    &CREDENTIAL_TYPE.setting,
    &PIPELINE_TOKEN.setting,
    &MANAGED_IDENTITY.setting,
    &IMDS_URL.setting,
    &WORKLOAD_FEDERATION.setting,
    &WORKLOAD_FEDERATION_CLIENT_ID.setting,
    &WORKLOAD_FEDERATION_TENANT_ID.setting,
    &WORKLOAD_FEDERATION_AUDIENCE.setting,
    &WORKLOAD_FEDERATION_ASSERTION.setting,
    &WORKLOAD_FEDERATION_SERVICE_CONNECTION.setting,
    &WORKLOAD_FEDERATION_MANAGED_IDENTITY.setting,
    &SERVICE_PRINCIPAL.setting,
    &SERVICE_PRINCIPAL_SECRET.setting,
    &SERVICE_PRINCIPAL_CERTIFICATE.setting,
    &SERVICE_PRINCIPAL_SEND_X5C.setting,
    &AGENT.setting,
];

/// Git Credential Manager's name for a setting: a `credential.*` key and its variable.
pub struct Alias {
    pub key: &'static str,
    pub env: &'static str,
}

/// GCM's settings read when the `azdo.*` key (and its variable) is not set, so a build machine
/// set up for GCM works unchanged.
pub const GCM_ALIASES: &[(&str, Alias)] = &[
    ("azdo.managedIdentity", Alias { key: "credential.azreposManagedIdentity", env: "GCM_AZREPOS_MANAGEDIDENTITY" }),
    (
        "azdo.servicePrincipal",
        Alias { key: "credential.azreposServicePrincipal", env: "GCM_AZREPOS_SERVICE_PRINCIPAL" },
    ),
    (
        "azdo.servicePrincipalSecret",
        Alias { key: "credential.azreposServicePrincipalSecret", env: "GCM_AZREPOS_SP_SECRET" },
    ),
    (
        "azdo.servicePrincipalSendX5c",
        Alias { key: "credential.azreposServicePrincipalCertificateSendX5C", env: "GCM_AZREPOS_SP_CERT_SEND_X5C" },
    ),
    ("azdo.workloadFederation", Alias { key: "credential.azreposWorkloadFederation", env: "GCM_AZREPOS_WIF" }),
    (
        "azdo.workloadFederationClientId",
        Alias { key: "credential.azreposWorkloadFederationClientId", env: "GCM_AZREPOS_WIF_CLIENTID" },
    ),
    (
        "azdo.workloadFederationTenantId",
        Alias { key: "credential.azreposWorkloadFederationTenantId", env: "GCM_AZREPOS_WIF_TENANTID" },
    ),
    (
        "azdo.workloadFederationAudience",
        Alias { key: "credential.azreposWorkloadFederationAudience", env: "GCM_AZREPOS_WIF_AUDIENCE" },
    ),
    (
        "azdo.workloadFederationAssertion",
        Alias { key: "credential.azreposWorkloadFederationAssertion", env: "GCM_AZREPOS_WIF_ASSERTION" },
    ),
    (
        "azdo.workloadFederationManagedIdentity",
        Alias { key: "credential.azreposWorkloadFederationManagedIdentity", env: "GCM_AZREPOS_WIF_MANAGEDIDENTITY" },
    ),
];

/// GCM's certificate thumbprint: a certificate in its store, which this helper looks for as a
/// PEM file named after the thumbprint (see `identity::principal`).
pub const GCM_THUMBPRINT: Alias =
    Alias { key: "credential.azreposServicePrincipalCertificateThumbprint", env: "GCM_AZREPOS_SP_CERT_THUMBPRINT" };

/// The GCM alias of an `azdo.*` key, if it has one.
pub fn gcm_alias(key: &str) -> Option<&'static Alias> {
    GCM_ALIASES.iter().find(|(k, _)| *k == key).map(|(_, a)| a)
}

/// Settings whose values are secrets: never shown, not even in "invalid value" messages.
pub const SECRET_KEYS: &[&str] = &[SERVICE_PRINCIPAL_SECRET.setting.key, WORKLOAD_FEDERATION_ASSERTION.setting.key];

/// A PAT for every organization (the Azure CLI's variable).
pub const PAT_ENV: &str = "AZURE_DEVOPS_EXT_PAT";

/// Variables that hold secrets this helper reads: removed from the environment of the programs
/// it starts for a person (a browser, the Azure CLI), which live on and start others.
pub const SECRET_VARS: &[&str] = &[
    PAT_ENV,
    "SYSTEM_ACCESSTOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "IDENTITY_HEADER",
    SERVICE_PRINCIPAL_SECRET.setting.env,
    WORKLOAD_FEDERATION_ASSERTION.setting.env,
    "GCM_AZREPOS_SP_SECRET",
    "GCM_AZREPOS_WIF_ASSERTION",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A default written as a value must be one its own parser accepts.
    fn default_parses<T>(key: &Key<T>) -> bool {
        !key.setting.has_value_default() || (key.parse)(key.setting.default).is_ok()
    }

    #[test]
    fn every_default_value_parses() {
        assert!(default_parses(&STORE) && default_parses(&STORE_FILE) && default_parses(&INTERACTIVE));
        assert!(default_parses(&KEYRING_TIMEOUT) && default_parses(&VALIDATE_INTERVAL) && default_parses(&TIMEOUT));
        assert!(default_parses(&CONNECT_TIMEOUT) && default_parses(&URL) && default_parses(&SERVER));
        assert!(default_parses(&VSSPS_URL) && default_parses(&AUTHORITY) && default_parses(&MINT));
        assert!(default_parses(&TOKEN_SOURCE) && default_parses(&CLIENT_ID) && default_parses(&TENANT));
        assert!(default_parses(&SCOPE) && default_parses(&PAT_LIFETIME) && default_parses(&RENEW_BEFORE));
        assert!(default_parses(&CREDENTIAL_TYPE) && default_parses(&PIPELINE_TOKEN) && default_parses(&IMDS_URL));
        assert!(default_parses(&MANAGED_IDENTITY) && default_parses(&SERVICE_PRINCIPAL));
        assert!(default_parses(&SERVICE_PRINCIPAL_SECRET) && default_parses(&SERVICE_PRINCIPAL_CERTIFICATE));
        assert!(default_parses(&SERVICE_PRINCIPAL_SEND_X5C) && default_parses(&WORKLOAD_FEDERATION));
        assert!(default_parses(&WORKLOAD_FEDERATION_AUDIENCE) && default_parses(&WORKLOAD_FEDERATION_MANAGED_IDENTITY));
        assert!(
            default_parses(&WORKLOAD_FEDERATION_ASSERTION) && default_parses(&WORKLOAD_FEDERATION_SERVICE_CONNECTION)
        );
        assert!(default_parses(&WORKLOAD_FEDERATION_CLIENT_ID) && default_parses(&WORKLOAD_FEDERATION_TENANT_ID));
        assert!(default_parses(&BROWSER_TIMEOUT) && default_parses(&ACCOUNT) && default_parses(&AGENT));
        assert_eq!(SETTINGS.len(), 36, "every key is in the table once");
        // Visual Studio's public client, which Git Credential Manager also uses, so that
        // organizations that already allow GCM allow this helper too.
        assert_eq!((CLIENT_ID.parse)(CLIENT_ID.setting.default), Ok("872cd9fa-d31f-45e0-9eab-6e460a02d1f1".to_owned()));
    }

    #[test]
    fn values_parse_to_their_types() {
        assert_eq!((VALIDATE_INTERVAL.parse)("never"), Ok(None));
        assert_eq!((VALIDATE_INTERVAL.parse)("0"), Ok(Some(Duration::ZERO)));
        assert!((TIMEOUT.parse)("0").is_err() && (TIMEOUT.parse)("soon").is_err());
        assert_eq!((TOKEN_SOURCE.parse)(" AzCli "), Ok(TokenSource::AzureCli));
        assert_eq!((TOKEN_SOURCE.parse)("Browser"), Ok(TokenSource::Browser));
        assert_eq!((BROWSER_TIMEOUT.parse)("300"), Ok(Duration::from_secs(300)));
        assert_eq!((ACCOUNT.parse)(" Alice@Contoso.com "), Ok("alice@contoso.com".to_owned()));
        assert!((ACCOUNT.parse)("alice").is_err() && (ACCOUNT.parse)("a@b/c").is_err());
        assert_eq!((SCOPE.parse)(" vso.code   vso.packaging "), Ok("vso.code vso.packaging".to_owned()));
        assert!((STORE_FILE.parse)("relative/file.json").is_err());
        assert_eq!((VSSPS_URL.parse)("https://VSSPS.example:443/"), Ok("https://vssps.example".to_owned()));
        assert_eq!((IMDS_URL.parse)("http://169.254.169.254/"), Ok("http://169.254.169.254".to_owned()));
        assert_eq!((IMDS_URL.parse)("http://127.0.0.1:8123"), Ok("http://127.0.0.1:8123".to_owned()));
        for bad in ["http://metadata.example", "http://127.0.0.1:1/path", "ftp://127.0.0.1", "127.0.0.1"] {
            assert!((IMDS_URL.parse)(bad).is_err(), "{bad}");
        }
        assert!((SERVICE_PRINCIPAL_SECRET.parse)("a\nb").is_err() && (SERVICE_PRINCIPAL_SECRET.parse)(" ").is_err());
    }
}
