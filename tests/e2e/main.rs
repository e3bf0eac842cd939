//! The end-to-end tests, in one test binary: one module per area, each run as `--test e2e`
//! (filter with the module's name: `cargo test --test e2e -- git_e2e:: production::`). They run
//! the helper binary and real git against the fake Azure DevOps (tests/fake-azdo) in throwaway
//! worlds (tests/common), or the library's public API in-process where nothing is process-wide.
//!
//! Tests that change state of this very process stay in binaries of their own; see each one's
//! `//!` (tests/store_contract_keyring.rs points this process's D-Bus address at a private bus).

// The Secret Service, the private network namespaces, the DNS server, pseudo-terminals and
// shell-script stand-ins are used only by the Unix and Linux tests.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[path = "../common/mod.rs"]
mod common;

// Every system: the helper against the fake Azure DevOps on loopback, the library in-process
// and the documentation. A test that needs a Unix shell (a shell-script stand-in for a browser,
// `az`, askpass or a proxy), Unix file modes or signals is gated on its own; one that needs git
// skips only where git cannot be (no git.exe under Wine: `common::has_git`).
mod cli;
mod deadlines;
mod docs;
mod faults_files;
mod faults_network;
mod faults_parallel;
mod git_e2e;
mod helper;
mod hostile_endpoints;
mod identities;
mod mint;
mod properties;
mod prune;
mod settings;
mod store_contract;
mod tls;
mod tracing;
mod validation;

// Unix: the agent (a Unix socket, peer credentials: the agent is Unix-only), pseudo-terminals,
// FIFOs, symlinks and file owners planted where the helper reads, and the sign-ins through the
// scripted browser (a shell script starting Python), which every test of these two modules has.
#[cfg(unix)]
mod accounts;
#[cfg(unix)]
mod agent;
#[cfg(unix)]
mod browser;
// CAE (tests/e2e/cae.rs): every test runs git with a shell-script askpass and reads the
// pending claims where the Linux data directory keeps them.
#[cfg(unix)]
mod cae;
// The README's demo (examples/demo) is Unix-only: its steps set Unix file modes.
#[cfg(unix)]
mod demo;
#[cfg(unix)]
mod planted_files;
#[cfg(unix)]
mod tty;

// Linux: a real Secret Service (gnome-keyring on a private D-Bus bus, reached by the helper
// processes only: this process's own environment is left alone).
#[cfg(target_os = "linux")]
mod faults_keyring;
// The front binary git runs on Linux, which runs the full program for what it does not serve.
#[cfg(target_os = "linux")]
mod front;
#[cfg(target_os = "linux")]
mod import;
#[cfg(target_os = "linux")]
mod keyring;

// Linux: private mount and network namespaces (each test re-runs this binary inside one, for
// itself alone: see tests/common/sandbox.rs) and a real Secret Service.
#[cfg(target_os = "linux")]
mod production;
