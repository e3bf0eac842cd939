//! What one run works with, built once: the [`Settings`], the store they name, and the HTTP
//! clients, built only when a request is about to be made (the hot path builds none) and at most
//! once for each set of network settings. The helper and every verb take a [`Context`]; tests can
//! build one by hand over a memory store.

use std::cell::RefCell;
use std::rc::Rc;

use crate::azure::connection_data::{self, Verdict};
use crate::config::{self, GitConfig, Settings};
use crate::error::Error;
use crate::net::{self, Client, Network};
use crate::org::Target;
use crate::secret::Secret;
use crate::store::{self, Store};

pub struct Context {
    pub settings: Settings,
    pub store: Box<dyn Store>,
    clients: RefCell<Vec<(Network, Rc<Client>)>>,
}

impl Context {
    /// A context over `store` (tests pass a memory store).
    pub fn new(settings: Settings, store: Box<dyn Store>) -> Context {
        Context { settings, store, clients: RefCell::new(Vec::new()) }
    }

    /// The settings for `target` (or the unscoped ones) and the store they name.
    pub fn open(settings: Settings) -> Context {
        let store = store::open(&settings);
        Context::new(settings, store)
    }

    /// For a human verb: git's configuration, the target `arg` names (an org name or any Azure
    /// DevOps URL, read with the configured origins), the settings for it, the store.
    pub fn for_verb(arg: Option<&str>) -> Result<(Context, Option<Target>), Error> {
        let config = GitConfig::load();
        let env = |name: &str| std::env::var_os(name);
        let origins = config::origins(&config, &env)?;
        let target = arg.map(|arg| Target::from_arg(arg, &origins)).transpose()?;
        let settings = Settings::from_sources(config, origins, target.as_ref(), &env)?;
        Ok((Context::open(settings), target))
    }

    /// `target` served by `account` (given on the command line), else by the configured account.
    pub fn with_account(&self, target: Target, account: Option<&str>) -> Result<Target, Error> {
        Ok(target.with_account(account.or(self.settings.account.as_deref()))?)
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
            eprintln!(
                "git-credential-azdo: WARNING: TLS certificate checks are off (http.sslVerify=false or GIT_SSL_NO_VERIFY)"
            );
        }
        let client = Rc::new(Client::new(&network)?);
        clients.push((network, Rc::clone(&client)));
        Ok(client)
    }

    /// One validation request for `pat` at `target`'s connectionData.
    pub fn validate(&self, target: &Target, pat: &Secret) -> Verdict {
        let url = target.url();
        tracing::info!(%target, %url, "checking the PAT with Azure DevOps");
        let verdict = match self.http(&url) {
            Ok(client) => connection_data::validate(&client, &url, pat),
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
