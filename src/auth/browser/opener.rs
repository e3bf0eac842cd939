//! Starting the system browser on the sign-in's start address (the listener's, which sends it on
//! to the authorize URL): each command of `BROWSER` in turn, else
//! the platform's opener, run directly (never through a shell), with stdin, stdout (git's
//! protocol channel) and stderr on the null device and without this helper's secret variables.
//! Also whether a browser can plausibly be shown here at all.

use std::process::{Child, Command, Stdio};

use super::Error;
use crate::text::printable;

/// The commands `BROWSER` names, tried in order: `:`-separated entries; in an entry `%s` is the
/// URL (else the URL is its last argument), `%%` a `%` and `%c` a `:`; words split on whitespace.
pub fn browser_commands(browser: &str, url: &str) -> Vec<Vec<String>> {
    browser
        .split(':')
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let mut words: Vec<String> = Vec::new();
            let mut has_url = false;
            for word in entry.split_whitespace() {
                let mut out = String::new();
                let mut chars = word.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        out.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('s') => {
                            out.push_str(url);
                            has_url = true;
                        }
                        Some('c') => out.push(':'),
                        Some('%') => out.push('%'),
                        Some(other) => {
                            out.push('%');
                            out.push(other);
                        }
                        None => out.push('%'),
                    }
                }
                words.push(out);
            }
            if !has_url {
                words.push(url.to_owned());
            }
            words
        })
        .collect()
}

/// The platform's way of opening a URL, for when `BROWSER` is not set.
fn platform_commands(url: &str) -> Vec<Vec<String>> {
    let cmd = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).chain([url.to_owned()]).collect::<Vec<_>>();
    if cfg!(target_os = "macos") {
        vec![cmd(&["/usr/bin/open"])]
    } else if cfg!(windows) {
        // Not through cmd, which would split the URL at '&'.
        vec![cmd(&["rundll32", "url.dll,FileProtocolHandler"])]
    } else if is_wsl() {
        vec![cmd(&["wslview"]), cmd(&["xdg-open"])]
    } else {
        vec![cmd(&["xdg-open"]), cmd(&["x-www-browser"]), cmd(&["www-browser"])]
    }
}

/// Whether this is Windows Subsystem for Linux (as Git Credential Manager tells it).
fn is_wsl() -> bool {
    cfg!(target_os = "linux")
        && (std::env::var_os("WSL_INTEROP").is_some()
            || std::fs::read_to_string("/proc/version").is_ok_and(|v| v.to_ascii_lowercase().contains("microsoft")))
}

/// Whether a browser can plausibly be shown to the person: `BROWSER` set, a desktop session
/// (`DISPLAY`, `WAYLAND_DISPLAY`), WSL, macOS or Windows (not over SSH without a display).
pub fn plausible() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.to_string_lossy().trim().is_empty());
    if set("BROWSER") || set("DISPLAY") || set("WAYLAND_DISPLAY") {
        return true;
    }
    let ssh = set("SSH_CONNECTION") || set("SSH_TTY");
    if cfg!(windows) || cfg!(target_os = "macos") {
        return !ssh;
    }
    is_wsl() && !ssh
}

/// Start the browser on `url`: each command of `BROWSER` in turn, else the platform's opener,
/// run directly (no shell), with stdin and stdout (git's protocol channel) and stderr on the null
/// device. The browser is left running: it is the person's.
pub fn open(url: &str) -> Result<Child, Error> {
    let commands = match std::env::var("BROWSER") {
        Ok(b) if !b.trim().is_empty() => browser_commands(&b, url),
        _ => platform_commands(url),
    };
    let mut tried = Vec::new();
    for words in commands {
        let Some((program, args)) = words.split_first() else { continue };
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        for var in crate::config::keys::SECRET_VARS {
            cmd.env_remove(var);
        }
        match cmd.spawn() {
            Ok(child) => {
                tracing::info!(program = %printable(program), pid = child.id(), "browser started");
                return Ok(child);
            }
            Err(e) => {
                tracing::info!(program = %printable(program), error = %e, "cannot start this browser");
                tried.push(printable(program));
            }
        }
    }
    Err(Error::NoBrowser(if tried.is_empty() {
        "none configured".into()
    } else {
        format!("tried {}", tried.join(", "))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_entries_split_on_colons_and_substitute_the_url() {
        let url = "https://x/a?b=1&c=2";
        assert_eq!(browser_commands("firefox", url), vec![vec!["firefox".to_owned(), url.to_owned()]]);
        assert_eq!(
            browser_commands("/opt/b --new %s --x=100%%:w3m", url),
            vec![
                vec!["/opt/b".to_owned(), "--new".to_owned(), url.to_owned(), "--x=100%".to_owned()],
                vec!["w3m".to_owned(), url.to_owned()]
            ]
        );
        assert_eq!(browser_commands("a%cb", url), vec![vec!["a:b".to_owned(), url.to_owned()]]);
        assert!(browser_commands(" : ", url).is_empty());
    }
}
