//! The agent for containers and SSH hosts (Unix): one process on the machine where the person
//! signed in serves git's requests from wherever its socket reaches (a container with the socket
//! mounted, an SSH host with it forwarded), with the helper's own logic and this machine's
//! environment, configuration and store. `server`: the agent (`git credential-azdo agent`);
//! `client`: git's operations relayed to it when `azdo.agent` names its socket; `wire`: the
//! bounded format between the two.

pub mod client;
pub mod server;
pub mod wire;
