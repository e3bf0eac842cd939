//! Asking a person for a PAT: through `GIT_ASKPASS` / `core.askPass` / `SSH_ASKPASS` when set, else
//! on the terminal (`/dev/tty`) with input hidden. Never on stdout, never when prompts are off.

use crate::config::Settings;
use crate::messages::Messages;
use crate::org::Target;
use crate::secret::Secret;

/// The text shown to the person: which org, and where to create a PAT.
pub fn pat_prompt(org: &Target) -> String {
    // git's own wording first, so askpass programs that look for "Password" hide the input.
    // The URL git would show: the org as user name on its own origin, or the collection.
    let target = match org {
        crate::org::Target::Services { origin, org, .. } => {
            let base = origin.base();
            let (scheme, host) = base.split_once("://").unwrap_or(("https", &base));
            format!("{scheme}://{org}@{host}")
        }
        crate::org::Target::Server { collection } => collection.clone(),
    };
    format!(
        "Password for '{target}' (a personal access token for Azure DevOps organization '{org}'; create one at {}): ",
        org.tokens_url()
    )
}

/// Ask for a PAT for `org`. `None` when prompts are off, nobody can be asked, or nothing was typed.
pub fn ask_pat(org: &Target, settings: &Settings, messages: &Messages) -> Option<Secret> {
    if !settings.interactive {
        tracing::info!(%org, "prompts are off; not asking");
        return None;
    }
    if let Some(hint) = no_console_prompt(cfg!(unix), settings.askpass.is_some()) {
        messages.say(hint);
        return None;
    }
    let options = gix_prompt::Options { askpass: settings.askpass.clone(), mode: gix_prompt::Mode::Hidden };
    tracing::info!(%org, askpass = settings.askpass.is_some(), "asking for a PAT");
    match gix_prompt::ask(&pat_prompt(org), &options) {
        Ok(answer) => {
            if settings.askpass.is_none() {
                end_terminal_line();
            }
            let pat = Secret::from(answer);
            let pat = clean(pat.expose()).map(Secret::new);
            if pat.is_none() {
                tracing::info!(%org, "no usable PAT was entered");
            }
            pat
        }
        Err(_) => {
            tracing::info!(%org, "no terminal or askpass to ask on");
            None
        }
    }
}

/// Why no PAT can be asked for, when that is so: hidden input from the terminal exists only on
/// Unix (gix-prompt reads `/dev/tty`; this crate forbids the `unsafe` a console API needs), so
/// elsewhere only an askpass program can ask.
pub fn no_console_prompt(unix: bool, askpass: bool) -> Option<&'static str> {
    (!unix && !askpass).then_some(
        "cannot ask for a PAT on this console: set GIT_ASKPASS to an askpass program, \
         or store one with: git credential-azdo login ORG --pat-stdin",
    )
}

/// Hidden input leaves the cursor on the prompt line: move on, as git does.
fn end_terminal_line() {
    #[cfg(unix)]
    if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open(gix_prompt::unix::TTY_PATH) {
        let _ = std::io::Write::write_all(&mut tty, b"\n");
    }
}

/// A typed PAT without surrounding whitespace; `None` if empty or if it has control characters.
pub fn clean(typed: &str) -> Option<String> {
    let trimmed = typed.trim();
    if trimmed.is_empty() || trimmed.chars().any(char::is_control) {
        return None;
    }
    Some(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_names_org_and_token_page() {
        let text = pat_prompt(&Target::org("Contoso").expect("valid"));
        assert!(text.contains("'contoso'"));
        assert!(text.contains("https://dev.azure.com/contoso/_usersSettings/tokens"));
        assert!(text.starts_with("Password for 'https://contoso@dev.azure.com' "), "{text}");
        // A PAT typed for a test origin must not be asked for in dev.azure.com's name: another
        // origin's prompt names that origin, never dev.azure.com.
        let fake = crate::org::ServiceUrl::parse("http://127.0.0.1:8123").expect("origin");
        let text = pat_prompt(&Target::org_in(&fake, "contoso").expect("valid"));
        assert!(!text.contains("dev.azure.com"), "{text}");
        assert!(
            text.contains("'http://contoso@127.0.0.1:8123'")
                && text.contains("http://127.0.0.1:8123/contoso/_usersSettings/tokens")
        );
    }

    #[test]
    fn without_a_unix_terminal_only_askpass_can_ask() {
        assert!(no_console_prompt(true, false).is_none());
        assert!(no_console_prompt(false, true).is_none());
        let hint = no_console_prompt(false, false).expect("a hint");
        assert!(hint.contains("GIT_ASKPASS") && hint.contains("--pat-stdin"), "{hint}");
    }

    #[test]
    fn typed_pats_are_trimmed_and_checked() {
        assert_eq!(clean("  abc \n").as_deref(), Some("abc"));
        assert_eq!(clean("   "), None);
        assert_eq!(clean("ab\u{1b}c"), None);
    }
}
