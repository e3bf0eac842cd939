//! Small validators shared by several layers: git's boolean spellings, a GUID, an Entra tenant.
//! A leaf: it imports nothing of this crate, so config, protocol and the features can all use it.

/// git's boolean spellings.
pub fn bool_value(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => None,
    }
}

/// A GUID in its usual 8-4-4-4-12 form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A tenant id or name Entra accepts in a path: a GUID, a domain, or one of its aliases.
pub fn is_tenant(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !t.starts_with(['-', '.'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_are_read_as_git_reads_them() {
        for yes in ["true", "Yes", " ON ", "1"] {
            assert_eq!(bool_value(yes), Some(true), "{yes:?}");
        }
        for no in ["false", "NO", "off", "0", "", "  "] {
            assert_eq!(bool_value(no), Some(false), "{no:?}");
        }
        for neither in ["2", "y", "enabled", "truee"] {
            assert_eq!(bool_value(neither), None, "{neither:?}");
        }
    }

    #[test]
    fn guids_have_the_usual_form() {
        assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
        assert!(is_guid("72F988BF-86F1-41AF-91AB-2D7CD011DB47"));
        for bad in [
            "",
            "72f988bf86f141af91ab2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4",
            "g2f988bf-86f1-41af-91ab-2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db47-0",
        ] {
            assert!(!is_guid(bad), "{bad:?}");
        }
    }

    #[test]
    fn tenants_are_guids_domains_or_aliases() {
        for ok in ["72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", "common", "organizations"] {
            assert!(is_tenant(ok), "{ok:?}");
        }
        let long = "a".repeat(65);
        for bad in ["", "-x", ".x", "a b", "a/b", "../x", "x?y", long.as_str()] {
            assert!(!is_tenant(bad), "{bad:?}");
        }
    }
}
