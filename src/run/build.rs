//! The one run builder: from what the process was given (the environment, git's configuration,
//! the user's data directory) to a [`Run`] for one target. Used by git's operations and by every
//! verb, in the same order: the configured instances, then the target, then its account, then the
//! settings for that target and account, then the store they name. Nothing here reads
//! `std::env` or runs git: the caller passes both in ([`Inputs::from_process`] in `main`, a map
//! and a parsed configuration in tests).

use std::path::PathBuf;

use crate::config::{self, Environment, GitConfig, Settings};
use crate::messages::Messages;
use crate::org::{self, Instances, Target};
use crate::store;

use super::Run;

/// Why a run could not be built: a bad setting, or an argument that names no organization.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::Error),
    #[error(transparent)]
    Org(#[from] org::Error),
}

/// What a run is built from.
pub struct Inputs {
    pub env: Environment,
    pub config: GitConfig,
    /// The user's local (not roaming) data directory; `None` when there is none (no `HOME`).
    pub data_dir: Option<PathBuf>,
    pub messages: Messages,
}

impl Inputs {
    /// This process's environment and data directory, with `config` (read by the caller: from the
    /// cache on git's hot path, fresh for a verb), messages on stderr.
    pub fn from_process(config: GitConfig) -> Inputs {
        Inputs {
            env: Environment::from_process(),
            config,
            data_dir: dirs::data_local_dir(),
            messages: Messages::stderr(),
        }
    }

    /// The configured instances (`azdo.url`, `azdo.server`): read before the target is known.
    pub fn instances(&self) -> Result<Instances, config::Error> {
        config::instances(&self.config, &self.env.lookup())
    }
}

/// The run for `target` (or for no organization), served by `account` when one is given (a URL's
/// user name, `--account`), else by the configured account: settings read for that target, the
/// store they name. Returns the target with its account.
pub fn assemble(
    inputs: Inputs,
    instances: Instances,
    target: Option<Target>,
    account: Option<&str>,
) -> Result<(Run, Option<Target>), Error> {
    let Inputs { env, config, data_dir, messages } = inputs;
    let lookup = env.lookup();
    // Read (and checked) even when `account` is given, as every setting is.
    let configured = config::account(&config, &lookup, target.as_ref())?;
    let target = target.map(|t| t.with_account(account.or(configured.as_deref()))).transpose()?;
    let settings = Settings::from_sources(config, instances, target.as_ref(), &lookup, data_dir.as_deref())?;
    drop(lookup);
    let store = store::open(&settings);
    Ok((Run::new(settings, store, env, messages), target))
}

/// For a verb: the target `arg` names (an org name or any Azure DevOps URL, read with the
/// configured instances), with `account` or the configured one, and its run.
pub fn for_verb(inputs: Inputs, arg: Option<&str>, account: Option<&str>) -> Result<(Run, Option<Target>), Error> {
    let instances = inputs.instances()?;
    let target = arg.map(|arg| Target::from_arg(arg, &instances)).transpose()?;
    assemble(inputs, instances, target, account)
}
