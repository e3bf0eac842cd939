//! For the unit tests only: whether they run under an emulator (`.ci/cross`'s runners set
//! `AZDO_TEST_EMULATED` to `wine` or `qemu`), so that a test meeting a limit of that emulator,
//! not of the real system, skips there and says why (as `tests/common` does for the
//! integration tests).

use std::io::Write;

/// Whether `emulator` runs these tests; then `why` goes to stderr, once per process.
pub fn skipped_under(emulator: &str, why: &str) -> bool {
    static SAID: std::sync::Once = std::sync::Once::new();
    let here = std::env::var("AZDO_TEST_EMULATED").is_ok_and(|v| v == emulator);
    if here {
        SAID.call_once(|| {
            let _ = writeln!(std::io::stderr(), "skipped under emulation ({emulator}): {why}");
        });
    }
    here
}
