//! The crate's top-level error: one variant per boundary, each message one line, never a secret.

use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Protocol(#[from] crate::protocol::Error),
    #[error(transparent)]
    Org(#[from] crate::org::Error),
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Setup(#[from] crate::setup::Error),
    #[error("cannot write to git: {0}")]
    Output(#[source] std::io::Error),
    /// A message for the user that is not a failure of a boundary (e.g. "nothing stored").
    #[error("{0}")]
    User(String),
    /// Nobody could tell (Azure DevOps unreachable, throttled): exit code 3.
    #[error("{0}")]
    Undecided(String),
    /// The command already said what it had to; only the exit code is left.
    #[error("")]
    Quiet(u8),
}

impl Error {
    /// Conventional exit codes: 2 for bad input and usage, 3 when Azure DevOps could not be
    /// asked, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Protocol(_) | Error::Org(_) | Error::Config(_) => ExitCode::from(2),
            Error::Undecided(_) => ExitCode::from(3),
            Error::Quiet(code) => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}
