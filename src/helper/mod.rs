//! The three operations git runs: `get`, `store`, `erase`. [`serve`] takes the request git sent,
//! resolves its URL to an organization, builds the run for it ([`crate::run::build`]) and
//! dispatches: [`get`] answers, [`update`] records what git reports. Every store write of a PAT
//! on git's behalf happens in these modules; the decisions they act on come back as values from
//! [`crate::check`], [`crate::auth`] and [`crate::identity`].

mod get;
mod update;

use std::io::Write;
use std::time::Duration;

use crate::config::GitConfig;
use crate::messages::Messages;
use crate::org::{self, Instances, Resolution, Target};
use crate::protocol::{self, Operation, Request};
use crate::run::{build, Inputs, Run};
use crate::text::printable;

/// What serving git's request can fail with. `Protocol` and `Run` are bad input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Protocol(#[from] protocol::Error),
    #[error(transparent)]
    Run(#[from] crate::run::Error),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Identity(#[from] crate::identity::Error),
    #[error("cannot write to git: {0}")]
    Output(#[source] std::io::Error),
}

impl From<crate::config::Error> for Error {
    fn from(e: crate::config::Error) -> Error {
        Error::Run(e.into())
    }
}

impl From<org::Error> for Error {
    fn from(e: org::Error) -> Error {
        Error::Run(e.into())
    }
}

impl Error {
    /// Whether git's input or the configuration was at fault: exit code 2.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Protocol(_) | Error::Run(_))
    }
}

/// Serve one operation: resolve `request`, build its run from `inputs`, answer on `out` (for
/// `get`). `remember` is called with git's configuration once the request is known to be for
/// this helper (the caller keeps the config cache for the next git command); other hosts cost
/// nothing more than reading the configuration.
pub fn serve(
    op: Operation,
    request: &Request,
    inputs: Inputs,
    remember: impl FnOnce(&GitConfig),
    out: &mut impl Write,
) -> Result<(), Error> {
    let Some((run, target)) = prepare(op, request, inputs, remember)? else { return Ok(()) };
    match op {
        Operation::Get => get::get(&run, request, &target, out),
        Operation::Store => update::store(&run, request, &target),
        Operation::Erase => update::erase(&run, request, &target),
    }
}

/// What [`serve_at_hand`] did with git's request.
#[cfg(target_os = "linux")]
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// Served as [`serve`] would have: nothing more to do.
    Done,
    /// Not served: nothing said, nothing written to git or to the store (the config cache, as
    /// [`serve`] would write it, may have been): [`serve`] must serve it.
    Deferred,
}

/// Serve what needs no request to anyone, no lock and no prompt, as [`serve`] would: a `get`
/// answered from what is at hand ([`get::at_hand`]), a `store`, a request that is not this
/// helper's. Everything else (an `erase`, a `get` that needs more) is [`Served::Deferred`]
/// untouched. The front binary serves git with this and hands the rest to the full one.
#[cfg(target_os = "linux")]
pub fn serve_at_hand(
    op: Operation,
    request: &Request,
    inputs: Inputs,
    remember: impl FnOnce(&GitConfig),
    out: &mut impl Write,
) -> Result<Served, Error> {
    if op == Operation::Erase {
        return Ok(Served::Deferred);
    }
    let Some((run, target)) = prepare(op, request, inputs, remember)? else { return Ok(Served::Done) };
    match op {
        Operation::Get => match get::at_hand(&run, request, &target)? {
            get::Hand::Answer(answer) => get::write(&answer, out).map(|()| Served::Done),
            get::Hand::Identity(..) | get::Hand::Stored(_) => Ok(Served::Deferred),
        },
        Operation::Store => update::store(&run, request, &target).map(|()| Served::Done),
        Operation::Erase => Ok(Served::Deferred),
    }
}

/// The run and target for `request`, or `None` when it is not this helper's to serve (with a
/// one-line hint on `get` where one helps).
fn prepare(
    op: Operation,
    request: &Request,
    inputs: Inputs,
    remember: impl FnOnce(&GitConfig),
) -> Result<Option<(Run, Target)>, Error> {
    // With `azdo.url` naming another origin, that origin replaces dev.azure.com (its PATs must
    // never go elsewhere); `azdo.server` adds collections.
    let url = org::UrlParts {
        protocol: &request.protocol,
        host: &request.host,
        path: request.path.as_deref(),
        username: request.username.as_deref(),
    };
    let (instances, resolution) = match inputs.instances() {
        Ok(instances) => {
            let resolution = org::resolve(&url, &instances);
            (instances, resolution)
        }
        Err(e) => {
            if org::resolve(&url, &Instances::default()) == Resolution::NotOurs {
                tracing::debug!(error = %e, "azdo.url or azdo.server unusable");
                return Ok(None);
            }
            return Err(e.into());
        }
    };
    let Some(target) = target(op, request, resolution, &inputs.messages) else {
        return Ok(None);
    };
    tracing::debug!(%target, "resolved the request");
    remember(&inputs.config);
    // The account whose credential serves this URL: a URL user name with '@' names it, else
    // `azdo.account` (or Git Credential Manager's binding). Without one: one PAT per org.
    // A URL user name that is no account name (outside the UPN alphabet, too long) names none.
    let url_account = request.username.as_deref().filter(|u| u.contains('@')).filter(|u| {
        let valid = org::account_name(u).is_ok();
        if !valid {
            tracing::debug!("the URL's user name is not an account name; ignoring it");
        }
        valid
    });
    let (run, target) = build::assemble(inputs, instances, Some(target), url_account)?;
    let Some(target) = target else { return Ok(None) };
    tracing::info!(op = ?op, %target, store = run.store.kind(), "request");
    Ok(Some((run, target)))
}

/// The request's target, or `None` (with a one-line hint on `get` where one helps).
fn target(op: Operation, request: &Request, resolution: Resolution, messages: &Messages) -> Option<Target> {
    let warn = |msg: String| {
        if op == Operation::Get {
            messages.say(msg);
        }
    };
    match resolution {
        Resolution::Target(target) => return Some(target),
        Resolution::NotOurs => tracing::debug!(host = %printable(&request.host), "not an Azure DevOps host"),
        Resolution::Insecure => warn(format!(
            "refusing to send a PAT to {} over plain http: use an https:// remote",
            printable(&request.host)
        )),
        Resolution::NeedsOrganization => warn(
            "cannot tell the Azure DevOps organization from this URL: run 'git credential-azdo configure' \
             (it sets credential.useHttpPath for dev.azure.com), or use https://ORG@dev.azure.com/..."
                .into(),
        ),
        Resolution::Refused(e) => warn(e.to_string()),
    }
    None
}

/// An exclusive per-org lock across processes, waited for at most `limit`, so that parallel git
/// processes sign in, mint and renew once; `None` when it could not be had in time (or at all).
fn org_lock(run: &Run, target: &Target, limit: Duration) -> Option<crate::fs::Lock> {
    run.org_lock(target, limit)
}

#[cfg(test)]
mod tests;
