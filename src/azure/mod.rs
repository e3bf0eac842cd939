//! The Azure DevOps and Microsoft Entra ID services as this helper calls them, one module per API:
//! [`connection_data`] (is a PAT accepted), [`pats`] (the PAT lifecycle API), [`entra`] (Entra's
//! token endpoints: device code, refresh, authorization code, client credentials), [`cli`] (the
//! Azure CLI as a silent token source), `codespaces` (the ADO Codespaces Auth extension's
//! helper, Unix) and [`tenant`] (which Entra tenant an organization belongs to). Requests and the pure readers of their replies live here; when to call them is
//! decided above, by `auth` (a person's sign-in) and `identity` (build identities).

pub mod cli;
#[cfg(unix)]
pub mod codespaces;
pub mod connection_data;
pub mod entra;
pub mod pats;
pub mod tenant;
