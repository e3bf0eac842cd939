//! The Secret Service's read path for one item, in the fewest D-Bus round trips the bus allows:
//! after the bus's `Hello`, `OpenSession` (the encrypted session,
//! `dh-ietf1024-sha256-aes128-cbc-pkcs7`, as libsecret and the keyring crate use) and
//! `SearchItems` go out together, then `GetSecret` on the one item found: three round trips
//! instead of four. The key exchange uses a 256-bit private exponent from the system's random
//! source and a Montgomery exponentiation (the keyring crate draws a 1024-bit exponent from a
//! non-cryptographic generator and exponentiates by repeated division, 26 million instructions
//! per session). Only a clean answer is returned: exactly one unlocked item, its secret decrypted
//! and UTF-8. Anything else (no item, several, a locked one, an error reply, a broken bus) is
//! `None`, and the caller asks the keyring crate, which gives the answer (or the error) it always
//! gave.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dbus::arg::Variant;
use dbus::channel::{BusType, Channel};
use dbus::message::MessageType;
use dbus::{Message, Path};
use num_bigint::BigUint;
use zeroize::Zeroize;

const DEST: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const ITEM: &str = "org.freedesktop.Secret.Item";
const ALGORITHM: &str = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

/// The private exponent's size. The group (RFC 2409's 1024-bit MODP group) gives about 80 bits
/// of security; an exponent of twice that or more loses none of it (RFC 3526, section 8; NIST
/// SP 800-56A), and 256 bits is what OpenSSL uses for such groups.
const PRIVATE_BYTES: usize = 32;

/// RFC 2409's second Oakley group: the prime the algorithm names; the generator is 2.
const PRIME: [u8; 128] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xC9, 0x0F, 0xDA, 0xA2, 0x21, 0x68, 0xC2, 0x34, 0xC4, 0xC6, 0x62,
    0x8B, 0x80, 0xDC, 0x1C, 0xD1, 0x29, 0x02, 0x4E, 0x08, 0x8A, 0x67, 0xCC, 0x74, 0x02, 0x0B, 0xBE, 0xA6, 0x3B, 0x13,
    0x9B, 0x22, 0x51, 0x4A, 0x08, 0x79, 0x8E, 0x34, 0x04, 0xDD, 0xEF, 0x95, 0x19, 0xB3, 0xCD, 0x3A, 0x43, 0x1B, 0x30,
    0x2B, 0x0A, 0x6D, 0xF2, 0x5F, 0x14, 0x37, 0x4F, 0xE1, 0x35, 0x6D, 0x6D, 0x51, 0xC2, 0x45, 0xE4, 0x85, 0xB5, 0x76,
    0x62, 0x5E, 0x7E, 0xC6, 0xF4, 0x4C, 0x42, 0xE9, 0xA6, 0x37, 0xED, 0x6B, 0x0B, 0xFF, 0x5C, 0xB6, 0xF4, 0x06, 0xB7,
    0xED, 0xEE, 0x38, 0x6B, 0xFB, 0x5A, 0x89, 0x9F, 0xA5, 0xAE, 0x9F, 0x24, 0x11, 0x7C, 0x4B, 0x1F, 0xE6, 0x49, 0x28,
    0x66, 0x51, 0xEC, 0xE6, 0x53, 0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// The secret of the one unlocked item with exactly these attributes, or `None` (see the module
/// documentation). `limit` bounds the whole exchange.
pub fn lookup(attributes: &[(&str, &str)], limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    let channel = Channel::get_private(BusType::Session).ok()?;
    let keys = Keypair::generate()?;
    let open = Message::new_method_call(DEST, SERVICE_PATH, SERVICE, "OpenSession")
        .ok()?
        .append2(ALGORITHM, Variant(keys.public_bytes()));
    let wanted: HashMap<&str, &str> = attributes.iter().copied().collect();
    let search = Message::new_method_call(DEST, SERVICE_PATH, SERVICE, "SearchItems").ok()?.append1(wanted);
    // Both go out before either answer is awaited: one round trip for the two.
    let open = channel.send(open).ok()?;
    let search = channel.send(search).ok()?;
    let [opened, found] = replies(&channel, [open, search], deadline)?;
    let (server_public, session): (Variant<Vec<u8>>, Path<'static>) = opened.read2().ok()?;
    let (unlocked, locked): (Vec<Path<'static>>, Vec<Path<'static>>) = found.read2().ok()?;
    let [item] = unlocked.as_slice() else { return None };
    if !locked.is_empty() {
        return None;
    }
    let key = keys.shared_key(&server_public.0)?;
    let get = Message::new_method_call(DEST, item.clone(), ITEM, "GetSecret").ok()?.append1(session);
    let get = channel.send(get).ok()?;
    let [secret] = replies(&channel, [get], deadline)?;
    let (_session, iv, value, _content_type): (Path<'static>, Vec<u8>, Vec<u8>, String) = secret.read1().ok()?;
    let clear = key.decrypt(&iv, &value)?;
    String::from_utf8(clear).map_err(|e| e.into_bytes().zeroize()).ok()
}

/// The replies to the calls with serials `serials`, in that order, read until `deadline`;
/// `None` when one is an error, or when the bus closes or the deadline passes first. Other
/// messages (the bus's `NameAcquired` signal) are skipped.
fn replies<const N: usize>(channel: &Channel, serials: [u32; N], deadline: Instant) -> Option<[Message; N]> {
    let mut got: [Option<Message>; N] = std::array::from_fn(|_| None);
    while got.iter().any(Option::is_none) {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        let Some(message) = channel.blocking_pop_message(left).ok()? else { continue };
        let Some(i) = message.get_reply_serial().and_then(|s| serials.iter().position(|&w| w == s)) else { continue };
        if message.msg_type() != MessageType::MethodReturn {
            return None;
        }
        got[i] = Some(message);
    }
    let mut all = Vec::with_capacity(N);
    for message in got {
        all.push(message?);
    }
    all.try_into().ok()
}

/// This side of the key exchange.
struct Keypair {
    private: BigUint,
    public: BigUint,
}

impl Keypair {
    fn generate() -> Option<Keypair> {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; PRIVATE_BYTES];
        ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
        let private = BigUint::from_bytes_be(&bytes);
        bytes.zeroize();
        let public = BigUint::from(2u32).modpow(&private, &prime());
        Some(Keypair { private, public })
    }

    fn public_bytes(&self) -> Vec<u8> {
        self.public.to_bytes_be()
    }

    /// The session's AES key: HKDF-SHA256 (no salt, no info) of the shared secret, as 128 bytes.
    /// `None` for a peer value outside 2..p-2 (one that would fix the shared secret).
    fn shared_key(&self, peer: &[u8]) -> Option<AesKey> {
        let p = prime();
        let peer = BigUint::from_bytes_be(peer);
        if peer <= BigUint::from(1u32) || peer >= &p - 1u32 {
            return None;
        }
        let mut shared = peer.modpow(&self.private, &p).to_bytes_be();
        let mut ikm = vec![0u8; PRIME.len().checked_sub(shared.len())?];
        ikm.extend_from_slice(&shared);
        shared.zeroize();
        let mut key = [0u8; 16];
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&ikm);
        ikm.zeroize();
        prk.expand(&[], Len(16)).ok()?.fill(&mut key).ok()?;
        Some(AesKey(key))
    }
}

fn prime() -> BigUint {
    BigUint::from_bytes_be(&PRIME)
}

struct Len(usize);

impl ring::hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The session key, wiped when dropped.
struct AesKey([u8; 16]);

impl AesKey {
    /// AES-128-CBC with PKCS#7 padding.
    fn decrypt(&self, iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        let iv: [u8; 16] = iv.try_into().ok()?;
        cbc::Decryptor::<aes::Aes128>::new(&self.0.into(), &iv.into()).decrypt_padded_vec_mut::<Pkcs7>(data).ok()
    }
}

impl Drop for AesKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sides of the exchange agree on the key (the daemon's side is the same arithmetic), and
    /// a peer value that would fix the shared secret is refused.
    #[test]
    fn both_sides_derive_one_key_and_degenerate_peers_are_refused() {
        let (a, b) = (Keypair::generate().expect("a"), Keypair::generate().expect("b"));
        let (ka, kb) = (a.shared_key(&b.public_bytes()).expect("ka"), b.shared_key(&a.public_bytes()).expect("kb"));
        assert_eq!(ka.0, kb.0);
        assert_ne!(a.public, b.public);
        assert!(a.private.bits() <= 256 && a.private.bits() > 200);
        let p_minus_1 = (prime() - 1u32).to_bytes_be();
        for bad in [vec![0u8], vec![1u8], p_minus_1, PRIME.to_vec()] {
            assert!(a.shared_key(&bad).is_none());
        }
    }

    /// The key derivation and the cipher are the algorithm's: a secret encrypted as the daemon
    /// does (AES-128-CBC, PKCS#7) with the derived key comes back.
    #[test]
    fn a_secret_encrypted_with_the_session_key_decrypts() {
        use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
        let (a, b) = (Keypair::generate().expect("a"), Keypair::generate().expect("b"));
        let key = a.shared_key(&b.public_bytes()).expect("key");
        let iv = [7u8; 16];
        let sealed = cbc::Encryptor::<aes::Aes128>::new(&key.0.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(b"a pat of 52 characters or so");
        assert_eq!(key.decrypt(&iv, &sealed).as_deref(), Some(&b"a pat of 52 characters or so"[..]));
        assert!(key.decrypt(&iv[..8], &sealed).is_none());
        assert!(key.decrypt(&iv, &sealed[..sealed.len() - 1]).is_none());
    }
}
