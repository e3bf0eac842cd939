//! The human verbs, one file each: `login`/`logout` (account), `list`/`status` (report),
//! `import`, `doctor`, `configure`/`unconfigure` (setup). Each takes what [`crate::cli`] parsed,
//! builds its [`crate::context::Context`] once, and prints its result on stdout (messages and
//! prompts on stderr).

pub mod account;
pub mod doctor;
pub mod import;
pub mod report;
pub mod setup;
