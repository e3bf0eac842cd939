//! The README's demo (`cargo run --example demo`) still works and still shows what it claims: run
//! its steps against the helper under test and check the transcript's key lines.

#[path = "../../examples/demo/steps.rs"]
mod steps;

use std::path::Path;

#[test]
fn the_demo_runs_every_step() {
    let mut out = Vec::new();
    let result = steps::run(Path::new(env!("CARGO_BIN_EXE_git-credential-azdo")), &mut out);
    let transcript = String::from_utf8_lossy(&out);
    assert!(result.is_ok(), "the demo failed: {result:?}\n{transcript}");
    for expected in [
        "$ git credential-azdo configure --global",
        "a personal access token for Azure DevOps organization 'contoso'",
        "The clone succeeded",
        "validation requests during this fetch: 0; prompts: 0",
        "the stored PAT for contoso is no longer valid",
        "removed it",
        "contoso: valid: Azure DevOps accepts it",
        "Cleaned up",
    ] {
        assert!(transcript.contains(expected), "missing {expected:?} in the transcript:\n{transcript}");
    }
    // The fake's PATs all carry this marker (tests/fake-azdo/src/util.rs): none may be shown.
    assert!(!transcript.contains("JQQJ99"), "a PAT leaked into the transcript:\n{transcript}");
}
