//! A service principal's certificate and the client assertion it signs: a JWT (RS256) with the
//! certificate's thumbprints (`x5t`, `x5t#S256`), `aud` = the token endpoint, `iss` = `sub` = the
//! client id, a random `jti`, a ten-minute `exp`, and optionally the certificate itself (`x5c`).
//! Signed with `ring`, which the TLS stack already brings. The key is wiped after use.

use std::path::Path;

use base64::Engine as _;
use ring::rand::SecureRandom as _;
use ring::signature::RsaKeyPair;
use zeroize::Zeroize;

use crate::secret::Secret;
use crate::time::now;

/// How long an assertion is valid: Entra wants "5–10 minutes after nbf at most".
const LIFETIME: i64 = 600;
/// A certificate file is small; anything larger is not one.
const MAX_FILE: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the certificate file {path}: {source}")]
    Read { path: String, source: crate::fs::Error },
    #[error("the certificate file {0} does not exist")]
    Missing(String),
    #[error("the certificate file {path} {what}")]
    Content { path: String, what: &'static str },
    #[error("cannot sign the client assertion")]
    Sign,
}

/// A private key and its certificate chain (leaf first), read from one PEM file.
pub struct Certificate {
    key: RsaKeyPair,
    /// DER of each certificate, leaf first.
    chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificate(REDACTED)")
    }
}

impl Certificate {
    /// Read `path`: a PEM file holding an RSA private key (`PRIVATE KEY`, PKCS #8, or
    /// `RSA PRIVATE KEY`, PKCS #1) and at least one `CERTIFICATE`. Others must not be able to
    /// read the file.
    pub fn load(path: &Path) -> Result<Certificate, Error> {
        let shown = crate::fs::shown(path);
        let mut bytes = crate::fs::read_private(path)
            .map_err(|source| Error::Read { path: shown.clone(), source })?
            .ok_or_else(|| Error::Missing(shown.clone()))?;
        let result = if bytes.len() > MAX_FILE {
            Err(Error::Content { path: shown.clone(), what: "is too large for a certificate" })
        } else {
            Certificate::from_pem(&String::from_utf8_lossy(&bytes)).map_err(|what| Error::Content { path: shown, what })
        };
        bytes.zeroize();
        result
    }

    /// Parse PEM text (see [`Certificate::load`]).
    pub fn from_pem(pem: &str) -> Result<Certificate, &'static str> {
        let mut key = None;
        let mut chain = Vec::new();
        for (label, mut der) in pem_blocks(pem)? {
            match label.as_str() {
                "PRIVATE KEY" if key.is_none() => {
                    key =
                        Some(RsaKeyPair::from_pkcs8(&der).map_err(|_| {
                            "holds a private key that is not an RSA key ring can use (2048 bits or more)"
                        }));
                }
                "RSA PRIVATE KEY" if key.is_none() => {
                    key = Some(
                        RsaKeyPair::from_der(&der)
                            .map_err(|_| "holds an RSA private key ring cannot use (2048 bits or more)"),
                    );
                }
                "CERTIFICATE" => {
                    chain.push(std::mem::take(&mut der));
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err("holds an encrypted private key: decrypt it first (openssl pkey)")
                }
                _ => {}
            }
            der.zeroize();
        }
        let key = key.ok_or("holds no private key (PEM 'PRIVATE KEY' or 'RSA PRIVATE KEY')")??;
        if chain.is_empty() {
            return Err("holds no certificate (PEM 'CERTIFICATE')");
        }
        Ok(Certificate { key, chain })
    }

    /// `x5t`: base64url of the SHA-1 of the leaf certificate's DER (what Entra shows as the
    /// thumbprint, in hex).
    pub fn x5t(&self) -> String {
        b64url(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.chain[0]).as_ref())
    }

    /// The SHA-1 thumbprint in hex, upper-case, as Entra and Windows show it.
    pub fn thumbprint(&self) -> String {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &self.chain[0])
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    /// `x5t#S256`: base64url of the SHA-256 of the leaf certificate's DER.
    pub fn x5t_s256(&self) -> String {
        b64url(ring::digest::digest(&ring::digest::SHA256, &self.chain[0]).as_ref())
    }

    /// A client assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str, send_x5c: bool) -> Result<Secret, Error> {
        let rng = ring::rand::SystemRandom::new();
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(|_| Error::Sign)?;
        let mut header =
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t(), "x5t#S256": self.x5t_s256()});
        if send_x5c {
            let chain: Vec<String> =
                self.chain.iter().map(|der| base64::engine::general_purpose::STANDARD.encode(der)).collect();
            header["x5c"] = serde_json::Value::from(chain);
        }
        let now = now();
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id, "jti": guid(&jti),
            "nbf": now, "iat": now, "exp": now + LIFETIME,
        });
        let signing_input =
            format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&ring::signature::RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut signature)
            .map_err(|_| Error::Sign)?;
        Ok(Secret::from(format!("{signing_input}.{}", b64url(&signature))))
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Sixteen random bytes as a version-4 GUID.
fn guid(b: &[u8; 16]) -> String {
    let mut b = *b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The blocks of a PEM text: (label, DER).
fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>, &'static str> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in pem.lines().map(str::trim) {
        if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            current = Some((label.to_owned(), String::new()));
        } else if let Some(label) = line.strip_prefix("-----END ").and_then(|l| l.strip_suffix("-----")) {
            let Some((begun, mut body)) = current.take() else { return Err("is not a PEM file") };
            if begun != label {
                body.zeroize();
                return Err("is not a PEM file");
            }
            let der =
                base64::engine::general_purpose::STANDARD.decode(body.as_bytes()).map_err(|_| "is not a PEM file");
            body.zeroize();
            blocks.push((begun, der?));
        } else if let Some((_, body)) = current.as_mut() {
            if !line.contains(':') {
                body.push_str(line);
            }
        }
    }
    if let Some((_, mut body)) = current {
        body.zeroize();
        return Err("is not a PEM file");
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_read_and_broken_ones_refused() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_blocks(pem).expect("pem"), vec![("CERTIFICATE".to_owned(), vec![0, 1, 2])]);
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nAAEC\n").is_err());
        assert!(pem_blocks("-----BEGIN A-----\nAAEC\n-----END B-----\n").is_err());
        assert!(Certificate::from_pem(pem).is_err(), "no key");
    }

    #[test]
    fn guids_are_version_4() {
        let g = guid(&[0xff; 16]);
        assert_eq!(g.len(), 36);
        assert_eq!(&g[14..15], "4");
    }
}
