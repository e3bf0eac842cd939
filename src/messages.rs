//! The one place this helper speaks to a person: a line on stderr (stdout belongs to git, and to
//! the verbs' results), or sign-in instructions on the terminal when there is one. Nothing else
//! in the library prints to stderr (`clippy::print_stderr` is denied everywhere but here). A run
//! owns one [`Messages`]; tests use [`Messages::captured`] to read what a run said.
//!
//! Every text that reaches a person through here is built from values already made printable
//! (`text::printable`) by whoever quotes untrusted input, and never holds a secret.

use std::cell::RefCell;
use std::fmt::Display;

/// The prefix of the helper's own lines among git's (and other helpers') output.
pub const PREFIX: &str = "git-credential-azdo: ";

/// Where a run's messages go.
#[derive(Debug, Default)]
pub struct Messages {
    /// `Some`: kept for a test instead of printed.
    captured: Option<RefCell<Vec<String>>>,
}

impl Messages {
    /// Messages for stderr (and the terminal).
    pub fn stderr() -> Messages {
        Messages { captured: None }
    }

    /// Messages kept in memory, for a test to read with [`Messages::said`].
    #[cfg(test)]
    pub fn captured() -> Messages {
        Messages { captured: Some(RefCell::new(Vec::new())) }
    }

    /// One line from the helper while git runs it, marked with [`PREFIX`].
    pub fn say(&self, text: impl Display) {
        self.emit(format!("{PREFIX}{text}"));
    }

    /// One line of a verb's conversation with the person who typed it, as it is.
    pub fn tell(&self, text: impl Display) {
        self.emit(text.to_string());
    }

    /// Instructions a person must act on (a sign-in URL, a device code): the terminal when there is
    /// one, so that they reach the person even when git or an IDE reads stderr; else stderr.
    pub fn instruct(&self, text: impl Display) {
        let text = text.to_string();
        #[cfg(unix)]
        if self.captured.is_none() {
            if let Ok(mut tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty") {
                if std::io::Write::write_all(&mut tty, format!("{text}\n").as_bytes()).is_ok() {
                    return;
                }
            }
        }
        self.emit(text);
    }

    /// What was said so far (captured messages only; empty for stderr).
    #[cfg(test)]
    pub fn said(&self) -> Vec<String> {
        self.captured.as_ref().map(|c| c.borrow().clone()).unwrap_or_default()
    }

    #[allow(clippy::print_stderr)] // the one writer of stderr
    fn emit(&self, line: String) {
        match &self.captured {
            Some(kept) => kept.borrow_mut().push(line),
            None => eprintln!("{line}"),
        }
    }
}

/// One line from the helper before a run (and its [`Messages`]) exists: a bad trace setting, a
/// failure that ends the process.
pub fn say(text: impl Display) {
    Messages::stderr().say(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_messages_are_kept_in_order_with_the_prefix_where_asked() {
        let m = Messages::captured();
        m.say("one");
        m.tell("two");
        m.instruct("three");
        assert_eq!(m.said(), ["git-credential-azdo: one", "two", "three"]);
        assert!(Messages::stderr().said().is_empty());
    }
}
