//! The `git-credential-azdo` binary, the one git runs: on Linux the small front
//! (`git_credential_azdo::front`), which runs `git-credential-azdo-full` beside it for what it does
//! not serve itself; elsewhere the full program. Everything lives in the library.

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    return git_credential_azdo::front::main();
    #[cfg(not(target_os = "linux"))]
    return git_credential_azdo::cli::main();
}
