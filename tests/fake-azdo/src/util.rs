//! Small helpers: randomness, GUIDs, PAT strings, HTTP dates, percent coding, JSON strings.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// 64 random bits: SipHash with std's per-process random keys over a counter and the clock.
/// Not cryptographic; plenty for fake tokens and ids that must differ between calls and runs.
pub fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// A random index below `n` (n > 0).
fn random_below(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    (0..len).map(|_| char::from(alphabet[random_below(alphabet.len())])).collect()
}

/// A random version-4 GUID in the lower-case 8-4-4-4-12 form Azure DevOps uses.
pub fn guid() -> String {
    let hi = random_u64();
    let lo = random_u64();
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE32_LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The current 84-character PAT form: 52 random alphanumerics, the `JQQJ99` marker, an
/// 18-character block, `AZDO`, and 4 more characters (layout from a secret-scanner rule).
pub fn pat_84() -> String {
    format!("{}JQQJ99BAACAAAAAAAAAAAAASAZDO{}", random_string(ALNUM, 52), random_string(ALNUM, 4))
}

/// The legacy 52-character PAT form: lower-case base32 (`[a-z2-7]`).
pub fn pat_52() -> String {
    random_string(BASE32_LOWER, 52)
}

pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// (year, month, day) of a count of days since 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// IMF-fixdate, as in the `Date` header: `Thu, 09 Jan 2025 12:02:28 GMT`.
pub fn http_date(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// ISO 8601 UTC with seconds: `2025-01-09T12:02:28Z`.
pub fn iso_date(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, the way Azure DevOps encodes
/// `X-TFS-ServiceError` (`Access%20Denied%3A%20The%20...%20has%20expired.`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON string literal, quotes included.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value of `name` in a `&`-separated query string (case-insensitive name, decoded value).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        percent_decode(k).eq_ignore_ascii_case(name).then(|| percent_decode(&v.replace('+', " ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(1_736_424_148), "Thu, 09 Jan 2025 12:02:28 GMT");
        assert_eq!(iso_date(1_736_424_148), "2025-01-09T12:02:28Z");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn percent() {
        assert_eq!(
            percent_encode("Access Denied: The Personal Access Token used has expired."),
            "Access%20Denied%3A%20The%20Personal%20Access%20Token%20used%20has%20expired."
        );
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
    }

    #[test]
    fn tokens_and_guids() {
        let a = pat_84();
        assert_eq!(a.len(), 84);
        assert_eq!(&a[52..58], "JQQJ99");
        assert_eq!(&a[76..80], "AZDO");
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        let b = pat_52();
        assert_eq!(b.len(), 52);
        assert!(b.bytes().all(|c| BASE32_LOWER.contains(&c)));
        assert_ne!(pat_52(), b);
        let g = guid();
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
    }

    #[test]
    fn json_and_query() {
        assert_eq!(json_str("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
        assert_eq!(query_param("a=1&API-Version=7.1-preview.1", "api-version").as_deref(), Some("7.1-preview.1"));
        assert_eq!(query_param("service", "service").as_deref(), Some(""));
        assert_eq!(query_param("", "x"), None);
    }
}
