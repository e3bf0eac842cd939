//! Sign-in in the system browser: the authorization code flow with PKCE (`S256`) and a loopback
//! redirect ([`sign_in`]), in four parts: the PKCE pair, the `state` and the authorize URL
//! ([`pkce`]); the loopback listener that sends the browser on to the authorize URL from a short
//! start address and reads the redirect ([`listener`]); whose connection reached the listener
//! ([`peer`]: it serves only this user's); starting the browser ([`opener`]). This module holds
//! what they share (their [`Error`]) and the flow that puts them together. The code and the
//! verifier are [`Secret`](crate::secret::Secret)s; the redeem itself is
//! [`crate::azure::entra::redeem_code`].

mod listener;
mod opener;
mod peer;
mod pkce;

pub use listener::Listener;
pub use opener::{open, plausible};
pub use pkce::{authorize_url, new_state, Pkce, Request};

use std::time::{Duration, Instant};

use super::cae::ClaimsRequest;
use super::Error as AuthError;
use crate::azure::entra::{self, Tokens};
use crate::net::Client;
use crate::org::Target;
use crate::run::Run;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on the loopback interface: {0}")]
    Listen(#[source] std::io::Error),
    #[error("no browser could be started ({0})")]
    NoBrowser(String),
    #[error("the browser sign-in was not completed within {} s{}", .0.as_secs(), if *.1 { " (a redirect with the wrong state was ignored)" } else { "" })]
    Timeout(Duration, bool),
    #[error("the browser sign-in ended with {0}")]
    Refused(String),
    #[error("no random numbers from the system")]
    Random,
}

/// Sign in in the system browser: listen on loopback, open the browser on the listener's start
/// address (which sends it on to the authorize page: the `state` and the PKCE challenge are in
/// no command line and in nothing shown), wait (bounded by `azdo.browserTimeout`) for the
/// redirect with the right `state`, redeem its code with the verifier. `claims` goes with the
/// authorize request and the redeem. Nothing is redeemed unless the state matched.
pub fn sign_in(
    run: &Run,
    target: &Target,
    client: &Client,
    tenant: &str,
    claims: &ClaimsRequest,
) -> Result<Tokens, AuthError> {
    let settings = &run.settings;
    let listener = Listener::bind().map_err(AuthError::Browser)?;
    let pkce = Pkce::new().map_err(AuthError::Browser)?;
    let state = new_state().map_err(AuthError::Browser)?;
    let redirect_uri = listener.redirect_uri();
    let request = Request {
        authority: &settings.authority,
        tenant,
        client_id: &settings.client_id,
        scope: entra::SCOPE,
        redirect_uri: &redirect_uri,
        login_hint: target.account(),
        claims: claims.as_str(),
    };
    let authorize = authorize_url(&request, &state, &pkce.challenge);
    let url = listener.start_uri();
    let timeout = settings.browser_timeout;
    let deadline = Instant::now() + timeout;
    let mut child = open(&url).map_err(AuthError::Browser)?;
    run.messages.instruct(format!(
        "git-credential-azdo: to create a PAT for Azure DevOps organization '{target}', sign in in the browser \
         (waiting up to {} s); if no browser opened, open {url}",
        timeout.as_secs()
    ));
    let code = listener.wait(&state, &authorize, deadline, timeout, Some(&mut child)).map_err(AuthError::Browser)?;
    drop(listener);
    tracing::info!(%target, "browser sign-in redirected with a code; redeeming it");
    let tokens = entra::redeem_code(
        client,
        &settings.authority,
        tenant,
        &settings.client_id,
        &code,
        &redirect_uri,
        &pkce.verifier,
        claims.as_str(),
    )
    .map_err(AuthError::SignIn)?;
    Ok(tokens)
}
