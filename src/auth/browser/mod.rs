//! Sign-in in the system browser: the authorization code flow with PKCE (`S256`) and a loopback
//! redirect, in three parts that the sign-in ([`crate::auth::interactive`]) puts together: the
//! PKCE pair, the `state` and the authorize URL ([`pkce`]); the loopback listener that reads the
//! redirect ([`listener`]); starting the browser ([`opener`]). This module holds what they share
//! (their [`Error`]) and names what the rest of the crate calls. The code and the verifier are
//! [`Secret`](crate::secret::Secret)s; the redeem itself is
//! [`crate::azure::entra::redeem_code`].

mod listener;
mod opener;
mod pkce;

pub use listener::Listener;
pub use opener::{open, plausible};
pub use pkce::{authorize_url, new_state, Pkce, Request};

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on the loopback interface: {0}")]
    Listen(#[source] std::io::Error),
    #[error("no browser could be started ({0})")]
    NoBrowser(String),
    #[error("the browser sign-in was not completed within {} s{}", .0.as_secs(), if *.1 { " (a redirect with the wrong state was ignored)" } else { "" })]
    Timeout(Duration, bool),
    #[error("the browser sign-in ended with {0}")]
    Refused(String),
    #[error("no random numbers from the system")]
    Random,
}
