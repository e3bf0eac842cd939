//! The human verbs, one file each: `login`/`logout` (login), `list`/`status` (report), `prune` and
//! `list --remote` (prune), `import`, `doctor`, `configure`/`unconfigure` (setup). Each takes what [`crate::cli`] parsed, builds its
//! [`Run`] once with the run builder, and prints its result on stdout (messages and prompts on
//! stderr, through the run's messages). They return an [`Outcome`] or an [`Error`], the top of the
//! house's error.

pub mod doctor;
mod error;
pub mod import;
pub mod login;
pub mod prune;
pub mod report;
pub mod setup;

pub use self::error::{Error, Outcome};

use crate::config::GitConfig;
use crate::org::Target;
use crate::run::{build, Inputs, Run};

/// The run for a verb's organization argument (when given), served by `account` (else the
/// configured `azdo.account`), over git's configuration read afresh.
/// The build identities' settings are checked too, as every setting is.
fn open(arg: Option<&str>, account: Option<&str>) -> Result<(Run, Option<Target>), Error> {
    let (run, target) = build::for_verb(Inputs::from_process(GitConfig::load()), arg, account)?;
    crate::identity::settings(&run, target.as_ref())?;
    Ok((run, target))
}

/// [`open`] for a verb that needs an organization.
fn open_org(arg: &str, account: Option<&str>) -> Result<(Run, Target), Error> {
    match open(Some(arg), account)? {
        (run, Some(target)) => Ok((run, target)),
        (_, None) => Err(Error::NoOrganization),
    }
}
