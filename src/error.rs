//! The crate's top-level error: what a run can fail with, each message one line and never a
//! secret. Errors of the modules below are wrapped with their context and keep their source, so
//! the whole chain is there for whoever asks.

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
    Setup(#[from] crate::app::setup::Error),
    #[error(transparent)]
    Import(#[from] crate::app::import::Error),
    #[error(transparent)]
    SignIn(#[from] crate::auth::Error),
    #[error(transparent)]
    Identity(#[from] crate::identity::Error),
    #[error("{target}: {source}")]
    Pats { target: String, source: crate::azure::pats::Error },
    #[error("could not revoke the PAT for {target}: {source}; it is still stored")]
    Revoke { target: String, source: crate::azure::pats::Error },
    #[error("cannot write to git: {0}")]
    Output(#[source] std::io::Error),
    #[error("cannot write the {what}: {source}")]
    Print { what: &'static str, source: std::io::Error },
    #[error("cannot read the PAT from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// A message for the user that is not a failure of a boundary (e.g. "nothing stored").
    #[error("{0}")]
    User(String),
    /// The command already said what it had to; only the exit code is left.
    #[error("")]
    Quiet(u8),
}

impl Error {
    /// Conventional exit codes: 2 for bad input and usage, 1 for everything else; a command that
    /// could not ask Azure DevOps (exit code 3) says so itself and returns [`Error::Quiet`].
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Protocol(_) | Error::Org(_) | Error::Config(_) => ExitCode::from(2),
            Error::Quiet(code) => ExitCode::from(*code),
            _ => ExitCode::FAILURE,
        }
    }
}
