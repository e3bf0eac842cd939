//! `azdo-demo [--helper PATH]`: git-credential-azdo end to end against a local fake of Azure
//! DevOps, with no account needed. Builds the helper first unless `--helper` names a binary.
//! The steps live in `fake_azdo::demo`; this is only the command line.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: azdo-demo [--helper PATH]\n\
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
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(&format!("unknown argument {arg:?}")),
        }
    }
    let mut out = std::io::stdout().lock();
    let result = match helper {
        Some(path) => Ok(path),
        None => fake_azdo::demo::build_helper(&mut out),
    }
    .and_then(|helper| fake_azdo::demo::run(&helper, &mut out));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("azdo-demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("azdo-demo: the demo needs a Unix system (it uses a shell script as the askpass program)");
    ExitCode::FAILURE
}

#[cfg_attr(not(unix), allow(dead_code))]
fn usage(problem: &str) -> ExitCode {
    eprintln!("azdo-demo: {problem}\n{USAGE}");
    ExitCode::from(2)
}
