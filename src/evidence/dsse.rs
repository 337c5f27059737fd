//! DSSE (Dead Simple Signing Envelope) v1 with Ed25519.
//!
//! The signature is a pure Ed25519 signature over
//! `PAE(payloadType, payload)`; `payload` and `sig` are standard base64 in the
//! JSON envelope; `keyid` is the minisign key id (16 upper-case hex digits).

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::keys::{PublicKey, SigningKey};

/// The payload type of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the
/// 32 raw key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Standard base64 of the payload bytes.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    #[serde(default)]
    pub keyid: String,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

/// Pre-Authentication Encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// An envelope of `payload` (type [`PAYLOAD_TYPE`]) signed by `key`.
pub fn sign_envelope(key: &SigningKey, payload: &[u8]) -> Envelope {
    let sig = key.sign(&pae(PAYLOAD_TYPE, payload));
    Envelope {
        payload: STANDARD.encode(payload),
        payload_type: PAYLOAD_TYPE.to_string(),
        signatures: vec![Signature {
            keyid: key.key_id_hex(),
            sig: STANDARD.encode(sig),
        }],
    }
}

/// Standard base64, or URL-safe; the error is the standard alphabet's.
fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD.decode(s).or_else(|e| URL_SAFE.decode(s).map_err(|_| e))
}

/// Why an envelope does not verify with a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("payloadType is \"{found}\", expected \"{PAYLOAD_TYPE}\"")]
    PayloadType { found: String },
    #[error("payload is not valid base64")]
    PayloadBase64(#[source] base64::DecodeError),
    /// `signers` lists the key ids that did sign, "none" when none did.
    #[error("no signature by key {key} (signatures by: {signers})")]
    NoSignatureBy { key: String, signers: String },
    #[error("signature by key {key} does not verify")]
    DoesNotVerify { key: String },
}

/// Verify `env` with `pk`: payload type, a signature whose keyid is `pk`'s,
/// and that signature. Returns the payload bytes.
pub fn verify_envelope(pk: &PublicKey, env: &Envelope) -> Result<Vec<u8>, EnvelopeError> {
    if env.payload_type != PAYLOAD_TYPE {
        return Err(EnvelopeError::PayloadType {
            found: env.payload_type.clone(),
        });
    }
    let payload = decode_b64(&env.payload).map_err(EnvelopeError::PayloadBase64)?;
    let want = pk.key_id_hex();
    let mine: Vec<&Signature> = env
        .signatures
        .iter()
        .filter(|s| s.keyid.eq_ignore_ascii_case(&want))
        .collect();
    if mine.is_empty() {
        let found: Vec<&str> = env.signatures.iter().map(|s| s.keyid.as_str()).collect();
        return Err(EnvelopeError::NoSignatureBy {
            key: want,
            signers: if found.is_empty() {
                "none".to_string()
            } else {
                found.join(", ")
            },
        });
    }
    let message = pae(&env.payload_type, &payload);
    for s in mine {
        if let Ok(sig) = decode_b64(&s.sig) {
            if pk.verify(&message, &sig) {
                return Ok(payload);
            }
        }
    }
    Err(EnvelopeError::DoesNotVerify { key: want })
}

/// The public key as a PEM SubjectPublicKeyInfo, as OpenSSL reads it
/// (`openssl pkeyutl -verify -pubin -inkey pub.pem -rawin ...`).
pub fn public_key_pem(pk: &PublicKey) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(&pk.bytes);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(der)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn pae_known_answer_from_the_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn envelope_roundtrip_and_rejections() {
        let key = SigningKey::generate().unwrap();
        let pk = key.public();
        let env = sign_envelope(&key, b"{\"a\":1}");
        let json = serde_json::to_string(&env).unwrap();
        assert!(json.contains("\"payloadType\":\"application/vnd.in-toto+json\""));
        let back: Envelope = serde_json::from_str(&json).unwrap();
        assert_eq!(verify_envelope(&pk, &back).unwrap(), b"{\"a\":1}");

        let mut e = env.clone();
        e.payload_type = "text/plain".into();
        assert!(verify_envelope(&pk, &e)
            .unwrap_err()
            .to_string()
            .contains("payloadType"));

        let mut e = env.clone();
        e.payload = STANDARD.encode(b"{\"a\":2}");
        assert!(verify_envelope(&pk, &e)
            .unwrap_err()
            .to_string()
            .contains("does not verify"));

        let mut e = env.clone();
        e.signatures[0].keyid = "0000000000000000".into();
        assert!(verify_envelope(&pk, &e)
            .unwrap_err()
            .to_string()
            .contains("no signature by key"));

        let other = SigningKey::generate().unwrap();
        assert!(verify_envelope(&other.public(), &env).is_err());
        let impostor = PublicKey {
            key_id: pk.key_id,
            bytes: other.public().bytes,
        };
        assert!(verify_envelope(&impostor, &env).is_err());

        // a second, foreign signature does not hurt
        let mut e = env.clone();
        e.signatures
            .insert(0, sign_envelope(&other, b"{\"a\":1}").signatures[0].clone());
        assert!(verify_envelope(&pk, &e).is_ok());
    }

    #[test]
    fn pem_shape() {
        let key = SigningKey::from_seed([0; 8], &[7; 32]).unwrap();
        let pem = public_key_pem(&key.public());
        let body = pem.lines().nth(1).unwrap();
        let der = STANDARD.decode(body).unwrap();
        assert_eq!(der.len(), 44);
        assert_eq!(&der[12..], &key.public().bytes);
    }

    #[test]
    fn openssl_verifies_our_envelope_signature() {
        if !crate::evidence::testing::require_tool("openssl", "version") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let payload = b"{\n  \"_type\": \"https://in-toto.io/Statement/v1\"\n}\n";
        let env = sign_envelope(&key, payload);
        let pem = dir.path().join("pub.pem");
        let pae_file = dir.path().join("pae.bin");
        let sig_file = dir.path().join("sig.bin");
        std::fs::write(&pem, public_key_pem(&key.public())).unwrap();
        std::fs::write(&pae_file, pae(PAYLOAD_TYPE, payload)).unwrap();
        std::fs::write(&sig_file, STANDARD.decode(&env.signatures[0].sig).unwrap()).unwrap();
        let run = |input: &std::path::Path| {
            Command::new("openssl")
                .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
                .arg(&pem)
                .arg("-rawin")
                .arg("-in")
                .arg(input)
                .arg("-sigfile")
                .arg(&sig_file)
                .output()
                .unwrap()
        };
        let out = run(&pae_file);
        assert!(
            out.status.success(),
            "openssl: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bad = dir.path().join("bad.bin");
        std::fs::write(&bad, pae(PAYLOAD_TYPE, b"{}")).unwrap();
        assert!(!run(&bad).status.success());
    }
}
