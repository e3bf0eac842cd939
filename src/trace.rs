//! Tracing: `GIT_CREDENTIAL_AZDO_TRACE=1` writes decisions to stderr, an absolute path appends them
//! to that file (created 0600). Callers log orgs, stores and decisions, never a secret: secrets are
//! [`crate::secret::Secret`], whose `Debug` is redacted.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

pub const ENV: &str = "GIT_CREDENTIAL_AZDO_TRACE";

/// Install the subscriber if tracing is asked for; otherwise do nothing (the hot path pays nothing).
pub fn init() {
    let Some(value) = std::env::var_os(ENV) else {
        return;
    };
    let value = value.to_string_lossy().into_owned();
    let builder = tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_target(false);
    match value.trim() {
        "" | "0" | "false" | "off" | "no" => {}
        "1" | "true" | "on" | "yes" | "2" => builder.with_writer(std::io::stderr).init(),
        path if Path::new(path).is_absolute() => {
            let mut options = OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                // Never follow a link planted where the trace file should be.
                options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
            }
            match options.open(path) {
                Ok(file) => builder.with_writer(Mutex::new(file)).init(),
                Err(e) => {
                    eprintln!("git-credential-azdo: cannot open trace file {}: {e}", crate::text::printable(path))
                }
            }
        }
        other => eprintln!(
            "git-credential-azdo: {ENV} must be 1 or an absolute file path, not '{}'",
            crate::text::printable(other)
        ),
    }
}
