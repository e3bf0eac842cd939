//! Checked reads of files: [`read_private`], a private file of this helper's (its directory the
//! user's own and not writable by others, the file a regular one of the user's that others cannot
//! read, no symbolic link followed), and [`read_provided`], a file another program hands this
//! helper (a platform's token file: a regular file of this user's or root's that neither group
//! nor others can write, bounded in size). Every file is opened without blocking and checked as
//! opened (a regular file, its owner and mode, by `fstat`) before a byte is read: a FIFO or a
//! device planted at the path never hangs git.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::Path;

use zeroize::Zeroize;

#[cfg(unix)]
use super::check_owner;
use super::{check_dir, io, parent, Error};

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

/// A file git itself reads (a config file), as git reads it: any owner, a symbolic link
/// followed; `None` when it does not exist (or a component of its path is not a directory, which
/// git also takes as absent). Opened without blocking and checked as opened: a regular file no
/// larger than `max` (bounded again as read), else an error; the caller then lets git read it.
pub fn read_as_git(path: &Path, max: u64) -> Result<Option<Vec<u8>>, Error> {
    let file = match open_for_check(path, true) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound || e.kind() == ErrorKind::NotADirectory => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    check_regular(path, &meta)?;
    if meta.len() > max {
        return Err(Error::TooLarge { path: path.to_owned(), max });
    }
    blocking(path, &file)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).saturating_add(1));
    (&file).take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(io(path))?;
    if bytes.len() as u64 > max {
        return Err(Error::TooLarge { path: path.to_owned(), max });
    }
    Ok(Some(bytes))
}

/// This user or root: the owners a provided file (or a program this one runs) may have.
#[cfg(unix)]
pub fn owner_trusted(uid: u32) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw()
}

/// `O_NOFOLLOW` refusing a link: ELOOP.
pub(super) fn is_link_refusal(e: &std::io::Error) -> bool {
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::fs::create_private_dir;
    use std::time::{Duration, Instant};

    /// A FIFO (or a device) planted as a private file is refused at once: the open does not
    /// wait for a writer, and nothing is read from it.
    #[cfg(unix)]
    #[test]
    fn a_planted_fifo_or_device_is_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let private = dir.path().join("private");
        create_private_dir(&private).expect("dir");
        let fifo = private.join("f.json");
        // mkfifo(1): rustix has no mkfifoat on every Unix (macOS).
        let made = std::process::Command::new("mkfifo").args(["-m", "600"]).arg(&fifo).status().expect("mkfifo");
        assert!(made.success(), "mkfifo");
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
}
