//! The documentation's settings tables list exactly the settings the code reads.

use git_credential_azdo::config::SETTINGS;

/// Rows of a settings table (an `azdo.` key, then its variable): (key, env, default).
fn documented(doc: &str) -> Vec<(String, String, String)> {
    doc.lines()
        .filter(|l| l.starts_with("| `azdo.") && l.contains("| `GIT_CREDENTIAL_AZDO_"))
        .map(|l| {
            let cells: Vec<String> = l.split('|').map(|c| c.trim().trim_matches('`').to_owned()).collect();
            (cells[1].clone(), cells[2].clone(), cells[3].clone())
        })
        .collect()
}

fn code() -> Vec<(String, String, String)> {
    SETTINGS.iter().map(|s| (s.key.to_owned(), s.env.to_owned(), s.default.to_owned())).collect()
}

#[test]
fn configuration_doc_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md")).expect("doc");
    assert_eq!(documented(&doc), code());
}

#[test]
fn readme_settings_table_matches_the_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("readme");
    assert_eq!(documented(&doc), code());
}
