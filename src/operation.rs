//! git's operations (`get`, `store`, `erase`, the last argument) as this process serves them: the
//! request read from stdin (bounded), relayed to an agent when one is named, else served by
//! [`crate::helper`] with git's configuration (from the cache when it is current) and this
//! process's environment; the answer on stdout; the outcome as an exit code, decided here only
//! (2 for bad input, 1 for any other failure, the error in one line on stderr). Both binaries
//! serve git through here: the full one everything ([`serve`]), the front one what is at hand
//! ([`serve_at_hand`]).

use std::ffi::OsString;
use std::process::ExitCode;

use crate::config::GitConfig;
use crate::helper::{self, Error};
use crate::protocol::Operation;

/// The most of git's request read from stdin.
#[cfg(unix)]
const REQUEST_LIMIT: usize = 256 * 1024;

/// git appends the operation as the last argument, after any arguments of the helper string.
pub fn parse(args: &[OsString]) -> Option<Operation> {
    let (last, before) = args.get(1..)?.split_last()?;
    let op = Operation::parse(last.to_str()?)?;
    before.iter().all(|a| a.to_string_lossy().starts_with('-')).then_some(op)
}

/// Serve `op` entirely, and say how it went.
pub fn serve(op: Operation) -> ExitCode {
    exit(served(op, false).map(drop))
}

/// What [`serve_at_hand`] did.
#[cfg(target_os = "linux")]
pub enum AtHand {
    /// Served, with this exit code.
    Served(ExitCode),
    /// Not served and nothing said: git's request as read, to be handed on (wiped when dropped).
    Deferred(zeroize::Zeroizing<Vec<u8>>),
}

/// Serve `op` where [`helper::serve_at_hand`] can; otherwise hand back the request read.
#[cfg(target_os = "linux")]
pub fn serve_at_hand(op: Operation) -> AtHand {
    match served(op, true) {
        Ok(Some(raw)) => AtHand::Deferred(raw),
        result => AtHand::Served(exit(result.map(drop))),
    }
}

/// Serve `op`, only what is at hand if `at_hand`; `Some` with the request's bytes when deferred.
fn served(op: Operation, at_hand: bool) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, Error> {
    #[cfg(unix)]
    let raw = zeroize::Zeroizing::new(crate::agent::wire::read_request_bytes(std::io::stdin().lock(), REQUEST_LIMIT)?);
    #[cfg(unix)]
    let request = crate::protocol::parse_request(&raw)?;
    #[cfg(not(unix))]
    let request = crate::protocol::read_request(std::io::stdin().lock())?;
    // With an agent named, the request goes there and nowhere else.
    #[cfg(unix)]
    if let Some(socket) = crate::agent::client::from_env() {
        return to_agent(&socket, op, &raw, request).map(|()| None);
    }
    // For other hosts nothing is written, not even the config cache; for ours the cache is used.
    let (config, save) = GitConfig::load_readonly_with_save();
    #[cfg(unix)]
    if let Some(socket) = crate::agent::client::from_config(&config) {
        return to_agent(&socket, op, &raw, request).map(|()| None);
    }
    let inputs = crate::run::Inputs::from_process(config);
    let remember = |config: &GitConfig| save.remember(config);
    let out = &mut std::io::stdout().lock();
    #[cfg(target_os = "linux")]
    if at_hand {
        return match helper::serve_at_hand(op, &request, inputs, remember, out)? {
            helper::Served::Done => Ok(None),
            helper::Served::Deferred => Ok(Some(raw)),
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = at_hand;
    helper::serve(op, &request, inputs, remember, out).map(|()| None)
}

/// Relay git's request to the agent at `socket`.
#[cfg(unix)]
fn to_agent(
    socket: &std::path::Path,
    op: Operation,
    raw: &[u8],
    request: crate::protocol::Request,
) -> Result<(), Error> {
    drop(request);
    crate::agent::client::relay(socket, op, raw, &mut std::io::stdout().lock()).map_err(Error::Output)
}

/// The exit code of a served operation; an error is one line on stderr.
pub fn exit(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => failure(&e, e.is_usage()),
    }
}

/// An error in one line on stderr; exit 2 when the input was at fault, else 1.
pub fn failure(error: &dyn std::fmt::Display, usage: bool) -> ExitCode {
    crate::messages::say(error);
    if usage {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_is_the_last_argument_after_options_only() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(parse(&args(&["x", "get"])), Some(Operation::Get));
        assert_eq!(parse(&args(&["x", "--opt", "store"])), Some(Operation::Store));
        assert_eq!(parse(&args(&["x", "logout", "erase"])), None);
        assert_eq!(parse(&args(&["x"])), None);
        assert_eq!(parse(&args(&["x", "capability"])), None);
    }
}
