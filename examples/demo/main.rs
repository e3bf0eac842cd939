//! `cargo run --example demo [-- --helper PATH]`: git-credential-azdo end to end against a local
//! fake of Azure DevOps, with no account needed. Builds the helper first unless `--helper` names
//! a binary. The steps live in `steps.rs` (which `tests/e2e/demo.rs` runs too); this is only the
//! command line.

#[cfg(unix)]
mod steps;

#[cfg(unix)]
use std::io::Write;
#[cfg(unix)]
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo run --example demo [-- --helper PATH]\n\
                     Runs git-credential-azdo against a local fake of Azure DevOps in a throwaway home.\n\
                     Without --helper, it first builds the helper with cargo.";

#[cfg(unix)]
fn main() -> ExitCode {
    let mut helper: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--helper") => match args.next() {
                Some(path) => helper = Some(path.into()),
                None => return usage("--helper needs a path"),
            },
            Some("-h" | "--help") => {
                let _ = writeln!(std::io::stdout().lock(), "{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(&format!("unknown argument {arg:?}")),
        }
    }
    let mut out = std::io::stdout().lock();
    let result = match helper {
        Some(path) => Ok(path),
        None => build_helper(&mut out),
    }
    .and_then(|helper| steps::run(&helper, &mut out));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("demo: the demo needs a Unix system (it uses a shell script as the askpass program)");
    ExitCode::FAILURE
}

#[cfg_attr(not(unix), allow(dead_code))]
fn usage(problem: &str) -> ExitCode {
    eprintln!("demo: {problem}\n{USAGE}");
    ExitCode::from(2)
}

/// Builds the helper with `$CARGO build --bin git-credential-azdo` (cargo's own output goes to
/// stderr) and returns the binary's path in the workspace's target directory: `CARGO_TARGET_DIR`
/// (or `CARGO_BUILD_TARGET_DIR`) if set, else `target/` at the workspace root.
#[cfg(unix)]
fn build_helper(out: &mut dyn Write) -> Result<PathBuf, String> {
    use std::path::Path;
    use std::process::{Command, Stdio};

    use steps::{say, HELPER_NAME};

    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let args = ["build", "--bin", HELPER_NAME];
    say(out, &format!("$ cargo {}", args.join(" ")))?;
    let status = Command::new(&cargo)
        .args(args)
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("building the helper failed ({status}); see cargo's messages above"));
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR").or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR")) {
        // A relative target directory is relative to where cargo was started: this process's
        // working directory, which the build above inherited.
        Some(dir) => std::path::absolute(PathBuf::from(dir)).map_err(|e| format!("CARGO_TARGET_DIR: {e}"))?,
        None => workspace.join("target"),
    };
    let exe = target.join("debug").join(format!("{HELPER_NAME}{}", std::env::consts::EXE_SUFFIX));
    if !exe.is_file() {
        return Err(format!(
            "built the helper, but it is not at {} (a target directory set in cargo's config?): pass --helper PATH",
            exe.display()
        ));
    }
    Ok(exe)
}
