//! The end-to-end tests, in one test binary: one module per area, each run as `--test e2e`
//! (filter with the module's name: `cargo test --test e2e -- git_e2e:: production::`). They run
//! the helper binary and real git against the fake Azure DevOps (tests/fake-azdo) in throwaway
//! worlds (tests/common), or the library's public API in-process where nothing is process-wide.
//!
//! Tests that change state of this very process stay in binaries of their own; see each one's
//! `//!` (tests/store_contract_keyring.rs points this process's D-Bus address at a private bus).

// Used by the Unix modules; the Secret Service, the private network namespaces and the DNS
// server are used only by the Linux ones.
#[cfg(unix)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[path = "../common/mod.rs"]
mod common;

// Portable: the library in-process and the documentation.
mod docs;
mod properties;

// Unix: shell-script stand-ins (browsers, `az`, askpass, proxies), the fake's git http-backend,
// Unix file modes, signals and pseudo-terminals.
#[cfg(unix)]
mod accounts;
#[cfg(unix)]
mod agent;
#[cfg(unix)]
mod browser;
#[cfg(unix)]
mod cae;
#[cfg(unix)]
mod cli;
#[cfg(unix)]
mod deadlines;
#[cfg(unix)]
mod demo;
#[cfg(unix)]
mod faults_files;
#[cfg(unix)]
mod faults_network;
#[cfg(unix)]
mod faults_parallel;
#[cfg(unix)]
mod git_e2e;
#[cfg(unix)]
mod helper;
#[cfg(unix)]
mod hostile_endpoints;
#[cfg(unix)]
mod identities;
#[cfg(unix)]
mod mint;
#[cfg(unix)]
mod planted_files;
#[cfg(unix)]
mod prune;
#[cfg(unix)]
mod settings;
#[cfg(unix)]
mod store_contract;
#[cfg(unix)]
mod tls;
#[cfg(unix)]
mod tracing;
#[cfg(unix)]
mod tty;
#[cfg(unix)]
mod validation;

// Linux: a real Secret Service (gnome-keyring on a private D-Bus bus, reached by the helper
// processes only: this process's own environment is left alone).
#[cfg(target_os = "linux")]
mod faults_keyring;
#[cfg(target_os = "linux")]
mod import;
#[cfg(target_os = "linux")]
mod keyring;

// Linux: private mount and network namespaces (each test re-runs this binary inside one, for
// itself alone: see tests/common/sandbox.rs) and a real Secret Service.
#[cfg(target_os = "linux")]
mod production;
