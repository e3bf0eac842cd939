//! The command line: git's operations (`get`, `store`, `erase`, given as the last argument) and the
//! human verbs (`login`, `logout`, `list`, `status`, `configure`, `unconfigure`).

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::azure::Verdict;
use crate::config::Settings;
use crate::error::Error;
use crate::org::Org;
use crate::protocol::Operation;
use crate::secret::Secret;
use crate::setup::{self, Scope};
use crate::store::{self, Credential, Metadata, Origin};
use crate::text::{now, printable, timestamp};

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
        #[arg(long, conflicts_with = "device")]
        pat_stdin: bool,
        /// Sign in with Microsoft Entra ID (device code) and mint a PAT now
        #[arg(long)]
        device: bool,
    },
    /// Remove an organization's stored PAT
    Logout {
        /// Organization name or URL
        org: String,
        /// Also revoke the PAT on Azure DevOps (PATs this helper minted)
        #[arg(long)]
        revoke: bool,
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
    /// Show the store and, for an organization, check its stored PAT with Azure DevOps (exit 0 valid, 1 invalid, 3 unknown)
    Status {
        /// Organization name or URL
        org: Option<String>,
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
    if let Some(op) = git_operation(&args) {
        let result = crate::helper::run(op, std::io::stdin().lock(), &mut std::io::stdout().lock());
        return finish(result);
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
    finish(run(cli))
}

fn finish(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Quiet(code)) => ExitCode::from(code),
        Err(e) => {
            eprintln!("git-credential-azdo: {e}");
            e.exit_code()
        }
    }
}

/// git appends the operation as the last argument, after any arguments of the helper string.
fn git_operation(args: &[OsString]) -> Option<Operation> {
    let (last, before) = args.get(1..)?.split_last()?;
    let op = Operation::parse(last.to_str()?)?;
    before.iter().all(|a| a.to_string_lossy().starts_with('-')).then_some(op)
}

/// A single word that is no verb of ours, with stdin not a terminal: git's future operations.
fn is_unknown_git_operation(args: &[OsString]) -> bool {
    let [_, word] = args else { return false };
    let word = word.to_string_lossy();
    let known = [
        "login",
        "logout",
        "list",
        "status",
        "doctor",
        "import",
        "completions",
        "man",
        "configure",
        "unconfigure",
        "help",
    ];
    !word.starts_with('-') && !known.contains(&word.as_ref()) && !std::io::stdin().is_terminal()
}

/// Run a human verb.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Login { org, device: true, .. } => login_device(&target(&org)?),
        Command::Login { org, pat_stdin, .. } => login(&target(&org)?, pat_stdin),
        Command::Logout { org, revoke } => logout(&target(&org)?, revoke),
        Command::List { remote: Some(org), json } => list_remote(&target(&org)?, json),
        Command::List { json, .. } => list(json),
        Command::Status { org } => status(org.as_deref().map(target).transpose()?.as_ref()),
        Command::Doctor => crate::doctor::run(),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "git-credential-azdo", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| Error::User(format!("cannot write the manual page: {e}")))
        }
        Command::Import { yes, offline } => import(yes, offline),
        Command::Configure(scope) => {
            let helper = setup::helper_value(&setup::current_exe()?);
            // A custom Services origin (azdo.url) and Azure DevOps Server hosts need the helper too.
            let settings = Settings::load(None)?;
            let mut extra: Vec<String> = settings.servers.iter().filter_map(|s| s.origin()).collect();
            if settings.services != crate::org::ServiceUrl::default() {
                extra.insert(0, settings.services.base());
            }
            extra.dedup();
            report(setup::configure(&scope.scope(), &helper, &extra)?);
            Ok(())
        }
        Command::Unconfigure(scope) => {
            report(setup::unconfigure(&scope.scope())?);
            Ok(())
        }
    }
}

/// The org (or Server collection) a command-line argument names, with the configured origins.
fn target(arg: &str) -> Result<Org, Error> {
    match Org::from_arg(arg) {
        Ok(org) => Ok(org),
        Err(e) if arg.contains("://") => {
            let config = crate::config::GitConfig::load();
            let env = |name: &str| std::env::var_os(name);
            let services = Settings::services_url(&config, &env)?;
            let servers = Settings::servers(&config, &env)?;
            Org::from_arg_in(arg, &services, &servers).map_err(|_| Error::Org(e))
        }
        Err(e) => Err(e.into()),
    }
}

#[allow(clippy::print_stdout)] // what was found and adopted is the command's output
fn import(yes: bool, offline: bool) -> Result<(), Error> {
    let settings = Settings::load(None)?;
    let store = store::open(&settings);
    let found = crate::import::find(settings.keyring_timeout).map_err(Error::User)?;
    if found.is_empty() {
        eprintln!("No PATs from Git Credential Manager or the Azure CLI in the OS keyring.");
        return Ok(());
    }
    let can_ask = std::io::stdin().is_terminal();
    let mut held_back = 0;
    for f in found {
        let org = &f.org;
        let from = match &f.account {
            Some(account) => format!("{} ({account})", f.source),
            None => f.source.to_owned(),
        };
        match store.get(org)? {
            Some(c) if c.pat == f.pat => {
                println!("{org}: from {from}: already stored");
                continue;
            }
            Some(_) => {
                println!("{org}: from {from}: not adopted: a PAT is already stored (logout {org} first to replace it)");
                continue;
            }
            None => {}
        }
        if crate::helper::looks_like_jwt(f.pat.expose()) {
            println!("{org}: from {from}: a sign-in token, not a PAT; not adopted");
            continue;
        }
        let verdict = (!offline).then(|| crate::helper::validate(org, &f.pat, &settings));
        match &verdict {
            None => println!("{org}: from {from}: not checked"),
            Some(Verdict::Valid { user }) => println!("{org}: from {from}: valid (signed in as {user})"),
            Some(Verdict::Invalid { reason }) => {
                println!("{org}: from {from}: invalid ({reason}); not adopted");
                continue;
            }
            Some(Verdict::Unknown { reason }) => println!("{org}: from {from}: could not check ({reason})"),
        }
        let adopt = yes
            || (can_ask
                && gix_prompt::openly(format!("Adopt the PAT for {org} from {}? [y/N] ", f.source))
                    .is_ok_and(|a| matches!(a.trim(), "y" | "Y" | "yes")));
        if !adopt {
            held_back += 1;
            continue;
        }
        let meta = Metadata {
            origin: Origin::Imported,
            stored_at: now(),
            last_validated: matches!(verdict, Some(Verdict::Valid { .. })).then(now),
            ..Metadata::default()
        };
        store.put(org, &Credential { pat: f.pat, meta })?;
        println!("{org}: adopted into the {} store (the original is kept)", store.kind());
    }
    if held_back > 0 && !can_ask {
        eprintln!("Nothing adopted without confirmation: run with --yes to adopt what was found.");
    }
    Ok(())
}

fn report(lines: Vec<String>) {
    for line in lines {
        eprintln!("{line}");
    }
}

fn login(org: &Org, pat_stdin: bool) -> Result<(), Error> {
    let settings = Settings::load(Some(&org.url()))?;
    let typed = if pat_stdin {
        let mut input = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut input)
            .map_err(|e| Error::User(format!("cannot read the PAT from stdin: {e}")))?;
        Secret::from(input)
    } else if std::io::stdin().is_terminal() {
        let answer = gix_prompt::securely(crate::prompt::pat_prompt(org))
            .map_err(|_| Error::User("cannot prompt on this terminal: use --pat-stdin".into()))?;
        Secret::from(answer)
    } else {
        return Err(Error::User("no terminal to prompt on: pipe the PAT in with --pat-stdin".into()));
    };
    let pat = crate::prompt::clean(typed.expose())
        .map(Secret::new)
        .ok_or_else(|| Error::User("no PAT given (empty, or it contains control characters)".into()))?;
    let mut meta = Metadata { origin: Origin::Login, stored_at: now(), ..Metadata::default() };
    if settings.validate_interval.is_some() {
        meta.last_checked = Some(now());
        match crate::helper::validate(org, &pat, &settings) {
            Verdict::Valid { user } => {
                eprintln!("Azure DevOps accepts this PAT (signed in as {user}).");
                meta.last_validated = Some(now());
            }
            Verdict::Invalid { reason } => {
                return Err(Error::User(format!("Azure DevOps refused this PAT ({reason}); nothing was stored")));
            }
            Verdict::Unknown { reason } => eprintln!("Could not check this PAT now ({reason}); storing it anyway."),
        }
    }
    let store = store::open(&settings);
    store.put(org, &Credential { pat, meta })?;
    eprintln!("Stored a PAT for {org} in the {} store.", store.kind());
    Ok(())
}

/// An Entra access token for `org`: silently if possible, else (when a person may be asked)
/// with the device code flow.
fn sign_in(
    org: &Org,
    settings: &Settings,
    store: &dyn store::Store,
) -> Result<(crate::azure::Client, crate::entra::Tokens), Error> {
    if org.is_server() {
        return Err(Error::User("Azure DevOps Server has no Entra sign-in: use login with a PAT".into()));
    }
    let client =
        crate::azure::Client::new(&settings.network(&settings.vssps_url)).map_err(|e| Error::User(e.to_string()))?;
    if let Some(tokens) = crate::mint::silent_token(org, settings, store, &client) {
        return Ok((client, tokens));
    }
    if !settings.interactive {
        return Err(Error::User("no sign-in without asking is available, and prompts are off".into()));
    }
    let tokens = crate::mint::device_sign_in(org, settings, store, &client)
        .map_err(|e| Error::User(format!("sign-in failed: {e}")))?;
    Ok((client, tokens))
}

fn login_device(org: &Org) -> Result<(), Error> {
    let settings = Settings::load(Some(&org.url()))?;
    let store = store::open(&settings);
    let (client, tokens) = sign_in(org, &settings, store.as_ref())?;
    let credential =
        crate::mint::mint_pat(org, &settings, &client, &tokens).map_err(|e| Error::User(format!("{org}: {e}")))?;
    let replaced = store.get(org)?.and_then(|c| c.meta.authorization_id);
    store.put(org, &credential)?;
    // The PAT this one replaces was minted here too: revoke it, as renewal does.
    if let Some(id) = replaced {
        match crate::pats::revoke(&client, &settings.vssps_url, org.name(), &tokens.access_token, &id) {
            Ok(()) => eprintln!("Revoked the PAT it replaces."),
            Err(e) => eprintln!("Could not revoke the PAT it replaces: {e}"),
        }
    }
    let until = credential.meta.expires_at.map(timestamp).unwrap_or_else(|| "an unknown date".into());
    eprintln!(
        "Minted a PAT for {org} (scope {}, valid until {until}) and stored it in the {} store.",
        settings.scope,
        store.kind()
    );
    Ok(())
}

#[allow(clippy::print_stdout)] // the listing is the command's output
fn list_remote(org: &Org, json: bool) -> Result<(), Error> {
    let settings = Settings::load(Some(&org.url()))?;
    let store = store::open(&settings);
    let (client, tokens) = sign_in(org, &settings, store.as_ref())?;
    let all = crate::pats::list(&client, &settings.vssps_url, org.name(), &tokens.access_token)
        .map_err(|e| Error::User(format!("{org}: {e}")))?;
    let ours: Vec<_> = all.iter().filter(|p| p.display_name.starts_with("git-credential-azdo")).collect();
    if json {
        let rows: Vec<serde_json::Value> = ours
            .iter()
            .map(|p| {
                serde_json::json!({"authorization_id": p.authorization_id, "display_name": p.display_name, "scope": p.scope, "valid_to": p.valid_to})
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!("{:<38} {:<22} {:<16} NAME", "AUTHORIZATION ID", "VALID TO", "SCOPE");
    for p in ours {
        let until = p.valid_to.map(timestamp).unwrap_or_default();
        println!("{:<38} {:<22} {:<16} {}", p.authorization_id, until, p.scope, p.display_name);
    }
    Ok(())
}

fn logout(org: &Org, revoke: bool) -> Result<(), Error> {
    let settings = Settings::load(Some(&org.url()))?;
    let store = store::open(&settings);
    if revoke {
        match store.get(org)?.and_then(|c| c.meta.authorization_id) {
            Some(id) => {
                let (client, tokens) = sign_in(org, &settings, store.as_ref())?;
                crate::pats::revoke(&client, &settings.vssps_url, org.name(), &tokens.access_token, &id)
                    .map_err(|e| Error::User(format!("could not revoke the PAT for {org}: {e}; it is still stored")))?;
                eprintln!("Revoked the PAT for {org} on Azure DevOps.");
            }
            None => eprintln!(
                "The PAT for {org} was not minted here, so its authorization id is unknown: revoke it at {}.",
                org.tokens_url()
            ),
        }
    }
    if store.delete(org)? {
        eprintln!("Removed the PAT for {org} from the {} store.", store.kind());
        Ok(())
    } else {
        Err(Error::User(format!("no PAT stored for {org} in the {} store", store.kind())))
    }
}

#[derive(serde::Serialize)]
struct ListedOrg<'a> {
    organization: &'a str,
    url: String,
    store: &'static str,
    #[serde(flatten)]
    meta: &'a Metadata,
}

#[allow(clippy::print_stdout)] // `list` prints its result for the person or script that asked.
fn list(json: bool) -> Result<(), Error> {
    let settings = Settings::load(None)?;
    let store = store::open(&settings);
    let entries = store.list()?;
    if json {
        let listed: Vec<ListedOrg> = entries
            .iter()
            .map(|(org, meta)| ListedOrg { organization: org.name(), url: org.url(), store: store.kind(), meta })
            .collect();
        let text = serde_json::to_string_pretty(&listed).map_err(|e| Error::User(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    if entries.is_empty() {
        eprintln!("No PATs stored in the {} store.", store.kind());
        return Ok(());
    }
    println!("{:<24} {:<8} {:<7} {:<20} {:<20}", "ORGANIZATION", "STORE", "ORIGIN", "STORED", "EXPIRES");
    for (org, meta) in &entries {
        println!(
            "{:<24} {:<8} {:<7} {:<20} {:<20}",
            org.name(),
            store.kind(),
            meta.origin.as_str(),
            timestamp(meta.stored_at),
            meta.expires_at.map(timestamp).unwrap_or_else(|| "unknown".into())
        );
    }
    Ok(())
}

#[allow(clippy::print_stdout)] // `status` prints its result for the person who asked.
fn status(org: Option<&Org>) -> Result<(), Error> {
    let settings = Settings::load(org.map(|o| o.url()).as_deref())?;
    let store = store::open(&settings);
    // Ask the store before printing anything: when it fails, stdout stays empty.
    let (count, found) = match org {
        None => (store.list()?.len(), None),
        Some(org) => (0, store.get(org)?),
    };
    let mut out = std::io::stdout().lock();
    let mut line = |s: String| {
        let _ = writeln!(out, "{s}");
    };
    line(format!(
        "store: {}{}",
        store.kind(),
        match settings.store {
            crate::config::StoreKind::File => format!(" ({})", printable(&settings.store_file.to_string_lossy())),
            crate::config::StoreKind::Keyring => String::new(),
        }
    ));
    if settings.env_pat.is_some() {
        line(format!("{} is set: it answers for every organization", crate::config::PAT_ENV));
    }
    line(format!("prompts: {}", if settings.interactive { "allowed" } else { "off" }));
    let Some(org) = org else {
        line(format!("organizations stored: {count}"));
        return Ok(());
    };
    let Some(Credential { pat, meta }) = found else {
        return Err(Error::User(format!("no PAT stored for {org}")));
    };
    line(format!("{org}: PAT stored {} (origin {})", timestamp(meta.stored_at), meta.origin.as_str()));
    match meta.expires_at {
        Some(t) if t <= now() => {
            line(format!("{org}: invalid: it expired at {}", timestamp(t)));
            return Err(Error::Quiet(1));
        }
        Some(t) => {
            line(format!("{org}: expires {}", timestamp(t)));
            if meta.origin == Origin::Minted && settings.mint {
                let renew = t - i64::from(settings.renew_before_days) * 86_400;
                line(format!("{org}: renewal planned from {} (azdo.renewBefore)", timestamp(renew)));
            }
        }
        None => line(format!("{org}: expiry unknown")),
    }
    if settings.validate_interval.is_none() {
        line(format!("{org}: not checked: checks are off (azdo.validateInterval=never)"));
        return Ok(());
    }
    // A live check, whatever the interval says; it is recorded like any other.
    match crate::helper::validate(org, &pat, &settings) {
        Verdict::Valid { user } => {
            line(format!("{org}: valid: Azure DevOps accepts it (signed in as {user})"));
            let meta = Metadata { last_validated: Some(now()), last_checked: Some(now()), ..meta };
            if let Err(e) = store.set_metadata_if(org, &pat, &meta) {
                tracing::warn!(error = %e, "could not record the check");
            }
            Ok(())
        }
        Verdict::Invalid { reason } => {
            line(format!("{org}: invalid: {reason}"));
            Err(Error::Quiet(1))
        }
        Verdict::Unknown { reason } => {
            line(format!("{org}: unknown: {reason}"));
            Err(Error::Quiet(3))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn operation_is_the_last_argument() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(git_operation(&args(&["x", "get"])), Some(Operation::Get));
        assert_eq!(git_operation(&args(&["x", "--opt", "store"])), Some(Operation::Store));
        assert_eq!(git_operation(&args(&["x", "logout", "erase"])), None);
        assert_eq!(git_operation(&args(&["x"])), None);
        assert_eq!(git_operation(&args(&["x", "capability"])), None);
    }
}
