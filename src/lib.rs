//! git-credential-azdo: a git credential helper for Azure DevOps. See README.md for what it does
//! and docs/architecture.md for how. The binaries only call an entry here: the full one
//! [`cli::main`], the front one on Linux `front::main` (elsewhere it is the full one); what else is public here
//! is what the tests use (the protocol, targets, stores, the settings table, setup's helper value)
//! and, hidden, the entry points of the fuzz targets.
//!
//! Stdout belongs to git and to the verbs' results; everything said to a person goes through
//! `messages`, the only module that may print to stderr.
#![deny(clippy::print_stderr)]

#[cfg(unix)]
mod agent;
mod app;
mod auth;
mod azure;
mod check;
pub mod cli;
pub mod config;
// The unit tests that meet an emulator's limits are Unix-only.
#[cfg(all(test, unix))]
mod emulation;
#[cfg(target_os = "linux")]
pub mod front;
mod fs;
#[doc(hidden)]
pub mod fuzzing;
mod git;
mod helper;
mod identity;
mod jwt;
mod messages;
mod net;
mod operation;
pub mod org;
mod percent;
mod programs;
mod prompt;
pub mod protocol;
mod run;
pub mod secret;
pub mod store;
mod text;
mod time;
mod trace;
mod valid;

pub use app::setup;
