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

pub fn random_string(alphabet: &[u8], len: usize) -> String {
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

pub const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The base64url alphabet (JWT segments, Entra codes and refresh tokens).
pub const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Entra's `timestamp` form: `2016-10-19 16:29:47Z`.
pub fn entra_timestamp(unix: i64) -> String {
    iso_date(unix).replace('T', " ")
}

/// A point in time at the precision Azure DevOps stores PAT dates with (SQL `datetime`: steps
/// of 1/300 s), which is why `...23.319Z` comes back as `...23.32Z` and `.523Z` as
/// `.5233333Z` in the PAT lifecycle API's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    pub secs: i64,
    /// 0..300, in 1/300 s.
    pub sub: u16,
}

impl Stamp {
    pub fn from_secs(secs: i64) -> Stamp {
        Stamp { secs, sub: 0 }
    }

    fn from_nanos(secs: i64, nanos: u32) -> Stamp {
        let sub = (u64::from(nanos) * 300 + 500_000_000) / 1_000_000_000;
        if sub >= 300 {
            Stamp { secs: secs + 1, sub: 0 }
        } else {
            Stamp { secs, sub: sub as u16 }
        }
    }

    pub fn now() -> Stamp {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // Milliseconds, like the service's clock.
        Stamp::from_nanos(d.as_secs() as i64, d.subsec_millis() * 1_000_000)
    }

    pub fn plus_days(self, days: u32) -> Stamp {
        Stamp { secs: self.secs + i64::from(days) * 86_400, sub: self.sub }
    }

    /// Parses ISO 8601 date-times as clients send them: `2020-12-01T23:46:23.319Z`,
    /// `2020-12-01T23:46:23Z`, `2020-12-01T23:46:23.3190000+02:00`, `2020-12-01 23:46:23Z`,
    /// `2020-12-01` (midnight UTC). No zone means UTC.
    pub fn parse(s: &str) -> Option<Stamp> {
        let s = s.trim();
        let num = |t: &str| -> Option<i64> {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse().ok()).flatten()
        };
        let (date, time) = match s.find(['T', 't', ' ']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let mut dp = date.split('-');
        let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
        if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || date.len() != 10 {
            return None;
        }
        let days = days_from_civil(y, m as u32, d as u32);
        if civil_from_days(days) != (y, m as u32, d as u32) {
            return None;
        }
        let Some(time) = time else {
            return Some(Stamp::from_secs(days * 86_400));
        };
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = time.rfind(['+', '-']) {
            let (c, z) = time.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let (hh, mm) = z[1..].split_once(':').unwrap_or((&z[1..], "0"));
            (c, sign * (num(hh)? * 3600 + num(mm)? * 60))
        } else {
            (time, 0)
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut tp = hms.split(':');
        let (h, mi) = (num(tp.next()?)?, num(tp.next()?)?);
        let sec = match tp.next() {
            Some(x) => num(x)?,
            None => 0,
        };
        if tp.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let nanos = if frac.is_empty() {
            0
        } else {
            num(frac)?;
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
            digits.parse().ok()?
        };
        Some(Stamp::from_nanos(days * 86_400 + h * 3600 + mi * 60 + sec - offset, nanos))
    }

    /// The service's JSON form: seven fraction digits at most, trailing zeros (and the dot)
    /// dropped: `2020-12-01T23:46:23.32Z`, `2020-11-23T04:04:38.5233333Z`.
    pub fn format(&self) -> String {
        let base = iso_date(self.secs);
        if self.sub == 0 {
            return base;
        }
        let ticks = u64::from(self.sub) * 10_000_000 / 300;
        let frac = format!("{ticks:07}");
        format!("{}.{}Z", &base[..base.len() - 1], frac.trim_end_matches('0'))
    }
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
    fn stamps_round_to_the_services_precision() {
        let s = Stamp::parse("2020-12-01T23:46:23.319Z").expect("parse");
        assert_eq!(s.format(), "2020-12-01T23:46:23.32Z");
        assert_eq!(Stamp::parse("2020-11-23T04:04:38.523Z").expect("parse").format(), "2020-11-23T04:04:38.5233333Z");
        assert_eq!(
            Stamp::parse("2020-11-23T04:04:38.5233333Z").expect("parse").format(),
            "2020-11-23T04:04:38.5233333Z"
        );
        assert_eq!(Stamp::parse("2025-01-09T12:02:28Z").expect("parse"), Stamp::from_secs(1_736_424_148));
        assert_eq!(Stamp::parse("2025-01-09 14:02:28+02:00").expect("parse"), Stamp::from_secs(1_736_424_148));
        assert_eq!(Stamp::parse("2025-01-09T12:02:28.9999Z").expect("parse"), Stamp::from_secs(1_736_424_149));
        assert_eq!(Stamp::parse("2025-01-09").expect("parse").format(), "2025-01-09T00:00:00Z");
        for bad in ["", "tomorrow", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-01-09T25:00:00Z", "2025-1-9"]
        {
            assert_eq!(Stamp::parse(bad), None, "{bad}");
        }
        assert_eq!(entra_timestamp(1_736_424_148), "2025-01-09 12:02:28Z");
    }

    #[test]
    fn json_and_query() {
        assert_eq!(json_str("a\"b\\c\u{1}"), "\"a\\\"b\\\\c\\u0001\"");
        assert_eq!(query_param("a=1&API-Version=7.1-preview.1", "api-version").as_deref(), Some("7.1-preview.1"));
        assert_eq!(query_param("service", "service").as_deref(), Some(""));
        assert_eq!(query_param("", "x"), None);
    }
}
