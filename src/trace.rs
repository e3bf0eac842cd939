//! Tracing: `GIT_CREDENTIAL_AZDO_TRACE=1` writes decisions to stderr, an absolute path appends them
//! to that file (created 0600). Callers log orgs, stores and decisions, never a secret: secrets are
//! [`crate::secret::Secret`], whose `Debug` is redacted.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Mutex;

pub const ENV: &str = "GIT_CREDENTIAL_AZDO_TRACE";

/// The values of [`ENV`] that ask for no tracing.
const OFF: [&str; 5] = ["", "0", "false", "off", "no"];

/// Whether [`ENV`] asks for tracing (or holds a value [`init`] will say is wrong): the front
/// binary (Linux) leaves such a run to the full one.
#[cfg(target_os = "linux")]
pub fn requested() -> bool {
    std::env::var_os(ENV).is_some_and(|v| !OFF.contains(&v.to_string_lossy().trim()))
}

/// Install the subscriber if tracing is asked for; otherwise do nothing (the hot path pays nothing).
pub fn init() {
    let Some(value) = std::env::var_os(ENV) else {
        return;
    };
    let value = value.to_string_lossy().into_owned();
    let builder = tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_target(false);
    match value.trim() {
        off if OFF.contains(&off) => {}
        "1" | "true" | "on" | "yes" | "2" => builder.with_writer(std::io::stderr).init(),
        path if Path::new(path).is_absolute() => match open(Path::new(path)) {
            Ok(file) => builder.with_writer(Mutex::new(file)).init(),
            Err(why) => crate::messages::say(format!("cannot use trace file {}: {why}", crate::text::printable(path))),
        },
        other => crate::messages::say(format!(
            "{ENV} must be 1 or an absolute file path, not '{}'",
            crate::text::printable(other)
        )),
    }
}

/// Open the trace file for appending: created 0600, never through a link (the file or its
/// directory), never blocking (a FIFO planted there must not hang git), and only a regular file
/// of the user's own (one another user pre-created in a shared directory would receive it).
fn open(path: &Path) -> Result<File, String> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        if let Some(dir) = path.parent() {
            if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err("its directory is a symbolic link".into());
            }
        }
    }
    let file = options.open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(format!("it belongs to another user (uid {})", meta.uid()));
        }
    }
    Ok(file)
}
