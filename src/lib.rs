//! git-credential-azdo: a git credential helper for Azure DevOps. See README.md for what it does
//! and docs/ for how. `main.rs` only calls [`cli::main`].

pub mod azure;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod entra;
pub mod error;
pub mod helper;
pub mod import;
pub mod mint;
pub mod org;
pub mod pats;
pub mod prompt;
pub mod protocol;
pub mod secret;
pub mod setup;
pub mod store;
pub mod text;
pub mod trace;
