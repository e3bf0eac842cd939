//! This helper's private files: the only place that creates its directories (0700), its files
//! (0600 from the first byte), replaces them atomically (temp file in the same directory, rename)
//! and takes its cross-process locks (waits bounded when asked). (The trace file, at a path the
//! user names, is opened by [`crate::trace`].) Reading checks that a file is the user's own and
//! not readable by others, in a directory of the user's that others cannot write, and follows no
//! symbolic link: a file another user planted or could swap is never trusted. It is also the one
//! reader of a file another program hands this helper (a platform's token file,
//! [`read_provided`]). Every file is opened without blocking and checked as opened (a regular
//! file, its owner and mode, by `fstat`) before a byte is read: a FIFO or a device planted at the
//! path never hangs git.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroize;

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

#[cfg(not(unix))]
pub fn check_dir(_dir: &Path) -> Result<(), Error> {
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

/// Open `path` for reading without blocking (a FIFO with no writer, or a device, would hang the
/// open) and, unless `follow`, without following a symbolic link in the last component. The
/// caller checks the open file ([`File::metadata`] is `fstat`) before it reads, then calls
/// [`blocking`].
fn open_for_check(path: &Path, follow: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | if follow { 0 } else { libc::O_NOFOLLOW },
    );
    #[cfg(not(unix))]
    let _ = follow;
    options.open(path)
}

/// Clear `O_NONBLOCK` on a file checked to be a regular one, before it is read.
fn blocking(path: &Path, file: &File) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        let flags = fcntl_getfl(file).map_err(|e| io(path)(e.into()))?;
        fcntl_setfl(file, flags - OFlags::NONBLOCK).map_err(|e| io(path)(e.into()))?;
    }
    #[cfg(not(unix))]
    let _ = (path, file);
    Ok(())
}

/// A regular file, as opened: not a FIFO, a device, a socket or a directory.
fn check_regular(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    if !meta.is_file() {
        return Err(Error::NotRegular { path: path.to_owned() });
    }
    Ok(())
}

/// The whole file, or `None` when it (or its directory) does not exist; an error when others may
/// read it. The directory is checked before the file is opened; the file is opened without
/// blocking and without following a link, and checked as opened (a regular file of the user's,
/// not readable by others) before a byte is read. The caller wipes what it read when it holds a
/// secret.
pub fn read_private(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match check_dir(parent(path)) {
        Err(Error::Io { source, .. }) if source.kind() == ErrorKind::NotFound => return Ok(None),
        checked => checked?,
    }
    let file = match open_for_check(path, false) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if is_link_refusal(&e) => return Err(Error::Link { path: path.to_owned() }),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    check_regular(path, &meta)?;
    check_private(path, &meta)?;
    blocking(path, &file)?;
    // Sized from the metadata just read, so reading costs no second stat (this is the hot path).
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    if let Err(e) = (&file).take(u64::MAX).read_to_end(&mut bytes) {
        bytes.zeroize();
        return Err(io(path)(e));
    }
    Ok(Some(bytes))
}

/// A file another program hands this helper to read (a platform's token file, as
/// `AZURE_FEDERATED_TOKEN_FILE` names one), whole, at most `max` bytes. Opened without blocking
/// and checked as opened before a byte is read: a regular file (a FIFO or a device is refused),
/// owned by this user or by root (a file the platform mounted is typically root's, mode 0644),
/// that neither its group nor others can write, no larger than `max`. A symbolic link as the last
/// component is followed only when the link itself is this user's or root's (Kubernetes projects
/// a token file as a root-owned link into its `..data` directory); the file it names is checked
/// as above. The caller wipes what it read.
pub fn read_provided(path: &Path, max: u64) -> Result<Vec<u8>, Error> {
    #[cfg(unix)]
    let follow = {
        use std::os::unix::fs::MetadataExt;
        let link = fs::symlink_metadata(path).map_err(io(path))?;
        if link.file_type().is_symlink() && !owner_trusted(link.uid()) {
            return Err(Error::NotOwned { path: path.to_owned(), uid: link.uid() });
        }
        link.file_type().is_symlink()
    };
    #[cfg(not(unix))]
    let follow = true;
    let file = open_for_check(path, follow).map_err(|e| {
        if is_link_refusal(&e) {
            Error::Link { path: path.to_owned() }
        } else {
            io(path)(e)
        }
    })?;
    let meta = file.metadata().map_err(io(path))?;
    check_regular(path, &meta)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if !owner_trusted(meta.uid()) {
            return Err(Error::NotOwned { path: path.to_owned(), uid: meta.uid() });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o022 != 0 {
            return Err(Error::OthersCanWrite { path: path.to_owned(), mode });
        }
    }
    if meta.len() > max {
        return Err(Error::TooLarge { path: path.to_owned(), max });
    }
    blocking(path, &file)?;
    // Bounded again as read: a file that grows after the check is not read past the cap.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    let read = (&file).take(max.saturating_add(1)).read_to_end(&mut bytes);
    if read.is_err() || bytes.len() as u64 > max {
        bytes.zeroize();
        return Err(match read {
            Err(e) => io(path)(e),
            Ok(_) => Error::TooLarge { path: path.to_owned(), max },
        });
    }
    Ok(bytes)
}

/// This user or root: the owners a provided file may have.
#[cfg(unix)]
fn owner_trusted(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

/// `O_NOFOLLOW` refusing a link: ELOOP.
fn is_link_refusal(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    return {
        let _ = e;
        false
    };
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    check_owner(path, meta.uid())?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::LoosePermissions { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), Error> {
    Ok(())
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
        write_private(&path, b"new", Durability::Synced).expect("replace while a reader has it open");
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

    /// A FIFO (or a device) planted as a private file is refused at once: the open does not
    /// wait for a writer, and nothing is read from it.
    #[cfg(unix)]
    #[test]
    fn a_planted_fifo_or_device_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let private = dir.path().join("private");
        create_private_dir(&private).expect("dir");
        let fifo = private.join("f.json");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).expect("mkfifo");
        let started = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_private(&path).map(|_| ()));
        });
        let read = rx.recv_timeout(Duration::from_secs(10)).expect("read_private blocked on a FIFO");
        assert!(matches!(read, Err(Error::NotRegular { .. })), "{read:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let provided = rx_bounded(move || read_provided(&fifo, 64 * 1024).map(|_| ()));
        assert!(matches!(provided, Err(Error::NotRegular { .. })), "{provided:?}");
        let zero = read_provided(Path::new("/dev/zero"), 64 * 1024);
        assert!(matches!(zero, Err(Error::NotRegular { .. })), "{zero:?}");
        // The directory is checked before the file is opened; an absent one holds nothing.
        assert!(read_private(&dir.path().join("absent").join("f.json")).expect("absent").is_none());
    }

    /// `f` on a thread, its result within 10 s (a hang fails the test instead of hanging it).
    #[cfg(unix)]
    fn rx_bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("blocked")
    }

    /// A provided file (a platform's token file) is read when it is a regular file of this user
    /// or root that only its owner can write, within the cap; anything else is refused.
    #[cfg(unix)]
    #[test]
    fn a_provided_file_must_be_regular_small_and_written_only_by_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        fs::write(&token, b"eyJ.a.b\n").expect("write");
        let chmod = |p: &Path, mode: u32| fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
        chmod(&token, 0o644);
        assert_eq!(read_provided(&token, 64).expect("read"), b"eyJ.a.b\n");
        for mode in [0o664, 0o646, 0o666] {
            chmod(&token, mode);
            let read = read_provided(&token, 64);
            assert!(matches!(read, Err(Error::OthersCanWrite { .. })), "{mode:o}: {read:?}");
        }
        chmod(&token, 0o600);
        let big = dir.path().join("big");
        fs::write(&big, vec![b'a'; 65]).expect("write");
        chmod(&big, 0o644);
        assert!(matches!(read_provided(&big, 64), Err(Error::TooLarge { max: 64, .. })));
        assert_eq!(read_provided(&big, 65).expect("at the cap").len(), 65);
        // A link of this user's own is followed, to a file checked as above.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&token, &link).expect("symlink");
        assert_eq!(read_provided(&link, 64).expect("through my link"), b"eyJ.a.b\n");
        let to_big = dir.path().join("to-big");
        std::os::unix::fs::symlink(&big, &to_big).expect("symlink");
        assert!(matches!(read_provided(&to_big, 64), Err(Error::TooLarge { .. })));
        let to_zero = dir.path().join("to-zero");
        std::os::unix::fs::symlink("/dev/zero", &to_zero).expect("symlink");
        assert!(matches!(read_provided(&to_zero, 64), Err(Error::NotRegular { .. })));
        if rustix::process::geteuid().is_root() {
            // Only root can give a file or a link away: another user's (not root) is refused.
            std::os::unix::fs::lchown(&link, Some(65534), None).expect("chown");
            assert!(matches!(read_provided(&link, 64), Err(Error::NotOwned { uid: 65534, .. })));
            std::os::unix::fs::chown(&token, Some(65534), None).expect("chown");
            assert!(matches!(read_provided(&token, 64), Err(Error::NotOwned { uid: 65534, .. })));
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
