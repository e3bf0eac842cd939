//! Faults on the file store, with nothing lost: a `store` killed with SIGKILL at random points
//! leaves the old or the new file, a `store` killed while it holds the lock does not block the
//! next one, and an `erase` of the old PAT racing a `store` of the new one never takes the new
//! one. Every helper run here is bounded in time (tests/common/bounded.rs): a hang fails the test
//! instead of hanging it, and no run may panic.

// The kills need Unix signals (and /proc, strace): the race of section 2 runs everywhere.
#[cfg(unix)]
use std::io::Write;
#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
#[cfg(unix)]
use std::path::Path;
#[cfg(unix)]
use std::process::{Child, Command, Stdio};
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use crate::common;
#[cfg(unix)]
use crate::common::bin;
#[cfg(unix)]
use crate::common::bounded::{helper_bounded, spin_until, Rng, LIMIT};
use crate::common::faults::an_erase_of_the_old_pat_never_takes_the_new_one;
#[cfg(unix)]
use crate::common::faults::{read_store, store_ok, store_request, temp_files};
use crate::common::TestEnv;

// ---------------------------------------------------------------------------------------------
// 1. `store` killed with SIGKILL
// ---------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn a_store_killed_at_random_points_leaves_the_old_or_the_new_file() {
    let env = TestEnv::new();
    let path = env.store_file();
    let dir = path.parent().expect("dir").to_owned();
    // Other organizations share the file: every kill must leave them exactly as they were.
    store_ok(&env, "fabrikam", "fabrikam-pat");
    store_ok(&env, "northwind", "northwind-pat");
    store_ok(&env, "contoso", "contoso-pat-0");
    assert_eq!(common::mode(&dir), 0o700);

    // Kill points are spread over a whole store's duration on this machine.
    let mut took: Vec<Duration> = (0..3)
        .map(|i| {
            let (run, t) = helper_bounded(&env, &["store"], &store_request("contoso", &format!("calib-{i}")), LIMIT);
            assert_eq!(run.status, 0, "{run:?}");
            t
        })
        .collect();
    took.sort();
    let full = took[1];
    let mut rng = Rng::from_env();

    let (mut killed, mut old_kept, mut new_written, mut temp_left) = (0, 0, 0, 0);
    for i in 0..50 {
        let before = read_store(&path);
        let new_pat = format!("killed-pat-{i}");
        let input = store_request("contoso", &new_pat);
        let mut child: Child = env
            .command(bin())
            .arg("store")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let started = Instant::now();
        let delay = Duration::from_nanos(rng.below(full.as_nanos() as u64 * 6 / 5));
        let mut stdin = child.stdin.take().expect("stdin");
        let kept_open = match i % 3 {
            // At once, before the request is even written.
            0 => Some(stdin),
            // With the request written and the pipe still open (the blank line ends it).
            1 => {
                stdin.write_all(&input).expect("write");
                spin_until(started + delay);
                Some(stdin)
            }
            // With the request written and closed.
            _ => {
                stdin.write_all(&input).expect("write");
                drop(stdin);
                spin_until(started + delay);
                None
            }
        };
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        drop(kept_open);
        if status.signal() == Some(9) {
            killed += 1;
        } else {
            assert_eq!(status.code(), Some(0), "iteration {i}: a store that was not killed failed");
        }

        // Always the old or the new document, never anything else.
        let after = read_store(&path);
        if after == before {
            old_kept += 1;
        } else {
            new_written += 1;
            let mut expected = before.clone();
            expected["organizations"]["contoso"] = after["organizations"]["contoso"].clone();
            assert_eq!(after, expected, "iteration {i}: only contoso's entry may change");
            let entry = &after["organizations"]["contoso"];
            assert_eq!(entry["pat"], new_pat.as_str(), "iteration {i}: {after}");
            assert_eq!(entry["origin"], "git", "iteration {i}: {after}");
            assert_eq!(entry["username"], "contoso", "iteration {i}: {after}");
        }
        let temps = temp_files(&dir);
        temp_left = temps.len();

        // The dead process's lock never blocks the next store (flock ends with the process).
        let done = format!("done-pat-{i}");
        let (run, _) = helper_bounded(&env, &["store"], &store_request("contoso", &done), LIMIT);
        assert_eq!((run.status, run.stderr.as_str()), (0, ""), "iteration {i}: store after a kill: {run:?}");
        let doc = read_store(&path);
        assert_eq!(doc["organizations"]["contoso"]["pat"], done.as_str());
        assert_eq!(doc["organizations"]["fabrikam"]["pat"], "fabrikam-pat");
        assert_eq!(doc["organizations"]["northwind"]["pat"], "northwind-pat");
        assert_eq!(doc["organizations"].as_object().expect("orgs").len(), 3, "{doc}");
    }
    // What the leftovers hold, and whether removing the organization removes its PATs from disk.
    let (run, _) = helper_bounded(&env, &["logout", "contoso"], b"", LIMIT);
    assert_eq!(run.status, 0, "{run:?}");
    assert!(read_store(&path)["organizations"].get("contoso").is_none());
    let temps = temp_files(&dir);
    let holding = |needle: &str| {
        temps.iter().filter(|n| std::fs::read_to_string(dir.join(n)).expect("temp file").contains(needle)).count()
    };
    eprintln!(
        "50 stores: {killed} killed while running ({} exited first); file after the kill: old {old_kept}, \
         new {new_written}; .tmp-credentials.json-* files seen after kills: {temp_left}",
        50 - killed,
    );
    // The next write under the lock removes what killed writers left: logout leaves no copy behind.
    assert_eq!((temps.len(), holding("-pat-")), (0, 0), "stale temp files with PATs survive a logout: {temps:?}");
    assert!(killed >= 17, "too few kills landed while the store was running: {killed}");
}

/// Whether another process holds the flock on `lock` (tested with a non-blocking flock).
#[cfg(unix)]
fn lock_is_held(lock: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(lock) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => panic!("flock {}: {e}", lock.display()),
    }
}

/// Whether the process `pid` holds a flock on the file `lock` (from `/proc/locks`, which only
/// reads: no lock is taken to find out).
#[cfg(unix)]
fn flock_held_by(pid: u32, lock: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(inode) = std::fs::metadata(lock).map(|m| m.ino()) else { return false };
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.get(1) == Some(&"FLOCK")
            && fields.get(4) == Some(&pid.to_string().as_str())
            && fields.get(5).and_then(|id| id.rsplit(':').next()) == Some(inode.to_string().as_str())
    })
}

#[cfg(unix)]
#[test]
fn a_store_killed_while_holding_the_lock_does_not_block_the_next_one() {
    // Deterministically kill a store that holds the lock: strace holds the store for a minute
    // right after its flock(2) returns (`inject=flock:delay_exit`), and it is killed there. (A
    // FIFO as the store file held it before; the helper now refuses a FIFO without waiting on it.)
    if !common::require(&["strace"]) {
        return;
    }
    let env = TestEnv::new();
    let path = env.store_file();
    let dir = path.parent().expect("dir").to_owned();
    let lock = dir.join("credentials.json.lock");
    let pid_file = env.root.path().join("store.pid");

    let mut child = env
        .command("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=flock", "-e", "inject=flock:delay_exit=60000000"])
        .args(["sh", "-c", "echo $$ > \"$0\"; exec \"$1\" store"])
        .arg(&pid_file)
        .arg(bin())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child.stdin.take().expect("stdin").write_all(&store_request("contoso", "never-written")).expect("write");
    let deadline = Instant::now() + LIMIT;
    let pid = loop {
        assert!(Instant::now() < deadline, "the store never took its lock");
        assert!(child.try_wait().expect("try_wait").is_none(), "the store ended early");
        let pid = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<u32>().ok());
        if let Some(pid) = pid.filter(|pid| flock_held_by(*pid, &lock)) {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let killed = Command::new("kill").args(["-KILL", &pid.to_string()]).status().expect("kill");
    assert!(killed.success());
    // strace, asleep in its delay, holds the store stopped: ended, it lets the SIGKILL land.
    child.kill().expect("SIGKILL strace");
    assert_eq!(child.wait().expect("wait").signal(), Some(9));
    // Dead (gone, or a zombie nobody reaps): its files are closed.
    let dead = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
    };
    while !dead() {
        assert!(Instant::now() < deadline, "the killed store lives on");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!lock_is_held(&lock), "the lock outlived the process that held it");

    let (run, took) = helper_bounded(&env, &["store"], &store_request("contoso", "after-the-kill"), LIMIT);
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(took < Duration::from_secs(10) + crate::common::emulation_slack(), "the next store waited {took:?}");
    assert_eq!(read_store(&path)["organizations"]["contoso"]["pat"], "after-the-kill");
    assert!(temp_files(&dir).is_empty(), "killed before writing: no temp file expected");
}

// ---------------------------------------------------------------------------------------------
// 2. An erase of the old PAT racing a store of the new one
// ---------------------------------------------------------------------------------------------

#[test]
fn an_erase_of_the_old_pat_never_takes_a_new_one_stored_meanwhile_file_store() {
    an_erase_of_the_old_pat_never_takes_the_new_one(&TestEnv::new(), 10);
}
