//! The repository whose config git reads from a directory, found as git 2.47's discovery finds
//! it: from the directory up, a `.git` directory or a `.git` file (`gitdir: ...`, a linked
//! worktree or a submodule) in each, stopping at the root or where the file system changes;
//! owned by this user; its format version and extensions checked. Only the common cases are
//! answered: a bare repository, a `HEAD` that is a link, an owner other than this user (then git
//! consults `safe.directory`), an unknown extension, anything unexpected declines.

use std::path::{Path, PathBuf};

use super::{decline, parse, Decline};

/// Config files larger than this are left to git.
const MAX_SMALL: u64 = 4096;

/// A repository: its git directory and the common one (they differ in a linked worktree).
#[derive(Debug)]
pub struct Repo {
    pub gitdir: PathBuf,
    pub commondir: PathBuf,
    /// `extensions.worktreeConfig`: `config.worktree` in the git directory is read too.
    pub worktree_config: bool,
}

/// The repository git finds from `cwd` (an absolute path, as `getcwd` gives it), `None` when
/// there is none.
pub fn discover(cwd: &Path) -> Result<Option<Repo>, Decline> {
    let device =
        |dir: &Path| std::fs::metadata(dir).map(|m| dev(&m)).map_err(|_| decline("a directory cannot be read"));
    let start = device(cwd)?;
    let mut dir = cwd;
    loop {
        let dotgit = dir.join(".git");
        match std::fs::metadata(&dotgit) {
            Ok(meta) if meta.is_file() => {
                let gitdir = read_gitfile(&dotgit)?;
                owned(&[&dotgit, dir, &gitdir])?;
                return repo(gitdir).map(Some);
            }
            Ok(meta) if meta.is_dir() => {
                if !is_git_dir(&dotgit)? {
                    return Err(decline("a .git directory that is no repository"));
                }
                owned(&[dir, &dotgit])?;
                return repo(dotgit).map(Some);
            }
            Ok(_) => return Err(decline("a .git that is neither file nor directory")),
            Err(e) if missing(&e) => {}
            Err(_) => return Err(decline("a .git that cannot be read")),
        }
        // A directory with a HEAD may be a bare repository (or the inside of a .git).
        match std::fs::symlink_metadata(dir.join("HEAD")) {
            Err(e) if missing(&e) => {}
            _ => return Err(decline("a bare repository or a git directory")),
        }
        let Some(parent) = dir.parent() else { return Ok(None) };
        if device(parent)? != start {
            // git does not look across file systems (GIT_DISCOVERY_ACROSS_FILESYSTEM unset).
            return Ok(None);
        }
        dir = parent;
    }
}

fn missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory)
}

#[cfg(unix)]
fn dev(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::dev(meta)
}

#[cfg(not(unix))]
fn dev(_meta: &std::fs::Metadata) -> u64 {
    0
}

/// Every path (not followed if a link) is this user's: git then trusts the repository without
/// reading `safe.directory`.
fn owned(paths: &[&Path]) -> Result<(), Decline> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        for path in paths {
            if std::fs::symlink_metadata(path).map(|m| m.uid()).ok() != Some(me) {
                return Err(decline("a repository of another user's"));
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = paths;
        Err(decline("ownership is not checked here"))
    }
}

/// A small file whole, or a decline.
fn small(path: &Path) -> Result<Vec<u8>, Decline> {
    match crate::fs::read_as_git(path, MAX_SMALL) {
        Ok(Some(bytes)) => Ok(bytes),
        _ => Err(decline("a repository file cannot be read")),
    }
}

/// The git directory a `.git` file names (`gitdir: PATH`, relative to the file's directory),
/// as the real path git makes of it.
fn read_gitfile(file: &Path) -> Result<PathBuf, Decline> {
    let bytes = small(file)?;
    let mut text = bytes.strip_prefix(b"gitdir: ").ok_or_else(|| decline("a .git file git would refuse"))?;
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    let named = path_of(text)?;
    let dir = match file.parent() {
        Some(parent) if named.is_relative() => parent.join(named),
        _ => named,
    };
    if !is_git_dir(&dir)? {
        return Err(decline("a .git file naming no repository"));
    }
    std::fs::canonicalize(&dir).map_err(|_| decline("a git directory without a real path"))
}

fn path_of(bytes: &[u8]) -> Result<PathBuf, Decline> {
    if bytes.is_empty() || bytes.contains(&0) {
        return Err(decline("an empty or binary path"));
    }
    #[cfg(unix)]
    return Ok(PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes)));
    #[cfg(not(unix))]
    return std::str::from_utf8(bytes).map(PathBuf::from).map_err(|_| decline("a path that is not UTF-8"));
}

/// Whether `dir` is a git directory by git's signs: a `HEAD` naming a branch (`ref: refs/...`)
/// or a commit, and `objects` and `refs` in its common directory.
fn is_git_dir(dir: &Path) -> Result<bool, Decline> {
    let head = dir.join("HEAD");
    match std::fs::symlink_metadata(&head) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => return Err(decline("a HEAD that is not a file")),
        Err(_) => return Ok(false),
    }
    let text = small(&head)?;
    let symbolic = text.strip_prefix(b"ref:").is_some_and(|rest| {
        let start = rest.iter().position(|c| !parse::is_space(*c)).unwrap_or(rest.len());
        rest[start..].starts_with(b"refs/")
    });
    let detached = text.len() >= 40 && text[..40].iter().all(u8::is_ascii_hexdigit);
    if !symbolic && !detached {
        return Ok(false);
    }
    let common = common_dir(dir)?;
    Ok(["objects", "refs"].iter().all(|sub| searchable(&common.join(sub))))
}

/// A directory this process may enter (`access(X_OK)`, as git asks).
fn searchable(path: &Path) -> bool {
    #[cfg(unix)]
    return rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok();
    #[cfg(not(unix))]
    return path.is_dir();
}

/// The common directory of git directory `gitdir`: what its `commondir` file names (relative to
/// it), as a real path; else itself.
fn common_dir(gitdir: &Path) -> Result<PathBuf, Decline> {
    let file = gitdir.join("commondir");
    match std::fs::metadata(&file) {
        Err(e) if missing(&e) => return Ok(gitdir.to_owned()),
        Err(_) => return Err(decline("a commondir file that cannot be read")),
        Ok(_) => {}
    }
    let mut text: &[u8] = &small(&file)?;
    while let [rest @ .., b'\n' | b'\r'] = text {
        text = rest;
    }
    let named = path_of(text)?;
    let path = if named.is_relative() { gitdir.join(named) } else { named };
    std::fs::canonicalize(path).map_err(|_| decline("a common directory without a real path"))
}

/// The repository at `gitdir`, its format checked as git checks it before reading its config.
fn repo(gitdir: PathBuf) -> Result<Repo, Decline> {
    let commondir = common_dir(&gitdir)?;
    let config = match crate::fs::read_as_git(&commondir.join("config"), super::MAX_FILE) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => Vec::new(),
        Err(_) => return Err(decline("a repository config that cannot be read")),
    };
    let entries = parse::parse(&config).map_err(|e| match e {
        parse::Invalid::Syntax(_) => decline("a repository config git would refuse"),
        parse::Invalid::Versions(_) => decline("a repository config value git versions read differently"),
    })?;
    let mut version = None;
    let mut worktree_config = false;
    let mut extensions = false;
    for (key, value) in &entries {
        match key.as_slice() {
            b"core.repositoryformatversion" => version = value.clone(),
            b"extensions.worktreeconfig" => {
                worktree_config = super::bool_of(value.as_deref()).ok_or_else(|| decline("a bad worktreeConfig"))?;
                extensions = true;
            }
            b"extensions.noop" => extensions = true,
            k if k.starts_with(b"extensions.") => return Err(decline("a repository extension")),
            _ => {}
        }
    }
    match version.as_deref() {
        Some(b"0" | b"1") => {}
        None if !extensions => {}
        _ => return Err(decline("a repository format version")),
    }
    Ok(Repo { gitdir, commondir, worktree_config })
}
