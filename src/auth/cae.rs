//! Continuous access evaluation (CAE). Every user token request declares the `cp1` client
//! capability in its `claims` parameter ([`ClaimsRequest`]), so Entra issues CAE tokens, and
//! Azure DevOps answers a token whose session was revoked with 401 and an `insufficient_claims`
//! challenge. git hands that challenge to `erase` only (`wwwauth[]`), then fails the command; so
//! `erase` reads it ([`challenge::from_challenges`]) and remembers its claims for the
//! organization (and account) for [`PENDING_FOR`] in a private file ([`remember`]); the next
//! `get` in oauth mode (or the access-token fallback) finds them ([`pending`]: one `stat` when
//! there are none), answers from no cached token, redeems the refresh token (or signs in) with the
//! claims merged with `cp1`, as MSAL merges them, and then [`clear`]s them.

mod challenge;

pub use challenge::from_challenges;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::org::Target;
use crate::run::Run;
use crate::time::now;

/// How long claims from a challenge are kept for the next `get`: git runs it within seconds
/// (the next command), and an old challenge says nothing about a later session.
pub const PENDING_FOR: i64 = 600;
/// The client capability this helper declares: it handles claims challenges.
pub const CP1: &str = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
/// The largest claims request kept, decoded.
const MAX_CLAIMS: usize = 1536;
/// How deep a claims request may nest (a real one is three levels: section, claim, request).
const MAX_DEPTH: usize = 6;
/// The largest pending-claims file read.
const MAX_FILE: usize = 4096;

/// A claims request from a challenge: a JSON object of objects (`{"access_token":{...}}`),
/// bounded, kept re-serialized (compact, escapes as JSON writes them). Not a secret, but
/// untrusted text: its `Debug` shows its length only, and it is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Claims(String);

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Claims({} bytes)", self.0.len())
    }
}

impl Claims {
    /// Validate decoded claims: UTF-8 JSON, at most [`MAX_CLAIMS`] bytes and [`MAX_DEPTH`]
    /// levels, a non-empty object whose members are objects.
    pub fn from_json(bytes: &[u8]) -> Option<Claims> {
        if bytes.len() > MAX_CLAIMS {
            return None;
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let sections = value.as_object().filter(|o| !o.is_empty())?;
        if !sections.values().all(serde_json::Value::is_object) || depth(&value) > MAX_DEPTH {
            return None;
        }
        Some(Claims(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The `claims` parameter of a token request: [`CP1`] alone, or a challenge's claims with
/// `access_token.xms_cc` set to `cp1` (MSAL's `_merge_claims_challenge_and_capabilities`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimsRequest {
    json: String,
    answers_challenge: bool,
}

impl ClaimsRequest {
    /// The capability alone: no challenge to answer.
    pub fn capabilities() -> ClaimsRequest {
        ClaimsRequest { json: CP1.to_owned(), answers_challenge: false }
    }

    /// `claims` merged with the capability.
    pub fn answering(claims: &Claims) -> ClaimsRequest {
        let mut value: serde_json::Value = serde_json::from_str(claims.as_str()).unwrap_or_default();
        if let Some(sections) = value.as_object_mut() {
            let access = sections.entry("access_token").or_insert_with(|| serde_json::json!({}));
            if let Some(access) = access.as_object_mut() {
                access.insert("xms_cc".into(), serde_json::json!({"values": ["cp1"]}));
            }
        }
        ClaimsRequest { json: value.to_string(), answers_challenge: true }
    }

    pub fn as_str(&self) -> &str {
        &self.json
    }

    /// Whether it carries a challenge's claims: only a token request that sends them may
    /// answer (no other program's token, no cached one).
    pub fn answers_challenge(&self) -> bool {
        self.answers_challenge
    }
}

/// The pending-claims file's content.
#[derive(Serialize, Deserialize)]
struct Pending {
    claims: String,
    expires_at: i64,
}

/// Where the claims pending for `target` are kept: `claims/` in the data directory, one file per
/// authority, client, organization URL and account (the key the kept access token has), named
/// readably with a digest of that key.
fn path(run: &Run, target: &Target) -> PathBuf {
    let settings = &run.settings;
    let key = format!(
        "{}\n{}\n{}\n{}",
        settings.authority,
        settings.client_id,
        target.url(),
        target.account().unwrap_or_default()
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let hex: String = digest.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    let name: String =
        target.store_key().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    settings.data_dir.join("claims").join(format!("{name}-{hex}.json"))
}

/// Remember `claims` for `target` for [`PENDING_FOR`] (replacing any pending ones).
pub fn remember(run: &Run, target: &Target, claims: &Claims) {
    let pending = Pending { claims: claims.as_str().to_owned(), expires_at: now() + PENDING_FOR };
    let written = serde_json::to_vec(&pending).map_err(|e| e.to_string()).and_then(|bytes| {
        crate::fs::write_private(&path(run, target), &bytes, crate::fs::Durability::Cache).map_err(|e| e.to_string())
    });
    match written {
        Ok(()) => tracing::info!(%target, "remembered the claims challenge for the next sign-in"),
        Err(e) => tracing::warn!(%target, error = %e, "could not remember the claims challenge"),
    }
}

/// The claims pending for `target`, if any and not expired. One `stat` when there are none (the
/// hot path); else the file is read as a private file (this user's, not readable by others, no
/// link followed, bounded) and its claims validated again. Refused or unreadable: none.
pub fn pending(run: &Run, target: &Target) -> Option<Claims> {
    let path = path(run, target);
    if std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    let bytes = match crate::fs::read_private(&path) {
        Ok(bytes) => bytes?,
        Err(e) => {
            tracing::info!(%target, error = %e, "ignoring the pending claims file");
            return None;
        }
    };
    let read = (bytes.len() <= MAX_FILE).then(|| serde_json::from_slice::<Pending>(&bytes).ok()).flatten();
    let Some(Pending { claims, expires_at }) = read else {
        tracing::info!(%target, "the pending claims file is unreadable; ignoring it");
        return None;
    };
    if expires_at <= now() || expires_at > now() + PENDING_FOR {
        tracing::info!(%target, "the pending claims expired");
        clear(run, target);
        return None;
    }
    let claims = Claims::from_json(claims.as_bytes());
    if claims.is_none() {
        tracing::info!(%target, "the pending claims are no claims request; ignoring them");
    }
    claims
}

/// Forget the claims pending for `target` (a token answering them was obtained, or they expired).
pub fn clear(run: &Run, target: &Target) {
    match crate::fs::remove_private(&path(run, target)) {
        Ok(true) => tracing::info!(%target, "cleared the pending claims"),
        Ok(false) => {}
        Err(e) => tracing::warn!(%target, error = %e, "could not clear the pending claims"),
    }
}

#[cfg(test)]
mod tests;
