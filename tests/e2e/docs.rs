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

/// Every `azdo.*` key the code names is a documented setting (or one `configure` writes).
#[test]
fn the_code_reads_no_undocumented_setting() {
    fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")), &mut files);
    let known: Vec<&str> = SETTINGS.iter().map(|s| s.key).chain(["azdo.configuredUseHttpPath"]).collect();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for (i, _) in text.match_indices("\"azdo.") {
            let key: String = text[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
            // `azdo.https://…` is a URL-scoped key in a test, not a setting name.
            let url_scoped = text[i + 1 + key.len()..].starts_with(':');
            let key = key.trim_end_matches('.');
            if !url_scoped && key.matches('.').count() == 1 && key.len() > "azdo.".len() {
                assert!(
                    known.iter().any(|k| k.eq_ignore_ascii_case(key)),
                    "{}: reads {key}, which the settings table does not list",
                    file.display()
                );
            }
        }
    }
}
