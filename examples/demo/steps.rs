//! The steps of the guided demo of git-credential-azdo (`cargo run --example demo`) against the
//! local fake of Azure DevOps (the `fake-azdo` crate in tests/): real git, the real helper
//! binary, a throwaway home directory. The example's `main.rs` is only the command line; the
//! root crate's `tests/e2e/demo.rs` includes this file and runs the same steps, so the demo cannot
//! rot unnoticed.
//!
//! Every child process gets a scrubbed environment (only `PATH` and the variables set here), so
//! the user's git configuration, credential helpers and keyring are never read or written.

use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use fake_azdo::{FakeAzdo, Route};

const ORG: &str = "contoso";
const PROJECT: &str = "proj";
const REPO: &str = "repo";
const USER: &str = "alice@contoso.example";
const SCOPE: &str = "vso.code_write";
pub const HELPER_NAME: &str = "git-credential-azdo";

/// Runs the demo with the helper binary at `helper`, writing the transcript to `out`. Returns an
/// error naming the step that failed. The fake and the throwaway directory are gone on return,
/// whatever the outcome.
pub fn run(helper: &Path, out: &mut dyn Write) -> Result<(), String> {
    let helper = std::path::absolute(helper).map_err(|e| format!("{}: {e}", helper.display()))?;
    if !helper.is_file() {
        return Err(format!("the helper binary {} does not exist", helper.display()));
    }
    let fake = FakeAzdo::start();
    fake.add_org(ORG);
    fake.add_repo(ORG, PROJECT, REPO);
    let world = World::new(&helper, &fake)?;
    let root = world.root.clone();
    let mut show = Show { out, masks: vec![(world.home.to_string_lossy().into_owned(), "~".into())] };
    let result = steps(&world, &fake, &mut show);
    drop(world);
    drop(fake);
    let out = show.out;
    if root.exists() {
        say(out, &format!("# could not remove the throwaway directory {}", root.display()))?;
    } else {
        say(out, "# Cleaned up: the fake is stopped and the throwaway home is deleted.")?;
    }
    result
}

fn steps(world: &World, fake: &FakeAzdo, show: &mut Show) -> Result<(), String> {
    let repo_url = fake.repo_url(ORG, PROJECT, REPO);
    let first = fake.add_pat(ORG, USER, &[SCOPE], now_unix() + 30 * 86_400).token;
    show.mask_pat(&first);

    show.say("# git-credential-azdo demo: real git and the real helper against a local fake of Azure DevOps.")?;
    show.say(&format!(
        "# The fake listens on {} and has organization '{ORG}' with repository {PROJECT}/{REPO}.",
        fake.url()
    ))?;
    show.say(&format!("# It issued a PAT for {USER} (scope {SCOPE}): {}", mask(&first)))?;
    show.say("# Everything runs in a throwaway home (HOME, XDG_*_HOME, GIT_CONFIG_GLOBAL=~/.gitconfig, no system")?;
    show.say("# config) with a scrubbed environment: your own git config and keyring are never touched.")?;
    show.say("# GIT_CREDENTIAL_AZDO_STORE=file keeps PATs in a file under ~/.local/share, so no keyring is needed,")?;
    show.say("# and GIT_CREDENTIAL_AZDO_URL (and _VSSPS_URL, _AUTHORITY) point the helper at the fake.")?;

    // a. configure
    show.section("1. Register the helper (once per machine)")?;
    show.say("# configure registers the helper for dev.azure.com and *.visualstudio.com; since azdo.url is set,")?;
    show.say("# it registers it for the fake's origin too.")?;
    world.expect_ok(show, "register the helper", &["credential-azdo", "configure", "--global"], &[], None)?;
    let listed = world.git(&["config", "--global", "--list"], &[], None)?;
    show.command("git config --global --list | grep '^credential\\.'")?;
    let credential_lines: Vec<&str> = listed.stdout.lines().filter(|l| l.starts_with("credential.")).collect();
    for line in &credential_lines {
        show.output(line)?;
    }
    let key = format!("credential.{}.helper=", fake.url());
    if !credential_lines.iter().any(|l| l.starts_with(&key) && l.len() > key.len()) {
        return Err(format!("configure did not register the helper for the fake's origin ({key}...)"));
    }

    // b. first clone: the prompt
    show.section("2. First clone: the helper asks for a PAT")?;
    show.say("# Nothing is stored yet, so the helper asks. A GIT_ASKPASS script stands in for you typing the PAT.")?;
    world.hand_pat(&first)?;
    let prompts_before = world.prompts().len();
    world.expect_ok(show, "the first clone", &["clone", &repo_url, REPO], &[], None)?;
    if !world.clone_dir().join("README.md").is_file() {
        return Err("the clone has no README.md".into());
    }
    let prompts = world.prompts();
    let asked = prompts.get(prompts_before..).unwrap_or_default();
    let [prompt] = asked else {
        return Err(format!("expected the helper to ask once for a PAT, it asked {} times: {asked:?}", asked.len()));
    };
    show.say("# The helper asked (through GIT_ASKPASS):")?;
    show.output(prompt)?;
    if !prompt.contains(&format!("'{ORG}'")) || !prompt.contains("_usersSettings/tokens") {
        return Err(format!("the prompt does not name the organization and the token page: {prompt}"));
    }
    show.say(&format!("# The stand-in answered {}. The clone succeeded (repo/README.md is there).", mask(&first)))?;
    show.say("# git confirmed the PAT to the helper ('store'), and the helper kept it:")?;
    let list = world.expect_ok(show, "list after the clone", &["credential-azdo", "list"], &[], None)?;
    if !list.stdout.lines().any(|l| l.starts_with(ORG)) {
        return Err(format!("list does not show {ORG} after the clone"));
    }

    // c. warm fetch
    show.section("3. Next commands: no prompt, no extra request")?;
    show.say("# The stored PAT was confirmed by git moments ago, so the helper answers at once: no prompt, and")?;
    show.say("# no validation request to Azure DevOps (connectionData) until the hourly check is due.")?;
    let before = fake.count(Route::ConnectionData);
    let prompts_before = world.prompts().len();
    show.say(&format!("# validation requests received by the fake so far: {before}"))?;
    world.expect_ok(show, "the warm fetch", &["fetch", "-v"], &[], Some(&world.clone_dir()))?;
    let after = fake.count(Route::ConnectionData);
    let new_prompts = world.prompts().len() - prompts_before;
    show.say(&format!("# validation requests received by the fake so far: {after}"))?;
    show.say(&format!("# validation requests during this fetch: {}; prompts: {new_prompts}", after - before))?;
    if after != before || new_prompts != 0 {
        return Err(format!(
            "the warm fetch sent {} validation requests and prompted {new_prompts} times; expected none",
            after - before
        ));
    }

    // d. revoked PAT, check due
    show.section("4. The PAT is revoked: the helper notices and replaces it in the same command")?;
    fake.revoke_pat(&first);
    let second = fake.add_pat(ORG, USER, &[SCOPE], now_unix() + 30 * 86_400).token;
    show.mask_pat(&second);
    show.say(&format!("# The fake now rejects {} (as if you revoked it on the tokens page).", mask(&first)))?;
    show.say("# GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL=0 makes the helper check the stored PAT on every use, as if")?;
    show.say(&format!(
        "# the hourly check were due. The stand-in will answer the next prompt with a new PAT, {}",
        mask(&second)
    ))?;
    world.hand_pat(&second)?;
    let before = fake.count(Route::ConnectionData);
    let prompts_before = world.prompts().len();
    let due = [("GIT_CREDENTIAL_AZDO_VALIDATE_INTERVAL", "0")];
    let fetch =
        world.expect_ok(show, "the fetch after revocation", &["fetch", "-v"], &due, Some(&world.clone_dir()))?;
    let checks = fake.count(Route::ConnectionData) - before;
    let new_prompts = world.prompts().len() - prompts_before;
    if !fetch.stderr.contains("no longer valid") || !fetch.stderr.contains("removed it") {
        return Err("the helper did not report removing the revoked PAT".into());
    }
    if new_prompts != 1 {
        return Err(format!("expected one prompt for the new PAT, got {new_prompts}"));
    }
    show.say(&format!("# validation requests during this fetch: {checks}; prompts: {new_prompts}"))?;
    show.say("# The check found the stored PAT dead: the helper removed it and asked for a new one, all within")?;
    show.say("# this one get, so git's fetch succeeded without an authentication error. git confirmed the new PAT:")?;
    world.expect_ok(show, "list after the replacement", &["credential-azdo", "list"], &[], None)?;
    let stored = world.stored_text()?;
    if !stored.contains(&second) || stored.contains(&first) {
        return Err("the store does not hold exactly the new PAT".into());
    }
    show.say(&format!("# The store now holds {}, and {} is gone.", mask(&second), mask(&first)))?;

    // e. status
    show.section("5. Status: ask Azure DevOps about the stored PAT now")?;
    let status = world.expect_ok(show, "status", &["credential-azdo", "status", ORG], &[], None)?;
    if !status.stdout.contains(&format!("{ORG}: valid")) {
        return Err(format!("status did not report the PAT for {ORG} as valid"));
    }
    show.say("# Exit status 0: the stored PAT is valid.")?;
    Ok(())
}

/// What a child printed and how it ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The throwaway world: a temporary directory with a home, a bin directory holding the helper
/// under its git name, and the askpass stand-in. Removed on drop.
struct World {
    root: PathBuf,
    home: PathBuf,
    env: Vec<(String, OsString)>,
}

impl World {
    fn new(helper: &Path, fake: &FakeAzdo) -> Result<World, String> {
        let root = std::env::temp_dir().join(format!("azdo-demo-{}-{:016x}", std::process::id(), random_u64()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        // From here on, dropping `world` removes the directory.
        let world = World { home: root.join("home"), root, env: Vec::new() };
        world.setup(helper, fake)
    }

    fn setup(mut self, helper: &Path, fake: &FakeAzdo) -> Result<World, String> {
        let io = |what: &str, e: std::io::Error| format!("cannot prepare the throwaway home ({what}): {e}");
        let home = self.home.clone();
        let bin = self.root.join("bin");
        for dir in [&home, &bin] {
            std::fs::create_dir_all(dir).map_err(|e| io("directories", e))?;
        }
        // `git credential-azdo ...` runs `git-credential-azdo` from PATH.
        std::os::unix::fs::symlink(helper, bin.join(HELPER_NAME)).map_err(|e| io("helper link", e))?;
        let askpass = bin.join("askpass");
        let log = shell_quote(&self.root.join("askpass-prompts.log"));
        let answer = shell_quote(&self.root.join("askpass-answer"));
        let script = format!(
            "#!/bin/sh\n\
             # Stands in for a person at the prompt: records the prompt, answers with the PAT handed to it.\n\
             printf '%s\\n' \"$1\" >> {log}\n\
             case \"$1\" in\n\
             # The helper's prompt names the token page; git's own user name and password prompts\n\
             # get nothing: the helper should have answered.\n\
             *_usersSettings/tokens*) cat {answer} ;;\n\
             *) echo ;;\n\
             esac\n"
        );
        std::fs::write(&askpass, script).map_err(|e| io("askpass", e))?;
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).map_err(|e| io("askpass", e))?;

        let mut path = std::ffi::OsString::from(bin.as_os_str());
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()));
        let url = fake.url();
        let vars: Vec<(&str, OsString)> = vec![
            ("PATH", path),
            ("HOME", home.clone().into()),
            ("XDG_CONFIG_HOME", home.join(".config").into()),
            ("XDG_DATA_HOME", home.join(".local/share").into()),
            ("XDG_CACHE_HOME", home.join(".cache").into()),
            ("XDG_STATE_HOME", home.join(".local/state").into()),
            ("GIT_CONFIG_GLOBAL", home.join(".gitconfig").into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            // No repository above the throwaway directory is ever picked up.
            ("GIT_CEILING_DIRECTORIES", self.root.clone().into()),
            ("GIT_ASKPASS", askpass.into()),
            ("LC_ALL", "C".into()),
            ("GIT_CREDENTIAL_AZDO_STORE", "file".into()),
            ("GIT_CREDENTIAL_AZDO_STORE_FILE", home.join(".local/share/git-credential-azdo/credentials.json").into()),
            ("GIT_CREDENTIAL_AZDO_URL", url.clone().into()),
            ("GIT_CREDENTIAL_AZDO_VSSPS_URL", url.clone().into()),
            ("GIT_CREDENTIAL_AZDO_AUTHORITY", url.into()),
        ];
        self.env = vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Ok(self)
    }

    fn clone_dir(&self) -> PathBuf {
        self.home.join(REPO)
    }

    fn store_file(&self) -> PathBuf {
        self.home.join(".local/share/git-credential-azdo/credentials.json")
    }

    /// What the file store holds, as text: the store file (when there is one) and each
    /// organization's own file in the directory beside it (`credentials.json.d`).
    fn stored_text(&self) -> Result<String, String> {
        let cannot = |e: std::io::Error| format!("cannot read the store: {e}");
        let mut text = std::fs::read_to_string(self.store_file()).unwrap_or_default();
        let mut dir = self.store_file().into_os_string();
        dir.push(".d");
        for entry in std::fs::read_dir(PathBuf::from(dir)).map_err(cannot)? {
            text.push_str(&std::fs::read_to_string(entry.map_err(cannot)?.path()).map_err(cannot)?);
        }
        Ok(text)
    }

    /// The PAT the askpass stand-in answers with from now on.
    fn hand_pat(&self, pat: &str) -> Result<(), String> {
        let path = self.root.join("askpass-answer");
        std::fs::write(&path, format!("{pat}\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())
    }

    /// The prompts the askpass stand-in was shown so far.
    fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(self.root.join("askpass-prompts.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs git in this world (in `dir`, else the home) with only this world's environment.
    fn git(&self, args: &[&str], extra_env: &[(&str, &str)], dir: Option<&Path>) -> Result<Ran, String> {
        let mut cmd = Command::new("git");
        cmd.env_clear().current_dir(dir.unwrap_or(&self.home)).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let output = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run git (is it installed and on PATH?): {e}"))?;
        Ok(Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Shows the command and its output, and fails the step `what` unless it exited 0.
    fn expect_ok(
        &self,
        show: &mut Show,
        what: &str,
        args: &[&str],
        extra_env: &[(&str, &str)],
        dir: Option<&Path>,
    ) -> Result<Ran, String> {
        let mut line: Vec<String> = extra_env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push("git".into());
        line.extend(args.iter().map(|a| a.to_string()));
        let cwd = match dir {
            Some(d) => format!("(in {}) ", show.masked(&d.to_string_lossy())),
            None => String::new(),
        };
        show.command(&format!("{cwd}{}", line.join(" ")))?;
        let ran = self.git(args, extra_env, dir)?;
        for text in [&ran.stdout, &ran.stderr] {
            for l in text.lines() {
                show.output(l)?;
            }
        }
        match ran.code {
            Some(0) => Ok(ran),
            code => {
                let code = code.map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit status {c}"));
                Err(format!("{what} failed: `{}` ended with {code}", line.join(" ")))
            }
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The transcript: every line passes through the masks, so no PAT and no temporary path is shown.
struct Show<'a> {
    out: &'a mut dyn Write,
    masks: Vec<(String, String)>,
}

impl Show<'_> {
    fn mask_pat(&mut self, pat: &str) {
        self.masks.push((pat.to_owned(), mask(pat)));
    }

    fn masked(&self, text: &str) -> String {
        self.masks.iter().fold(text.to_owned(), |t, (from, to)| t.replace(from.as_str(), to))
    }

    fn say(&mut self, text: &str) -> Result<(), String> {
        let text = self.masked(text);
        say(self.out, &text)
    }

    fn section(&mut self, title: &str) -> Result<(), String> {
        self.say("")?;
        self.say(&format!("## {title}"))
    }

    fn command(&mut self, line: &str) -> Result<(), String> {
        self.say(&format!("$ {line}"))
    }

    fn output(&mut self, line: &str) -> Result<(), String> {
        self.say(format!("    {line}").trim_end())
    }
}

pub fn say(out: &mut dyn Write, text: &str) -> Result<(), String> {
    writeln!(out, "{text}").and_then(|()| out.flush()).map_err(|e| format!("cannot write the transcript: {e}"))
}

/// The first 4 characters of a PAT and an ellipsis: enough to tell two apart, useless to anyone.
pub fn mask(pat: &str) -> String {
    let head: String = pat.chars().take(4).collect();
    format!("{head}…")
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"))
}

/// Seconds since the Unix epoch.
fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// 64 random bits (SipHash with std's per-process random keys over the clock): enough to keep
/// two throwaway directories apart.
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}
