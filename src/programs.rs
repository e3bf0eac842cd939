//! The file names of this package's programs. On Linux, [`FRONT`] is what git runs: a small front
//! for git's hot path, which runs [`FULL`], installed beside it, for the rest (`crate::front`).
//! Elsewhere [`FRONT`] is the whole program and [`FULL`] is not shipped.

/// The program git runs.
pub const FRONT: &str = "git-credential-azdo";
/// The whole program, beside the front, on Linux.
pub const FULL: &str = "git-credential-azdo-full";
