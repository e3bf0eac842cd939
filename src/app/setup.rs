//! `configure` and `unconfigure`: register this helper in git's configuration through `git config`
//! (never by editing files). `configure` is idempotent; `unconfigure` removes exactly what it added.

use std::path::{Path, PathBuf};

/// The instances this helper is registered for; `useHttpPath` is needed where the org is in the path.
pub const HELPER_ORIGINS: [&str; 2] = ["https://dev.azure.com", "https://*.visualstudio.com"];
pub const PATH_ORIGINS: [&str; 1] = ["https://dev.azure.com"];
/// The instances for which `configure` turned `useHttpPath` on itself, so `unconfigure` undoes only that.
pub const MARKER_KEY: &str = "azdo.configuredUseHttpPath";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("git config {args} failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("cannot find this program's own path: {0}")]
    NoExe(#[source] std::io::Error),
}

/// Which configuration file `git config` writes.
#[derive(Debug, Clone)]
pub enum Scope {
    Global,
    System,
    Local,
    File(PathBuf),
}

impl Scope {
    fn args(&self) -> Vec<String> {
        match self {
            Scope::Global => vec!["--global".into()],
            Scope::System => vec!["--system".into()],
            Scope::Local => vec!["--local".into()],
            Scope::File(path) => vec!["--file".into(), path.to_string_lossy().into_owned()],
        }
    }
}

fn git_config(scope: &Scope, args: &[&str]) -> Result<(bool, String), Error> {
    let mut all = scope.args();
    all.extend(args.iter().map(|s| s.to_string()));
    let out = crate::git::run(std::iter::once("config").chain(all.iter().map(String::as_str))).map_err(Error::Spawn)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.code {
        Some(0) => Ok((true, stdout)),
        // 1: key not found (get) or nothing to unset; 5: nothing to unset.
        Some(1) | Some(5) => Ok((false, stdout)),
        _ => Err(Error::Git {
            args: all.join(" "),
            stderr: crate::text::printable(String::from_utf8_lossy(&out.stderr).trim()),
        }),
    }
}

fn get_all(scope: &Scope, key: &str) -> Result<Vec<String>, Error> {
    let (found, out) = git_config(scope, &["-z", "--get-all", key])?;
    if !found {
        return Ok(Vec::new());
    }
    // -z ends every value with NUL.
    Ok(out.strip_suffix('\0').unwrap_or(&out).split('\0').map(str::to_owned).collect())
}

/// The helper string git should run: an absolute path, quoted through `!` when it needs quoting.
pub fn helper_value(exe: &Path) -> String {
    helper_value_for(exe, cfg!(windows))
}

/// [`helper_value`] for Windows or not: on Windows the path is written with forward slashes,
/// which git's shell reads as they are (a backslash would be an escape).
fn helper_value_for(exe: &Path, windows: bool) -> String {
    let mut path = exe.to_string_lossy().into_owned();
    if windows {
        path = path.replace('\\', "/");
    }
    if path.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c)) {
        path
    } else {
        format!("!'{}'", path.replace('\'', "'\\''"))
    }
}

/// A helper string as it may be shown: its first word only (the rest may hold a secret, as in
/// `!f() { echo password=…; }; f`), made printable.
pub fn helper_name(value: &str) -> String {
    let first = value.split_whitespace().next().unwrap_or("");
    let more = if value.trim().contains(char::is_whitespace) { " …" } else { "" };
    format!("{}{more}", crate::text::printable(first))
}

/// Whether a configured helper value is this helper (any install location, any system).
pub fn is_our_helper(value: &str) -> bool {
    let v = value.trim().trim_start_matches('!').trim().trim_matches('\'');
    let first = v.split_whitespace().next().unwrap_or("");
    v == "azdo" || first == "azdo" || is_our_program(v) || is_our_program(first)
}

/// Whether `path` names this program: its file stem (after `/` or `\\`, without `.exe`) is
/// `git-credential-azdo`, case-insensitively as on Windows and macOS.
fn is_our_program(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = match name.len().checked_sub(4) {
        Some(dot) if name.get(dot..).is_some_and(|ext| ext.eq_ignore_ascii_case(".exe")) => &name[..dot],
        _ => name,
    };
    // The full program too (Linux): `configure` run as it, without the front beside it, names it.
    stem.eq_ignore_ascii_case(crate::programs::FRONT) || stem.eq_ignore_ascii_case(crate::programs::FULL)
}

/// Register `helper` in `scope` for Azure DevOps and for `extra_origins` (a custom `azdo.url`,
/// Azure DevOps Server hosts). Returns what was done, one line each.
pub fn configure(scope: &Scope, helper: &str, extra_origins: &[String]) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    let helper_origins = HELPER_ORIGINS.iter().map(|o| o.to_string()).chain(extra_origins.iter().cloned());
    for origin in helper_origins {
        let key = format!("credential.{origin}.helper");
        let current = get_all(scope, &key)?;
        if current == ["", helper] {
            done.push(format!("{key} already set"));
            continue;
        }
        git_config(scope, &["--unset-all", &key])?;
        git_config(scope, &["--add", &key, ""])?;
        git_config(scope, &["--add", &key, helper])?;
        let previous: Vec<String> =
            current.iter().filter(|v| !v.is_empty() && !is_our_helper(v)).map(|v| helper_name(v)).collect();
        if previous.is_empty() {
            done.push(format!("set {key} = {helper} (after an empty value that resets inherited helpers)"));
        } else {
            done.push(format!("set {key} = {helper}, replacing {previous:?}"));
        }
    }
    let marked = get_all(scope, MARKER_KEY)?;
    for origin in PATH_ORIGINS.iter().map(|o| o.to_string()).chain(extra_origins.iter().cloned()) {
        let key = format!("credential.{origin}.useHttpPath");
        let (_, value) = git_config(scope, &["--type=bool", "--get", &key])?;
        if value.trim() == "true" {
            done.push(format!("{key} already true"));
            continue;
        }
        // Added after any value the user set (the last one wins), so unconfigure can uncover it.
        git_config(scope, &["--add", &key, "true"])?;
        if !marked.contains(&origin) {
            git_config(scope, &["--add", MARKER_KEY, &origin])?;
        }
        done.push(format!("set {key} = true"));
    }
    Ok(done)
}

/// Remove what [`configure`] added to `scope`: this helper from every `credential.*.helper` key
/// (with the empty value that came with it), and the `useHttpPath` values it turned on.
pub fn unconfigure(scope: &Scope) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    let mut sections = Vec::new();
    let (_, listed) = git_config(scope, &["-z", "--get-regexp", r"^credential\..*\.helper$"])?;
    let mut keys: Vec<String> = Vec::new();
    for entry in listed.split('\0').filter(|e| !e.is_empty()) {
        let key = entry.split('\n').next().unwrap_or("").to_owned();
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for key in keys {
        let current = get_all(scope, &key)?;
        if !current.iter().any(|v| is_our_helper(v)) {
            continue;
        }
        let keep: Vec<&String> = current.iter().filter(|v| !v.is_empty() && !is_our_helper(v)).collect();
        git_config(scope, &["--unset-all", &key])?;
        for value in &keep {
            git_config(scope, &["--add", &key, value])?;
        }
        done.push(format!("removed this helper from {key}"));
        sections.push(key.trim_end_matches(".helper").to_owned());
    }
    for origin in get_all(scope, MARKER_KEY)? {
        // An older configure recorded `true` for dev.azure.com.
        let origin = if origin == "true" { PATH_ORIGINS[0].to_owned() } else { origin };
        let key = format!("credential.{origin}.useHttpPath");
        // Only the value configure added: a `false` the user set before stays.
        git_config(scope, &["--unset-all", &key, "^true$"])?;
        done.push(format!("removed {key}"));
        sections.push(format!("credential.{origin}"));
    }
    if done.is_empty() {
        // Nothing of ours was there (the file may not even exist): leave it alone.
        return Ok(vec!["nothing to remove: this helper was not configured there".into()]);
    }
    git_config(scope, &["--unset-all", MARKER_KEY])?;
    sections.push("azdo".into());
    sections.dedup();
    for section in sections {
        // Drop sections left empty; fails harmlessly when they still hold something.
        if get_section_is_empty(scope, &section)? {
            let _ = git_config(scope, &["--remove-section", &section]);
        }
    }
    Ok(done)
}

fn get_section_is_empty(scope: &Scope, section: &str) -> Result<bool, Error> {
    let (_, list) = git_config(scope, &["-z", "--list"])?;
    let prefix = format!("{section}.");
    Ok(!list.split('\0').any(|entry| {
        let key = entry.split('\n').next().unwrap_or("");
        // Keys directly in this section have no further dot after the prefix.
        key.strip_prefix(&prefix).is_some_and(|name| !name.contains('.'))
    }))
}

/// `configure` as typed: this program, for Azure DevOps and for the configured instances (a custom
/// `azdo.url`, Azure DevOps Server hosts), which need the helper too.
pub fn configure_here(scope: &Scope) -> Result<Vec<String>, super::Error> {
    let helper = helper_value(&current_exe()?);
    let inputs = crate::run::Inputs::from_process(crate::config::GitConfig::load());
    let instances = inputs.instances()?;
    let mut extra: Vec<String> = instances.servers.iter().filter_map(|s| s.server_origin()).collect();
    if instances.services != crate::org::ServiceUrl::default() {
        extra.insert(0, instances.services.base());
    }
    extra.dedup();
    Ok(configure(scope, &helper, &extra)?)
}

/// The absolute path of the program git is to run: this one, or the front beside it when this is
/// the full program on Linux (a full program alone, without its front, serves git by itself).
pub fn current_exe() -> Result<PathBuf, Error> {
    use crate::programs::{FRONT, FULL};
    let exe = std::env::current_exe().map_err(Error::NoExe)?;
    if cfg!(target_os = "linux") && exe.file_name().is_some_and(|name| name == FULL) {
        let front = exe.with_file_name(FRONT);
        if front.is_file() {
            return Ok(front);
        }
    }
    Ok(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_values_are_absolute_and_quoted_when_needed() {
        assert_eq!(helper_value(Path::new("/usr/local/bin/git-credential-azdo")), "/usr/local/bin/git-credential-azdo");
        assert_eq!(
            helper_value(Path::new("/opt/my tools/git-credential-azdo")),
            "!'/opt/my tools/git-credential-azdo'"
        );
        assert_eq!(helper_value(Path::new("/o'k/git-credential-azdo")), "!'/o'\\''k/git-credential-azdo'");
        let windows = Path::new(r"C:\Users\me\bin\git-credential-azdo.exe");
        assert_eq!(helper_value_for(windows, true), "C:/Users/me/bin/git-credential-azdo.exe");
        let spaced = Path::new(r"C:\Program Files\azdo\git-credential-azdo.exe");
        assert_eq!(helper_value_for(spaced, true), "!'C:/Program Files/azdo/git-credential-azdo.exe'");
    }

    #[test]
    fn recognises_its_own_helper_strings() {
        for v in [
            "azdo",
            "/x/y/git-credential-azdo",
            "!'/opt/my tools/git-credential-azdo'",
            "/x/git-credential-azdo --flag",
            "C:/Users/me/bin/git-credential-azdo.exe",
            r"C:\Tools\GIT-CREDENTIAL-AZDO.EXE",
            "!'C:/Program Files/azdo/git-credential-azdo.exe'",
            "/Applications/Git-Credential-Azdo",
            "/opt/azdo/git-credential-azdo-full",
        ] {
            assert!(is_our_helper(v), "{v}");
        }
        for v in [
            "",
            "store",
            "manager",
            "/usr/bin/git-credential-manager",
            "cache --timeout 900",
            "C:/x/git-credential-azdo.exe.old",
            "/x/git-credential-azdox",
            "/x/git-credential-azdo-fuller",
            "/x/.exe",
        ] {
            assert!(!is_our_helper(v), "{v}");
        }
    }
}
