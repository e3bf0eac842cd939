//! The sign-ins that need a person: the system browser ([`super::browser`]) and the device code
//! flow, which of them may run for a [`Purpose`] and in what order, and where their instructions
//! go (the terminal, else stderr; never stdout). A device code flow that Conditional Access
//! refuses is said in one line and the next way is tried.

use std::time::{Duration, Instant};

use super::browser::{self, Listener, Pkce};
use super::{refresh_key, Error, Purpose};
use crate::azure::entra::{self, Tokens};
use crate::azure::tenant;
use crate::config::TokenSource;
use crate::context::Context;
use crate::net::Client;
use crate::org::Target;

/// One way to sign a person in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Browser,
    DeviceCode,
}

/// The interactive ways `purpose` may use, in order (none when prompts are off).
pub fn methods(ctx: &Context, purpose: Purpose) -> Vec<Method> {
    let settings = &ctx.settings;
    if !settings.interactive {
        return Vec::new();
    }
    match (purpose, settings.token_source) {
        (Purpose::Browser, _) => vec![Method::Browser],
        (Purpose::Device, _) => vec![Method::DeviceCode],
        (_, TokenSource::AzureCli) => Vec::new(),
        (_, TokenSource::Browser) => vec![Method::Browser],
        (_, TokenSource::Device) => vec![Method::DeviceCode],
        (Purpose::Get | Purpose::Command, TokenSource::Auto) => {
            let mut ways = Vec::new();
            // The browser needs no terminal: an IDE's fetch on a desktop may open it.
            if browser::plausible() {
                ways.push(Method::Browser);
            }
            // The device code must be read by someone: a terminal for git's `get`.
            if purpose == Purpose::Command || has_terminal() {
                ways.push(Method::DeviceCode);
            }
            ways
        }
    }
}

/// Sign a person in, trying `ways` in order; a way that cannot run here (no browser could be
/// started, the device code flow refused by Conditional Access) gives way to the next.
pub fn sign_in(ctx: &Context, target: &Target, client: &Client, ways: &[Method]) -> Result<Tokens, Error> {
    let mut last = Error::NoSilentSignIn;
    for (i, way) in ways.iter().enumerate() {
        let more = i + 1 < ways.len();
        let tenant = tenant::for_target(&ctx.settings, target, client);
        match way {
            Method::Browser => match browser_sign_in(ctx, target, client) {
                Ok(tokens) => return keep(ctx, target, &tenant, tokens),
                Err(Error::Browser(e @ (browser::Error::NoBrowser(_) | browser::Error::Listen(_)))) if more => {
                    tracing::info!(%target, error = %e, "no browser sign-in; trying the next way");
                    last = Error::Browser(e);
                }
                Err(e) => return Err(e),
            },
            Method::DeviceCode => match device_sign_in(ctx, target, client) {
                Ok(tokens) => return keep(ctx, target, &tenant, tokens),
                Err(entra::Error::Refused(reason)) if conditional_access(&reason).is_some() => {
                    let code = conditional_access(&reason).unwrap_or_default();
                    eprintln!(
                        "git-credential-azdo: {target}: Conditional Access blocks the device code sign-in ({code}); \
                         sign in with the browser instead: git credential-azdo login {} --browser",
                        target.name()
                    );
                    last = Error::Blocked;
                }
                Err(e) => return Err(Error::SignIn(e)),
            },
        }
    }
    Err(last)
}

/// The AADSTS code when `reason` is a Conditional Access refusal of the device code flow (the
/// codes of identities.md §1.8).
fn conditional_access(reason: &str) -> Option<&'static str> {
    const CODES: &[&str] = &[
        "AADSTS53003",
        "AADSTS50097",
        "AADSTS53000",
        "AADSTS53001",
        "AADSTS50131",
        "AADSTS530003",
        "AADSTS530033",
        "AADSTS530084",
    ];
    // The code is followed by ':' in Entra's descriptions: AADSTS53003 is not AADSTS530033.
    CODES.iter().copied().find(|code| reason.contains(&format!("{code}:")))
}

/// Check that a sign-in is for the account `target` names (a person may pick another one in
/// the browser), then keep the refresh token it brought, for later silent use.
fn keep(ctx: &Context, target: &Target, tenant: &str, tokens: Tokens) -> Result<Tokens, Error> {
    super::for_account(target, &tokens)?;
    if let Some(rt) = &tokens.refresh_token {
        if let Err(e) = ctx.store.put_token(&refresh_key(ctx, target, tenant), rt) {
            eprintln!("git-credential-azdo: could not keep the sign-in for next time: {e}");
        }
    }
    Ok(tokens)
}

/// Sign in in the system browser: listen on loopback, open the authorize page, wait (bounded by
/// `azdo.browserTimeout`) for the redirect with the right `state`, redeem its code with the
/// verifier. Nothing is redeemed unless the state matched.
fn browser_sign_in(ctx: &Context, target: &Target, client: &Client) -> Result<Tokens, Error> {
    let settings = &ctx.settings;
    let tenant = tenant::for_target(settings, target, client);
    let listener = Listener::bind().map_err(Error::Browser)?;
    let pkce = Pkce::new().map_err(Error::Browser)?;
    let state = browser::new_state().map_err(Error::Browser)?;
    let redirect_uri = listener.redirect_uri();
    let request = browser::Request {
        authority: &settings.authority,
        tenant: &tenant,
        client_id: &settings.client_id,
        scope: entra::SCOPE,
        redirect_uri: &redirect_uri,
        login_hint: target.account(),
    };
    let url = browser::authorize_url(&request, &state, &pkce.challenge);
    let timeout = settings.browser_timeout;
    let deadline = Instant::now() + timeout;
    let mut child = browser::open(&url).map_err(Error::Browser)?;
    tell_person(&format!(
        "git-credential-azdo: to create a PAT for Azure DevOps organization '{target}', sign in in the browser \
         (waiting up to {} s); if no browser opened, open {url}",
        timeout.as_secs()
    ));
    let code = listener.wait(&state, deadline, timeout, Some(&mut child)).map_err(Error::Browser)?;
    drop(listener);
    tracing::info!(%target, "browser sign-in redirected with a code; redeeming it");
    let tokens = entra::redeem_code(
        client,
        &settings.authority,
        &tenant,
        &settings.client_id,
        &code,
        &redirect_uri,
        &pkce.verifier,
    )
    .map_err(Error::SignIn)?;
    Ok(tokens)
}

/// Sign in with the device code flow: the instructions go to the terminal (or stderr), never to
/// stdout. The refresh token is kept for later silent use.
fn device_sign_in(ctx: &Context, target: &Target, client: &Client) -> Result<Tokens, entra::Error> {
    let settings = &ctx.settings;
    let tenant = tenant::for_target(settings, target, client);
    let code = entra::start_device_flow(client, &settings.authority, &tenant, &settings.client_id)?;
    tell_person(&format!(
        "git-credential-azdo: to create a PAT for Azure DevOps organization '{target}', open {} and enter the code {}",
        code.verification_uri, code.user_code
    ));
    let wait = |d: Duration| {
        std::thread::sleep(d);
        true
    };
    entra::poll_device_flow(client, &settings.authority, &tenant, &settings.client_id, &code, &wait)
}

/// Whether a person can be reached on a terminal.
fn has_terminal() -> bool {
    // git passes our stderr through: a terminal there means someone runs git in it (an IDE's
    // background fetch has a pipe there, even when the IDE was started from a terminal).
    #[cfg(unix)]
    {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::fs::OpenOptions::new().write(true).open("/dev/tty").is_ok()
    }
    #[cfg(not(unix))]
    {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
    }
}

/// Instructions for a person: the terminal when there is one, else stderr.
fn tell_person(text: &str) {
    #[cfg(unix)]
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
        if std::io::Write::write_all(&mut tty, format!("{text}\n").as_bytes()).is_ok() {
            return;
        }
    }
    eprintln!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_access_codes_are_told_apart() {
        let r = |s: &str| conditional_access(s);
        assert_eq!(r("invalid_grant: AADSTS53003: Access has been blocked"), Some("AADSTS53003"));
        assert_eq!(r("invalid_grant: AADSTS530033: Remote device flow blocked"), Some("AADSTS530033"));
        assert_eq!(r("invalid_grant: AADSTS50097: Device authentication is required."), Some("AADSTS50097"));
        assert_eq!(r("invalid_grant: AADSTS70000: bad"), None);
        assert_eq!(r("expired_token: AADSTS70019: expired"), None);
    }
}
