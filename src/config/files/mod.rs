//! git's configuration read in this process, so that a `get` whose config cache is cold starts
//! no `git`: what `git config --list --show-origin` (git 2.47) lists, in its order, but only for
//! configurations inside a conservative whitelist. Anything outside it [`Decline`]s, and the
//! caller runs `git config` as before. Held to git by a differential test (`tests`) over
//! generated configurations.
//!
//! The whitelist: the system file (`GIT_CONFIG_SYSTEM`, or the one a git installed under `/usr`
//! or `/usr/local` on Linux reads; none with `GIT_CONFIG_NOSYSTEM`), the global ones
//! (`GIT_CONFIG_GLOBAL`, else `$XDG_CONFIG_HOME/git/config` or `~/.config/git/config`, then
//! `~/.gitconfig`), the repository's `config` and `config.worktree` ([`repo`]), then the command
//! line ([`params`]); plain `include.path` (absolute, `~/`, relative to the including file),
//! followed as git does. Declined: `includeIf` of any kind, `~user` and `%(prefix)` includes,
//! includes from the command line, the variables that move or change discovery (`GIT_DIR`,
//! `GIT_CONFIG`, ...), relative or unnormalised paths in the variables, files that are not
//! regular, unreadable, larger than [`MAX_FILE`], that git would refuse to parse or that git
//! versions read differently (a tab or carriage return between the words of an unquoted value:
//! [`parse`]), and every repository case [`repo`] does not answer. Config files are untrusted
//! input: every read is bounded, in size and in number of files.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

mod params;
mod parse;
mod repo;
// The differential tests run real git and this reader, which is used on Unix only.
#[cfg(all(test, unix))]
mod tests;

/// A config file larger than this is left to git.
pub const MAX_FILE: u64 = 1 << 20;
/// At most this many files (includes counted) are read; more are left to git.
const MAX_FILES: usize = 64;
/// git's own limit on nested includes (deeper, git fails).
const MAX_INCLUDE_DEPTH: usize = 10;

/// Variables that move the repository or the config files, or change how git finds them.
const DECLINED_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_TEST_ASSUME_DIFFERENT_OWNER",
];

/// Environment variables, as a function (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// Why this reader leaves the configuration to git.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline(pub &'static str);

pub(super) fn decline(why: &'static str) -> Decline {
    Decline(why)
}

/// Where an entry came from, as `--show-origin` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File(PathBuf),
    CommandLine,
}

/// One entry: its origin, its key (section and name lower-cased) and value (`None`: a bare key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub origin: Origin,
    pub key: String,
    pub value: Option<String>,
}

/// What `git config --list --show-origin` would list in directory `cwd` (absolute) with
/// environment `env`, or why it is left to git.
pub fn list(env: Env, cwd: &Path) -> Result<Vec<Listed>, Decline> {
    if !cfg!(unix) {
        return Err(decline("read by git on this system"));
    }
    if let Some(var) = DECLINED_VARS.iter().find(|v| env(v).is_some()) {
        tracing::debug!(var = *var, "set: git config is left to git");
        return Err(decline("a variable that changes where git looks"));
    }
    let mut reader = Reader { env, out: Vec::new(), files: 0 };
    let nosystem = env("GIT_CONFIG_NOSYSTEM").map(|v| bool_of(Some(v.as_encoded_bytes()))).unwrap_or(Some(false));
    if !nosystem.ok_or(decline("GIT_CONFIG_NOSYSTEM is no boolean"))? {
        reader.file(&system_file(env)?, 0)?;
    }
    match env("GIT_CONFIG_GLOBAL") {
        Some(global) => reader.file(&absolute(global)?, 0)?,
        None => {
            let home = env("HOME").map(absolute).transpose()?;
            let xdg = match env("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
                Some(xdg) => Some(joined(absolute(xdg)?.as_os_str(), "/git/config")),
                None => home.as_ref().map(|h| joined(h.as_os_str(), "/.config/git/config")),
            };
            if let Some(xdg) = xdg {
                reader.file(&xdg, 0)?;
            }
            if let Some(home) = home {
                reader.file(&joined(home.as_os_str(), "/.gitconfig"), 0)?;
            }
        }
    }
    if let Some(repo) = repo::discover(cwd)? {
        reader.file(&repo.commondir.join("config"), 0)?;
        if repo.worktree_config {
            reader.file(&repo.gitdir.join("config.worktree"), 0)?;
        }
    }
    for (key, value) in params::entries(env)? {
        if key == b"include.path" || key.starts_with(b"includeif.") {
            return Err(decline("an include on the command line"));
        }
        reader.push(Origin::CommandLine, &key, value.as_deref());
    }
    Ok(reader.out)
}

/// git's boolean (`git_parse_maybe_bool`): no value is true; `None` for what git refuses.
pub(super) fn bool_of(value: Option<&[u8]>) -> Option<bool> {
    let Some(value) = value else { return Some(true) };
    match value.to_ascii_lowercase().as_slice() {
        b"true" | b"yes" | b"on" | b"1" => Some(true),
        b"" | b"false" | b"no" | b"off" | b"0" => Some(false),
        _ => None,
    }
}

/// A path from a variable: absolute (git would resolve a relative one against the top of the
/// worktree, not this directory) and normalised (git normalises some and not others).
fn absolute(value: OsString) -> Result<PathBuf, Decline> {
    let bytes = value.as_encoded_bytes();
    let normal = bytes.first() == Some(&b'/')
        && (bytes.len() == 1
            || bytes[1..].split(|c| *c == b'/').all(|part| !part.is_empty() && part != b"." && part != b".."));
    if normal {
        Ok(PathBuf::from(value))
    } else {
        Err(decline("a relative or unnormalised path in a variable"))
    }
}

/// `base` + `tail`, byte for byte, as git builds the name it opens and shows.
fn joined(base: &OsStr, tail: &str) -> PathBuf {
    let mut path = base.to_owned();
    path.push(tail);
    PathBuf::from(path)
}

/// The system config file: `GIT_CONFIG_SYSTEM`, else the one of the `git` on `PATH`, known only
/// for git installed by a distribution (`/usr/bin/git`: `/etc/gitconfig`) or from source with
/// the default layout (`/usr/local/bin/git`: `/usr/local/etc/gitconfig`).
fn system_file(env: Env) -> Result<PathBuf, Decline> {
    if let Some(path) = env("GIT_CONFIG_SYSTEM") {
        return absolute(path);
    }
    if !cfg!(target_os = "linux") {
        return Err(decline("the system config of git on this system"));
    }
    let path = env("PATH").ok_or(decline("no PATH"))?;
    for dir in path.to_str().ok_or(decline("a PATH that is not UTF-8"))?.split(':') {
        if !dir.starts_with('/') {
            return Err(decline("a relative directory in PATH"));
        }
        let git = Path::new(dir).join("git");
        if !executable(&git) {
            continue;
        }
        return match std::fs::canonicalize(&git).map_err(|_| decline("git's real path"))?.to_str() {
            Some("/usr/bin/git") => Ok(PathBuf::from("/etc/gitconfig")),
            Some("/usr/local/bin/git") => Ok(PathBuf::from("/usr/local/etc/gitconfig")),
            _ => Err(decline("a git installed elsewhere (its system config is unknown)")),
        };
    }
    Err(decline("no git on PATH"))
}

#[cfg(unix)]
fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(path: &Path) -> bool {
    path.is_file()
}

struct Reader<'a> {
    env: Env<'a>,
    out: Vec<Listed>,
    files: usize,
}

impl Reader<'_> {
    fn push(&mut self, origin: Origin, key: &[u8], value: Option<&[u8]>) {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        self.out.push(Listed { origin, key: text(key), value: value.map(text) });
    }

    /// One config file at include depth `depth`; a missing one is skipped, as git does.
    fn file(&mut self, path: &Path, depth: usize) -> Result<(), Decline> {
        if path.as_os_str() == "/dev/null" {
            return Ok(());
        }
        let bytes = match crate::fs::read_as_git(path, MAX_FILE) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(()),
            Err(_) => return Err(decline("a config file that is not a small readable regular file")),
        };
        self.files += 1;
        if self.files > MAX_FILES || depth > MAX_INCLUDE_DEPTH {
            return Err(decline("too many config files"));
        }
        let entries = parse::parse(&bytes).map_err(|e| match e {
            parse::Invalid::Syntax(_) => decline("a config file git would refuse"),
            parse::Invalid::Versions(_) => decline("a value git versions read differently"),
        })?;
        for (key, value) in entries {
            if key.starts_with(b"includeif.") {
                return Err(decline("includeIf"));
            }
            self.push(Origin::File(path.to_owned()), &key, value.as_deref());
            if key == b"include.path" {
                let target = self.include_path(path, value.as_deref())?;
                self.file(&target, depth + 1)?;
            }
        }
        Ok(())
    }

    /// The file an `include.path` in file `from` names: `~/` is HOME, a relative path is
    /// relative to the directory of `from` (as named).
    fn include_path(&self, from: &Path, value: Option<&[u8]>) -> Result<PathBuf, Decline> {
        let value = value.filter(|v| !v.is_empty()).ok_or(decline("an empty include.path"))?;
        if value.starts_with(b"%(prefix)/") {
            return Err(decline("a %(prefix) include"));
        }
        let mut path = Vec::new();
        let rest = match value.strip_prefix(b"~") {
            Some(rest) if rest.is_empty() || rest[0] == b'/' => {
                let home = (self.env)("HOME").ok_or(decline("~ without HOME"))?;
                path.extend_from_slice(home.as_encoded_bytes());
                rest
            }
            Some(_) => return Err(decline("a ~user include")),
            None => value,
        };
        if path.is_empty() && rest.first() != Some(&b'/') {
            let from = from.as_os_str().as_encoded_bytes();
            let slash =
                from.iter().rposition(|c| *c == b'/').ok_or(decline("an include relative to a relative file"))?;
            path.extend_from_slice(&from[..=slash]);
        }
        path.extend_from_slice(rest);
        if path.first() != Some(&b'/') {
            return Err(decline("a relative include"));
        }
        Ok(PathBuf::from(String::from_utf8(path).map_err(|_| decline("an include path that is not UTF-8"))?))
    }
}
