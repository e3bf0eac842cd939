//! The "ADO Codespaces Auth" extension's helper as a silent source of access tokens for Azure
//! DevOps: `~/ado-auth-helper get-access-token`, run only when that file is a regular executable
//! owned by this user, directly (no shell), stdin closed, stderr dropped, bounded in time as the
//! Azure CLI is ([`super::cli`]), without this helper's secret variables. Its output is checked
//! like any token (a JWT, printable, one line). The token is a [`Secret`], never printed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::entra::Tokens;
use crate::secret::Secret;

/// The helper's name in the home directory, as the extension installs it.
pub const HELPER: &str = "ado-auth-helper";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no {HELPER} in the home directory")]
    Absent,
    #[error("{HELPER} is not a regular executable file of yours; not running it")]
    NotOurs,
    #[error("{HELPER} gave no token: {0}")]
    NoToken(&'static str),
    #[error("{HELPER} gave no token: {0}")]
    Run(#[source] super::cli::Error),
}

/// `HOME/ado-auth-helper`, if it may be run.
pub fn helper_in(home: &Path) -> Result<PathBuf, Error> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = home.join(HELPER);
    let meta = std::fs::symlink_metadata(&path).map_err(|_| Error::Absent)?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    let executable = meta.permissions().mode() & 0o100 != 0;
    let writable_by_others = meta.permissions().mode() & 0o022 != 0;
    if !meta.file_type().is_file() || !ours || !executable || writable_by_others {
        return Err(Error::NotOurs);
    }
    Ok(path)
}

/// The extension's access token for Azure DevOps, from the helper in `home`.
pub fn token(home: &Path, timeout: Duration) -> Result<Tokens, Error> {
    let path = helper_in(home)?;
    let mut cmd = std::process::Command::new(path);
    cmd.arg("get-access-token");
    for var in crate::config::keys::SECRET_VARS {
        cmd.env_remove(var);
    }
    let (status, mut out) = super::cli::run_bounded(cmd, timeout).map_err(Error::Run)?;
    if !status.success() {
        return Err(Error::NoToken("it failed (is the extension signed in?)"));
    }
    let text = std::str::from_utf8(&out).map(|t| t.trim().to_owned());
    zeroize::Zeroize::zeroize(&mut out);
    let text = Secret::from(text.map_err(|_| Error::NoToken("unreadable output"))?);
    let token = text.expose();
    if token.is_empty() || token.chars().any(|c| c.is_control() || c == ' ') || !crate::jwt::looks_like_jwt(token) {
        return Err(Error::NoToken("its output is not an access token"));
    }
    let expires_at = crate::jwt::expiry(&text).unwrap_or_else(|| crate::time::now() + 300);
    Ok(Tokens { access_token: text, refresh_token: None, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(home: &Path, body: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        let path = home.join(HELPER);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn the_helper_runs_only_as_a_private_executable_and_its_output_is_checked() {
        let home = tempfile::tempdir().expect("dir");
        let limit = Duration::from_secs(5);
        assert!(matches!(token(home.path(), limit), Err(Error::Absent)));
        // A JWT-shaped token with an expiry (header.payload.signature, base64url).
        let payload =
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, br#"{"exp":4000000000}"#);
        let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        script(home.path(), &format!("[ \"$1\" = get-access-token ] && printf '%s\\n' '{jwt}'"), 0o700);
        let tokens = token(home.path(), limit).expect("token");
        assert_eq!(tokens.access_token.expose(), jwt);
        assert_eq!(tokens.expires_at, 4_000_000_000);
        script(home.path(), &format!("printf '%s' '{jwt}'"), 0o722);
        assert!(matches!(token(home.path(), limit), Err(Error::NotOurs)), "writable by others");
        script(home.path(), &format!("printf '%s' '{jwt}'"), 0o600);
        assert!(matches!(token(home.path(), limit), Err(Error::NotOurs)), "not executable");
        for bad in ["not a token", "a.b", "eyJ.x\\r\\n.y"] {
            script(home.path(), &format!("printf '{bad}'"), 0o700);
            assert!(matches!(token(home.path(), limit), Err(Error::NoToken(_))), "{bad}");
        }
        script(home.path(), "sleep 30", 0o700);
        let started = std::time::Instant::now();
        assert!(matches!(token(home.path(), Duration::from_millis(300)), Err(Error::Run(_))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
