//! What one run works with, built once by [`build`] and passed down: the [`Settings`], the store
//! they name, the environment the run was given, where its messages go, and the HTTP clients,
//! built only when a request is about to be made (the hot path builds none) and at most once for
//! each set of network settings; and the per-org lock ([`Run::org_lock`]) that signing in,
//! minting, renewing and `prune` take. The helper's operations and every verb take a [`Run`]; a
//! test builds one over a memory store.

pub mod build;

use std::cell::RefCell;
use std::rc::Rc;

use crate::azure::connection_data::Verdict;
use crate::config::{Environment, Settings};
use crate::messages::Messages;
use crate::net::{self, Client, Network};
use crate::org::Target;
use crate::secret::Secret;
use crate::store::Store;

pub use self::build::{Error, Inputs};

pub struct Run {
    pub settings: Settings,
    pub store: Box<dyn Store>,
    /// The environment the run was built from (build identities read the platform's variables).
    pub env: Environment,
    pub messages: Messages,
    clients: RefCell<Vec<(Network, Rc<Client>)>>,
}

impl Run {
    /// A run over `store` (tests pass a memory store).
    pub fn new(settings: Settings, store: Box<dyn Store>, env: Environment, messages: Messages) -> Run {
        Run { settings, store, env, messages, clients: RefCell::new(Vec::new()) }
    }

    /// The HTTP client for requests to `url`: git's network settings for that URL, built the
    /// first time they are needed and shared by every request with the same settings.
    pub fn http(&self, url: &str) -> Result<Rc<Client>, net::Error> {
        let network = self.settings.network(url);
        let mut clients = self.clients.borrow_mut();
        if let Some((_, client)) = clients.iter().find(|(n, _)| *n == network) {
            return Ok(Rc::clone(client));
        }
        if !network.verify_tls {
            self.messages.say("WARNING: TLS certificate checks are off (http.sslVerify=false or GIT_SSL_NO_VERIFY)");
        }
        let client = Rc::new(Client::new(&network)?);
        clients.push((network, Rc::clone(&client)));
        Ok(client)
    }

    /// An exclusive per-org lock across processes (`{data dir}/locks/{org[/account]}.lock`),
    /// waited for at most `limit`, so that parallel git processes sign in, mint and renew once and
    /// `prune` revokes nothing a process is storing; `None` when it could not be had in time.
    pub fn org_lock(&self, target: &Target, limit: std::time::Duration) -> Option<crate::fs::Lock> {
        let name: String =
            target.store_key().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let path = self.settings.data_dir.join("locks").join(format!("{name}.lock"));
        match crate::fs::lock(&path, Some(limit)) {
            Ok(lock) => Some(lock),
            Err(e) => {
                tracing::info!(%target, error = %e, "no org lock");
                None
            }
        }
    }

    /// One validation request for `pat` at `target`'s connectionData.
    pub fn validate(&self, target: &Target, pat: &Secret) -> Verdict {
        let url = target.url();
        tracing::info!(%target, %url, "checking the PAT with Azure DevOps");
        let verdict = match self.http(&url) {
            Ok(client) => crate::azure::connection_data::validate(&client, &url, pat),
            Err(e) => Verdict::Unknown { reason: e.to_string() },
        };
        // Server text may quote the PAT just sent (an error header, a display name).
        let redact = |text: String| crate::secret::redact(&text, pat);
        match verdict {
            Verdict::Valid { user } => Verdict::Valid { user: redact(user) },
            Verdict::Invalid { reason } => Verdict::Invalid { reason: redact(reason) },
            Verdict::Unknown { reason } => Verdict::Unknown { reason: redact(reason) },
        }
    }
}
