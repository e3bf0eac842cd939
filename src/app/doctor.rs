//! `doctor`: checks what a working setup needs — git's version, the helper's place in git's
//! configuration (in WSL, which of the two set-ups it runs), the store, the Azure DevOps
//! endpoints and each stored PAT — and says what to do about each problem, the service's
//! deadlines included: a global PAT (retired 2026-12-01), what an organization's PAT policy
//! refused or shortened, a federation assertion of the issuer retired on 2027-07-01, an Azure
//! DevOps Server collection with no PAT and no prompt (NTLM is gone from libcurl). Prints a report
//! on stdout; exit 1 when something needs fixing.

use std::io::Write;

use super::setup::is_our_helper;
use super::{open, Error, Outcome};
use crate::azure::connection_data::Verdict;
use crate::config::{bool_value, GitConfig};
use crate::org::Target;
use crate::run::Run;
use crate::text::printable;

/// One finding.
enum Finding {
    Ok(String),
    Warn(String, String),
    Problem(String, String),
}

#[allow(clippy::print_stdout)] // the report is the command's output
pub fn run() -> Result<Outcome, Error> {
    let (run, _) = open(None, None)?;
    let (settings, store) = (&run.settings, run.store.as_ref());
    let credential_config = credential_config();
    let mut findings = vec![git_version(), use_http_path(&credential_config)];
    findings.extend(helper_order(&credential_config));
    let osrelease = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if in_wsl(run.env.var("WSL_DISTRO_NAME").is_some_and(|v| !v.is_empty()), &osrelease) {
        findings.extend(wsl(&helpers_for(&credential_config, "https://dev.azure.com/org")));
    }
    let stored = match store.list() {
        Ok(list) => {
            // The keyring's own reachability: a lookup that finds nothing is fine.
            let probe = Target::org_in(&settings.instances.services, "git-credential-azdo-doctor")?;
            match store.get(&probe) {
                Ok(_) => findings.push(Finding::Ok(format!("store: {} is reachable", store.kind()))),
                Err(e) => findings.push(Finding::Problem(format!("store: {e}"), "see the message".into())),
            }
            list
        }
        Err(e) => {
            findings.push(Finding::Problem(format!("store: {e}"), "see the message".into()));
            Vec::new()
        }
    };
    let services = settings.instances.services.base();
    let network = settings.network(&services);
    match run.http(&services) {
        Ok(client) => {
            for (what, url) in [
                ("Azure DevOps", services.clone()),
                ("identity service", settings.vssps_url.clone()),
                ("Entra ID", settings.authority.clone()),
            ] {
                findings.push(match client.probe(&url) {
                    Ok(status) => Finding::Ok(format!("{what}: {url} answers (HTTP {status})")),
                    Err(e) => Finding::Problem(
                        format!("{what}: {url} is unreachable: {e}"),
                        "check the network, http.proxy / HTTPS_PROXY and http.sslCAInfo".into(),
                    ),
                });
            }
        }
        Err(e) => findings.push(Finding::Problem(format!("network settings: {e}"), "fix the setting it names".into())),
    }
    if !network.verify_tls {
        findings.push(Finding::Warn(
            "TLS certificate checks are off (http.sslVerify=false or GIT_SSL_NO_VERIFY)".into(),
            "turn them back on; use http.sslCAInfo for a private CA".into(),
        ));
    }
    for (org, meta) in &stored {
        let Ok(Some(credential)) = store.get(org) else { continue };
        let expired = meta.expires_at.is_some_and(|t| t <= crate::time::now());
        findings.push(if expired {
            Finding::Problem(format!("{org}: the stored PAT has expired"), format!("git credential-azdo login {org}"))
        } else {
            match run.validate(org, &credential.pat) {
                Verdict::Valid { user } => Finding::Ok(format!("{org}: stored PAT is valid (signed in as {user})")),
                Verdict::Invalid { reason } if global_pat_retired(&reason) => {
                    let (what, fix) = global_pat_advice(org, &reason);
                    Finding::Problem(what, fix)
                }
                Verdict::Invalid { reason } => Finding::Problem(
                    format!("{org}: stored PAT is refused: {reason}"),
                    format!("git credential-azdo login {org} (or let the next git command ask)"),
                ),
                Verdict::Unknown { reason } => {
                    Finding::Warn(format!("{org}: could not check the stored PAT: {reason}"), "try again later".into())
                }
            }
        });
    }
    for (org, learned) in crate::auth::policy::all(&run) {
        findings.extend(crate::auth::policy::report(&org, &learned).into_iter().map(|(w, f)| Finding::Warn(w, f)));
    }
    let stored_targets: Vec<Target> = stored.iter().map(|(t, _)| t.clone()).collect();
    findings.extend(servers_without_pat(&settings.instances.servers, &stored_targets)?);
    findings.extend(build_identities(&run, &stored_targets));
    let mut out = std::io::stdout().lock();
    let mut problems = 0;
    for finding in &findings {
        let _ = match finding {
            Finding::Ok(what) => writeln!(out, "ok       {what}"),
            Finding::Warn(what, fix) => writeln!(out, "warning  {what}\n         fix: {fix}"),
            Finding::Problem(what, fix) => {
                problems += 1;
                writeln!(out, "problem  {what}\n         fix: {fix}")
            }
        };
    }
    if problems > 0 {
        return Ok(Outcome::Invalid);
    }
    Ok(Outcome::Done)
}

/// The build identity that would serve each organization concerned (the pipeline job's, the
/// stored ones, or any when only unscoped settings name one), tested with one token request.
fn build_identities(run: &Run, stored: &[Target]) -> Vec<Finding> {
    let settings = &run.settings;
    let mut targets: Vec<Target> = stored.to_vec();
    let job = crate::identity::pipeline::job(&run.env.lookup());
    if let Some(org) = job.as_ref().and_then(|job| job.collection_uri.as_deref()) {
        if let Some(t) = crate::identity::pipeline::organization(org, settings) {
            targets.insert(0, t);
        }
    }
    if targets.is_empty() {
        if let Ok(any) = Target::org_in(&settings.instances.services, "any-organization") {
            targets.push(any);
        }
    }
    let mut findings = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for target in targets.into_iter().filter(|t| seen.insert(t.clone())) {
        // The settings were read (and checked) when the run was built: `Err` cannot happen here.
        let Ok(Some(report)) = crate::identity::report(run, None, &target) else { continue };
        findings.extend(report.lines.into_iter().map(Finding::Ok));
        findings.extend(report.warnings.into_iter().map(|(what, fix)| Finding::Warn(what, fix)));
        findings.push(match report.tested {
            Ok(ok) => Finding::Ok(ok),
            Err(e) => {
                Finding::Problem(e.to_string(), "fix the identity's settings (see README, Build machines)".into())
            }
        });
    }
    findings
}

/// What to say of a PAT for `org` refused as a retired global PAT (`reason`: the service's
/// words), and how to replace it: (what, fix). `status` and `import` say the same.
pub(super) fn global_pat_advice(org: &Target, reason: &str) -> (String, String) {
    (
        format!(
            "{org}: the PAT is a global one (all accessible organizations), which Azure DevOps no longer accepts \
             since 2026-12-01 ({reason})"
        ),
        format!(
            "replace it with a PAT for this organization only: git credential-azdo logout {org}, then let the next \
             git command mint one, or create one for {org} alone at {} and store it with git credential-azdo login {org}",
            org.tokens_url()
        ),
    )
}

/// Whether `reason` (a refused PAT's) is the retirement of global PATs.
fn global_pat_retired(reason: &str) -> bool {
    crate::azure::connection_data::global_pat_retired(reason)
}

/// Each Azure DevOps Server collection with no PAT stored where no prompt is possible (prompts
/// are off for its URL): git's own NTLM sign-in is gone (libcurl dropped NTLM in September 2026),
/// so only a stored PAT serves it. The settings are read for each collection's URL, as `get`
/// reads them.
fn servers_without_pat(servers: &[Target], stored: &[Target]) -> Result<Vec<Finding>, Error> {
    let mut findings = Vec::new();
    for server in servers.iter().filter(|s| !stored.contains(s)) {
        let (run, _) = open(Some(&server.url()), None)?;
        if !run.settings.interactive {
            let (what, fix) = ntlm_advice(server);
            findings.push(Finding::Warn(what, fix));
        }
    }
    Ok(findings)
}

/// What to say of a Server collection with no PAT and no prompt: (what, fix).
pub(super) fn ntlm_advice(server: &Target) -> (String, String) {
    (
        format!(
            "{server}: no PAT is stored and prompts are off, so git gets no credential there; NTLM (Windows) \
             sign-in is gone from libcurl since September 2026, so git cannot sign in on its own either"
        ),
        format!("create a PAT at {} and store it: git credential-azdo login {}", server.tokens_url(), server.url()),
    )
}

fn git_version() -> Finding {
    let out = crate::git::run(["--version"]);
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    let version: Vec<u32> =
        text.split_whitespace().nth(2).unwrap_or("").split('.').take(2).map_while(|p| p.parse().ok()).collect();
    match version.as_slice() {
        [] => Finding::Problem("git: not found on PATH".into(), "install git".into()),
        [major, minor] if (*major, *minor) < (2, 40) => Finding::Warn(
            format!("git: {} is older than 2.40: it ignores the PAT expiry this helper reports", printable(&text)),
            "upgrade git".into(),
        ),
        _ => Finding::Ok(format!("git: {}", printable(&text))),
    }
}

fn use_http_path(config: &GitConfig) -> Finding {
    let on = config
        .get_urlmatch("credential.usehttppath", "https://dev.azure.com/org")
        .flatten()
        .and_then(bool_value)
        .unwrap_or(false);
    if on {
        Finding::Ok("credential.useHttpPath is on for https://dev.azure.com".into())
    } else {
        Finding::Problem(
            "credential.useHttpPath is off for https://dev.azure.com: only https://ORG@dev.azure.com remotes work"
                .into(),
            "git credential-azdo configure".into(),
        )
    }
}

/// The helpers git runs for an Azure DevOps URL, in order, as git computes them.
fn helper_order(config: &GitConfig) -> Vec<Finding> {
    let mut findings = Vec::new();
    for url in ["https://dev.azure.com/org", "https://org.visualstudio.com"] {
        let helpers = helpers_for(config, url);
        let ours = helpers.iter().position(|h| is_our_helper(h));
        findings.push(match ours {
            None => Finding::Problem(
                format!("{url}: git does not run this helper (helpers: {})", shown(&helpers)),
                "git credential-azdo configure".into(),
            ),
            Some(0) => Finding::Ok(format!("{url}: this helper runs first ({})", shown(&helpers))),
            Some(_) => Finding::Warn(
                format!("{url}: other helpers run before this one ({})", shown(&helpers)),
                "git credential-azdo configure (it resets inherited helpers for these URLs)".into(),
            ),
        });
    }
    findings
}

/// WSL: `WSL_DISTRO_NAME` is set, or the kernel's release names Microsoft.
fn in_wsl(distro_named: bool, osrelease: &str) -> bool {
    distro_named || osrelease.to_ascii_lowercase().contains("microsoft")
}

/// Which of the two WSL set-ups git runs: the Windows build under /mnt (one sign-in shared with
/// Windows), or the native Linux helper (its own sign-in and store).
fn wsl(helpers: &[String]) -> Option<Finding> {
    let ours = helpers.iter().find(|h| is_our_helper(h))?;
    let value = ours.trim().trim_start_matches('!').trim().trim_matches(['\'', '"']);
    let windows = value.starts_with("/mnt/") || value.to_ascii_lowercase().contains(".exe");
    Some(Finding::Ok(if windows {
        format!("WSL: git runs the Windows build ({}): one sign-in and store shared with Windows", printable(value))
    } else {
        "WSL: git runs the native Linux helper: its own sign-in and store (the Windows .exe under /mnt/c would share Windows')"
            .into()
    }))
}

fn shown(helpers: &[String]) -> String {
    if helpers.is_empty() {
        "none".into()
    } else {
        helpers.iter().map(|h| super::setup::helper_name(h)).collect::<Vec<_>>().join(", ")
    }
}

/// All of git's `credential.*` configuration, unfiltered and uncached (for `doctor`).
fn credential_config() -> GitConfig {
    let bytes = match crate::git::run(["config", "-z", "--list"]) {
        Ok(out) if out.success() => out.stdout,
        _ => Vec::new(),
    };
    // Only `credential.*` entries: nothing else of git's configuration is kept.
    let kept: Vec<u8> = bytes
        .split(|b| *b == 0)
        .filter(|entry| entry.len() >= 11 && entry[..11].eq_ignore_ascii_case(b"credential."))
        .flat_map(|entry| entry.iter().copied().chain([0]))
        .collect();
    GitConfig::parse_z(&kept)
}

/// The helper list git builds for `url` from `credential[.<url>].helper` entries: every matching
/// entry in config order, an empty value resetting the list.
fn helpers_for(config: &GitConfig, url: &str) -> Vec<String> {
    let mut helpers = Vec::new();
    for entry in config.entries() {
        let Some(Some(value)) = crate::config::urlmatch::best(std::slice::from_ref(entry), "credential.helper", url)
        else {
            continue;
        };
        if value.is_empty() {
            helpers.clear();
        } else {
            helpers.push(value.to_owned());
        }
    }
    helpers
}

#[cfg(test)]
mod wsl_tests {
    use super::*;

    #[test]
    fn doctor_in_wsl_says_which_helper_is_configured() {
        assert!(in_wsl(true, "") && in_wsl(false, "5.15.167.4-microsoft-standard-WSL2\n"));
        assert!(!in_wsl(false, "6.1.0-28-amd64\n"));
        let say = |helpers: &[&str]| match wsl(&helpers.iter().map(|h| h.to_string()).collect::<Vec<_>>()) {
            Some(Finding::Ok(line)) => line,
            _ => String::new(),
        };
        let windows = say(&["", "/mnt/c/Program\\ Files/git-credential-azdo/git-credential-azdo.exe"]);
        assert!(windows.contains("the Windows build") && windows.contains("shared with Windows"), "{windows}");
        let native = say(&["", "/usr/local/bin/git-credential-azdo"]);
        assert!(native.contains("native Linux helper"), "{native}");
        assert_eq!(say(&["manager"]), "");
    }
}
