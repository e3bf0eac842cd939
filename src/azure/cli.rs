//! The Azure CLI as a silent source of access tokens for Azure DevOps: `az account
//! get-access-token`, run directly (no shell), stdin closed, its stderr dropped, bounded in time
//! with its exit included, and without this helper's secret variables in its environment.
//! The token is a [`Secret`]; nothing here prints it or puts it in an error.

use std::time::Duration;

use serde::Deserialize;

use super::entra::{Number, Tokens, AZURE_DEVOPS_RESOURCE};
use super::tenant;
use crate::secret::Secret;
use crate::time::now;

/// Most of `az`'s output that is read.
const MAX_OUTPUT: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the Azure CLI gave no token: {0}")]
    NoToken(&'static str),
    #[error("the Azure CLI gave no token: az did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the Azure CLI gave no token: cannot run az: {0}")]
    Spawn(#[source] std::io::Error),
}

/// `az account get-access-token --output json`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AzureCliReply {
    #[serde(default, deserialize_with = "crate::net::lenient")]
    access_token: Option<String>,
    #[serde(rename = "expires_on", default, deserialize_with = "crate::net::lenient")]
    expires_on: Option<Number>,
}

/// The Azure CLI's token for Azure DevOps, if `az` is installed and signed in. Silent: it never
/// prompts (stdin is closed, its stderr is not shown).
pub fn azure_cli_token(tenant: Option<&str>, timeout: Duration) -> Result<Tokens, Error> {
    let mut cmd = std::process::Command::new(az_program(cfg!(windows)));
    cmd.args(["account", "get-access-token", "--resource", AZURE_DEVOPS_RESOURCE, "--output", "json"]);
    for var in crate::config::keys::SECRET_VARS {
        cmd.env_remove(var);
    }
    if let Some(tenant) = tenant.filter(|t| tenant::is_tenant(t) && !matches!(*t, "common" | "organizations")) {
        cmd.args(["--tenant", tenant]);
    }
    let (status, out) = run_bounded(cmd, timeout)?;
    if !status.success() {
        return Err(Error::NoToken("az is not signed in (run az login)"));
    }
    let reply: AzureCliReply = serde_json::from_slice(&out).map_err(|_| Error::NoToken("unreadable output"))?;
    let access_token = reply.access_token.filter(|t| !t.is_empty()).ok_or(Error::NoToken("no accessToken"))?;
    let expires_at = Number::value(&reply.expires_on).unwrap_or_else(|| now() + 300);
    Ok(Tokens { access_token: Secret::from(access_token), refresh_token: None, expires_at })
}

/// Run `cmd` (stdin closed, stderr dropped) and collect its stdout; the whole child, its exit
/// included, is bounded by `timeout`: one that prints, closes stdout and keeps running is killed.
pub(super) fn run_bounded(
    mut cmd: std::process::Command,
    timeout: Duration,
) -> Result<(std::process::ExitStatus, Vec<u8>), Error> {
    use std::process::Stdio;
    let deadline = std::time::Instant::now() + timeout;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = cmd.spawn().map_err(Error::Spawn)?;
    let mut stdout = child.stdout.take().ok_or(Error::NoToken("no output"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::Read::take(&mut stdout, MAX_OUTPUT), &mut out);
        let _ = tx.send(out);
    });
    let give_up = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
        Error::Timeout(timeout)
    };
    let Ok(out) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) else {
        return Err(give_up(&mut child));
    };
    loop {
        if let Some(status) = child.try_wait().map_err(Error::Spawn)? {
            return Ok((status, out));
        }
        if std::time::Instant::now() >= deadline {
            return Err(give_up(&mut child));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The Azure CLI's program: `az.cmd` on Windows, where std adds only `.exe` to a bare name and
/// ignores `PATHEXT` (std quotes a `.cmd`'s arguments safely), else `az`.
fn az_program(windows: bool) -> &'static str {
    if windows {
        "az.cmd"
    } else {
        "az"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound covers the child's exit, not only its output: an `az` that closes stdout and
    /// lingers must not hold git up past the timeout.
    #[cfg(unix)]
    #[test]
    fn a_child_that_closes_stdout_and_lingers_is_killed_in_time() {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "printf '{}'; exec >&-; sleep 30"]);
        let started = std::time::Instant::now();
        let result = run_bounded(cmd, Duration::from_millis(500));
        assert!(matches!(result, Err(Error::Timeout(_))), "{result:?}");
        assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
        let mut quick = std::process::Command::new("sh");
        quick.args(["-c", "printf ok"]);
        let (status, out) = run_bounded(quick, Duration::from_secs(5)).expect("a quick child");
        assert!(status.success() && out == b"ok");
    }

    #[test]
    fn the_azure_cli_is_az_cmd_on_windows() {
        assert_eq!(az_program(true), "az.cmd");
        assert_eq!(az_program(false), "az");
        assert_eq!(az_program(cfg!(windows)), if cfg!(windows) { "az.cmd" } else { "az" });
    }
}
