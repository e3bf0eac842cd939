//! This helper's private files: the only place that creates its directories (0700), its files
//! (0600 from the first byte), replaces them atomically (temp file in the same directory, rename)
//! and takes its cross-process locks (waits bounded when asked). (The trace file, at a path the
//! user names, is opened by [`crate::trace`].) Here: the [`Error`] every file operation returns,
//! the directory check ([`check_dir`]: the user's own, not writable by others, not a link),
//! atomic private writes and their [`Durability`], removing a private file, and locks. Reading, checked before a byte is
//! read (a regular file of the user's, not readable by others, no link followed, opened without
//! blocking so a planted FIFO or device never hangs git), and reading a file another program
//! hands this helper ([`read_provided`]), are in [`read`].

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod read;

use read::is_link_refusal;
// The front binary (Linux) checks the full program's owner with it.
#[cfg(target_os = "linux")]
pub use read::owner_trusted;
pub use read::{read_as_git, read_private, read_provided};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is readable by other users (mode {mode:o}); refusing to use it: run chmod 600 on it", shown(.path))]
    LoosePermissions { path: PathBuf, mode: u32 },
    #[error("{}: another git process holds this lock; try again", shown(.path))]
    Busy { path: PathBuf },
    #[error("{} belongs to another user (uid {uid}); refusing to use it", shown(.path))]
    NotOwned { path: PathBuf, uid: u32 },
    #[error("{} is writable by other users (mode {mode:o}); refusing to use it: run chmod 700 on it", shown(.path))]
    LooseDirectory { path: PathBuf, mode: u32 },
    #[error("{} is a symbolic link; refusing to follow it", shown(.path))]
    Link { path: PathBuf },
    #[error("{} is not a regular file; refusing to read it", shown(.path))]
    NotRegular { path: PathBuf },
    #[error("{} is writable by other users (mode {mode:o}); refusing to use it: run chmod go-w on it", shown(.path))]
    OthersCanWrite { path: PathBuf, mode: u32 },
    #[error("{} is larger than {max} bytes; refusing to read it", shown(.path))]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{}: {source}", shown(.path))]
    Io { path: PathBuf, source: std::io::Error },
}

/// A path as it may be shown: no raw control characters.
pub fn shown(path: &Path) -> String {
    crate::text::printable(&path.to_string_lossy())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

/// Create `dir` and its parents, private to the user; an existing `dir` must be one the user
/// owns and others cannot write ([`check_dir`]).
pub fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))?;
    check_dir(dir)
}

/// The directory of a private file: not a link, the user's own, not writable by others (who
/// could otherwise replace the file in it).
#[cfg(unix)]
pub fn check_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::symlink_metadata(dir).map_err(io(dir))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Link { path: dir.to_owned() });
    }
    check_owner(dir, meta.uid())?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::LooseDirectory { path: dir.to_owned(), mode });
    }
    Ok(())
}

/// Off Unix there is no owner or mode to check (the directory's ACL keeps it private): it must
/// exist (a missing one is `NotFound`, as on Unix) and not be a link.
#[cfg(not(unix))]
pub fn check_dir(dir: &Path) -> Result<(), Error> {
    let meta = fs::symlink_metadata(dir).map_err(io(dir))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Link { path: dir.to_owned() });
    }
    Ok(())
}

#[cfg(unix)]
fn check_owner(path: &Path, uid: u32) -> Result<(), Error> {
    // Asked of the kernel once per run: every private file of the run is checked against it.
    static EUID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    if uid != *EUID.get_or_init(|| rustix::process::geteuid().as_raw()) {
        return Err(Error::NotOwned { path: path.to_owned(), uid });
    }
    Ok(())
}

/// Open options that never follow a symbolic link in the last component.
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, libc::O_NOFOLLOW);
    options
}

/// How hard a write tries to survive a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the file and its directory (stores: a PAT must not be lost).
    Synced,
    /// Rename only (caches, which are rebuilt when lost).
    Cache,
}

/// The directory a file lives in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Temp files are named after the file they replace, so each lock covers only its own.
fn temp_prefix(path: &Path) -> String {
    format!(".tmp-{}-", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

/// Replace `path` with `bytes` atomically: readers see the old or the new file, never a torn one.
/// The directory is created private when missing.
pub fn write_private(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), Error> {
    let dir = parent(path);
    create_private_dir(dir)?;
    // tempfile creates the file with mode 0600 from the start: no window with looser permissions.
    let mut tmp = tempfile::Builder::new().prefix(&temp_prefix(path)).tempfile_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    if durability == Durability::Synced {
        tolerate_unsupported_sync(tmp.as_file().sync_all()).map_err(io(path))?;
    }
    // std's rename, not tempfile's persist: on Windows it falls back to a POSIX-semantics rename,
    // which works while a parallel reader has the target open (a plain MoveFileEx fails then).
    let (file, temp_path) = tmp.into_parts();
    drop(file);
    fs::rename(&temp_path, path).map_err(io(path))?;
    // The file is now at `path`: nothing is left under the temporary name to delete.
    let _ = temp_path.keep();
    #[cfg(unix)]
    if durability == Durability::Synced {
        tolerate_unsupported_sync(File::open(dir).and_then(|d| d.sync_all())).map_err(io(dir))?;
    }
    Ok(())
}

/// A sync the file system cannot do is not a failed write: `sync_all` is `F_FULLFSYNC` on Apple
/// systems, which network home directories refuse with `ENOTSUP`, and some file systems refuse a
/// directory fsync with `EINVAL`. The rename has happened either way.
fn tolerate_unsupported_sync(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if sync_unsupported(&e) => {
            tracing::debug!(error = %e, "this file system cannot sync; the write stands without it");
            Ok(())
        }
        other => other,
    }
}

fn sync_unsupported(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    let refused = matches!(e.raw_os_error(), Some(code) if code == libc::ENOTSUP || code == libc::EOPNOTSUPP || code == libc::EINVAL);
    #[cfg(not(unix))]
    let refused = false;
    refused || e.kind() == ErrorKind::Unsupported
}

/// Remove the private file `path` (a link there is removed, never followed), in a directory
/// that passes [`check_dir`]; whether there was one.
pub fn remove_private(path: &Path) -> Result<bool, Error> {
    match check_dir(parent(path)) {
        Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => return Ok(false),
        checked => checked?,
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// Temp files of writers killed mid-write (copies of a store, PATs included). Every writer of
/// `path` creates its temp file while holding `path`'s lock, so under that lock any is stale.
pub fn remove_stale_temp_files(path: &Path) {
    let prefix = temp_prefix(path);
    if let Ok(entries) = fs::read_dir(parent(path)) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// An exclusive lock across processes, held until dropped. A process that dies releases it (the
/// OS drops the file lock with the process).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// `path` with `.lock` appended to its file name.
pub fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// Open (creating, 0600) and lock exclusively the lock file `path`, waiting at most `limit` when
/// one is given (a holder stopped with Ctrl-Z must not hang git).
pub fn lock(path: &Path, limit: Option<Duration>) -> Result<Lock, Error> {
    create_private_dir(parent(path))?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = no_follow(&mut options).open(path).map_err(|e| {
        if is_link_refusal(&e) {
            Error::Link { path: path.to_owned() }
        } else {
            io(path)(e)
        }
    })?;
    let Some(limit) = limit else {
        file.lock().map_err(io(path))?;
        return Ok(Lock { _file: file });
    };
    let deadline = Instant::now() + limit;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => return Err(Error::Busy { path: path.to_owned() }),
            Err(fs::TryLockError::Error(e)) => return Err(io(path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn private_files_are_private_and_replaced_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("f.json");
        assert!(read_private(&path).expect("absent is fine").is_none());
        write_private(&path, b"one", Durability::Synced).expect("write");
        write_private(&path, b"two", Durability::Cache).expect("write");
        assert_eq!(read_private(&path).expect("read").as_deref(), Some(&b"two"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().expect("dir")), 0o700);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
            assert!(matches!(read_private(&path), Err(Error::LoosePermissions { mode: 0o644, .. })));
        }
    }

    #[test]
    fn a_file_open_for_reading_is_replaced_and_the_reader_keeps_the_old_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("doc.json");
        write_private(&path, b"old", Durability::Synced).expect("write");
        let mut reader = File::open(&path).expect("open");
        let replaced = write_private(&path, b"new", Durability::Synced);
        if let (Err(e), Some("wine")) = (&replaced, std::env::var("AZDO_TEST_EMULATED").ok().as_deref()) {
            // Wine 8 answers std's POSIX-semantics rename (FileRenameInfoEx) with error 87;
            // Windows 10 and later on NTFS support it.
            let _ = writeln!(std::io::stderr(), "skipped under emulation (Wine 8 has no POSIX-semantics rename): {e}");
            return;
        }
        replaced.expect("replace while a reader has it open");
        let mut seen = String::new();
        reader.read_to_string(&mut seen).expect("read");
        assert_eq!(seen, "old");
        assert_eq!(fs::read(&path).expect("read"), b"new");
        let names: Vec<_> = fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["doc.json"], "no temporary file is left behind");
    }

    #[test]
    fn an_unsupported_sync_does_not_fail_the_write() {
        #[cfg(unix)]
        for code in [libc::ENOTSUP, libc::EINVAL] {
            assert!(tolerate_unsupported_sync(Err(std::io::Error::from_raw_os_error(code))).is_ok(), "{code}");
        }
        assert!(tolerate_unsupported_sync(Err(ErrorKind::Unsupported.into())).is_ok());
        assert!(tolerate_unsupported_sync(Err(std::io::Error::other("disk on fire"))).is_err());
        #[cfg(unix)]
        assert!(tolerate_unsupported_sync(Err(std::io::Error::from_raw_os_error(libc::EIO))).is_err());
    }

    /// A file or directory another user could have planted or could swap is
    /// refused, and no link is followed.
    #[cfg(unix)]
    #[test]
    fn planted_or_swappable_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("private").join("f.json");
        write_private(&path, b"x", Durability::Cache).expect("write");
        let private = path.parent().expect("dir");
        fs::set_permissions(private, fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(matches!(read_private(&path), Err(Error::LooseDirectory { .. })));
        assert!(matches!(lock(&lock_path(&path), None), Err(Error::LooseDirectory { .. })));
        fs::set_permissions(private, fs::Permissions::from_mode(0o700)).expect("chmod");
        let link = private.join("link.json");
        std::os::unix::fs::symlink(&path, &link).expect("symlink");
        assert!(matches!(read_private(&link), Err(Error::Link { .. })));
        let lock_link = private.join("l.lock");
        std::os::unix::fs::symlink(&path, &lock_link).expect("symlink");
        assert!(matches!(lock(&lock_link, None), Err(Error::Link { .. })));
        let linked_dir = dir.path().join("linked");
        std::os::unix::fs::symlink(private, &linked_dir).expect("symlink");
        assert!(matches!(read_private(&linked_dir.join("f.json")), Err(Error::Link { .. })));
        if rustix::process::geteuid().is_root() {
            // Only root can give a file away: one owned by another user is refused.
            std::os::unix::fs::chown(&path, Some(65534), None).expect("chown");
            assert!(matches!(read_private(&path), Err(Error::NotOwned { uid: 65534, .. })));
        }
    }

    #[test]
    fn a_held_lock_is_waited_for_within_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir.path().join("x"));
        let held = lock(&path, None).expect("lock");
        let started = Instant::now();
        assert!(matches!(lock(&path, Some(Duration::from_millis(100))), Err(Error::Busy { .. })));
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(held);
        lock(&path, Some(Duration::from_millis(100))).expect("free again");
    }
}
