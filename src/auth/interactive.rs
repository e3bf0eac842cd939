//! The sign-ins that need a person: the system browser ([`super::browser`]) and the device code
//! flow, which of them may run for whoever asks ([`Asker`]) and in what order, and where their
//! instructions go (the terminal, else stderr; never stdout). A device code flow that Conditional
//! Access refuses is said in one line and the next way is tried.

use std::time::Duration;

use super::browser;
use super::cae::ClaimsRequest;
use super::{Asker, Error};
use crate::azure::entra::{self, Tokens};
use crate::config::{Settings, TokenSource};
use crate::net::Client;
use crate::org::Target;
use crate::run::Run;

/// One way to sign a person in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Browser,
    DeviceCode,
}

/// The interactive ways `asker` may use, in order (none when prompts are off): the one a person
/// `chose` (`login --browser`, `login --device`), else those `azdo.tokenSource` allows.
pub fn methods(settings: &Settings, asker: Asker, chosen: Option<Method>) -> Vec<Method> {
    if !settings.interactive {
        return Vec::new();
    }
    if let Some(way) = chosen {
        return vec![way];
    }
    match settings.token_source {
        TokenSource::AzureCli => Vec::new(),
        TokenSource::Browser => vec![Method::Browser],
        TokenSource::Device => vec![Method::DeviceCode],
        TokenSource::Auto => {
            let mut ways = Vec::new();
            // The browser needs no terminal: an IDE's fetch on a desktop may open it.
            if browser::plausible() {
                ways.push(Method::Browser);
            }
            // The device code must be read by someone: a terminal for git's `get`.
            if asker == Asker::Person || has_terminal() {
                ways.push(Method::DeviceCode);
            }
            ways
        }
    }
}

/// Sign a person in, trying `ways` in order, with the `claims` request parameter; a way that
/// cannot run here (no browser could be started, the device code flow refused by Conditional
/// Access) gives way to the next.
pub fn sign_in(
    run: &Run,
    target: &Target,
    client: &Client,
    tenant: &str,
    ways: &[Method],
    claims: &ClaimsRequest,
) -> Result<Tokens, Error> {
    let mut last = Error::NoSilentSignIn;
    for (i, way) in ways.iter().enumerate() {
        let more = i + 1 < ways.len();
        match way {
            Method::Browser => match browser::sign_in(run, target, client, tenant, claims) {
                Ok(tokens) => return keep(run, target, tenant, tokens),
                Err(Error::Browser(e @ (browser::Error::NoBrowser(_) | browser::Error::Listen(_)))) if more => {
                    tracing::info!(%target, error = %e, "no browser sign-in; trying the next way");
                    last = Error::Browser(e);
                }
                Err(e) => return Err(e),
            },
            Method::DeviceCode => match device_sign_in(run, target, client, tenant, claims) {
                Ok(tokens) => return keep(run, target, tenant, tokens),
                Err(entra::Error::Refused(reason)) if conditional_access(&reason).is_some() => {
                    let code = conditional_access(&reason).unwrap_or_default();
                    run.messages.say(format!(
                        "{target}: Conditional Access blocks the device code sign-in ({code}); \
                         sign in with the browser instead: git credential-azdo login {} --browser",
                        target.name()
                    ));
                    last = Error::Blocked;
                }
                Err(e) => return Err(Error::SignIn(e)),
            },
        }
    }
    Err(last)
}

/// The AADSTS code when `reason` is a Conditional Access refusal of the device code flow (the
/// codes Entra documents for a device code sign-in that a Conditional Access policy blocks).
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
fn keep(run: &Run, target: &Target, tenant: &str, tokens: Tokens) -> Result<Tokens, Error> {
    super::for_account(target, &tokens)?;
    super::tokens::keep_refresh_token(run, target, tenant, &tokens);
    Ok(tokens)
}

/// Sign in with the device code flow: the instructions go to the terminal (or stderr), never to
/// stdout. The refresh token is kept for later silent use.
fn device_sign_in(
    run: &Run,
    target: &Target,
    client: &Client,
    tenant: &str,
    claims: &ClaimsRequest,
) -> Result<Tokens, entra::Error> {
    let settings = &run.settings;
    let code = entra::start_device_flow(client, &settings.authority, tenant, &settings.client_id, claims.as_str())?;
    run.messages.instruct(format!(
        "git-credential-azdo: to create a PAT for Azure DevOps organization '{target}', open {} and enter the code {}",
        code.verification_uri, code.user_code
    ));
    let wait = |d: Duration| {
        std::thread::sleep(d);
        true
    };
    entra::poll_device_flow(client, &settings.authority, tenant, &settings.client_id, &code, claims.as_str(), &wait)
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
