//! Keyed HMAC-SHA256 tokens for personal data.
//!
//! `token = "tok_" + hex(HMAC-SHA256(key, domain || 0x00 || value))[..32]`.
//! The domain (e.g. `"customer.phone"`) separates uses so equal values in
//! different fields do not link. Domains are expected to be program
//! constants without NUL bytes (a NUL inside the domain would make the
//! `domain || 0x00 || value` encoding ambiguous).

use crate::digest::HmacKey;

/// Minimum key length in bytes (128 bits).
pub const MIN_KEY_LEN: usize = 16;

/// Holds an HMAC-SHA256 key. `Debug` never prints key material.
#[derive(Clone)]
pub struct Tokenizer {
    key: HmacKey,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokenizer { key: <redacted> }")
    }
}

/// A token key shorter than [`MIN_KEY_LEN`]; the text names its length,
/// never its bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("token key too short: {len} bytes, need at least {MIN_KEY_LEN}")]
pub struct KeyTooShort {
    pub len: usize,
}

impl Tokenizer {
    /// Build a tokenizer; the key must be at least 16 bytes.
    pub fn new(key: &[u8]) -> Result<Tokenizer, KeyTooShort> {
        if key.len() < MIN_KEY_LEN {
            return Err(KeyTooShort { len: key.len() });
        }
        Ok(Tokenizer { key: HmacKey::new(key) })
    }

    /// `"tok_"` + first 32 hex chars (128 bits) of
    /// HMAC-SHA256(key, domain || 0x00 || value).
    pub fn token(&self, domain: &str, value: &str) -> String {
        let tag = self.tag(domain, value);
        let mut out = String::with_capacity(36);
        out.push_str("tok_");
        out.push_str(&hex::encode(&tag[..16]));
        out
    }

    /// Full 64-hex-char HMAC-SHA256(key, domain || 0x00 || value).
    pub fn mac_hex(&self, domain: &str, value: &str) -> String {
        hex::encode(self.tag(domain, value))
    }

    /// HMAC-SHA256(key, domain || 0x00 || parts...): the same bytes as
    /// [`Tokenizer::mac_hex`] of the parts' concatenation, without hex.
    pub fn mac_parts(&self, domain: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut msg = smallvec::SmallVec::<[u8; 128]>::new();
        msg.extend_from_slice(domain.as_bytes());
        msg.push(0);
        for p in parts {
            msg.extend_from_slice(p);
        }
        self.key.mac(&msg)
    }

    fn tag(&self, domain: &str, value: &str) -> [u8; 32] {
        self.mac_parts(domain, &[value.as_bytes()])
    }
}

/// Plain HMAC-SHA256 of `data` as lowercase hex (any key length). Used for
/// known-answer tests of the primitive behind [`Tokenizer::mac_hex`].
#[cfg(test)]
pub(crate) fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    hex::encode(ring::hmac::sign(&k, data).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::mask::MaskStyle;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn mac_parts_is_the_mac_of_the_concatenation() {
        let t = Tokenizer::new(KEY).unwrap();
        let parts: [&[u8]; 3] = [b"str", b"\x1f", "13800138000".as_bytes()];
        let hex = t.mac_hex("customer.phone", "str\u{1f}13800138000");
        assert_eq!(hex::encode(t.mac_parts("customer.phone", &parts)), hex);
        assert_ne!(hex::encode(t.mac_parts("ticket.phone", &parts)), hex);
    }

    #[test]
    fn key_length() {
        assert!(Tokenizer::new(b"short").is_err());
        assert!(Tokenizer::new(&[0u8; 15]).is_err());
        assert!(Tokenizer::new(&[0u8; 16]).is_ok());
        let err = Tokenizer::new(b"secret-key").unwrap_err().to_string();
        assert!(!err.contains("secret"));
        let t = Tokenizer::new(KEY).unwrap();
        assert!(!format!("{t:?}").contains("0123"));
    }

    #[test]
    fn deterministic_and_shaped() {
        let t = Tokenizer::new(KEY).unwrap();
        let a = t.token("customer.phone", "13912345678");
        let b = t.token("customer.phone", "13912345678");
        assert_eq!(a, b);
        assert_eq!(a.len(), 36);
        assert!(a.starts_with("tok_"));
        assert!(MaskStyle::Token.has_shape(&a));
        let m = t.mac_hex("customer.phone", "13912345678");
        assert_eq!(m.len(), 64);
        assert!(MaskStyle::Token.has_shape(&m));
        assert_eq!(&a[4..], &m[..32]);
    }

    #[test]
    fn keys_and_domains_separate() {
        let t1 = Tokenizer::new(KEY).unwrap();
        let t2 = Tokenizer::new(b"fedcba9876543210fedcba9876543210").unwrap();
        assert_ne!(t1.token("d", "v"), t2.token("d", "v"));
        assert_ne!(
            t1.token("customer.phone", "13912345678"),
            t1.token("customer.mobile", "13912345678")
        );
        // The 0x00 separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(t1.token("ab", "c"), t1.token("a", "bc"));
        assert_ne!(t1.token("d", "v"), t1.token("d", "v "));
    }

    #[test]
    fn encoding_is_domain_nul_value() {
        let t = Tokenizer::new(KEY).unwrap();
        assert_eq!(
            t.mac_hex("customer.phone", "13912345678"),
            hmac_sha256_hex(KEY, b"customer.phone\x0013912345678")
        );
    }

    #[test]
    fn rfc4231_known_answers() {
        // Test case 1
        assert_eq!(
            hmac_sha256_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 1 through the Tokenizer (20-byte key): domain "Hi There"
        // with an empty value is HMAC over "Hi There\0", which must differ.
        let t = Tokenizer::new(&[0x0b; 20]).unwrap();
        assert_ne!(
            t.mac_hex("Hi There", ""),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(t.mac_hex("Hi There", ""), hmac_sha256_hex(&[0x0b; 20], b"Hi There\x00"));
    }
}
