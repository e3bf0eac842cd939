//! The command line of the full binary, and only that: git's operations (`get`, `store`, `erase`,
//! given as the last argument) go to [`crate::operation`]; `capability` and git's future
//! operations are answered here; the human verbs are defined here with clap and run by
//! [`crate::app`], their outcomes becoming one line on stderr and an exit code, decided here only.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::app::{self, setup::Scope, Error, Outcome};
use crate::operation;

#[derive(Parser, Debug)]
#[command(
    name = "git-credential-azdo",
    version,
    about = "A git credential helper for Azure DevOps: one PAT per organization, kept in the OS keyring.",
    after_help = "git runs this program as a credential helper with get, store or erase as the last argument.\n\
                  Set it up once with: git credential-azdo configure"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Store a PAT for an organization (typed at a hidden prompt, or read from stdin)
    Login {
        /// Organization name or URL (https://dev.azure.com/ORG/...)
        org: String,
        /// Read the PAT from standard input (for scripts)
        #[arg(long, conflicts_with_all = ["device", "browser"])]
        pat_stdin: bool,
        /// Sign in with Microsoft Entra ID (device code) and mint a PAT now
        #[arg(long, conflicts_with = "browser")]
        device: bool,
        /// Sign in with Microsoft Entra ID in the system browser and mint a PAT now
        #[arg(long)]
        browser: bool,
        /// The account (user principal name) the credential is for (default: azdo.account)
        #[arg(long, value_name = "UPN")]
        account: Option<String>,
    },
    /// Remove an organization's stored PAT
    Logout {
        /// Organization name or URL
        org: String,
        /// Also revoke the PAT on Azure DevOps (PATs this helper minted)
        #[arg(long)]
        revoke: bool,
        /// The account (user principal name) whose credential to remove (default: azdo.account)
        #[arg(long, value_name = "UPN")]
        account: Option<String>,
    },
    /// List organizations with a stored PAT and what is known about each (never the PAT)
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// List the PATs this helper minted in an organization, as Azure DevOps knows them
        #[arg(long, value_name = "ORG")]
        remote: Option<String>,
    },
    /// Revoke the PATs this helper minted that nothing here stores any more (asks first; see --dry-run)
    Prune {
        /// Organization name or URL (default: every organization with a credential stored here)
        org: Option<String>,
        /// Also other hosts' PATs older than --older-than (other machines may still use newer ones)
        #[arg(long, requires = "older_than")]
        all_hosts: bool,
        /// Only PATs created at least this many days ago
        #[arg(long, value_name = "DAYS")]
        older_than: Option<u32>,
        /// Show what would be revoked, and revoke nothing
        #[arg(long)]
        dry_run: bool,
        /// Revoke without asking (for scripts; without it and without a terminal nothing is revoked)
        #[arg(long, conflicts_with = "dry_run")]
        yes: bool,
        /// The account (user principal name) to sign in as (default: azdo.account)
        #[arg(long, value_name = "UPN", requires = "org")]
        account: Option<String>,
    },
    /// Show the store and, for an organization, check its stored PAT with Azure DevOps (exit 0 valid, 1 invalid, 3 unknown)
    Status {
        /// Organization name or URL
        org: Option<String>,
        /// The account (user principal name) whose credential to show (default: azdo.account)
        #[arg(long, value_name = "UPN", requires = "org")]
        account: Option<String>,
    },
    /// Check git, the configuration, the store, the endpoints and every stored PAT, and say what to fix
    Doctor,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout
    Man,
    /// Adopt PATs that Git Credential Manager or the Azure CLI left in the OS keyring (originals are kept)
    Import {
        /// Adopt every PAT found valid without asking (for scripts)
        #[arg(long)]
        yes: bool,
        /// Do not check the PATs with Azure DevOps first
        #[arg(long)]
        offline: bool,
    },
    /// Register this helper for https://dev.azure.com and https://*.visualstudio.com in git config
    Configure(ScopeArgs),
    /// Remove what configure added
    Unconfigure(ScopeArgs),
    /// Serve git credential requests on a Unix socket, for containers and SSH hosts (prints the line a shell evaluates)
    #[cfg(unix)]
    Agent(AgentArgs),
}

#[cfg(unix)]
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The socket to listen on (default: $XDG_RUNTIME_DIR/git-credential-azdo/agent.sock)
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Serve only this organization (repeatable; default: every organization)
    #[arg(long, value_name = "ORG")]
    org: Vec<String>,
    /// Stop after this many seconds without a request
    #[arg(long, value_name = "SECONDS")]
    idle_timeout: Option<u64>,
    /// Stay in the foreground, the agent's log on stderr (default: start in the background)
    #[arg(long)]
    foreground: bool,
}

#[derive(Args, Debug)]
#[group(multiple = false)]
pub struct ScopeArgs {
    /// The user's configuration (the default)
    #[arg(long)]
    global: bool,
    /// The system configuration (needs write access to it)
    #[arg(long)]
    system: bool,
    /// The current repository's configuration
    #[arg(long)]
    local: bool,
    /// A given configuration file
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

impl ScopeArgs {
    fn scope(&self) -> Scope {
        match self {
            ScopeArgs { system: true, .. } => Scope::System,
            ScopeArgs { local: true, .. } => Scope::Local,
            ScopeArgs { file: Some(f), .. } => Scope::File(f.clone()),
            _ => Scope::Global,
        }
    }
}

/// Entry point: decide between git's protocol and the human CLI.
pub fn main() -> ExitCode {
    crate::trace::init();
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(op) = operation::parse(&args) {
        return operation::serve(op);
    }
    if is_capability_operation(&args) {
        // git's `capability` operation (2.46+): answered on a terminal too, like git's own.
        let written = crate::protocol::write_capabilities(&mut std::io::stdout().lock());
        return operation::exit(written.map_err(crate::helper::Error::Output));
    }
    if is_unknown_git_operation(&args) {
        // gitcredentials(7): ignore operations we do not know, silently, so git can add new ones.
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    verb_exit(run(cli))
}

// A verb's exit code, decided here only: its outcome (0, 1, or 3 when Azure DevOps could not be
// asked), or 2 for bad usage and 1 for any other failure, the error in one line on stderr.

fn verb_exit(result: Result<Outcome, Error>) -> ExitCode {
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::FAILURE,
        Ok(Outcome::Unknown) => ExitCode::from(3),
        Err(e) => operation::failure(&e, e.is_usage()),
    }
}

/// `capability` as the last argument, after only options of the helper string.
fn is_capability_operation(args: &[OsString]) -> bool {
    let Some((last, before)) = args.get(1..).and_then(<[OsString]>::split_last) else { return false };
    last == "capability" && before.iter().all(|a| a.to_string_lossy().starts_with('-'))
}

/// A single word that is no verb of ours, with stdin not a terminal: git's future operations.
fn is_unknown_git_operation(args: &[OsString]) -> bool {
    let [_, word] = args else { return false };
    let word = word.to_string_lossy();
    !word.starts_with('-') && !is_verb(&word) && !std::io::stdin().is_terminal()
}

/// Whether `word` is one of the verbs (or `help`), as the clap definition itself lists them.
fn is_verb(word: &str) -> bool {
    word == "help" || Cli::command().get_subcommands().any(|c| c.get_name() == word)
}

/// Run a human verb.
#[allow(clippy::print_stdout)] // completions and the manual page are the commands' output
pub fn run(cli: Cli) -> Result<Outcome, Error> {
    use crate::auth::Method;
    match cli.command {
        Command::Login { org, device: true, account, .. } => {
            app::login::login_minted(&org, account.as_deref(), Method::DeviceCode)
        }
        Command::Login { org, browser: true, account, .. } => {
            app::login::login_minted(&org, account.as_deref(), Method::Browser)
        }
        Command::Login { org, pat_stdin, account, .. } => app::login::login(&org, account.as_deref(), pat_stdin),
        Command::Logout { org, revoke, account } => app::login::logout(&org, account.as_deref(), revoke),
        Command::List { remote: Some(org), json } => app::prune::list_remote(&org, json),
        Command::Prune { org, all_hosts, older_than, dry_run, yes, account } => {
            let options = app::prune::Options { all_hosts, older_than_days: older_than, dry_run, yes };
            app::prune::prune(org.as_deref(), account.as_deref(), &options)
        }
        Command::List { json, .. } => app::report::list(json),
        Command::Status { org, account } => app::report::status(org.as_deref(), account.as_deref()),
        Command::Doctor => app::doctor::run(),
        Command::Completions { shell } => {
            // clap_complete panics when its writer fails: generate in memory, then print.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "git-credential-azdo", &mut script);
            print("completion script", &script)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|source| Error::Print { what: "manual page", source })?;
            print("manual page", &page)
        }
        Command::Import { yes, offline } => app::import::run(yes, offline),
        Command::Configure(scope) => report(app::setup::configure_here(&scope.scope())?),
        Command::Unconfigure(scope) => report(app::setup::unconfigure(&scope.scope())?),
        #[cfg(unix)]
        Command::Agent(args) => Ok(agent(args)),
    }
}

/// The agent: its line on stdout once it listens; an error is one line on stderr (exit 1).
#[cfg(unix)]
fn agent(args: AgentArgs) -> Outcome {
    let options = crate::agent::server::Options {
        socket: args.socket,
        orgs: args.org,
        idle_timeout: args.idle_timeout.map(std::time::Duration::from_secs),
        foreground: args.foreground,
    };
    match crate::agent::server::run(&options, &mut std::io::stdout().lock()) {
        Ok(()) => Outcome::Done,
        Err(e) => {
            crate::messages::say(e);
            Outcome::Invalid
        }
    }
}

/// A verb's output on stdout. A reader that closed the pipe early (`... | head`) ends the command
/// quietly, with success, as other command-line programs do.
fn print(what: &'static str, bytes: &[u8]) -> Result<Outcome, Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(Outcome::Done),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Outcome::Done),
        Err(source) => Err(Error::Print { what, source }),
    }
}

fn report(lines: Vec<String>) -> Result<Outcome, Error> {
    let messages = crate::messages::Messages::stderr();
    for line in lines {
        messages.tell(line);
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn capability_is_the_last_argument() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(is_capability_operation(&args(&["x", "capability"])));
        assert!(is_capability_operation(&args(&["x", "--opt", "capability"])));
        assert!(
            !is_capability_operation(&args(&["x", "login", "capability"])) && !is_capability_operation(&args(&["x"]))
        );
    }

    #[test]
    fn every_verb_is_known_and_nothing_else() {
        for verb in
            ["login", "logout", "list", "prune", "status", "doctor", "import", "completions", "man", "configure"]
        {
            assert!(is_verb(verb), "{verb}");
        }
        assert!(is_verb("unconfigure") && is_verb("help"));
        for other in ["get", "capability", "frobnicate", ""] {
            assert!(!is_verb(other), "{other}");
        }
    }
}
