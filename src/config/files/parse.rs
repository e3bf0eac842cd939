//! git's config-file syntax (git-config(1), "CONFIGURATION FILE"), read as git 2.47 reads it:
//! sections `[name]`, `[name "subsection"]` and the old `[name.sub]`, names of letters, digits and
//! `-` (case folded), values with `"` quoting, the `\t \n \b \\ \"` escapes, a backslash before the
//! end of a line continuing it, `#`/`;` comments, trailing blanks trimmed outside quotes, a UTF-8
//! byte-order mark, CRLF line ends. Anything git rejects is an error here; so is a NUL byte
//! (git's output would cut the value at it), and so is a tab or carriage return kept between the
//! words of an unquoted value, which git before 2.42 turns into a space and later versions keep:
//! the caller lets whichever git is installed answer.

/// One `section[.subsection].name` (section and name lower-cased, subsection as written) and
/// its value (`None` for a bare key, which git reads as `true`).
pub type Entry = (Vec<u8>, Option<Vec<u8>>);

/// Why a file is not read in process, and the byte offset where that was found.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// git would fail on it, or print it differently.
    Syntax(usize),
    /// git versions read it differently: a tab or carriage return between the words of an
    /// unquoted value (a space before git 2.42, kept as it is since).
    Versions(usize),
}

/// git's whitespace (its own ctype: tab, newline, carriage return, space; not form feed or VT).
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// A character of a section or key name.
pub fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// The bytes of a file as git's reader sees them: CRLF as LF, and past the end an endless
/// supply of line ends (the end of the file ends the last line).
struct Chars<'a> {
    bytes: &'a [u8],
    at: usize,
    eof: bool,
}

impl Chars<'_> {
    fn next(&mut self) -> u8 {
        let Some(&c) = self.bytes.get(self.at) else {
            self.eof = true;
            return b'\n';
        };
        self.at += 1;
        if c == b'\r' && self.bytes.get(self.at) == Some(&b'\n') {
            self.at += 1;
            return b'\n';
        }
        c
    }
}

/// Every entry of one config file, in order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, Invalid> {
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err(Invalid::Syntax(at));
    }
    let body = match bytes {
        [0xef, 0xbb, 0xbf, rest @ ..] => rest,
        // A partial byte-order mark is refused.
        [0xef, ..] => return Err(Invalid::Syntax(0)),
        _ => bytes,
    };
    let mut chars = Chars { bytes: body, at: 0, eof: false };
    let mut entries = Vec::new();
    // The current `section[.subsection].` prefix of every key.
    let mut prefix: Vec<u8> = Vec::new();
    let mut comment = false;
    loop {
        let c = chars.next();
        let error = Invalid::Syntax(chars.at);
        if c == b'\n' {
            if chars.eof {
                return Ok(entries);
            }
            comment = false;
            continue;
        }
        if comment || is_space(c) {
            continue;
        }
        if c == b'#' || c == b';' {
            comment = true;
            continue;
        }
        if c == b'[' {
            prefix = header(&mut chars).ok_or(error)?;
            prefix.push(b'.');
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(error);
        }
        let mut key = prefix.clone();
        key.push(c.to_ascii_lowercase());
        let value = entry(&mut chars, &mut key)?.ok_or(error)?;
        entries.push((key, value));
    }
}

/// A section header after its `[`: the section lower-cased, then `.subsection` as written.
fn header(chars: &mut Chars) -> Option<Vec<u8>> {
    let mut name = Vec::new();
    loop {
        let c = chars.next();
        if chars.eof {
            return None;
        }
        match c {
            b']' if name.is_empty() => return None,
            b']' => return Some(name),
            c if is_space(c) => return subsection(chars, name, c),
            c if is_key_char(c) || c == b'.' => name.push(c.to_ascii_lowercase()),
            _ => return None,
        }
    }
}

/// `"subsection"]` after a section name and blanks (`first` the blank that ended the name).
fn subsection(chars: &mut Chars, mut name: Vec<u8>, first: u8) -> Option<Vec<u8>> {
    let mut c = first;
    while is_space(c) {
        if c == b'\n' {
            return None;
        }
        c = chars.next();
    }
    if c != b'"' {
        return None;
    }
    name.push(b'.');
    loop {
        let mut c = chars.next();
        match c {
            b'\n' => return None,
            b'"' => break,
            b'\\' => {
                c = chars.next();
                if c == b'\n' {
                    return None;
                }
            }
            _ => {}
        }
        name.push(c);
    }
    // An empty section name with a subsection (`[ "x"]`) is accepted, as git does.
    (chars.next() == b']').then_some(name)
}

/// The rest of a key's name (its first letter already in `key`), then `= value` or nothing
/// (`Ok(None)`: a syntax error).
fn entry(chars: &mut Chars, key: &mut Vec<u8>) -> Result<Option<Option<Vec<u8>>>, Invalid> {
    let mut c;
    loop {
        c = chars.next();
        if chars.eof || !is_key_char(c) {
            break;
        }
        key.push(c.to_ascii_lowercase());
    }
    while c == b' ' || c == b'\t' {
        c = chars.next();
    }
    Ok(match c {
        b'\n' => Some(None),
        b'=' => value(chars)?.map(Some),
        _ => None,
    })
}

/// A value after its `=`, to the end of its (possibly continued) line (`Ok(None)`: a syntax
/// error).
fn value(chars: &mut Chars) -> Result<Option<Vec<u8>>, Invalid> {
    let mut value = Vec::new();
    let (mut quoted, mut comment) = (false, false);
    // Where trailing blanks began (0: none pending; leading blanks are never kept), and whether
    // those pending blanks hold a tab or carriage return (kept only if a word follows them).
    let (mut trim, mut odd_blank) = (0, false);
    loop {
        let mut c = chars.next();
        if c == b'\n' {
            if quoted {
                return Ok(None);
            }
            if trim > 0 {
                value.truncate(trim);
            }
            return Ok(Some(value));
        }
        if comment {
            continue;
        }
        if is_space(c) && !quoted {
            if trim == 0 {
                trim = value.len();
            }
            if !value.is_empty() {
                value.push(c);
                odd_blank |= c != b' ';
            }
            continue;
        }
        if !quoted && (c == b';' || c == b'#') {
            comment = true;
            continue;
        }
        if trim > 0 && odd_blank {
            return Err(Invalid::Versions(chars.at));
        }
        trim = 0;
        match c {
            b'\\' => {
                c = match chars.next() {
                    b'\n' => continue,
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'n' => b'\n',
                    c @ (b'\\' | b'"') => c,
                    _ => return Ok(None),
                };
                value.push(c);
            }
            b'"' => quoted = !quoted,
            c => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Vec<(String, Option<String>)>, Invalid> {
        parse(text.as_bytes()).map(|entries| {
            entries
                .into_iter()
                .map(|(k, v)| (String::from_utf8(k).expect("utf8"), v.map(|v| String::from_utf8(v).expect("utf8"))))
                .collect()
        })
    }

    fn pair(k: &str, v: Option<&str>) -> (String, Option<String>) {
        (k.to_owned(), v.map(str::to_owned))
    }

    #[test]
    fn reads_sections_subsections_values_and_bare_keys() {
        let text = "\u{feff}[Azdo]\n\tInteractive = \"a b\" ; c\r\n[credential \"HTTPS://X\\\"y\"]\nuseHttpPath\n[a.B]x=1 \\\n 2  \n";
        assert_eq!(
            one(text),
            Ok(vec![
                pair("azdo.interactive", Some("a b")),
                pair("credential.HTTPS://X\"y.usehttppath", None),
                pair("a.b.x", Some("1  2")),
            ])
        );
        assert_eq!(one("[a]k=\"x\\ty\\n\\b\"#c"), Ok(vec![pair("a.k", Some("x\ty\n\u{8}"))]));
        assert_eq!(one("[a]k= \" lead\"trail  ;x"), Ok(vec![pair("a.k", Some(" leadtrail"))]));
    }

    #[test]
    fn rejects_what_git_rejects() {
        for text in ["[a]k=\\q", "[a]k=\"open", "[a", "[a \"x\" ]", "[]", "[a]1k=v", "[a]k v", "[a]k=\0"] {
            assert!(one(text).is_err(), "{text:?}");
        }
        assert!(parse(b"\xef\xbbx").is_err() && parse(b"\xef").is_err(), "a partial byte-order mark");
    }

    #[test]
    fn a_tab_or_carriage_return_between_unquoted_words_is_left_to_the_installed_git() {
        // git 2.39 reads `x<TAB>y` as "x y", git 2.47 as "x<TAB>y".
        for text in ["[a]k=x\ty", "[a]k=x \ry", "[a]k=x\t\"y\"", "[a]k=x\t\\\n y"] {
            assert!(matches!(parse(text.as_bytes()), Err(Invalid::Versions(_))), "{text:?}");
        }
        // Where every version agrees: spaces, leading and trailing blanks, quoted tabs, comments.
        assert_eq!(
            one("[a]k=\tx  y\t\r\n[a]q=\"x\ty\"\t#c\n[a]c=x\t;c"),
            Ok(vec![pair("a.k", Some("x  y")), pair("a.q", Some("x\ty")), pair("a.c", Some("x"))])
        );
    }
}
