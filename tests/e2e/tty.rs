//! Prompting on a real terminal: a pseudo-terminal (tests/common/pty.rs) plays the person.

use crate::common;
use crate::common::pty::Terminal;
use crate::common::TestEnv;

#[test]
fn prompts_on_the_terminal_with_input_hidden() {
    if !common::require(&["python3"]) {
        return;
    }
    if common::skipped_under(
        "qemu",
        "qemu-user answers the TCGETS2 terminal ioctl with ENOSYS, so no terminal is found",
    ) {
        return;
    }
    let mut env = TestEnv::new();
    env.unset("GIT_TERMINAL_PROMPT");
    let query = env.root.path().join("query");
    std::fs::write(&query, "protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n").expect("query");
    let out = env.root.path().join("out");
    let run = Terminal::new(common::bin(), ["get"])
        .stdin_from(&query)
        .stdout_to(&out)
        .type_after("tokens): ", "tty-typed-pat")
        .limit(20)
        .run(&env);
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "driver failed: {}", String::from_utf8_lossy(&run.stderr));
    assert!(
        screen.contains("'contoso'") && screen.contains("https://dev.azure.com/contoso/_usersSettings/tokens"),
        "{screen}"
    );
    assert!(!screen.contains("tty-typed-pat"), "the PAT was echoed: {screen}");
    let answer = std::fs::read_to_string(&out).expect("helper output");
    assert_eq!(answer, "username=contoso\npassword=tty-typed-pat\n");
    assert!(!env.store_exists(), "stored before git confirmed it");
}
