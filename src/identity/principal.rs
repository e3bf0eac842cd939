//! Service principal: an Entra application signing in as itself with the client-credentials
//! grant, proving it with a client secret or a certificate (a signed client assertion, see
//! [`super::assertion`]).

use std::path::PathBuf;

use crate::azure::entra;
use crate::net::Client;
use crate::secret::Secret;

use super::assertion;
use super::Token;

/// The scope of a client-credentials request for Azure DevOps.
pub const SCOPE: &str = "499b84ac-1321-427f-aa17-267ca6975798/.default";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub use crate::config::identities::ServicePrincipal;

/// How the service principal proves itself.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub secret: Option<Secret>,
    /// A PEM file with the private key and the certificate.
    pub certificate: Option<PathBuf>,
    /// GCM's certificate thumbprint and the file it stands for here
    /// (`<data dir>/git-credential-azdo/certificates/THUMBPRINT.pem`).
    pub thumbprint: Option<(String, PathBuf)>,
    /// Send the certificate (`x5c`) for subject name and issuer validation.
    pub send_x5c: bool,
    /// The secret is Git Credential Manager's (`GCM_AZREPOS_SP_SECRET`), not this helper's own.
    pub secret_from_gcm: bool,
}

impl Credentials {
    /// Where the proof [`token`] sends comes from (a certificate wins over a secret).
    pub fn source(&self) -> super::sources::Source {
        use super::sources::Source;
        if self.certificate.is_some() || self.thumbprint.is_some() || self.secret.is_none() {
            Source::Certificate
        } else if self.secret_from_gcm {
            Source::GcmSecret
        } else {
            Source::OwnSecret
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("neither a client secret (GIT_CREDENTIAL_AZDO_SERVICE_PRINCIPAL_SECRET) nor a certificate (azdo.servicePrincipalCertificate) is set")]
    NoCredential,
    #[error("no certificate with thumbprint {thumbprint} (credential.azreposServicePrincipalCertificateThumbprint): put it, key and certificate in one PEM file, at {path}, or set azdo.servicePrincipalCertificate")]
    Thumbprint { thumbprint: String, path: String },
    #[error(transparent)]
    Certificate(#[from] assertion::Error),
    #[error(transparent)]
    Entra(#[from] entra::Error),
}

/// An access token for Azure DevOps with the client-credentials grant at `url` (the tenant's
/// token endpoint). A certificate wins over a secret.
pub fn token(client: &Client, ids: &super::IdentitySettings, sp: &ServicePrincipal, url: &str) -> Result<Token, Error> {
    let creds = &ids.sp_credentials;
    let by_thumbprint = match &creds.thumbprint {
        Some((thumbprint, path)) if creds.certificate.is_none() => {
            let found =
                path.is_file() && assertion::Certificate::load(path).is_ok_and(|c| c.thumbprint() == *thumbprint);
            if !found {
                return Err(Error::Thumbprint { thumbprint: thumbprint.clone(), path: crate::fs::shown(path) });
            }
            Some(path.clone())
        }
        _ => None,
    };
    let proof = match (creds.certificate.as_ref().or(by_thumbprint.as_ref()), &creds.secret) {
        (Some(path), secret) => {
            if secret.is_some() {
                tracing::info!("both a certificate and a secret are set: using the certificate");
            }
            let cert = assertion::Certificate::load(path)?;
            Proof::Assertion(cert.assertion(&sp.client_id, url, creds.send_x5c)?)
        }
        (None, Some(secret)) => Proof::Secret(secret.clone()),
        (None, None) => return Err(Error::NoCredential),
    };
    Ok(exchange(client, url, &sp.client_id, &proof)?)
}

/// What proves a client-credentials request.
pub enum Proof {
    Secret(Secret),
    /// A signed JWT: ours (certificate) or another issuer's (workload identity federation).
    Assertion(Secret),
}

/// The client-credentials grant.
pub fn exchange(client: &Client, url: &str, client_id: &str, proof: &Proof) -> Result<Token, entra::Error> {
    let mut form = vec![("grant_type", "client_credentials"), ("client_id", client_id), ("scope", SCOPE)];
    match proof {
        Proof::Secret(secret) => form.push(("client_secret", secret.expose())),
        Proof::Assertion(jwt) => {
            form.push(("client_assertion_type", ASSERTION_TYPE));
            form.push(("client_assertion", jwt.expose()));
        }
    }
    let tokens = entra::token_request(client, url, &form)?;
    Ok(Token { token: tokens.access_token, expires_at: Some(tokens.expires_at) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_slash_client_is_read() {
        let sp =
            ServicePrincipal::parse(" contoso.onmicrosoft.com/8B1E0C1A-1111-4222-8333-444455556666 ").expect("valid");
        assert_eq!(sp.tenant, "contoso.onmicrosoft.com");
        assert_eq!(sp.client_id, "8b1e0c1a-1111-4222-8333-444455556666");
        assert_eq!(sp.to_string(), "contoso.onmicrosoft.com/8b1e0c1a-1111-4222-8333-444455556666");
        for bad in [
            "",
            "only",
            "t/not-a-guid",
            "common/8b1e0c1a-1111-4222-8333-444455556666",
            "/8b1e0c1a-1111-4222-8333-444455556666",
        ] {
            assert!(ServicePrincipal::parse(bad).is_err(), "{bad}");
        }
    }
}
