//! The generated half of the differential test: proptest-made config text and combinations of
//! scopes, each held to the real `git config --list`.

use proptest::prelude::*;

use super::{skipped_under_qemu, sq, World, SNIPPETS};

/// One line of generated config text: mostly what git accepts, in all its corners (case,
/// subsections with escapes, the old dotted form, quoting, escapes, comments, continuations,
/// trailing blanks, CRLF), now and then something it refuses.
fn line() -> impl Strategy<Value = String> {
    let name = "[a-zA-Z][a-zA-Z0-9-]{0,6}";
    let fragment = prop::sample::select(vec![
        "v",
        "Value",
        " ",
        "\t",
        "\t",
        "  ",
        "\" q ; # \"",
        "\"\"",
        "\" \"",
        "\\n",
        "\\t",
        "\\b",
        "\\\\",
        "\\\"",
        "\\\n",
        "# c",
        "; c",
        "é",
        "x=y",
        "[",
        "]",
        "\r",
        "\u{c}",
        "'",
        "https://dev.azure.com/x",
    ]);
    let value = prop::collection::vec(fragment, 0..6).prop_map(|f| f.concat());
    let tail = prop::sample::select(vec!["", "", "", "", "\\\n", "\\\r\n"]);
    let entry =
        (" {0,2}\t?", name, prop::sample::select(vec!["", " ", "\t"]), prop::option::weighted(0.85, (value, tail)))
            .prop_map(|(lead, name, gap, value)| match value {
                Some((value, tail)) => format!("{lead}{name}{gap}={value}{tail}"),
                None => format!("{lead}{name}{gap}"),
            });
    let sub = prop::collection::vec(
        prop::sample::select(vec!["a", "B", " ", ".", "\\\"", "\\\\", "\\x", "https://X/y", "é"]),
        0..4,
    )
    .prop_map(|s| s.concat());
    let header = (name, prop::option::of(sub), prop::sample::select(vec!["", "", ".Sub"])).prop_map(
        |(name, sub, tail)| match sub {
            Some(sub) => format!("[{name} \"{sub}\"]"),
            None => format!("[{name}{tail}]"),
        },
    );
    let junk = prop::sample::select(vec![
        "[",
        "1x=y",
        "[a \"b\" ]",
        "x=\"open",
        "x=\\q",
        "[]",
        "\u{feff}",
        "\\",
        "[a ]",
        "x=\"",
    ])
    .prop_map(str::to_owned);
    let body = prop_oneof![
        14 => entry,
        5 => header,
        1 => Just("# comment".to_owned()),
        1 => Just(String::new()),
        1 => junk,
    ];
    (body, prop::sample::select(vec!["\n", "\n", "\r\n", " \n"])).prop_map(|(b, end)| format!("{b}{end}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Any text from git's syntax, as the global file: read in process exactly when git reads
    /// it, and then the same entries in the same order.
    #[test]
    fn file_syntax_matches_git(lines in prop::collection::vec(line(), 0..12), bom in prop::bool::weighted(0.1), head in prop::sample::select(vec!["[s]\n", "[s]\n", "", "k = v\n", "[ \"x\"]\n"]), last in prop::sample::select(vec!["", "", "", "x", "x = y \\", "x = \"y", "[s]"])) {
        if skipped_under_qemu() {
            return Ok(());
        }
        let mut w = World::new();
        let text = format!("{}{head}{}{last}", if bom { "\u{feff}" } else { "" }, lines.concat());
        w.set("GIT_CONFIG_NOSYSTEM", "1");
        w.set("GIT_CONFIG_GLOBAL", w.write("global", &text));
        let cwd = w.dir.path().to_owned();
        let git = w.git_list(&cwd, &cwd);
        match w.ours(&cwd) {
            Ok(ours) => prop_assert_eq!(Some(ours), git, "text {:?}", text),
            // Declined where git versions differ (a tab or CR between words), else only where
            // git refuses the file.
            Err(why) if why.0.contains("versions") => {
                prop_assert!(text.contains('\t') || text.contains('\r'), "declined {:?}: text {:?}", why, text)
            }
            Err(why) => prop_assert!(git.is_none(), "declined {:?}: text {:?}", why, text),
        }
    }

    /// Random combinations of scopes, snippets and command-line entries, in and out of a
    /// repository: equal to git, and declined only for `includeIf` or where git fails.
    #[test]
    fn combinations_match_git(
        files in prop::collection::vec(prop::sample::select(SNIPPETS.to_vec()), 4),
        conditional in prop::bool::weighted(0.2),
        in_repo in any::<bool>(),
        xdg in any::<bool>(),
        params in prop::collection::vec(("(azdo|credential\\.https://d\\.e/[A-Z]{1,2}|http)\\.[a-zA-Z]{1,6}", "[ -~]{0,8}"), 0..3),
    ) {
        if skipped_under_qemu() {
            return Ok(());
        }
        let mut w = World::new();
        w.set("GIT_CONFIG_SYSTEM", w.write("system", files[0]));
        w.write("home/.gitconfig", files[1]);
        if xdg {
            w.write("xdg/git/config", files[2]);
            w.set("XDG_CONFIG_HOME", w.path("xdg"));
        }
        let cwd = if in_repo { w.repo("repo") } else { w.path("home") };
        if in_repo {
            let local = cwd.join(".git/config");
            let mut text = std::fs::read_to_string(&local).expect("local config");
            text.push_str(files[3]);
            std::fs::write(&local, text).expect("local config");
        }
        if conditional {
            let mut text = std::fs::read_to_string(w.path("home/.gitconfig")).expect("global");
            text.push_str("[includeIf \"gitdir:/\"]\n\tpath = /nonexistent\n");
            std::fs::write(w.path("home/.gitconfig"), text).expect("global");
        }
        if !params.is_empty() {
            let list: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", sq(k), sq(v))).collect();
            w.set("GIT_CONFIG_PARAMETERS", list.join(" "));
        }
        // A snippet git refuses in the middle of a file (a byte-order mark) fails git: then
        // this reader must decline too.
        let git = w.git_list(&cwd, &cwd);
        match w.ours(&cwd) {
            Ok(ours) => {
                prop_assert!(!conditional, "includeIf was read in process");
                prop_assert_eq!(Some(ours), git);
            }
            Err(why) => prop_assert!(conditional || git.is_none(), "declined: {:?}", why),
        }
    }
}
