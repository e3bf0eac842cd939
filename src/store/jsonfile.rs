//! A JSON document in a private file: read without a lock (writes are atomic), updated under an
//! exclusive lock with read-modify-write, written through a 0600 temp file, fsync and rename.
//! A corrupt or loosely-permissioned file is an error and is never overwritten.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroize;

use super::Error;

/// Temp files are named after the file they replace, so each lock covers only its own.
fn temp_prefix(path: &Path) -> String {
    format!(".tmp-{}-", path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

/// Read the document, or its default when the file does not exist.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T, Error> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(T::default()),
        Err(e) => return Err(io(path)(e)),
    };
    check_private(path, &file)?;
    let mut bytes = Vec::new();
    let read = file.read_to_end(&mut bytes).map_err(io(path));
    let parsed = read.and_then(|_| parse(path, &bytes));
    bytes.zeroize();
    parsed
}

fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, Error> {
    // serde_json's message may quote file content (a PAT): report only where and what kind.
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        detail: format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()),
    })
}

#[cfg(unix)]
fn check_private(path: &Path, file: &File) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata().map_err(io(path))?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::LoosePermissions { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _file: &File) -> Result<(), Error> {
    Ok(())
}

/// Apply `change` to the document under an exclusive lock and write it back atomically; when
/// `change` fails, nothing is written.
pub fn update<T, R>(path: &Path, change: impl FnOnce(&mut T) -> Result<R, Error>) -> Result<R, Error>
where
    T: DeserializeOwned + Serialize + Default,
{
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let lock = lock_file(&lock_path(path))?;
    remove_stale_temp_files(dir, &temp_prefix(path));

    let mut doc: T = read(path)?;
    // A change that fails leaves the file exactly as it was.
    let result = change(&mut doc)?;
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(format!("cannot serialise: {:?}", e.classify())),
    })?;
    bytes.push(b'\n');
    let written = write_atomically(dir, path, &bytes);
    bytes.zeroize();
    written?;
    // Dropping `lock` releases it; so does the death of this process.
    drop(lock);
    Ok(result)
}

/// Open (creating, 0600) and lock exclusively a lock file; the lock ends when the returned file is
/// dropped or the process dies.
pub fn lock_file(path: &Path) -> Result<File, Error> {
    lock_file_within(path, None)
}

/// Like [`lock_file`], giving up after `limit` (a holder stopped with Ctrl-Z must not hang git).
pub fn lock_file_within(path: &Path, limit: Option<std::time::Duration>) -> Result<File, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let lock = open_private(path)?;
    let Some(limit) = limit else {
        lock.lock().map_err(io(path))?;
        return Ok(lock);
    };
    let deadline = std::time::Instant::now() + limit;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(lock),
            Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io(path)(std::io::Error::other("another git process holds this lock; try again")))
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(path)(e)),
        }
    }
}

/// Temp files of writers killed mid-write (copies of a store, PATs included). Every writer
/// creates its temp file while holding the lock, so under the lock any such file is stale.
fn remove_stale_temp_files(dir: &Path, prefix: &str) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let prefix = temp_prefix(path);
    // tempfile creates the file with mode 0600 from the start: no window with looser permissions.
    let mut tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(())
}

fn open_private(path: &Path) -> Result<File, Error> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io(path))
}

fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io(dir))
}
