//! Identities that are not people, as a test sets them up: service principals and their
//! credentials, federated credentials and external issuers, managed identities, and Azure
//! Pipelines job tokens.

use super::{external_token, job_token, pipelines_issuer, Assignment, Principal, PrincipalRecord};
use crate::{key, util, FakeAzdo, Fault};

impl FakeAzdo {
    /// Registers a service principal (an app registration's principal in the fake's tenant,
    /// [`TENANT_ID`](crate::TENANT_ID)) without credentials and in no org.
    pub fn add_service_principal(&self, name: &str) -> Principal {
        let principal = Principal { client_id: util::guid(), object_id: util::guid(), name: name.to_string() };
        self.shared.state().ids.principals.push(PrincipalRecord {
            principal: principal.clone(),
            secret: None,
            certificates: Vec::new(),
            federated: Vec::new(),
            orgs: Vec::new(),
        });
        principal
    }

    /// Gives a service principal a client secret (replacing any).
    pub fn set_principal_secret(&self, client_id: &str, secret: &str) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.secret = Some(secret.to_string());
        }
    }

    /// Registers a certificate (DER) and its RSA public key (PKCS #1 DER) with a service principal.
    pub fn add_principal_certificate(&self, client_id: &str, certificate_der: &[u8], public_key_der: &[u8]) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.certificates.push((certificate_der.to_vec(), public_key_der.to_vec()));
        }
    }

    /// A federated credential on a service principal: tokens of `issuer` for `subject` and
    /// `audience` (all matched exactly) may be exchanged for its tokens.
    pub fn add_federated_credential(&self, client_id: &str, issuer: &str, subject: &str, audience: &str) {
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.federated.push((issuer.to_string(), subject.to_string(), audience.to_string()));
        }
    }

    /// A token of another issuer (a Kubernetes cluster, say), as a workload gets it in a file;
    /// `lifetime_secs` may be negative for an expired one.
    pub fn issue_external_token(&self, issuer: &str, subject: &str, audience: &str, lifetime_secs: i64) -> String {
        external_token(&self.shared, issuer, subject, audience, lifetime_secs)
    }

    /// Serves GitHub Actions' ID token endpoint at `/_github/idtoken?api-version=2.0` (the
    /// ACTIONS_ID_TOKEN_REQUEST_URL) for this request token, for a job with this subject.
    pub fn set_github_oidc(&self, request_token: &str, subject: &str) -> String {
        self.shared.state().ids.github = Some((request_token.to_string(), subject.to_string()));
        format!("{}/_github/idtoken?api-version=2.0", self.url())
    }

    /// A service connection of `org`/`project`; returns its id (the `serviceConnectionId`).
    pub fn add_service_connection(&self, org: &str, project: &str, name: &str) -> String {
        self.add_org(org);
        let id = util::guid();
        self.shared.state().ids.connections.insert(id.clone(), (key(org), project.to_string(), name.to_string()));
        id
    }

    /// The issuer of `org`'s service connection tokens (`https://vstoken.dev.azure.com/{org id}`).
    pub fn pipelines_oidc_issuer(&self, org: &str) -> String {
        pipelines_issuer(&self.shared, org)
    }

    /// Adds a service principal or managed identity to an org (its Users page): only then does
    /// the org accept its tokens. Adds the org if needed.
    pub fn add_principal_to_org(&self, org: &str, client_id: &str) {
        self.add_org(org);
        if let Some(p) = self.shared.state().ids.principal_mut(client_id) {
            p.orgs.push(key(org));
        }
    }

    /// Gives "this machine" a managed identity (a principal of its own), served by the metadata
    /// endpoint and the App Service form.
    pub fn add_managed_identity(&self, name: &str, assignment: Assignment) -> Principal {
        let principal = self.add_service_principal(name);
        self.shared.state().ids.managed.push((principal.client_id.clone(), assignment));
        principal
    }

    /// The App Service form's `IDENTITY_HEADER` (the form answers 401 until one is set).
    pub fn set_app_service_header(&self, header: &str) {
        self.shared.state().ids.app_service_header = Some(header.to_string());
    }

    /// Requests the managed identity endpoints received.
    pub fn managed_identity_requests(&self) -> usize {
        self.shared.state().ids.mi_requests
    }

    /// A fault in front of the managed identity endpoints.
    pub fn set_managed_identity_fault(&self, fault: Fault) {
        self.shared.state().mi_fault = fault;
    }

    /// An Azure Pipelines job token (`System.AccessToken`) of a job in `org`: accepted by git
    /// and the REST API in that org only. Adds the org if needed.
    pub fn issue_job_token(&self, org: &str) -> String {
        self.add_org(org);
        let token = job_token(org);
        let mut st = self.shared.state();
        st.ids.job_tokens.insert(token.clone(), key(org));
        st.entra.issued.push(token.clone());
        token
    }

    /// The `Authorization` scheme of every git request so far, in order: `Basic`, `Bearer` or
    /// `none`.
    pub fn git_auth_schemes(&self) -> Vec<String> {
        self.shared.state().ids.git_auth.clone()
    }
}
