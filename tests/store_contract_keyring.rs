//! The store contract on the real Secret Service (gnome-keyring on a private D-Bus session bus).
//! Its own test binary: it points this process's D-Bus address at the private bus.

mod common;

use std::time::Duration;

use git_credential_azdo::store::{KeyringStore, Store};

#[test]
fn keyring_store_meets_the_contract_on_a_real_secret_service() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some(ss) = common::SecretService::start(&dir.path().join("ss"), Some("pw")) else {
        return;
    };
    // The only test in this binary, so nothing else reads the environment concurrently.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &ss.bus_address);
    let store = KeyringStore::new(dir.path().join("data/keyring-metadata.json"), Duration::from_secs(10));
    common::contract::run(&store);

    // Items are findable the way a person (or secret-tool) would look for them.
    let org = git_credential_azdo::org::Target::org("Contoso").expect("org");
    let c = git_credential_azdo::store::Credential {
        pat: git_credential_azdo::secret::Secret::new("findable-pat"),
        meta: Default::default(),
    };
    store.put(&org, &c).expect("put");
    let found = ss.secret_tool(&["search", "--all", "service", "git-credential-azdo:https://dev.azure.com/contoso"]);
    // secret-tool prints the label on stdout and the attributes on stderr.
    assert!(found.stdout.contains("label = Azure DevOps PAT for contoso (git-credential-azdo)"), "{found:?}");
    assert!(found.stderr.contains("attribute.username = contoso"), "{found:?}");
    // The metadata file beside it never holds the PAT.
    let meta = std::fs::read_to_string(dir.path().join("data/keyring-metadata.json")).expect("metadata");
    assert!(!meta.contains("findable-pat"), "{meta}");
    assert!(meta.contains("contoso"));
}
