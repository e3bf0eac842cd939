//! The differential test: the in-process reader against the real `git config -z --list
//! --show-origin` (the git on PATH) over generated configurations. Whenever the reader answers,
//! its answer must be git's, entry for entry and origin for origin; it must answer every case
//! inside its whitelist and decline every case outside it (`includeIf`, ...); and on the file
//! syntax it must fail exactly where git fails (the generated cases are in `generated`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{list, Decline, Listed, Origin};

mod generated;

/// A world: its directory, the variables both readers get, where they run and the top of the
/// worktree there (git shows a repository's own files relative to it).
struct World {
    dir: tempfile::TempDir,
    vars: Vec<(String, OsString)>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let path = std::env::var_os("PATH").expect("PATH");
        let vars = vec![("PATH".to_owned(), path), ("HOME".to_owned(), home.into_os_string())];
        World { dir, vars }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.into()));
    }

    fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `git` with this world's variables only, in `cwd`.
    fn git(&self, cwd: &Path, args: &[&str]) -> std::process::Output {
        Command::new("git")
            .args(args)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .output()
            .expect("git runs")
    }

    fn git_ok(&self, cwd: &Path, args: &[&str]) {
        let out = self.git(cwd, args);
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A repository with one commit at `name`.
    fn repo(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("repo dir");
        self.git_ok(&dir, &["init", "-q"]);
        self.git_ok(&dir, &["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "x"]);
        dir
    }

    /// What git lists, origins made absolute and real; `None` when git fails.
    fn git_list(&self, cwd: &Path, top: &Path) -> Option<Vec<Listed>> {
        let out = self.git(cwd, &["config", "-z", "--list", "--show-origin"]);
        if !out.status.success() {
            return None;
        }
        let mut fields = out.stdout.split(|b| *b == 0);
        let mut listed = Vec::new();
        while let (Some(origin), Some(entry)) = (fields.next(), fields.next()) {
            let origin = String::from_utf8_lossy(origin);
            let origin = match origin.strip_prefix("file:") {
                Some(path) => Origin::File(real(&top.join(path))),
                None => {
                    assert_eq!(origin, "command line:");
                    Origin::CommandLine
                }
            };
            let entry = String::from_utf8_lossy(entry);
            let (key, value) = match entry.split_once('\n') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (entry.into_owned(), None),
            };
            listed.push(Listed { origin, key, value });
        }
        Some(listed)
    }

    /// The in-process reader in `cwd`, origins made real.
    fn ours(&self, cwd: &Path) -> Result<Vec<Listed>, Decline> {
        let env = |name: &str| self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        list(&env, cwd).map(|listed| {
            listed
                .into_iter()
                .map(|l| Listed {
                    origin: match l.origin {
                        Origin::File(p) => Origin::File(real(&p)),
                        o => o,
                    },
                    ..l
                })
                .collect()
        })
    }

    /// Both readers in `cwd` (worktree top `top`): equal when ours answers; ours answers exactly
    /// when `expect_read`. Returns what git listed.
    fn check(&self, cwd: &Path, top: &Path, expect_read: bool, case: &str) -> Option<Vec<Listed>> {
        let git = self.git_list(cwd, top);
        match self.ours(cwd) {
            Ok(ours) => {
                assert!(expect_read, "{case}: read in process, but it should have been left to git");
                assert_eq!(Some(&ours), git.as_ref(), "{case}: in-process reader differs from git");
            }
            Err(why) => assert!(!expect_read, "{case}: declined ({why:?}), but it is inside the whitelist"),
        }
        git
    }
}

/// Whether to skip, under qemu-user (`.ci/qemu/run`): these tests start git hundreds of times
/// from a multithreaded test process, and a fork there can hang on qemu's own locks (it did). A
/// limit of the emulator, not of Linux; they run natively, on the same code. Says so once.
fn skipped_under_qemu() -> bool {
    crate::emulation::skipped_under("qemu", "forks of a multithreaded process can hang")
}

fn real(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// git's shell quoting of one word, as `git -c` writes GIT_CONFIG_PARAMETERS.
fn sq(word: &str) -> String {
    let mut out = String::from("'");
    for c in word.chars() {
        match c {
            '\'' | '!' => {
                out.push_str("'\\");
                out.push(c);
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Config text exercising what this helper reads: urlmatch subsections in several cases,
/// quoting, escapes, comments, continuation lines, multi-valued keys, bare keys.
const SNIPPETS: &[&str] = &[
    "[azdo]\n\tinteractive = false\n",
    "[AZDO \"https://dev.azure.com/Contoso\"]\n\tInteractive = \"yes\" ; comment\n",
    "[credential \"https://dev.azure.com\"]\n\tuseHttpPath = true\n\tazreposCredentialType = oauth\n",
    "[credential]\n\tinteractive\n\thelper =\n\thelper = azdo\n",
    "[azdo]\n\tserver = https://a.example\n\tserver = \"https://b.example\" # two\n",
    "[http \"https://dev.azure.com\"]\n\tproxy = http://p:3128\n\tsslVerify = false\n",
    "[azdo.Legacy]\n\tstore = file\n",
    "[core]\n\taskPass = \"/bin/ask pass\\\\x\"\n",
    "[azdo]\n\taccount = \"a\\tb\\\"c\" \\\n  continued\n",
    "[credential \"azrepos:org/Contoso\"]\n\tusername = someone@example.com\n",
    "\u{feff}[azdo]\r\n\tstore = keyring\r\n",
    "; only a comment\n# and another\n",
    "[user]\n\tname = Nobody\n",
];

#[test]
fn scopes_and_repositories_read_as_git_reads_them() {
    if skipped_under_qemu() {
        return;
    }
    let mut w = World::new();
    let home = w.path("home");
    let outside = w.path("outside");
    std::fs::create_dir_all(&outside).expect("dir");
    w.set("GIT_CONFIG_NOSYSTEM", "1");

    // Global: ~/.gitconfig, then XDG_CONFIG_HOME's, then ~/.config's, then GIT_CONFIG_GLOBAL.
    w.write("home/.gitconfig", SNIPPETS[0]);
    w.check(&outside, &outside, true, "~/.gitconfig");
    w.write("home/.config/git/config", SNIPPETS[1]);
    let git = w.check(&outside, &outside, true, "~/.config/git/config first").expect("git lists");
    assert_eq!(git.len(), 2, "both global files");
    w.write("xdg/git/config", SNIPPETS[2]);
    w.set("XDG_CONFIG_HOME", w.path("xdg"));
    w.check(&outside, &outside, true, "XDG_CONFIG_HOME");
    w.set("XDG_CONFIG_HOME", "");
    w.check(&outside, &outside, true, "an empty XDG_CONFIG_HOME");
    w.set("GIT_CONFIG_GLOBAL", w.write("global", SNIPPETS[3]));
    w.check(&outside, &outside, true, "GIT_CONFIG_GLOBAL");
    w.set("GIT_CONFIG_GLOBAL", "/dev/null");
    w.check(&outside, &outside, true, "GIT_CONFIG_GLOBAL=/dev/null");
    w.set("GIT_CONFIG_GLOBAL", w.path("missing"));
    w.check(&outside, &outside, true, "a missing GIT_CONFIG_GLOBAL");
    w.unset("GIT_CONFIG_GLOBAL");
    w.unset("XDG_CONFIG_HOME");

    // System: GIT_CONFIG_SYSTEM, and GIT_CONFIG_NOSYSTEM in its forms.
    w.set("GIT_CONFIG_SYSTEM", w.write("system", SNIPPETS[4]));
    for (nosystem, reads_system) in [("1", false), ("0", true), ("yes", false), ("off", true), ("", true)] {
        w.set("GIT_CONFIG_NOSYSTEM", nosystem);
        let git = w.check(&outside, &outside, true, &format!("GIT_CONFIG_NOSYSTEM={nosystem:?}")).expect("lists");
        let system = git.iter().any(|l| l.origin == Origin::File(real(&w.path("system"))));
        assert_eq!(system, reads_system, "GIT_CONFIG_NOSYSTEM={nosystem:?}");
    }
    w.unset("GIT_CONFIG_NOSYSTEM");
    w.check(&outside, &outside, true, "system config named, GIT_CONFIG_NOSYSTEM unset");
    w.set("GIT_CONFIG_NOSYSTEM", "maybe");
    w.check(&outside, &outside, false, "a GIT_CONFIG_NOSYSTEM git refuses");
    w.set("GIT_CONFIG_NOSYSTEM", "1");

    // A repository: from its top, from a subdirectory, a .git file, a linked worktree with
    // its own config.worktree.
    let repo = w.repo("repo");
    w.git_ok(&repo, &["config", "azdo.store", "file"]);
    w.git_ok(&repo, &["config", "--add", "credential.https://dev.azure.com/X.interactive", "never"]);
    w.check(&repo, &repo, true, "the top of a repository");
    let deep = repo.join("a/b");
    std::fs::create_dir_all(&deep).expect("subdir");
    w.check(&deep, &repo, true, "a subdirectory");
    w.check(&repo.join(".git"), &repo, false, "inside .git (a git directory: declined)");
    let linked = w.path("gitfile");
    std::fs::create_dir_all(&linked).expect("dir");
    std::fs::write(linked.join(".git"), "gitdir: ../repo/.git\n").expect("gitfile");
    w.check(&linked, &linked, true, "a .git file");
    let wt = w.path("wt");
    w.git_ok(&repo, &["worktree", "add", "-q", "--detach", wt.to_str().expect("utf8"), "HEAD"]);
    w.check(&wt, &wt, true, "a linked worktree");
    w.git_ok(&repo, &["config", "extensions.worktreeConfig", "true"]);
    w.git_ok(&wt, &["config", "--worktree", "azdo.interactive", "false"]);
    let git = w.check(&wt, &wt, true, "a linked worktree with config.worktree").expect("lists");
    assert!(git.iter().any(|l| l.key == "azdo.interactive"), "config.worktree was read");
    w.git_ok(&repo, &["config", "core.repositoryformatversion", "1"]);
    w.check(&wt, &wt, true, "format version 1, worktreeConfig");
    w.git_ok(&repo, &["config", "extensions.objectFormat", "sha1"]);
    w.check(&wt, &wt, false, "another extension");
    w.git_ok(&repo, &["config", "--unset", "extensions.objectFormat"]);
    w.git_ok(&repo, &["config", "--unset", "extensions.worktreeConfig"]);
    w.git_ok(&repo, &["config", "core.repositoryformatversion", "0"]);

    // A bare repository and the variables that move the repository: declined.
    let bare = w.path("bare.git");
    w.git_ok(w.dir.path(), &["init", "-q", "--bare", bare.to_str().expect("utf8")]);
    w.check(&bare, &bare, false, "a bare repository");
    for var in ["GIT_DIR", "GIT_CONFIG", "GIT_CEILING_DIRECTORIES", "GIT_WORK_TREE"] {
        w.set(var, repo.join(".git"));
        w.check(&repo, &repo, false, var);
        w.unset(var);
    }

    // The command line, both forms and both together, after the files.
    w.set(
        "GIT_CONFIG_PARAMETERS",
        format!("{}={} {}= {}", sq("Azdo.Store"), sq("it's!"), sq("credential.HTTPS://X.y.helper"), sq("a.b=c")),
    );
    w.check(&repo, &repo, true, "GIT_CONFIG_PARAMETERS");
    w.set("GIT_CONFIG_COUNT", "2");
    w.set("GIT_CONFIG_KEY_0", "azdo.https://dev.azure.com/x.Interactive");
    w.set("GIT_CONFIG_VALUE_0", "false");
    w.set("GIT_CONFIG_KEY_1", "core.askPass");
    w.set("GIT_CONFIG_VALUE_1", "");
    w.check(&repo, &repo, true, "GIT_CONFIG_COUNT and GIT_CONFIG_PARAMETERS");
    w.set("GIT_CONFIG_PARAMETERS", "'a.b'x");
    w.check(&repo, &repo, false, "GIT_CONFIG_PARAMETERS git refuses");
    w.set("GIT_CONFIG_PARAMETERS", format!("{}={}", sq("include.path"), sq("/nonexistent")));
    w.check(&repo, &repo, false, "an include from the command line");
    for var in
        ["GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_KEY_1"]
    {
        w.unset(var);
    }
    w.unset("GIT_CONFIG_VALUE_1");

    // Files that are not regular, or that git refuses: left to git.
    std::fs::create_dir_all(home.join(".gitconfig.d")).expect("dir");
    w.set("GIT_CONFIG_GLOBAL", home.join(".gitconfig.d"));
    w.check(&outside, &outside, false, "a directory as the global file");
    w.set("GIT_CONFIG_GLOBAL", w.write("broken", "[azdo\n"));
    assert!(w.check(&outside, &outside, false, "a broken file").is_none(), "git fails on it too");
    w.set("GIT_CONFIG_GLOBAL", "relative/path");
    w.check(&outside, &outside, false, "a relative GIT_CONFIG_GLOBAL");
}

#[test]
fn includes_are_followed_and_conditional_ones_declined() {
    if skipped_under_qemu() {
        return;
    }
    let mut w = World::new();
    let outside = w.path("outside");
    std::fs::create_dir_all(&outside).expect("dir");
    let repo = w.repo("repo");
    w.set("GIT_CONFIG_NOSYSTEM", "1");
    let global = w.path("home/.gitconfig");
    let home = w.path("home");
    let inc = |w: &World, text: &str| {
        w.write("home/.gitconfig", &format!("[azdo]\n\tstore = file\n{text}[azdo]\n\tstore = last\n"));
    };
    w.write("home/conf/a", "[azdo]\n\taccount = a\n[include]\n\tpath = b\n");
    w.write("home/conf/b", "[azdo]\n\taccount = b\n");
    let cases: &[(&str, bool)] = &[
        ("[include]\n\tpath = conf/a\n", true),
        ("[Include]\n\tPath = ~/conf/a\n", true),
        (&format!("[include]\n\tpath = {}\n", home.join("conf/a").display()), true),
        ("[include]\n\tpath = missing\n\tpath = conf/b\n\tpath = conf/b\n", true),
        ("[include \"x\"]\n\tpath = conf/a\n", true),
        ("[includeIf \"gitdir:~/\"]\n\tpath = conf/a\n", false),
        ("[includeIf \"onbranch:main\"]\n\tpath = conf/a\n", false),
        ("[includeIf \"hasconfig:remote.*.url:https://**\"]\n\tpath = conf/a\n", false),
        ("[include]\n\tpath = ~root/x\n", false),
        ("[include]\n\tpath = %(prefix)/x\n", false),
        ("[include]\n\tpath\n", false),
    ];
    for (text, read) in cases {
        inc(&w, text);
        w.check(&outside, &outside, *read, text);
        w.check(&repo, &repo, *read, text);
    }
    // A file including itself: git stops at depth 10 (and fails), this reader declines.
    w.write("home/.gitconfig", "[azdo]\n\tstore = x\n[include]\n\tpath = .gitconfig\n");
    assert!(w.check(&outside, &outside, false, "an include loop").is_none(), "git fails on a loop");
    // Ten levels deep are fine.
    for i in 0..10 {
        w.write(&format!("home/d{i}"), &format!("[azdo]\n\tstore = {i}\n[include]\n\tpath = d{}\n", i + 1));
    }
    w.write("home/.gitconfig", "[include]\n\tpath = d0\n");
    w.check(&outside, &outside, true, "includes ten deep");
    // An include in the repository's config, relative to it.
    w.write("repo/.git/extra", "[azdo]\n\tinteractive = never\n");
    w.git_ok(&repo, &["config", "include.path", "extra"]);
    w.check(&repo, &repo, true, "a relative include in .git/config");
    assert!(global.exists());
}

/// The system file this reader names is the one git on PATH names (when it names one).
#[test]
fn the_default_system_file_is_gits() {
    if skipped_under_qemu() {
        return;
    }
    let w = World::new();
    let env = |name: &str| w.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    match super::system_file(&env) {
        Ok(path) => {
            let out = w.git(w.dir.path(), &["var", "GIT_CONFIG_SYSTEM"]);
            // git before 2.42 has no such variable: then the listing below is the check.
            if out.status.success() {
                assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), path.to_str().expect("utf8"));
            }
            // And the whole listing agrees, whatever that file holds.
            w.check(w.dir.path(), w.dir.path(), true, "the default system file");
        }
        // Not a git whose system file is known: the whole read is left to git.
        Err(_) => assert!(w.ours(w.dir.path()).is_err(), "read without knowing the system file"),
    }
}
