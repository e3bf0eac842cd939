//! `git-credential-azdo-full`: the whole program (git's operations and every verb). On Linux the
//! front binary, `git-credential-azdo`, runs it for what it does not serve itself; elsewhere it is
//! the same program as `git-credential-azdo`. Everything lives in the library.

fn main() -> std::process::ExitCode {
    git_credential_azdo::cli::main()
}
