//! The scripted browser: a stand-in for `BROWSER` that does what a person's browser does once
//! the person has signed in, in a few lines of Python (python3's standard library has the HTTP
//! client and HTML unescaping a shell script lacks). It fetches the authorize page (a 302 is
//! followed; a `form_post` page's hidden form is posted to its action, the helper's loopback
//! listener).

#[cfg(unix)]
use std::path::PathBuf;

#[cfg(unix)]
use super::TestEnv;

/// Write the scripted browser into `env` (`browser.sh`) and return its path and a marker file it
/// writes when it runs. Its Python is started by `python` (a command line: another user's, say);
/// `tweak` is Python run on `fields` (the form's fields) before they are posted.
#[cfg(unix)]
pub fn scripted(env: &TestEnv, python: &str, tweak: &str) -> (PathBuf, PathBuf) {
    let marker = env.root.path().join("browser-ran");
    let script = format!(
        r#"echo ran > {marker:?}
exec {python} - "$1" <<'EOF'
import html, re, sys, urllib.parse, urllib.request
page = urllib.request.urlopen(sys.argv[1], timeout=10).read().decode()
action = re.search(r'action="([^"]*)"', page)
fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page))
fields = {{k: html.unescape(v) for k, v in fields.items()}}
{tweak}
body = urllib.parse.urlencode(fields).encode()
try:
    if action:
        urllib.request.urlopen(html.unescape(action.group(1)), data=body, timeout=10).read()
except Exception as e:
    print(e, file=sys.stderr)
EOF"#,
        marker = marker.to_string_lossy()
    );
    (env.script("browser.sh", &script), marker)
}
