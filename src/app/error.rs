//! The verbs' error, the top of the house: what a command a person typed can fail with, each
//! message one line and never a secret, and the [`Outcome`] of one that ran to its end. Errors of
//! the layers below are wrapped with their context and keep their source. The exit code of either
//! is decided in one place, [`crate::cli`].

/// How a verb that ran to its end went: `status` and `doctor` say in their exit code whether
/// what they checked is sound (they have printed why already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Done,
    /// Exit 1: the credential is invalid, `doctor` found a problem, or `prune` could not revoke
    /// every PAT it meant to.
    Invalid,
    /// Exit 3: Azure DevOps could not be asked.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Run(#[from] crate::run::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Setup(#[from] super::setup::Error),
    #[error(transparent)]
    Import(#[from] super::import::Error),
    #[error(transparent)]
    SignIn(#[from] crate::auth::Error),
    #[error("{target}: {source}")]
    Pats { target: String, source: crate::azure::pats::Error },
    #[error("could not revoke the PAT for {target}: {source}; it is still stored")]
    Revoke { target: String, source: crate::azure::pats::Error },
    #[error("cannot write the {what}: {source}")]
    Print { what: &'static str, source: std::io::Error },
    #[error("cannot read the PAT from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    #[error("no organization given")]
    NoOrganization,
    #[error("{0}: another git process is signing in or storing a PAT; nothing was revoked: try again")]
    Busy(String),
    /// No PAT can be asked for here: the hint says what to do instead.
    #[error("{0}")]
    CannotAsk(&'static str),
    #[error("no PAT given (empty, or it contains control characters)")]
    NoPat,
    #[error("Azure DevOps refused this PAT ({0}); nothing was stored")]
    Refused(String),
    #[error("no PAT stored for {target}{}", in_store(.store))]
    NothingStored { target: String, store: Option<&'static str> },
}

fn in_store(store: &Option<&'static str>) -> String {
    store.map(|kind| format!(" in the {kind} store")).unwrap_or_default()
}

impl Error {
    /// Whether the input was at fault (a bad setting or argument): exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Run(_))
    }
}

impl From<crate::config::Error> for Error {
    fn from(e: crate::config::Error) -> Error {
        Error::Run(e.into())
    }
}

impl From<crate::org::Error> for Error {
    fn from(e: crate::org::Error) -> Error {
        Error::Run(e.into())
    }
}
