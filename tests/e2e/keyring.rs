//! The keyring store through the binary: a real Secret Service, a locked one, none, and a hung one.

use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

use crate::common::{SecretService, TestEnv};

const CONTOSO: &[u8] = b"protocol=https\nhost=dev.azure.com\npath=contoso/proj/_git/repo\n";

#[test]
fn store_get_erase_on_a_real_secret_service() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    let run = env
        .helper(&["store"], b"protocol=https\nhost=dev.azure.com\npath=contoso/p\nusername=contoso\npassword=kr-pat\n");
    assert_eq!((run.status, run.stderr.as_str()), (0, ""), "{run:?}");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=kr-pat\n", "{run:?}");
    assert!(!env.store_exists(), "the keyring store must not write the credentials file");

    let ss = env.secret_service.as_ref().expect("secret service");
    let looked_up = ss.secret_tool(&[
        "lookup",
        "service",
        "git-credential-azdo:https://dev.azure.com/contoso",
        "username",
        "contoso",
    ]);
    assert_eq!(looked_up.stdout, "kr-pat", "{looked_up:?}");

    assert_eq!(env.helper(&["erase"], &[CONTOSO, b"password=kr-pat\n"].concat()).status, 0);
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""), "{run:?}");
    let looked_up = ss.secret_tool(&[
        "lookup",
        "service",
        "git-credential-azdo:https://dev.azure.com/contoso",
        "username",
        "contoso",
    ]);
    assert_eq!(looked_up.stdout, "", "item still in the keyring");
}

#[test]
fn locked_keyring_is_one_clear_line_and_no_plaintext_fallback() {
    let mut env = TestEnv::new();
    env.unset("GIT_CREDENTIAL_AZDO_STORE");
    let dir = env.root.path().join("ss");
    // Create the login keyring with one password, then restart the daemon with a wrong one.
    let Some(first) = SecretService::start(&dir, Some("right")) else {
        return;
    };
    env.use_secret_service(first);
    env.login("contoso", "locked-away");
    assert!(dir.join("data/keyrings/login.keyring").exists(), "login keyring not written");
    env.secret_service = None; // stops the first daemon
    let Some(ss) = SecretService::start(&dir, Some("wrong")) else {
        return;
    };
    env.use_secret_service(ss);

    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("locked") && run.stderr.contains("azdo.store file"), "{run:?}");

    let run = env.helper(&["store"], &[CONTOSO, b"username=u\npassword=locked-pat\n"].concat());
    assert_ne!(run.status, 0, "{run:?}");
    assert!(run.stderr.contains("locked"), "{run:?}");
    assert!(!env.store_exists(), "fell back to a plaintext file");
}

#[test]
fn absent_keyring_is_one_clear_line() {
    let mut env = TestEnv::new();
    env.unset("GIT_CREDENTIAL_AZDO_STORE");
    env.unset("DBUS_SESSION_BUS_ADDRESS");
    env.set("XDG_RUNTIME_DIR", env.root.path().join("no-runtime"));
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(run.stderr.contains("unreachable") && run.stderr.contains("azdo.store file"), "{run:?}");
    let run = env.helper(&["login", "contoso", "--pat-stdin"], b"p");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(!env.store_exists(), "fell back to a plaintext file");
}

#[test]
fn hung_keyring_daemon_cannot_hang_git() {
    let mut env = TestEnv::new();
    env.unset("GIT_CREDENTIAL_AZDO_STORE");
    // A "bus" that accepts connections and never says a word.
    let socket = env.root.path().join("hung-bus");
    let listener = UnixListener::bind(&socket).expect("bind");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    env.set("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", socket.display()));
    env.set("GIT_CREDENTIAL_AZDO_KEYRING_TIMEOUT", "0.5");
    let started = Instant::now();
    let run = env.helper(&["get"], CONTOSO);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5) + crate::common::emulation_slack(), "get took {took:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert!(run.stderr.contains("did not answer"), "{run:?}");
}

#[test]
fn an_item_libsecret_wrote_is_read() {
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    let ss = env.secret_service.as_ref().expect("secret service");
    // secret-tool is libsecret: the item is another client's, found by its attributes.
    let run = ss.secret_tool_stdin(
        &[
            "store",
            "--label=written by libsecret",
            "service",
            "git-credential-azdo:https://dev.azure.com/contoso",
            "username",
            "contoso",
        ],
        b"libsecret-pat",
    );
    assert_eq!(run.status, 0, "{run:?}");
    let run = env.helper(&["get"], CONTOSO);
    assert_eq!(run.stdout, "username=contoso\npassword=libsecret-pat\n", "{run:?}");
}
