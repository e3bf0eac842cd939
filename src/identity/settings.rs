//! The build identities' settings: read by this layer from the run's settings source (the same
//! git configuration snapshot and environment as every other setting, through the one key
//! table), when a request or a verb first needs them.

use std::path::PathBuf;

use super::{federation, pipeline, principal, ManagedIdentity, ServicePrincipal};
use crate::config::{self, keys, Env};
use crate::org::Target;
use crate::run::Run;
use crate::secret::Secret;
use crate::text::printable;

/// What the identities' settings say (typed).
#[derive(Debug, Clone, Default)]
pub struct IdentitySettings {
    /// `azdo.pipelineToken`: whether the job token may be used.
    pub pipeline_token: bool,
    /// The job's variables, when `TF_BUILD=True` and `SYSTEM_ACCESSTOKEN` is not empty.
    pub pipeline: Option<pipeline::Job>,
    pub managed_identity: Option<ManagedIdentity>,
    /// `azdo.imdsUrl`: the instance metadata endpoint's origin.
    pub imds_url: String,
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (App Service, Functions, Container Apps).
    pub app_service: Option<(String, Secret)>,
    pub service_principal: Option<ServicePrincipal>,
    pub sp_credentials: principal::Credentials,
    pub federation: federation::Federation,
    /// Git Credential Manager's settings read in place of unset `azdo.*` ones (for `doctor`).
    pub aliases: Vec<String>,
}

impl IdentitySettings {
    pub fn imds_url_is_default(&self) -> bool {
        self.imds_url == keys::IMDS_URL.setting.default
    }
}

/// The build identities' settings for `target` (URL-scoped keys matched against its URL), from
/// the run's configuration snapshot and environment. The job's variables and `IDENTITY_*` are
/// the platform's, read as they are.
pub fn read(run: &Run, target: Option<&Target>) -> Result<IdentitySettings, config::Error> {
    let env = run.env.lookup();
    let env: Env = &env;
    let url = target.map(Target::url);
    let source = run.settings.source(env, url.as_deref());
    let data_dir = &run.settings.base_dir;
    let text = |name: &str| env(name).map(|v| v.to_string_lossy().trim().to_owned()).filter(|v| !v.is_empty());
    let app_service = match (text("IDENTITY_ENDPOINT"), text("IDENTITY_HEADER")) {
        (Some(endpoint), Some(header)) => Some((endpoint, Secret::from(header))),
        _ => None,
    };
    let mut aliases = Vec::new();
    let certificate = source.get_opt(&keys::SERVICE_PRINCIPAL_CERTIFICATE)?;
    // GCM names a certificate in its store by thumbprint; here it is a PEM file named after it.
    let thumbprint = match (&certificate, source.alias_text(&keys::GCM_THUMBPRINT)) {
        (None, Some(t)) => {
            let t = t.trim().to_ascii_uppercase();
            if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(config::Error::Invalid {
                    key: keys::GCM_THUMBPRINT.key,
                    value: printable(&t),
                    why: "expected a SHA-1 thumbprint (40 hexadecimal digits)".into(),
                });
            }
            aliases.push(format!("{} for azdo.servicePrincipalCertificate", keys::GCM_THUMBPRINT.key));
            Some((t.clone(), data_dir.join("certificates").join(format!("{t}.pem"))))
        }
        _ => None,
    };
    let mut ids = IdentitySettings {
        pipeline_token: source.get(&keys::PIPELINE_TOKEN)?,
        pipeline: super::pipeline::job(env),
        managed_identity: source.get_opt_or_alias(&keys::MANAGED_IDENTITY, &mut aliases)?,
        imds_url: source.get(&keys::IMDS_URL)?,
        app_service,
        service_principal: source.get_opt_or_alias(&keys::SERVICE_PRINCIPAL, &mut aliases)?,
        sp_credentials: super::principal::Credentials {
            secret: source.get_opt_or_alias(&keys::SERVICE_PRINCIPAL_SECRET, &mut aliases)?,
            certificate,
            thumbprint,
            send_x5c: source.get_or_alias(&keys::SERVICE_PRINCIPAL_SEND_X5C, &mut aliases)?,
            secret_from_gcm: source.get_opt(&keys::SERVICE_PRINCIPAL_SECRET)?.is_none(),
        },
        federation: super::federation::Federation {
            scenario: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION, &mut aliases)?,
            client_id: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_CLIENT_ID, &mut aliases)?,
            tenant_id: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_TENANT_ID, &mut aliases)?,
            audience: source.get_or_alias(&keys::WORKLOAD_FEDERATION_AUDIENCE, &mut aliases)?,
            assertion: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_ASSERTION, &mut aliases)?,
            service_connection: source.get_opt(&keys::WORKLOAD_FEDERATION_SERVICE_CONNECTION)?,
            managed_identity: source.get_opt_or_alias(&keys::WORKLOAD_FEDERATION_MANAGED_IDENTITY, &mut aliases)?,
            azure_env: (
                text("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from).filter(|p| p.is_absolute()),
                text("AZURE_CLIENT_ID"),
                text("AZURE_TENANT_ID"),
            ),
            authority_host: text("AZURE_AUTHORITY_HOST"),
            github: text("ACTIONS_ID_TOKEN_REQUEST_URL").zip(text("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::from)),
            oidc_request_uri: text("SYSTEM_OIDCREQUESTURI"),
        },
        aliases: Vec::new(),
    };
    ids.aliases = aliases;
    Ok(ids)
}
