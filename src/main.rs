//! The `git-credential-azdo` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    git_credential_azdo::cli::main()
}
